// Approvals: what happens when the policy says `ask`. The ApprovalQueue enforces the policy's [approval]
// settings between the session and whoever answers (a VS Code notification, a terminal prompt, or an
// automatic answer in CI): a timeout with a defined meaning, a cap on pending prompts and on prompts per
// minute (so an agent cannot flood the user into clicking "allow"), de-duplication of identical pending
// requests, and session-scoped "always" answers.
import { escapeForDisplay } from '../audit/display';
import { redactArgv, redactText } from '../audit/redact';
import type { ExecFacts } from '../exec/facts';
import type { ApprovalPolicy, BinaryAction } from '../policy/types';

export type ApprovalAnswer = 'allow-once' | 'always' | 'deny';

/** What an approver is asked. Everything shown is already redacted and escaped. */
export interface ApprovalRequest {
  /** Request id of the first exec that raised this prompt (later identical ones join it). */
  id: number;
  facts: ExecFacts;
  /** The command exactly as it will run: argv redacted, then escaped and quoted shell-style. */
  command: string;
  /** Canonical executable path (escaped), or the requested path when it did not resolve. */
  exe: string;
  cwd: string;
  /** The rule that asked (null: the default action is `ask`) and its reason. */
  ruleId: string | null;
  reason: string;
}

export interface Approver {
  /** Ask about one request. Resolve with the answer; `signal` aborts when the queue no longer needs one
   *  (timeout, session end): the approver should then withdraw its prompt and may resolve with anything. */
  ask(request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalAnswer>;
  /** Optional: the reason to log for an answer (an automatic approver says that no one was asked). */
  explain?(answer: ApprovalAnswer, request: ApprovalRequest): string;
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
  hold(): Promise<void>;
  release(): Promise<void>;
}

export interface ApprovalOutcome {
  verdict: BinaryAction;
  layer: 'approval' | 'timeout' | 'error';
  reason: string;
  answer: ApprovalAnswer | null;
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
}

/** How long after an answer the same thread's same exec (the next directory of a PATH search: /usr/bin/X,
 *  then /bin/X, the same file on a merged-/usr system) gets that answer instead of a second prompt. */
const SAME_EXEC_WINDOW_MS = 2000;

interface PendingPrompt {
  key: string;
  controller: AbortController;
  promise: Promise<ApprovalOutcome>;
  requestIds: number[];
}

export class ApprovalQueue {
  private readonly pending = new Map<string, PendingPrompt>();
  /** The last answered request of each thread: a PATH search's next attempt at the same file is answered
   *  with it (one ask per logical exec). */
  private readonly answered = new Map<number, { key: string; at: number; outcome: ApprovalOutcome; id: number }>();
  private readonly promptTimes: number[] = [];
  /** Executable identities the user answered "always" for, this session only. */
  private readonly alwaysAllowed = new Map<string, string>();
  private readonly now: () => number;
  private readonly withdrawGraceMs: number;
  private closedReason: string | null = null;

  constructor(
    private readonly settings: ApprovalPolicy,
    private readonly approver: Approver,
    options: ApprovalQueueOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.withdrawGraceMs = options.withdrawGraceMs ?? 2000;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Build the request shown to an approver from an exec's facts. */
  static describe(facts: ExecFacts, ruleId: string | null, reason: string): ApprovalRequest {
    return {
      id: facts.requestId,
      facts,
      command: escapeForDisplay(redactArgv(facts.argv)),
      exe: escapeForDisplay([redactText(facts.exe?.path ?? facts.requestedPath)]),
      cwd: escapeForDisplay([redactText(facts.cwd)]),
      ruleId,
      reason: redactText(reason),
    };
  }

  /**
   * Decide an `ask`: at once for a session "always", a flood (rate limit) or a closed queue; otherwise by
   * the approver, bounded by the timeout. Never rejects.
   */
  request(request: ApprovalRequest): Promise<ApprovalOutcome> {
    if (this.closedReason !== null) {
      return Promise.resolve({ verdict: 'deny', layer: 'error', reason: this.closedReason, answer: null });
    }
    const identity = identityKey(request.facts);
    const always = identity !== null ? this.alwaysAllowed.get(identity) : undefined;
    if (always !== undefined) {
      return Promise.resolve({ verdict: 'allow', layer: 'approval', reason: `allowed for this session: the user answered "always" for ${always}`, answer: 'always' });
    }

    const key = dedupKey(request.facts);
    const same = this.pending.get(key);
    if (same) {
      same.requestIds.push(request.id);
      return same.promise;
    }
    const last = this.answered.get(request.facts.tid);
    if (last && last.key === sameExecKey(request.facts) && this.now() - last.at <= SAME_EXEC_WINDOW_MS) {
      const o = last.outcome;
      return Promise.resolve({ ...o, reason: `${o.reason} (the answer to request ${last.id}: the same program, arguments and directory, tried again through another path)` });
    }

    const s = this.settings;
    // A fixed answer prompts nobody: the limits that protect a person from a flood do not apply.
    if (this.approver.automatic) return this.track(request, key);
    if (this.pending.size >= s.maxPending) {
      return Promise.resolve({
        verdict: 'deny',
        layer: 'approval',
        reason: `approval rate limit exceeded: ${this.pending.size} approval(s) already pending (max_pending = ${s.maxPending})`,
        answer: null,
      });
    }
    const t = this.now();
    while (this.promptTimes.length > 0 && (this.promptTimes[0] as number) <= t - 60_000) this.promptTimes.shift();
    if (this.promptTimes.length >= s.maxPerMinute) {
      return Promise.resolve({
        verdict: 'deny',
        layer: 'approval',
        reason: `approval rate limit exceeded: ${this.promptTimes.length} prompts in the last minute (max_per_minute = ${s.maxPerMinute})`,
        answer: null,
      });
    }
    this.promptTimes.push(t);
    return this.track(request, key);
  }

  /** Ask, and keep the prompt findable (identical requests join it) until it is answered. */
  private track(request: ApprovalRequest, key: string): Promise<ApprovalOutcome> {
    const controller = new AbortController();
    const entry: PendingPrompt = { key, controller, requestIds: [request.id], promise: Promise.resolve(null as unknown as ApprovalOutcome) };
    entry.promise = this.runPrompt(request, controller).then((outcome) => {
      if (this.pending.get(key) === entry) this.pending.delete(key);
      if (outcome.answer !== null || outcome.layer === 'timeout') {
        if (this.answered.size >= 4096) this.answered.clear();
        this.answered.set(request.facts.tid, { key: sameExecKey(request.facts), at: this.now(), outcome, id: request.id });
      }
      return outcome;
    });
    this.pending.set(key, entry);
    return entry.promise;
  }

  /** Withdraw every pending prompt (the session is ending): they resolve `deny` with `reason`; later
   *  requests are denied at once. */
  close(reason = 'the session ended before an answer'): void {
    this.closedReason = reason;
    for (const p of this.pending.values()) p.controller.abort(new Error(reason));
  }

  private async runPrompt(request: ApprovalRequest, controller: AbortController): Promise<ApprovalOutcome> {
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
        };
      }
      if (answer === 'aborted') {
        await withdrawn();
        return { verdict: 'deny', layer: 'error', reason: this.closedReason ?? 'the approval was withdrawn', answer: null };
      }
      if (answer !== 'allow-once' && answer !== 'always' && answer !== 'deny') {
        return { verdict: 'deny', layer: 'error', reason: `the approver gave an invalid answer (${String(answer)}): denied`, answer: null };
      }
      if (answer === 'always') {
        const identity = identityKey(request.facts);
        if (identity !== null) this.alwaysAllowed.set(identity, request.exe);
      }
      const explained = this.approver.explain?.(answer, request);
      const reason = explained ?? (answer === 'deny' ? 'denied by the user' : answer === 'always' ? 'allowed by the user (always, this session)' : 'allowed by the user (once)');
      return { verdict: answer === 'deny' ? 'deny' : 'allow', layer: 'approval', reason, answer };
    } catch (err) {
      return { verdict: 'deny', layer: 'error', reason: `the approval prompt failed (${err instanceof Error ? err.message : String(err)}): denied`, answer: null };
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

/** Identical requests share one prompt: same executable, argv and cwd. */
function dedupKey(f: ExecFacts): string {
  return JSON.stringify([f.exe?.path ?? f.requestedPath, f.argv, f.cwd]);
}

/** The same logical exec tried again by one thread: the same file (whatever path reached it), argv, cwd, and
 *  the same script or loaded program behind it. */
function sameExecKey(f: ExecFacts): string {
  return JSON.stringify([identityKey(f) ?? f.requestedPath, f.argv, f.cwd]);
}
