// Commands of the policy editor: Create policy, Explain command against policy, Compare with the policy in
// force. Each returns a plain result as well as showing it, so the extension-host tests can check it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { explainCommand, explainDecision, loadPolicyText, shellSplit, type Explanation } from '../../core/policy/index';
import { policiesInForce, type PolicyInForce } from '../../core/session/index';
import { isPolicyName, workspaceDirOf } from './documents';
import { showError, showInfo, showWarning } from '../notify';

export const PRESETS = [
  { id: 'default', file: 'default.gate.toml', label: 'Default', detail: 'Build, test and VCS tools allowed; network tools ask (allowed for well-known hosts); privilege changes and disk destruction denied; unknown programs ask; writes sealed to the workspace and temp dirs.' },
  { id: 'strict', file: 'strict.gate.toml', label: 'Strict', detail: 'Deny by default: read-only tools, read-only git, build/test without install; no network tools; reads and writes sealed to the workspace, TCP connect to 443 only.' },
  { id: 'permissive', file: 'permissive.gate.toml', label: 'Permissive', detail: 'Allow by default with a small denylist; no Landlock sealing. For watching an agent before writing a policy.' },
] as const;

/** Agent Gate: Create policy — a starter .gate.toml from policies/, in a workspace folder. */
export async function createPolicy(extensionUri: vscode.Uri, preset?: string, folder?: vscode.Uri, replace?: boolean): Promise<vscode.Uri | undefined> {
  const chosen = preset
    ? PRESETS.find((p) => p.id === preset)
    : await vscode.window.showQuickPick(
        PRESETS.map((p) => ({ label: p.label, detail: p.detail, preset: p })),
        { title: 'Agent Gate: Create policy', placeHolder: 'Start from which policy?' },
      ).then((p) => p?.preset);
  if (!chosen) return undefined;
  const target = folder ?? (await pickFolder());
  if (!target) {
    void showWarning('Agent Gate: open a folder first: the policy is written as .gate.toml at its root.');
    return undefined;
  }
  const file = vscode.Uri.joinPath(target, '.gate.toml');
  if (fs.existsSync(file.fsPath) && replace !== true) {
    const answer = replace === false ? 'Open It' : await showWarning(`${file.fsPath} exists. Replace it with the ${chosen.label.toLowerCase()} policy?`, { modal: true }, 'Replace', 'Open It');
    if (answer === 'Open It') await vscode.window.showTextDocument(file);
    if (answer !== 'Replace') return answer === 'Open It' ? file : undefined;
  }
  const source = vscode.Uri.joinPath(extensionUri, 'policies', chosen.file);
  await vscode.workspace.fs.writeFile(file, await vscode.workspace.fs.readFile(source));
  await vscode.window.showTextDocument(file);
  return file;
}

async function pickFolder(): Promise<vscode.Uri | undefined> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  if (folders.length <= 1) return folders[0]?.uri;
  return (await vscode.window.showWorkspaceFolderPick({ placeHolder: 'Create .gate.toml in which folder?' }))?.uri;
}

export interface ExplainResult {
  policy: string;
  commandLine: string;
  action: string;
  ruleId: string | null;
  reason: string;
  matched: string[];
  exe: string | null;
  /** 1-based line of the deciding rule's header, or null for the default. */
  ruleLine: number | null;
  /** The same text `agent-gate explain` prints. */
  text: string;
}

/** The policy to explain against: the given document, the active policy editor, else the workspace's. */
async function policyDocument(policy?: vscode.Uri): Promise<vscode.TextDocument | undefined> {
  if (policy) return vscode.workspace.openTextDocument(policy);
  const active = vscode.window.activeTextEditor?.document;
  if (active && isPolicyName(active.uri.path)) return active;
  const folder = vscode.workspace.workspaceFolders?.[0];
  const file = folder ? vscode.Uri.joinPath(folder.uri, '.gate.toml') : undefined;
  if (file && fs.existsSync(file.fsPath)) return vscode.workspace.openTextDocument(file);
  return undefined;
}

/**
 * Agent Gate: Explain command against policy — the verdict the editor's text of the policy gives a command
 * line, its deciding rule and why (the facts `agent-gate explain` gathers: core's explainCommand).
 */
export async function explainCommandLine(commandLine?: string, policy?: vscode.Uri): Promise<ExplainResult | undefined> {
  const doc = await policyDocument(policy);
  if (!doc) {
    void showWarning('Agent Gate: no policy to explain against: open a .gate.toml, or create one (Agent Gate: Create policy).');
    return undefined;
  }
  const line =
    commandLine ??
    (await vscode.window.showInputBox({
      title: `Explain a command against ${path.basename(doc.uri.fsPath)}`,
      prompt: 'A command line as the agent would run it, e.g. git push origin main',
      placeHolder: 'git push origin main',
      validateInput: (v) => {
        try {
          return shellSplit(v).length ? null : 'Type a command.';
        } catch (e) {
          return (e as Error).message;
        }
      },
    }));
  if (line === undefined) return undefined;
  const loaded = loadPolicyText(doc.getText(), doc.uri.fsPath, { workspace: workspaceDirOf(doc.uri) });
  if (!loaded.policy) {
    const errors = loaded.diagnostics.filter((d) => d.severity === 'error').length;
    void showError(`Agent Gate: ${path.basename(doc.uri.fsPath)} has ${errors} error${errors === 1 ? '' : 's'}; fix them first (see Problems).`, 'Show Problems').then((a) => {
      if (a) void vscode.commands.executeCommand('workbench.actions.view.problems');
    });
    return undefined;
  }
  const argv = shellSplit(line);
  const e: Explanation = explainCommand(loaded.policy, argv, { cwd: workspaceDirOf(doc.uri) });
  const text = explainDecision(e.decision, e.facts);
  const result: ExplainResult = {
    policy: doc.uri.fsPath,
    commandLine: line,
    action: e.decision.action,
    ruleId: e.decision.ruleId,
    reason: e.decision.reason,
    matched: e.decision.matched,
    exe: e.facts.exe?.path ?? null,
    ruleLine: e.rule?.line ?? null,
    text,
  };
  const decidedBy = e.rule ? `rule '${e.rule.id}' (line ${e.rule.line})` : 'the default (no rule matched)';
  const summary = `Agent Gate: ${line} → ${e.decision.action.toUpperCase()} by ${decidedBy}${e.decision.reason ? `: ${e.decision.reason}` : ''}`;
  const buttons = e.rule ? ['Go to Rule', 'Details'] : ['Details'];
  void showInfo(summary, ...buttons).then(async (choice) => {
    if (choice === 'Go to Rule' && e.rule) {
      const pos = new vscode.Position(e.rule.line - 1, 0);
      await vscode.window.showTextDocument(doc, { selection: new vscode.Range(pos, pos) });
    } else if (choice === 'Details') {
      const details = await vscode.workspace.openTextDocument({ content: `policy: ${doc.uri.fsPath}${e.rule ? `:${e.rule.line}` : ''}\n${text}\n`, language: 'plaintext' });
      await vscode.window.showTextDocument(details, { preview: true });
    }
  });
  return result;
}

/** Read-only documents holding the policy text a session decides by. */
export class PolicyInForceDocuments implements vscode.TextDocumentContentProvider {
  static readonly scheme = 'agent-gate-policy-in-force';
  private readonly texts = new Map<string, string>();

  uriFor(p: PolicyInForce): vscode.Uri {
    const uri = vscode.Uri.from({ scheme: PolicyInForceDocuments.scheme, path: `/${p.session}/${path.basename(p.policyFile || 'default.gate.toml')}` });
    this.texts.set(uri.toString(), p.text);
    return uri;
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? '';
  }
}

/**
 * Agent Gate: Compare with the policy in force — a diff of the text a running session decides by (left)
 * against the editor's text (right). Sessions of this window come first, then `agent-gate run` sessions
 * found in the audit logs.
 */
export async function compareWithPolicyInForce(documents: PolicyInForceDocuments, auditLogs: () => string[], target?: vscode.Uri): Promise<PolicyInForce | undefined> {
  const uri = target ?? vscode.window.activeTextEditor?.document.uri;
  if (!uri || !isPolicyName(uri.path)) {
    void showWarning('Agent Gate: open the .gate.toml to compare first.');
    return undefined;
  }
  const all = policiesInForce(auditLogs());
  const same = all.filter((p) => p.policyFile && path.resolve(p.policyFile) === path.resolve(uri.fsPath));
  const candidates = same.length ? same : all;
  if (candidates.length === 0) {
    void showInfo('Agent Gate: no running session uses a policy right now; start one with "Agent Gate: Run agent in guarded terminal" or `agent-gate run`.');
    return undefined;
  }
  const pick =
    candidates.length === 1
      ? candidates[0]
      : await vscode.window.showQuickPick(
          candidates.map((p) => ({ label: `session ${p.session}`, description: p.policyFile || 'built-in default policy', detail: `started ${p.started}${p.source === 'process' ? ' in this window' : ''}`, p })),
          { title: 'Compare with the policy of which session?' },
        ).then((x) => x?.p);
  if (!pick) return undefined;
  const title = `${path.basename(pick.policyFile || 'default.gate.toml')}: in force (session ${pick.session}) ↔ editor`;
  await vscode.commands.executeCommand('vscode.diff', documents.uriFor(pick), uri, title);
  return pick;
}
