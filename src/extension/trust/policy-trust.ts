// Which .gate.toml text a guarded session may use, and the user's review of changes they did not make.
//   - Untrusted workspace: never read (planLaunch uses the built-in default; the banner says so).
//   - Trusted: the folder's .gate.toml, as last accepted. The last accepted text and its sha256 are kept in
//     the extension's global state (out of the agent's reach). A text that differs — written by the agent, a
//     `git pull`, another editor — is shown as a diff against the accepted one, and used only if accepted;
//     rejected, the session uses the accepted text. Saving the file in this editor is the user's own change:
//     it becomes the accepted text, and running sessions that use it are offered the new policy.
//   - The agent's own write to .gate.toml during a session is put back by the workspace guard; its version is
//     offered for the same review.
// The decisions are the core's (src/core/session/policy-review.ts); this keeps the state and asks.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ProtectedChange } from '../../core/protect/guard';
import { acceptedRecord, reviewBannerLine, reviewPolicyText, type AcceptedPolicy } from '../../core/session/policy-review';
import { isOwnPolicyWrite } from '../approvals/rules';
import type { SessionRegistry } from '../sessions';
import { showError, showInfo, showWarning } from '../notify';

export type ReviewAnswer = 'accept' | 'reject';

/** A review waiting for the user: a changed .gate.toml before a session uses it, or the agent's version. */
export interface PolicyReview {
  id: number;
  kind: 'changed-on-disk' | 'agent-wrote';
  /** The policy file. */
  file: string;
  /** Unified diff: the accepted text → the new one. */
  diff: string;
  /** The session whose agent wrote it (agent-wrote). */
  session?: string;
  /** Answer it (the notification's buttons do the same). */
  answer(a: ReviewAnswer): void;
  readonly settled: Promise<ReviewAnswer>;
}

export interface PreparedPolicy {
  /** The text to run with (undefined: let planLaunch read what it reads — no workspace policy, or untrusted). */
  policyText?: string;
  /** Lines for the banner, before the core's. */
  preface: string[];
}

const STATE_PREFIX = 'agentGate.acceptedPolicy:';
const SCHEME = 'agent-gate-policy';

export class PolicyTrust implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private readonly pending = new Map<number, PolicyReview>();
  private readonly reviewEmitter = new vscode.EventEmitter<PolicyReview>();
  /** A review was raised (tests answer it through the API; the user through the notification). */
  readonly onDidRequestReview = this.reviewEmitter.event;
  private nextId = 1;
  /** Texts shown on the left of a diff (agent-gate-policy:/<id>). */
  private readonly shown = new Map<string, string>();

  constructor(
    private readonly state: vscode.Memento,
    private readonly sessions: SessionRegistry,
    /** Re-plan a running session with a new policy text and apply it (the terminal module does it). */
    private readonly applyToSession: (sessionId: string, text: string) => string | null,
  ) {
    this.disposables.push(
      this.reviewEmitter,
      vscode.workspace.registerTextDocumentContentProvider(SCHEME, { provideTextDocumentContent: (uri) => this.shown.get(uri.path) ?? '' }),
      vscode.workspace.onWillSaveTextDocument((e) => this.onWillSave(e.document)),
      vscode.workspace.onDidSaveTextDocument((d) => void this.onDidSave(d)),
    );
  }

  accepted(file: string): AcceptedPolicy | undefined {
    return this.state.get<AcceptedPolicy>(STATE_PREFIX + path.resolve(file));
  }

  private async setAccepted(file: string, text: string, how: AcceptedPolicy['how']): Promise<void> {
    await this.state.update(STATE_PREFIX + path.resolve(file), acceptedRecord(text, how));
  }

  /** The reviews not answered yet, oldest first. */
  reviews(): PolicyReview[] {
    return [...this.pending.values()];
  }

  /**
   * The policy text a new session in `folder` runs with, after the user's review when the file changed since
   * they last accepted it. Resolves to null when there is nothing acceptable to run with (rejected, and no
   * accepted text is known): the session must not start.
   */
  async prepare(folder: string, trusted: boolean): Promise<PreparedPolicy | { refused: string }> {
    if (!trusted) return { preface: [] };
    const file = path.join(folder, '.gate.toml');
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { preface: [] };
      return { refused: `cannot read ${file}: ${(e as Error).message}` };
    }
    const decision = reviewPolicyText('.gate.toml', text, this.accepted(file));
    if (decision.kind === 'unchanged') return { policyText: text, preface: [] };
    // A rule the user added through "Always allow…" (approvals/) is their own edit.
    if (decision.kind === 'changed' && isOwnPolicyWrite(file, text)) {
      await this.setAccepted(file, text, 'saved');
      return { policyText: text, preface: [] };
    }
    if (decision.kind === 'first-use') {
      await this.setAccepted(file, text, 'first-use');
      return { policyText: text, preface: [reviewBannerLine('first-use', file) ?? ''] };
    }
    const answer = await this.ask('changed-on-disk', file, decision.diff, decision.accepted.text ?? '', text);
    if (answer === 'accept') {
      await this.setAccepted(file, text, 'reviewed');
      return { policyText: text, preface: [reviewBannerLine('accepted', file) ?? ''] };
    }
    if (decision.accepted.text === undefined) return { refused: `${file} changed outside this editor, the change was rejected, and the version accepted before is not known` };
    return { policyText: decision.accepted.text, preface: [reviewBannerLine('rejected', file) ?? ''] };
  }

  /** The agent wrote a protected .gate.toml (the guard put it back): offer its version for review. */
  private readonly agentOffers = new Set<string>();

  offerAgentVersion(sessionId: string, change: ProtectedChange): void {
    if (change.class !== 'gate-policy') return;
    const saved = change.saved[''] ?? Object.values(change.saved)[0];
    let agentText: string | null = null;
    try {
      if (saved) agentText = fs.readFileSync(saved, 'utf8');
    } catch {
      // Nothing kept (removed, or not text): the diff says what happened.
    }
    let current = '';
    try {
      current = fs.readFileSync(change.path, 'utf8');
    } catch {
      // It did not exist before.
    }
    // One review per file at a time: an agent rewriting .gate.toml in a loop must not raise a toast per write
    // for a tired click to accept (red-team R55). Later versions are put back and kept in the audit log all
    // the same; the review shown is of exactly the version it offers.
    if (this.agentOffers.has(change.path)) return;
    this.agentOffers.add(change.path);
    const diff = change.diff || `${change.rel}: ${change.change}\n`;
    void this.ask('agent-wrote', change.path, diff, current, agentText ?? '', sessionId).then(async (answer) => {
      this.agentOffers.delete(change.path);
      if (answer !== 'accept' || agentText === null) return;
      // Accepted: written as the user's own change (the guards of running sessions are told first).
      const bytes = Buffer.from(agentText, 'utf8');
      for (const s of this.sessions.all()) s.session.expectUserWrite(change.path, bytes);
      await vscode.workspace.fs.writeFile(vscode.Uri.file(change.path), bytes);
      await this.setAccepted(change.path, agentText, 'reviewed');
    });
  }

  private ask(kind: PolicyReview['kind'], file: string, diff: string, before: string, after: string, session?: string): Promise<ReviewAnswer> {
    const id = this.nextId++;
    let resolve!: (a: ReviewAnswer) => void;
    const settled = new Promise<ReviewAnswer>((r) => (resolve = r));
    const review: PolicyReview = {
      id,
      kind,
      file,
      diff,
      ...(session ? { session } : {}),
      settled,
      answer: (a) => {
        if (!this.pending.delete(id)) return;
        resolve(a);
      },
    };
    this.pending.set(id, review);
    this.reviewEmitter.fire(review);
    void this.notify(review, before, after);
    return settled;
  }

  private async notify(review: PolicyReview, before: string, after: string): Promise<void> {
    const rel = vscode.workspace.asRelativePath(review.file);
    const message =
      review.kind === 'agent-wrote'
        ? `Agent Gate: the agent changed ${rel}; it was put back. Use the agent's version as your policy?`
        : `Agent Gate: ${rel} changed outside this editor (an agent, git, another editor). The guarded session waits for your review: use the changed policy?`;
    for (;;) {
      const pick = await showWarning(message, 'Show changes', 'Accept', 'Reject');
      if (!this.pending.has(review.id)) return;
      if (pick === 'Show changes') {
        await this.showDiff(review, before, after);
        continue;
      }
      // Dismissed: for a session waiting to start that is a rejection (fail closed: the accepted text is used).
      review.answer(pick === 'Accept' ? 'accept' : 'reject');
      return;
    }
  }

  private async showDiff(review: PolicyReview, before: string, after: string): Promise<void> {
    const left = `/${review.id}/accepted/.gate.toml`;
    const right = `/${review.id}/new/.gate.toml`;
    this.shown.set(left, before);
    this.shown.set(right, after);
    const title = review.kind === 'agent-wrote' ? `.gate.toml: yours ↔ the agent's` : `.gate.toml: last accepted ↔ on disk`;
    await vscode.commands.executeCommand('vscode.diff', vscode.Uri.from({ scheme: SCHEME, path: left }), vscode.Uri.from({ scheme: SCHEME, path: right }), title, { preview: true });
  }

  private isPolicy(doc: vscode.TextDocument): boolean {
    return doc.uri.scheme === 'file' && path.basename(doc.uri.fsPath) === '.gate.toml';
  }

  /** The user saves a policy file: the guards of running sessions must not take it for the agent's write. */
  private onWillSave(doc: vscode.TextDocument): void {
    if (!this.isPolicy(doc)) return;
    const bytes = Buffer.from(doc.getText(), 'utf8');
    for (const s of this.sessions.all()) s.session.expectUserWrite(doc.uri.fsPath, bytes);
  }

  private async onDidSave(doc: vscode.TextDocument): Promise<void> {
    if (!this.isPolicy(doc)) return;
    const file = doc.uri.fsPath;
    const text = doc.getText();
    await this.setAccepted(file, text, 'saved');
    // Rules written through "Always allow…" are applied to running sessions by approvals/ already.
    if (isOwnPolicyWrite(file, text)) return;
    const using = this.sessions.all().filter((s) => s.plan.source.kind === 'workspace' && path.resolve(s.plan.source.file) === path.resolve(file));
    if (using.length === 0) return;
    const n = using.length;
    const pick = await showInfo(`Agent Gate: ${vscode.workspace.asRelativePath(file)} saved. Apply it to the ${n} running guarded session${n === 1 ? '' : 's'} that use it?`, `Apply to ${n} running session${n === 1 ? '' : 's'}`);
    if (!pick) return;
    this.applySaved(file, text);
  }

  /** Apply a saved policy text to the running sessions that use `file`. Returns what each said. */
  applySaved(file: string, text: string): { session: string; result: string | null }[] {
    const out: { session: string; result: string | null }[] = [];
    for (const s of this.sessions.all()) {
      if (s.plan.source.kind !== 'workspace' || path.resolve(s.plan.source.file) !== path.resolve(file)) continue;
      const err = this.applyToSession(s.id, text);
      out.push({ session: s.id, result: err });
      if (err) void showError(`Agent Gate: the saved policy was not applied to ${s.label}: ${err}`);
    }
    return out;
  }

  dispose(): void {
    for (const r of this.pending.values()) r.answer('reject');
    for (const d of this.disposables) d.dispose();
  }
}
