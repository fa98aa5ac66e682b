import * as vscode from 'vscode';

export function activate(context: vscode.ExtensionContext): void {
  context.subscriptions.push(
    vscode.commands.registerCommand('agentGate.runAgent', async () => {
      await vscode.window.showInformationMessage('Agent Gate: guarded terminals are not yet available.');
      return 'not-yet-available';
    }),
  );
}

export function deactivate(): void {}
