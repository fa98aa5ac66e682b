// Problems for policy documents: exactly what `agent-gate check` prints for the same text (core's
// checkPolicyText, with check's defaults), updated while the user types (debounced), cleared on close.
import * as fs from 'node:fs';
import { SHARE_ENV, Worker } from 'node:worker_threads';
import * as vscode from 'vscode';
import { checkPolicyText, type Diagnostic, type Fix } from '../../core/policy/index';
import type { CheckRequest } from './check-worker';
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
  private readonly closed = new Set<string>();
  private readonly subscriptions: vscode.Disposable[] = [];

  private readonly checker: PolicyChecker;

  constructor(workerFile: string, private readonly delayMs = 250) {
    this.checker = new PolicyChecker(workerFile);
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

  /** Check a document now (no debounce) and publish its problems; resolves with them (or [] when the
   *  document changed or closed meanwhile: a newer check publishes then). */
  async check(doc: vscode.TextDocument): Promise<vscode.Diagnostic[]> {
    if (!isCheckedPolicy(doc)) return [];
    this.cancel(doc.uri);
    const key = doc.uri.toString();
    const version = doc.version;
    // ${WORKSPACE} is the directory the agent runs in: the document's workspace folder (as a guarded terminal
    // there, or `agent-gate check` run from it, would take it), else the file's own directory.
    const diagnostics = await this.checker.check(doc.getText(), doc.uri.fsPath, workspaceDirOf(doc.uri));
    const current = vscode.workspace.textDocuments.find((d) => d.uri.toString() === key);
    if (!current || current.version !== version || this.closed.has(key)) return [];
    const entries = diagnostics.map((d) => ({ diagnostic: toVsDiagnostic(d), fixes: d.fixes ?? [] }));
    this.checked.set(key, { version, entries });
    this.collection.set(doc.uri, entries.map((e) => e.diagnostic));
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
    this.closed.delete(doc.uri.toString());
    this.cancel(doc.uri);
    const key = doc.uri.toString();
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        // The document may have been closed meanwhile.
        const current = vscode.workspace.textDocuments.find((d) => d.uri.toString() === key);
        if (current) void this.check(current);
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
    this.closed.add(uri.toString()); // a check still running must not publish again
    this.checked.delete(uri.toString());
    this.collection.delete(uri);
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const s of this.subscriptions) s.dispose();
    this.collection.dispose();
    this.checker.dispose();
  }
}

/**
 * checkPolicyText in a worker thread (started on first use, so activation does not pay for it). Falls back to
 * checking on this thread when the worker cannot run, so problems are never silently missing.
 */
class PolicyChecker implements vscode.Disposable {
  private worker: Worker | undefined;
  private broken = false;
  private nextId = 1;
  private readonly pending = new Map<number, (diagnostics: Diagnostic[] | null) => void>();

  constructor(private readonly workerFile: string) {}

  check(text: string, file: string, workspace: string): Promise<Diagnostic[]> {
    const worker = this.start();
    if (!worker) return Promise.resolve(checkPolicyText(text, file, { workspace }).diagnostics);
    const id = this.nextId++;
    return new Promise<Diagnostic[] | null>((resolve) => {
      this.pending.set(id, resolve);
      worker.postMessage({ id, text, file, workspace } satisfies CheckRequest);
    }).then((ds) => ds ?? checkPolicyText(text, file, { workspace }).diagnostics);
  }

  private start(): Worker | undefined {
    if (this.worker || this.broken) return this.worker;
    if (!fs.existsSync(this.workerFile)) {
      this.broken = true;
      return undefined;
    }
    // SHARE_ENV: ${VAR} and PATH as the extension host sees them now, like the in-thread check would.
    const worker = new Worker(this.workerFile, { env: SHARE_ENV, name: 'agent-gate-policy-check' });
    worker.unref();
    worker.on('message', (m: { id: number; diagnostics?: Diagnostic[]; error?: string }) => {
      const done = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.error) console.error(`Agent Gate: policy check failed in the worker: ${m.error}`);
      done?.(m.diagnostics ?? null);
    });
    const fail = (why: string): void => {
      console.error(`Agent Gate: the policy check worker stopped (${why}); checking on the extension host from now on`);
      this.broken = true;
      this.worker = undefined;
      for (const done of this.pending.values()) done(null);
      this.pending.clear();
    };
    worker.on('error', (e) => fail(e.message));
    worker.on('exit', (code) => this.worker === worker && fail(`exit ${code}`));
    this.worker = worker;
    return worker;
  }

  dispose(): void {
    const w = this.worker;
    this.worker = undefined;
    this.broken = true;
    if (w) void w.terminate();
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
