// The policy editor (issue 11): everything VS Code shows for `.gate.toml` files, registered by one call from
// the composition root. Diagnostics, completion, hover, quick fixes and code lenses work for any document
// named `.gate.toml` or `*.gate.toml`, whatever its language (a TOML extension's `toml`, or ours from the
// grammar in syntaxes/ when none is installed).
import * as path from 'node:path';
import * as vscode from 'vscode';
import { RuleHitIndex, defaultAuditDirectory, findAuditLogs } from '../../core/audit/index';
import { PolicyDiagnostics } from './diagnostics';
import { POLICY_SELECTOR } from './documents';
import { PolicyCodeLenses, PolicyCompletions, PolicyHover, PolicyQuickFixes, RECHECK_COMMAND } from './features';
import { PolicyInForceDocuments, compareWithPolicyInForce, createPolicy, explainCommandLine } from './commands';

export function registerPolicyEditor(context: vscode.ExtensionContext): { diagnostics: PolicyDiagnostics } {
  resolveTomlValidationUrls(context);

  // Where audit logs are: the CLI's state directory and this extension's storage (guarded terminals).
  const logDirs = (): string[] => [defaultAuditDirectory(), context.globalStorageUri.fsPath, ...(context.storageUri ? [context.storageUri.fsPath] : [])];
  const auditLogs = (): string[] => findAuditLogs(logDirs());
  const hitIndex = new RuleHitIndex();
  const hits = (policyFile: string) => hitIndex.summarize(auditLogs().slice(0, 50), policyFile);

  const diagnostics = new PolicyDiagnostics(path.join(context.extensionPath, 'dist', 'policy-check-worker.js'));
  const lenses = new PolicyCodeLenses(hits);
  const inForce = new PolicyInForceDocuments();
  context.subscriptions.push(
    diagnostics,
    lenses,
    vscode.languages.registerCompletionItemProvider(POLICY_SELECTOR, new PolicyCompletions(), '[', '=', '"', "'", ' ', '.'),
    vscode.languages.registerHoverProvider(POLICY_SELECTOR, new PolicyHover(hits)),
    vscode.languages.registerCodeActionsProvider(POLICY_SELECTOR, new PolicyQuickFixes(diagnostics), { providedCodeActionKinds: PolicyQuickFixes.kinds }),
    vscode.languages.registerCodeLensProvider(POLICY_SELECTOR, lenses),
    vscode.workspace.registerTextDocumentContentProvider(PolicyInForceDocuments.scheme, inForce),
    vscode.commands.registerCommand(RECHECK_COMMAND, (uri?: vscode.Uri) => {
      const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri?.toString());
      return doc ? diagnostics.check(doc) : Promise.resolve([]);
    }),
    vscode.commands.registerCommand('agentGate.createPolicy', (preset?: string, folder?: vscode.Uri, replace?: boolean) => createPolicy(context.extensionUri, preset, folder, replace)),
    vscode.commands.registerCommand('agentGate.explainCommand', (commandLine?: string, policy?: vscode.Uri) => explainCommandLine(commandLine, policy)),
    vscode.commands.registerCommand('agentGate.comparePolicyInForce', (target?: vscode.Uri) => compareWithPolicyInForce(inForce, auditLogs, target)),
    // New sessions add hits: refresh the lenses when a log changes (cheap: parsed logs are cached).
    vscode.window.onDidChangeWindowState((s) => s.focused && lenses.refresh()),
  );
  return { diagnostics };
}

/**
 * Even Better TOML and Tombi read `contributes.tomlValidation` from every extension's manifest and need an
 * absolute URL; a relative one (what a manifest can say about a file it ships) they ignore. Point ours at
 * the schema inside this installed extension, so the TOML extensions validate with exactly the vocabulary of
 * this version (a remote copy could drift from it and contradict our own diagnostics).
 */
function resolveTomlValidationUrls(context: vscode.ExtensionContext): void {
  const contributes = (context.extension.packageJSON as { contributes?: { tomlValidation?: { url?: string }[] } }).contributes;
  for (const entry of contributes?.tomlValidation ?? []) {
    if (entry.url && !/^[a-z][a-z0-9+.-]*:/i.test(entry.url)) {
      entry.url = vscode.Uri.file(path.join(context.extensionPath, entry.url)).toString();
    }
  }
}
