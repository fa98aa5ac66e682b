import * as vscode from 'vscode';
import { registerPolicyEditor } from './policy/index';

export function activate(context: vscode.ExtensionContext): void {
  registerPolicyEditor(context);
  context.subscriptions.push(
    vscode.commands.registerCommand('agentGate.runAgent', () => {
      // Not awaited: the toast's promise settles only when the user dismisses it, and the command must not hang.
      void vscode.window.showInformationMessage('Agent Gate: guarded terminals are not yet available.');
      return 'not-yet-available';
    }),
  );
}

export function deactivate(): void {}
