// The extension's own diagnostics: one LogOutputChannel, "Agent Gate" (Output view, with VS Code's log levels).
// What the agent did is in the audit logs and the audit view, not here.
import * as vscode from 'vscode';

let channel: vscode.LogOutputChannel | undefined;

/** The "Agent Gate" output channel (made on first use; disposed with the extension). */
export function log(): vscode.LogOutputChannel {
  channel ??= vscode.window.createOutputChannel('Agent Gate', { log: true });
  return channel;
}

export function registerLog(context: vscode.ExtensionContext): vscode.LogOutputChannel {
  const c = log();
  context.subscriptions.push({ dispose: () => { c.dispose(); channel = undefined; } });
  return c;
}

/** A message for the log from anything thrown. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
