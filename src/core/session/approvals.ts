// Approvals: what happens when the policy says `ask`. The ApprovalQueue enforces the policy's [approval]
// settings between the session and whoever answers (a VS Code notification, a terminal prompt, or an
// automatic answer in CI): a timeout with a defined meaning, a cap on pending prompts and on prompts per
// minute (so an agent cannot flood the user into clicking "allow"), de-duplication of identical pending
// requests, and session-scoped "always" answers.
import * as path from 'node:path';
import { elide, escapeForDisplay, escapeText } from '../audit/display';
import type { FeedPending } from '../audit/feed';
import { redactArgv, redactText } from '../audit/redact';
import type { ExecFacts } from '../exec/facts';
import type { ApprovalPolicy, BinaryAction } from '../policy/types';
import type { TerminalRelay } from './wire';

export type ApprovalAnswer = 'allow-once' | 'always' | 'deny';

/**
 * What an approver is asked: the display forms of FeedPending (a UI renders those as they are), and `facts`,
 * the raw exec, kept for the policy engine and rule suggestions and never rendered.
 */
export interface ApprovalRequest extends FeedPending {
  facts: ExecFacts;
}

/** Why a command line cut for length is denied without a question. */
export const CUT_ARGV_REASON = 'denied: the command line is too long to be read whole (its arguments were cut), so it cannot be shown for approval — the arguments not shown would run too';

/** Length of ApprovalRequest.commandShort. */
export const SHORT_COMMAND_CHARS = 120;

export interface Approver {
  /** Ask about one request. Resolve with the answer; `signal` aborts when the queue no longer needs one
   *  (timeout, session end): the approver should then withdraw its prompt and may resolve with anything. */
  ask(request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalAnswer>;
  /** Optional: the reason to log for an answer (an automatic approver says that no one was asked). */
  explain?(answer: ApprovalAnswer, request: ApprovalRequest): string | undefined;
  /** True when nobody is prompted (the answer is fixed): the per-minute and pending limits, which protect
   *  a person from a flood of prompts, do not apply. */
  readonly automatic?: boolean;
  /** Optional, for an approver that asks on the user's terminal (the CLI's): the session hands it the
   *  control of the supervisor's terminal relay before anything can be asked. */
  attachTerminal?(control: TerminalControl): void;
}

/**
 * The user's terminal while an approver asks on it. The agent runs on a pty of its own and the supervisor
 * relays between it and the user's terminal (docs/protocol.md, TERMINAL): `hold` stops the relay (the
 * agent's output so far is shown, nothing more; nothing typed reaches the agent; the terminal is in the
 * user's own mode, type-ahead dropped), `release` resumes it. What is read in between can only have been
 * typed by the user: the agent holds no descriptor of the user's terminal and cannot type into it.
 */
export interface TerminalControl {
  /** Resolves with what was held: 'shared' means nothing could be (the agent writes to the user's terminal
   *  itself, it got no pty of its own), so a question there could be overdrawn by the agent. */
  hold(): Promise<TerminalRelay | undefined | void>;
  release(): Promise<void>;
}

/**
 * How an ask ended: the user answered; an earlier "always, this session" answered it; nobody answered in
 * time (on_timeout); it was withdrawn (its process died, the session ended); the rate limit refused it; or the
 * approver failed.
 */
export type SettleKind = 'answered' | 'remembered' | 'timed-out' | 'withdrawn' | 'rate-limited' | 'error';

export interface ApprovalOutcome {
  verdict: BinaryAction;
  layer: 'approval' | 'timeout' | 'error';
  reason: string;
  answer: ApprovalAnswer | null;
  kind: SettleKind;
}

/** An ask that ended. `prompted`: an approver was asked (an `onPrompt` came first); else it was decided at once. */
export interface ApprovalSettlement {
  request: ApprovalRequest;
  outcome: ApprovalOutcome;
  prompted: boolean;
}

/** Answers every request at once with a fixed default: tests, CI, and runs with no terminal. Never hangs. */
export class AutoApprover implements Approver {
  readonly automatic = true;

  constructor(
    readonly defaultAnswer: ApprovalAnswer,
    /** Why nobody is asked, for the log: e.g. "CI is set", "no terminal". */
    private readonly why = 'CI / no terminal',
  ) {}

  ask(): Promise<ApprovalAnswer> {
    return Promise.resolve(this.defaultAnswer);
  }

  explain(answer: ApprovalAnswer): string {
    const what = answer === 'deny' ? 'deny' : 'allow';
    return `no one to ask (${this.why}): default ${what}`;
  }
}

export interface ApprovalQueueOptions {
  /** Clock in ms, for the per-minute window (tests inject one). */
  now?: () => number;
  /** After a timeout, how long to wait for the approver to withdraw its prompt (default 2000 ms). */
  withdrawGraceMs?: number;
  /** An approver is being asked about `request` (it is pending until onSettle). */
  onPrompt?: (request: ApprovalRequest) => void;
  /** Every ask that ends, prompted or decided at once; joined duplicates settle with their prompt. */
  onSettle?: (settlement: ApprovalSettlement) => void;
}

/** How long after an answer the same thread's same exec (the next directory of a PATH search: /usr/bin/X,
 *  then /bin/X, the same file on a merged-/usr system) gets that answer instead of a second prompt. */
const SAME_EXEC_WINDOW_MS = 2000;

interface PendingPrompt {
  key: string;
  request: ApprovalRequest;
  controller: AbortController;
  promise: Promise<ApprovalOutcome>;
  requests: ApprovalRequest[];
  /** Set when withdraw() took it back: the reason for the record. */
  withdrawn: string | null;
}

export class ApprovalQueue {
  private readonly pending = new Map<string, PendingPrompt>();
  /** The last answered request of each thread: a PATH search's next attempt at the same file is answered
   *  with it (one ask per logical exec). */
  private readonly answered = new Map<number, { key: string; at: number; outcome: ApprovalOutcome; id: number }>();
  private readonly promptTimes: number[] = [];
  /** Commands (file identity + exact argv) the user answered "always" for, this session only. */
  private readonly alwaysAllowed = new Map<string, string>();
  private readonly now: () => number;
  private readonly withdrawGraceMs: number;
  private closedReason: string | null = null;

  private settings: ApprovalPolicy;

  constructor(
    settings: ApprovalPolicy,
    private readonly approver: Approver,
    private readonly options: ApprovalQueueOptions = {},
  ) {
    this.settings = settings;
    this.now = options.now ?? Date.now;
    this.withdrawGraceMs = options.withdrawGraceMs ?? 2000;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** The prompts waiting for an answer, oldest first (one per prompt: joined duplicates are not listed). */
  pendingRequests(): ApprovalRequest[] {
    return [...this.pending.values()].map((p) => p.request);
  }

  /** New [approval] settings (a policy the user applied to the running session): for later asks. */
  updateSettings(settings: ApprovalPolicy): void {
    this.settings = settings;
  }

  /**
   * Build the request shown to an approver from an exec's facts. `ancestry`: the programs (paths or names)
   * that led to this exec, outermost first, without this one.
   */
  static describe(facts: ExecFacts, ruleId: string | null, reason: string, ancestry: readonly string[] = []): ApprovalRequest {
    const command = escapeForDisplay(redactArgv(facts.argv));
    const program = facts.exe?.path ?? facts.requestedPath;
    return {
      id: facts.requestId,
      facts,
      command,
      commandShort: elide(command, SHORT_COMMAND_CHARS),
      exe: escapeForDisplay([redactText(program)]),
      cwd: escapeForDisplay([redactText(facts.cwd)]),
      chain: [...ancestry, program].map((p) => escapeText(redactText(path.basename(p) || p))),
      ruleId,
      reason: escapeText(redactText(reason)),
      time: Date.now(),
    };
  }

  /**
   * Take back every pending prompt for which `gone` says why all of its requests are moot (their processes
   * died): each resolves `deny` (nothing is waiting for it) with that reason. Returns how many were withdrawn.
   */
  withdrawWhere(gone: (requests: readonly ApprovalRequest[]) => string | null): number {
    let n = 0;
    for (const p of this.pending.values()) {
      if (p.withdrawn !== null) continue;
      const why = gone(p.requests);
      if (why === null) continue;
      p.withdrawn = why;
      p.controller.abort(new Error(why));
      n++;
    }
    return n;
  }

  /**
   * Decide an `ask`: at once for a session "always", a flood (rate limit) or a closed queue; otherwise by
   * the approver, bounded by the timeout. Never rejects.
   */
  request(request: ApprovalRequest): Promise<ApprovalOutcome> {
    const now = (outcome: ApprovalOutcome): Promise<ApprovalOutcome> => {
      this.options.onSettle?.({ request, outcome, prompted: false });
      return Promise.resolve(outcome);
    };
    if (this.closedReason !== null) {
      return now({ verdict: 'deny', layer: 'error', reason: this.closedReason, answer: null, kind: 'withdrawn' });
    }
    const always = sessionAlwaysKey(request.facts);
    const command = always !== null ? this.alwaysAllowed.get(always) : undefined;
    if (command !== undefined) {
      return now({ verdict: 'allow', layer: 'approval', reason: `allowed for this session: the user answered "always" for this exact command (${command})`, answer: 'always', kind: 'remembered' });
    }

    const key = dedupKey(request.facts);
    const same = this.pending.get(key);
    if (same) {
      same.requests.push(request);
      return same.promise;
    }
    const last = this.answered.get(request.facts.tid);
    if (last && last.key === sameExecKey(request.facts) && this.now() - last.at <= SAME_EXEC_WINDOW_MS) {
      const o = last.outcome;
      return now({ ...o, kind: 'remembered', reason: `${o.reason} (the answer to request ${last.id}: the same program, arguments and directory, tried again through another path)` });
    }

    const s = this.settings;
    // A fixed answer prompts nobody: the limits that protect a person from a flood do not apply.
    if (this.approver.automatic) return this.track(request, key);
    // What was cut off cannot be shown, so it cannot be approved: whatever the question showed, the hidden
    // arguments would run too (red-team R57). Every front end (the CLI's terminal, VS Code) gets this at once.
    if (request.facts.argvTruncated) return now({ verdict: 'deny', layer: 'approval', reason: CUT_ARGV_REASON, answer: null, kind: 'answered' });
    if (this.pending.size >= s.maxPending) {
      return now({
        verdict: 'deny',
        layer: 'approval',
        reason: `approval rate limit exceeded: ${this.pending.size} approval(s) already pending (max_pending = ${s.maxPending})`,
        answer: null,
        kind: 'rate-limited',
      });
    }
    const t = this.now();
    while (this.promptTimes.length > 0 && (this.promptTimes[0] as number) <= t - 60_000) this.promptTimes.shift();
    if (this.promptTimes.length >= s.maxPerMinute) {
      return now({
        verdict: 'deny',
        layer: 'approval',
        reason: `approval rate limit exceeded: ${this.promptTimes.length} prompts in the last minute (max_per_minute = ${s.maxPerMinute})`,
        answer: null,
        kind: 'rate-limited',
      });
    }
    this.promptTimes.push(t);
    return this.track(request, key);
  }

  /** Ask, and keep the prompt findable (identical requests join it) until it is answered. */
  private track(request: ApprovalRequest, key: string): Promise<ApprovalOutcome> {
    const controller = new AbortController();
    const entry: PendingPrompt = { key, request, controller, requests: [request], withdrawn: null, promise: Promise.resolve(null as unknown as ApprovalOutcome) };
    this.pending.set(key, entry);
    this.options.onPrompt?.(request);
    entry.promise = this.runPrompt(request, controller, entry).then((outcome) => {
      if (this.pending.get(key) === entry) this.pending.delete(key);
      if (outcome.answer !== null || outcome.layer === 'timeout') {
        if (this.answered.size >= 4096) this.answered.clear();
        this.answered.set(request.facts.tid, { key: sameExecKey(request.facts), at: this.now(), outcome, id: request.id });
      }
      this.options.onSettle?.({ request, outcome, prompted: true });
      return outcome;
    });
    return entry.promise;
  }

  /** Withdraw every pending prompt (the session is ending): they resolve `deny` with `reason`; later
   *  requests are denied at once. */
  close(reason = 'the session ended before an answer'): void {
    this.closedReason = reason;
    for (const p of this.pending.values()) p.controller.abort(new Error(reason));
  }

  private async runPrompt(request: ApprovalRequest, controller: AbortController, entry: PendingPrompt): Promise<ApprovalOutcome> {
    const s = this.settings;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), s.timeoutMs);
      timer.unref?.();
    });
    const aborted = new Promise<'aborted'>((resolve) => {
      controller.signal.addEventListener('abort', () => resolve('aborted'), { once: true });
    });
    const asked = this.approver.ask(request, controller.signal);
    // The verdict must not go out while the prompt is still up: a terminal prompt holds the terminal's
    // foreground, and the agent, once released, would find itself in the background. So on a timeout or a
    // withdrawal, wait (bounded) for the approver to take its prompt down first.
    const withdrawn = async (): Promise<void> => {
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([asked.then(() => undefined, () => undefined), new Promise<void>((r) => (grace = setTimeout(r, this.withdrawGraceMs)))]);
      clearTimeout(grace);
    };
    try {
      const answer = await Promise.race([asked, timedOut, aborted]);
      if (answer === 'timeout') {
        controller.abort(new Error('approval timed out'));
        await withdrawn();
        return {
          verdict: s.onTimeout,
          layer: 'timeout',
          reason: `no answer within ${s.timeoutMs} ms: on_timeout = ${s.onTimeout}`,
          answer: null,
          kind: 'timed-out',
        };
      }
      if (answer === 'aborted') {
        await withdrawn();
        return { verdict: 'deny', layer: 'error', reason: entry.withdrawn ?? this.closedReason ?? 'the approval was withdrawn', answer: null, kind: 'withdrawn' };
      }
      if (answer !== 'allow-once' && answer !== 'always' && answer !== 'deny') {
        return { verdict: 'deny', layer: 'error', reason: `the approver gave an invalid answer (${String(answer)}): denied`, answer: null, kind: 'error' };
      }
      if (answer === 'always') {
        const key = sessionAlwaysKey(request.facts);
        if (key !== null) this.alwaysAllowed.set(key, request.commandShort);
      }
      const explained = this.approver.explain?.(answer, request);
      const reason = explained ?? (answer === 'deny' ? 'denied by the user' : answer === 'always' ? 'allowed by the user (always, this session)' : 'allowed by the user (once)');
      return { verdict: answer === 'deny' ? 'deny' : 'allow', layer: 'approval', reason, answer, kind: 'answered' };
    } catch (err) {
      return { verdict: 'deny', layer: 'error', reason: `the approval prompt failed (${err instanceof Error ? err.message : String(err)}): denied`, answer: null, kind: 'error' };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Identity of the program that will run, for session "always" answers: the file itself (device, inode,
 *  size, hash when known), plus the script or loaded program when an interpreter or the loader is involved,
 *  so "always" for one script does not allow every script run by the same interpreter. */
export function identityKey(f: ExecFacts): string | null {
  if (!f.exe) return null;
  const id = (x: { path: string; dev: string; ino: string; size: number; sha256?: string }): string =>
    `${x.path}\0${x.dev}:${x.ino}:${x.size}:${x.sha256 ?? ''}`;
  let key = id(f.exe);
  for (const i of f.interpreters ?? (f.interpreter ? [f.interpreter] : [])) key += `\0interp\0${id(i)}`;
  if (f.loaderTarget) key += `\0ld\0${id(f.loaderTarget)}`;
  return key;
}

/**
 * What a session "always" answer covers: this exact command — the same file (and script or loaded program
 * behind it) with the same argv. Never the bare program: "always" for `dash build.sh` must not allow
 * `dash -c …`, nor "always" for `git push origin main` a `git push --force --mirror elsewhere`. A cut argv is
 * never remembered (what was cut off is unknown).
 */
export function sessionAlwaysKey(f: ExecFacts): string | null {
  const identity = identityKey(f);
  if (identity === null || f.argvTruncated) return null;
  return JSON.stringify([identity, f.argv]);
}

/** Identical requests share one prompt: same executable, argv and cwd. */
function dedupKey(f: ExecFacts): string {
  return JSON.stringify([f.exe?.path ?? f.requestedPath, f.argv, f.cwd]);
}

/** The same logical exec tried again by one thread: the same file (whatever path reached it), argv, cwd, and
 *  the same script or loaded program behind it. */
function sameExecKey(f: ExecFacts): string {
  return JSON.stringify([identityKey(f) ?? f.requestedPath, f.argv, f.cwd]);
}
