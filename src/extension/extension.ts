import * as vscode from 'vscode';
import { makeApi, type AgentGateApi } from './api';
import { registerPolicyEditor } from './policy/index';
import { SessionRegistry } from './sessions';
import { TerminalService, type RunAgentArgs } from './terminal/service';
import { PolicyTrust } from './trust/policy-trust';

export function activate(context: vscode.ExtensionContext): AgentGateApi {
  registerPolicyEditor(context);
  const sessions = new SessionRegistry();
  // The terminal service applies a saved policy to running sessions; the trust module decides when.
  let terminals: TerminalService | null = null;
  const trust = new PolicyTrust(context.globalState, sessions, (id, text) => terminals?.applyPolicyText(id, text) ?? 'not ready');
  terminals = new TerminalService(context, sessions, trust);
  const service = terminals;
  context.subscriptions.push(
    sessions,
    trust,
    service,
    vscode.commands.registerCommand('agentGate.runAgent', (args?: RunAgentArgs | vscode.Uri) => service.runAgent(args instanceof vscode.Uri ? { folder: args } : args && typeof args === 'object' ? args : {})),
  );
  return makeApi(sessions, service, trust);
}

export function deactivate(): void {}
