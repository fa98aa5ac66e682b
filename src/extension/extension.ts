import * as vscode from 'vscode';
import { approvalsApi, auditApi, type AgentGateApi } from './api';
import { registerApprovals } from './approvals/index';
import { registerAudit } from './audit/index';
import { registerLog } from './log';
import { registerPolicyEditor } from './policy/index';
import { SessionRegistry } from './sessions';

export function activate(context: vscode.ExtensionContext): AgentGateApi {
  registerLog(context);
  registerPolicyEditor(context);
  const registry = new SessionRegistry();
  context.subscriptions.push(registry);
  const approvals = registerApprovals(context, registry);
  const audit = registerAudit(context, registry, approvals);
  context.subscriptions.push(
    vscode.commands.registerCommand('agentGate.runAgent', () => {
      // Not awaited: the toast's promise settles only when the user dismisses it, and the command must not hang.
      void vscode.window.showInformationMessage('Agent Gate: guarded terminals are not yet available.');
      return 'not-yet-available';
    }),
  );
  return { sessions: registry, approvals: approvalsApi(approvals), feed: audit.feed, audit: auditApi(audit) };
}

export function deactivate(): void {}
