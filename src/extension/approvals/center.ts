// Approvals in VS Code: the Approver each guarded session asks (through the core's ApprovalQueue, which owns
// the timeout, rate limits, de-duplication and "always, this session"). A request is shown as a notification
// (or a modal dialog, by setting) with the request's display forms only — never the raw facts — and it stays
// answerable from the audit view's "Pending approvals" group and the test API until the queue settles it.
// VS Code cannot take a notification back: a button clicked after the request ended says how it ended.
import * as vscode from 'vscode';
import type { ApprovalAnswer, ApprovalRequest, Approver } from '../../core/session/approvals';
import type { LaunchPlan } from '../../core/session/launch';
import type { RuleScope } from '../../core/policy/suggest-rule';
import { errorText, log } from '../log';
import type { ApproverFactory, SessionRegistry } from '../sessions';
import { RuleWriter, type RuleSubject, type RuleWritten } from './rules';
import { showInfo, showWarning } from '../notify';

/** An answer from the UI: the queue's three, or "always allow…" (a rule in .gate.toml, then allowed once). */
export type UiAnswer = ApprovalAnswer | 'always-rule';

export interface PendingApproval {
  sessionId: string;
  /** The session's display name ("Shell", "Claude Code"). */
  label: string;
  request: ApprovalRequest;
}

interface Entry extends PendingApproval {
  resolve: (a: ApprovalAnswer) => void;
  /** A rule picker is open for it (a second one is not started). */
  choosing: boolean;
}

const ALLOW_ONCE = 'Allow once';
const ALLOW_SESSION = 'Allow for this session';
const ALWAYS = 'Always allow…';
const DENY = 'Deny';
const DETAILS = 'Details';

type Plan = RuleSubject['plan'];

/** A command line the gate could not read whole cannot be shown whole, so it is never approvable: what is not
 *  shown would run too. */
const CUT_REASON = 'denied: the command line is too long to be read whole (its arguments were cut), so it cannot be shown for approval — the arguments not shown would run too';

export class ApprovalCenter implements vscode.Disposable {
  private readonly pending = new Map<string, Entry>();
  /** How recently ended requests ended, for a button clicked afterwards (bounded). */
  private readonly ended = new Map<string, string>();
  private readonly sessions = new Map<string, { label: string; plan: Plan }>();
  private readonly changed = new vscode.EventEmitter<void>();
  /** The pending list changed. */
  readonly onDidChange = this.changed.event;
  readonly rules: RuleWriter;

  constructor(private readonly registry: SessionRegistry) {
    this.rules = new RuleWriter(registry);
  }

  /** The factory the terminal module calls before a session starts. */
  readonly factory: ApproverFactory = (info) => this.approverFor(info);

  approverFor(info: { sessionId: string; label: string; plan: LaunchPlan }): Approver {
    this.remember(info.sessionId, info.label, info.plan);
    return {
      ask: (request, signal) => this.ask(info.sessionId, info.label, request, signal),
      explain: (_answer, request) => (request.facts.argvTruncated ? CUT_REASON : undefined),
    };
  }

  /** The plan of a session (for rules), from the approver factory or the registry. */
  planOf(sessionId: string): { label: string; plan: Plan } | undefined {
    const live = this.registry.get(sessionId);
    return live ? { label: live.label, plan: live.plan } : this.sessions.get(sessionId);
  }

  private remember(id: string, label: string, plan: Plan): void {
    this.sessions.set(id, { label, plan });
    if (this.sessions.size > 100) this.sessions.delete(this.sessions.keys().next().value as string);
  }

  /** Waiting for an answer, oldest first. */
  list(sessionId?: string): PendingApproval[] {
    return [...this.pending.values()].filter((e) => sessionId === undefined || e.sessionId === sessionId).map(({ sessionId: s, label, request }) => ({ sessionId: s, label, request }));
  }

  /** The request pending under this key, as the center holds it (not a copy): what callers compare and show. */
  pendingRequest(sessionId: string, requestId: number): ApprovalRequest | undefined {
    return this.pending.get(key(sessionId, requestId))?.request;
  }

  get count(): number {
    return this.pending.size;
  }

  /**
   * Answer a pending request. 'always-rule' writes the rule (`scope`: which of the suggestions; absent: the
   * user picks) and then allows this request once. Returns false when it is no longer pending.
   */
  async answer(sessionId: string, requestId: number, answer: UiAnswer, scope?: RuleScope): Promise<{ answered: boolean; rule?: RuleWritten; ended?: string }> {
    const e = this.pending.get(key(sessionId, requestId));
    if (!e) return { answered: false, ended: this.ended.get(key(sessionId, requestId)) ?? 'not pending' };
    if (answer !== 'always-rule') {
      this.settle(e, answer);
      return { answered: true };
    }
    const rule = await this.alwaysAllow(e, scope);
    return { answered: rule !== undefined, ...(rule ? { rule } : {}) };
  }

  private async alwaysAllow(e: Entry, scope?: RuleScope): Promise<RuleWritten | undefined> {
    const s = this.planOf(e.sessionId);
    if (!s) throw new Error(`session ${e.sessionId} is not known`);
    e.choosing = true;
    try {
      const rule = await this.rules.offer(
        { action: 'allow', argv: e.request.facts.argv, exe: e.request.facts.exe?.path ?? null, requestedPath: e.request.facts.requestedPath, decidingRuleId: e.request.ruleId, plan: s.plan },
        scope,
      );
      // The rule is in force for later execs; this one, already asked, is allowed once.
      if (rule && this.pending.get(key(e.sessionId, e.request.id)) === e) this.settle(e, 'allow-once');
      return rule;
    } finally {
      e.choosing = false;
    }
  }

  private settle(e: Entry, answer: ApprovalAnswer): void {
    const k = key(e.sessionId, e.request.id);
    if (this.pending.get(k) !== e) return;
    this.pending.delete(k);
    this.noteEnded(k, `answered: ${answer === 'deny' ? 'denied' : answer === 'always' ? 'allowed for this session' : 'allowed once'}`);
    e.resolve(answer);
    this.changed.fire();
  }

  private noteEnded(k: string, how: string): void {
    this.ended.set(k, how);
    if (this.ended.size > 500) this.ended.delete(this.ended.keys().next().value as string);
  }

  private ask(sessionId: string, label: string, request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalAnswer> {
    if (request.facts.argvTruncated) {
      void showWarning(`Agent Gate (${label}): ${request.commandShort} … was ${CUT_REASON}.`);
      log().warn(`approval ${sessionId}/${request.id}: ${CUT_REASON}`);
      return Promise.resolve('deny');
    }
    return new Promise<ApprovalAnswer>((resolve) => {
      const k = key(sessionId, request.id);
      const e: Entry = { sessionId, label, request, resolve, choosing: false };
      this.pending.set(k, e);
      this.changed.fire();
      signal.addEventListener(
        'abort',
        () => {
          if (this.pending.get(k) !== e) return;
          this.pending.delete(k);
          const why = signal.reason instanceof Error ? signal.reason.message : 'withdrawn';
          this.noteEnded(k, why);
          log().info(`approval ${sessionId}/${request.id} ended without an answer: ${why}`);
          // The queue no longer waits for this answer; it decides by its own rule (on_timeout, deny).
          resolve('deny');
          this.changed.fire();
        },
        { once: true },
      );
      void this.show(e).catch((err) => log().error(`approval notification failed: ${errorText(err)}`));
    });
  }

  /** The notification (or modal) for `e`, and what its buttons do. */
  private async show(e: Entry, details = false): Promise<void> {
    const r = e.request;
    const modal = details || vscode.workspace.getConfiguration('agentGate').get<boolean>('approvals.modal', false);
    const rule = r.ruleId ? `rule ${r.ruleId}` : 'the default action';
    const head = `Agent Gate (${e.label}): allow ${r.commandShort}?`;
    const about = `${r.chain.join(' → ')} · in ${r.cwd} · ${rule}: ${r.reason}`;
    const whole = [`Command: ${r.command}`, `Program: ${r.exe}`, `Directory: ${r.cwd}`, `Started by: ${r.chain.join(' → ')}`, `Asked by: ${rule}`, `Reason: ${r.reason}`].join('\n');
    // A command shortened for the notification is allowed only from the dialog that shows it whole: what is
    // cut from the middle would run too.
    const elided = r.commandShort !== r.command;
    const buttons = modal ? [ALLOW_ONCE, ALLOW_SESSION, ALWAYS, DENY] : elided ? [DETAILS, DENY] : [ALLOW_ONCE, ALLOW_SESSION, ALWAYS, DENY, DETAILS];
    const picked = modal
      ? await showWarning(head, { modal: true, detail: `${whole}\n\n"Allow for this session": this exact command (same program, same arguments), until the session ends.` }, ...buttons)
      : await showWarning(`${head} — ${about}${elided ? ' — shortened: see Details to allow' : ''}`, ...buttons);
    if (picked === undefined) return; // dismissed: it stays pending (the audit view, the status bar) until it times out
    const k = key(e.sessionId, r.id);
    if (this.pending.get(k) !== e) {
      void showInfo(`Agent Gate: ${r.commandShort} was no longer waiting (${this.ended.get(k) ?? 'it ended'}); your answer was not used.`);
      return;
    }
    if (picked === DETAILS) return this.show(e, true);
    if (picked === ALLOW_ONCE) this.settle(e, 'allow-once');
    else if (picked === ALLOW_SESSION) this.settle(e, 'always');
    else if (picked === DENY) this.settle(e, 'deny');
    else if (picked === ALWAYS && !e.choosing) {
      const rule = await this.alwaysAllow(e);
      // Cancelled: still pending; ask again rather than leave it to the timeout silently.
      if (!rule && this.pending.get(k) === e) return this.show(e);
    }
  }

  /** Show a pending request whole, in the dialog with every answer (the audit view's Allow on a shortened command). */
  showWhole(sessionId: string, requestId: number): boolean {
    const e = this.pending.get(key(sessionId, requestId));
    if (!e) return false;
    void this.show(e, true).catch((err) => log().error(`approval dialog failed: ${errorText(err)}`));
    return true;
  }

  dispose(): void {
    for (const e of this.pending.values()) e.resolve('deny');
    this.pending.clear();
    this.changed.dispose();
  }
}

function key(sessionId: string, id: number): string {
  return `${sessionId}\0${id}`;
}
