import * as vscode from 'vscode';
import { approvalsApi, auditApi, terminalApi, trustApi, type AgentGateApi } from './api';
import { registerApprovals } from './approvals/index';
import { registerAudit } from './audit/index';
import { registerLog } from './log';
import { registerPolicyEditor } from './policy/index';
import { SessionRegistry } from './sessions';
import { TerminalService, type RunAgentArgs } from './terminal/service';
import { PolicyTrust } from './trust/policy-trust';

export function activate(context: vscode.ExtensionContext): AgentGateApi {
  registerLog(context);
  registerPolicyEditor(context);
  const registry = new SessionRegistry();
  context.subscriptions.push(registry);
  const approvals = registerApprovals(context, registry);
  const audit = registerAudit(context, registry, approvals);
  // The terminal service applies a saved policy to running sessions; the trust module decides when.
  let terminals: TerminalService | null = null;
  const trust = new PolicyTrust(context.globalState, registry, (id, text) => (terminals ? terminals.applyPolicyText(id, text) : 'the guarded terminals are not ready'));
  terminals = new TerminalService(context, registry, trust, approvals.factory);
  const service = terminals;
  context.subscriptions.push(
    trust,
    service,
    vscode.commands.registerCommand('agentGate.runAgent', (args?: RunAgentArgs | vscode.Uri) => service.runAgent(args instanceof vscode.Uri ? { folder: args } : args && typeof args === 'object' ? args : {})),
  );
  return {
    sessions: registry,
    approvals: approvalsApi(approvals),
    feed: audit.feed,
    audit: auditApi(audit),
    runAgent: (args) => service.runAgent(args),
    terminal: terminalApi(service),
    trust: trustApi(trust),
  };
}

export function deactivate(): void {}
