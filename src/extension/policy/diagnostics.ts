// Problems for policy documents: exactly what `agent-gate check` prints for the same text (core's
// checkPolicyText, with check's defaults), updated while the user types (debounced), cleared on close.
import * as vscode from 'vscode';
import { checkPolicyText, type Diagnostic, type Fix } from '../../core/policy/index';
import { isCheckedPolicy, toRange, workspaceDirOf } from './documents';

export const DIAGNOSTIC_SOURCE = 'Agent Gate';

interface Checked {
  version: number;
  entries: { diagnostic: vscode.Diagnostic; fixes: Fix[] }[];
}

export class PolicyDiagnostics implements vscode.Disposable {
  readonly collection = vscode.languages.createDiagnosticCollection('agent-gate-policy');
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly checked = new Map<string, Checked>();
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  /** Fires after a document was checked (tests and the code lens wait on it). */
  readonly onDidCheck = this.changed.event;

  constructor(private readonly delayMs = 250) {
    this.subscriptions.push(
      vscode.workspace.onDidOpenTextDocument((d) => this.schedule(d, 0)),
      vscode.workspace.onDidChangeTextDocument((e) => this.schedule(e.document, this.delayMs)),
      vscode.workspace.onDidCloseTextDocument((d) => this.clear(d.uri)),
      // VS Code keeps a document alive for a while after its last editor closes (onDidCloseTextDocument comes
      // later, or never): what the user closes is the tab, so follow the tabs too.
      vscode.window.tabGroups.onDidChangeTabs((e) => {
        for (const tab of e.closed) {
          const uri = tabUri(tab);
          if (uri && !this.isShown(uri)) this.clear(uri);
        }
        for (const tab of e.opened) {
          const uri = tabUri(tab);
          const doc = uri && vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
          if (doc && !this.checked.has(doc.uri.toString())) this.schedule(doc, 0);
        }
      }),
    );
    for (const d of vscode.workspace.textDocuments) this.schedule(d, 0);
  }

  /** Check a document now (no debounce) and publish its problems. */
  check(doc: vscode.TextDocument): vscode.Diagnostic[] {
    if (!isCheckedPolicy(doc)) return [];
    this.cancel(doc.uri);
    // ${WORKSPACE} is the directory the agent runs in: the document's workspace folder (as a guarded terminal
    // there, or `agent-gate check` run from it, would take it), else the file's own directory.
    const { diagnostics } = checkPolicyText(doc.getText(), doc.uri.fsPath, { workspace: workspaceDirOf(doc.uri) });
    const entries = diagnostics.map((d) => ({ diagnostic: toVsDiagnostic(d), fixes: d.fixes ?? [] }));
    this.checked.set(doc.uri.toString(), { version: doc.version, entries });
    this.collection.set(doc.uri, entries.map((e) => e.diagnostic));
    this.changed.fire(doc.uri);
    return entries.map((e) => e.diagnostic);
  }

  /** The fixes of one of our diagnostics (matched by range, code and message: VS Code passes copies). */
  fixesFor(doc: vscode.TextDocument, d: vscode.Diagnostic): Fix[] {
    const c = this.checked.get(doc.uri.toString());
    if (!c || c.version !== doc.version) return [];
    const hit = c.entries.find((e) => e.diagnostic.range.isEqual(d.range) && e.diagnostic.message === d.message && codeOf(e.diagnostic) === codeOf(d));
    return hit?.fixes ?? [];
  }

  private schedule(doc: vscode.TextDocument, delay: number): void {
    if (!isCheckedPolicy(doc)) return;
    this.cancel(doc.uri);
    const key = doc.uri.toString();
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        // The document may have been closed meanwhile.
        const current = vscode.workspace.textDocuments.find((d) => d.uri.toString() === key);
        if (current) this.check(current);
      }, delay),
    );
  }

  private isShown(uri: vscode.Uri): boolean {
    return vscode.window.tabGroups.all.some((g) => g.tabs.some((t) => tabUri(t)?.toString() === uri.toString()));
  }

  private cancel(uri: vscode.Uri): void {
    const key = uri.toString();
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.delete(key);
  }

  private clear(uri: vscode.Uri): void {
    this.cancel(uri);
    this.checked.delete(uri.toString());
    this.collection.delete(uri);
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const s of this.subscriptions) s.dispose();
    this.collection.dispose();
    this.changed.dispose();
  }
}

function tabUri(tab: vscode.Tab): vscode.Uri | undefined {
  if (tab.input instanceof vscode.TabInputText) return tab.input.uri;
  if (tab.input instanceof vscode.TabInputTextDiff) return tab.input.modified;
  return undefined;
}

function codeOf(d: vscode.Diagnostic): string {
  return typeof d.code === 'object' ? String(d.code.value) : String(d.code);
}

function toVsDiagnostic(d: Diagnostic): vscode.Diagnostic {
  const range = toRange({ line: d.line, column: d.column, endLine: d.endLine ?? d.line, endColumn: d.endColumn ?? d.column + 1 });
  const out = new vscode.Diagnostic(range, d.message, d.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning);
  out.source = DIAGNOSTIC_SOURCE;
  out.code = d.code;
  if (d.code === 'shadowed-rule') out.tags = [vscode.DiagnosticTag.Unnecessary];
  return out;
}
