// The audit feed: what an audit view shows, kept in memory, bounded, grouped by session. It takes decision
// records (already redacted) and approval events, and keeps for each session its newest items (display forms:
// escaped, elided), its pending approvals, counts per verdict and per rule, and how many items it dropped
// (the full record stays in the audit log). Changes are collected, not pushed: a view asks for them on its
// own timer (takeChanges), so a burst of thousands of execs costs one refresh per tick, not one per exec.
import { elide, escapeForDisplay, escapeText } from './display';
import type { DecisionLayer, DecisionRecord } from './records';

export type FeedFilter = 'all' | 'denied' | 'asked';

/** How an approval ended, as the feed shows it (see SettleKind in src/core/session/approvals.ts). */
export type FeedSettleKind = 'answered' | 'remembered' | 'timed-out' | 'withdrawn' | 'rate-limited' | 'error';

export interface FeedItem {
  /** Unique in the feed, increasing. */
  seq: number;
  session: string;
  request: number;
  time: string;
  verdict: 'allow' | 'deny';
  /** The policy said ask (an approval, its timeout, rate limit or withdrawal decided). */
  asked: boolean;
  ruleId: string | null;
  /** Escaped. */
  reason: string;
  layer: DecisionLayer;
  /** The whole command, escaped and quoted. */
  command: string;
  /** The command elided for a one-line label. */
  label: string;
  /** Program name (escaped basename of exe). */
  program: string;
  exe: string;
  cwd: string;
  pid: number;
  ppid: number;
  latencyUs: number;
  cached: boolean;
  /** The item of the process that made this exec (its parent in the process tree), when still in memory. */
  parentSeq: number | null;
  /** The record as logged (redacted, not escaped): for "copy as JSON" only, never for display. */
  record: DecisionRecord;
}

/**
 * An approval waiting for an answer. Every string field is a display form: redacted, then escaped (control
 * characters, ANSI, bidi overrides and invisible characters made visible), so a UI renders them as they are.
 */
export interface FeedPending {
  /** Request id of the first exec that raised this prompt (later identical ones join it). */
  id: number;
  /** The command exactly as it will run: argv redacted, then escaped and quoted shell-style. */
  command: string;
  /** `command` shortened in the middle to fit a notification's first line (the whole is in `command`). */
  commandShort: string;
  /** Canonical executable path (escaped), or the requested path when it did not resolve. */
  exe: string;
  cwd: string;
  /** The programs that led here, outermost first, ending with this one: ['claude', 'bash', 'curl']. */
  chain: string[];
  /** The rule that asked (null: the default action is `ask`) and its reason. */
  ruleId: string | null;
  reason: string;
  /** When it was raised (ms since the epoch). */
  time: number;
}

export interface FeedSettled {
  id: number;
  kind: FeedSettleKind;
  verdict: 'allow' | 'deny';
  reason: string;
  commandShort: string;
  time: number;
}

export interface RuleCount {
  allow: number;
  deny: number;
}

export interface FeedCounts {
  decisions: number;
  allow: number;
  deny: number;
  asked: number;
  timedOut: number;
  withdrawn: number;
  rateLimited: number;
  /** Per deciding rule id ('(default)' when the default action decided). */
  byRule: Map<string, RuleCount>;
}

export interface FeedSessionInfo {
  id: string;
  /** What runs: "claude", "Guarded shell"… */
  label: string;
  argv?: readonly string[];
  policyFile?: string;
  auditFile?: string;
  /** The banner lines (policy, kernel, audit log). */
  banner?: readonly string[];
  startedAt?: number;
}

export class FeedSession {
  readonly counts: FeedCounts = { decisions: 0, allow: 0, deny: 0, asked: 0, timedOut: 0, withdrawn: 0, rateLimited: 0, byRule: new Map() };
  /** Items, oldest first (views show them newest first). */
  readonly items: FeedItem[] = [];
  readonly pending = new Map<number, FeedPending>();
  /** The last approvals that ended without an answer worth a record of their own (timeouts, rate limits…), newest last. */
  readonly settled: FeedSettled[] = [];
  /** Items no longer in memory (still in the audit log). */
  dropped = 0;
  ended: { exitCode: number; failure: string | null; at: number } | null = null;
  readonly startedAt: number;
  /** pid → seq of the item whose exec that process runs now (its last allowed exec). */
  readonly images = new Map<number, number>();
  /** seq → the items it started, in order (the process tree). */
  readonly children = new Map<number, number[]>();
  private readonly bySeq = new Map<number, FeedItem>();

  constructor(readonly info: FeedSessionInfo) {
    this.startedAt = info.startedAt ?? Date.now();
  }

  get id(): string {
    return this.info.id;
  }

  item(seq: number): FeedItem | undefined {
    return this.bySeq.get(seq);
  }

  /** Items newest first, filtered. */
  list(filter: FeedFilter = 'all'): FeedItem[] {
    const out: FeedItem[] = [];
    for (let i = this.items.length - 1; i >= 0; i--) {
      const it = this.items[i] as FeedItem;
      if (filter === 'denied' && it.verdict !== 'deny') continue;
      if (filter === 'asked' && !it.asked) continue;
      out.push(it);
    }
    return out;
  }

  /** Roots of the process tree (items whose parent is not in memory), oldest first. */
  roots(filter: FeedFilter = 'all'): FeedItem[] {
    return this.items.filter((it) => (it.parentSeq === null || !this.bySeq.has(it.parentSeq)) && this.visible(it, filter));
  }

  /** Children of an item in the process tree, oldest first. */
  childrenOf(seq: number, filter: FeedFilter = 'all'): FeedItem[] {
    const out: FeedItem[] = [];
    for (const s of this.children.get(seq) ?? []) {
      const it = this.bySeq.get(s);
      if (it && this.visible(it, filter)) out.push(it);
    }
    return out;
  }

  /** Whether an item shows under a filter in the process tree: it matches, or something below it does. */
  private visible(it: FeedItem, filter: FeedFilter, depth = 0): boolean {
    if (filter === 'all') return true;
    if (filter === 'denied' ? it.verdict === 'deny' : it.asked) return true;
    if (depth > 64) return false;
    return (this.children.get(it.seq) ?? []).some((s) => {
      const c = this.bySeq.get(s);
      return c !== undefined && this.visible(c, filter, depth + 1);
    });
  }

  /** @internal */
  add(item: FeedItem): void {
    this.items.push(item);
    this.bySeq.set(item.seq, item);
    if (item.parentSeq !== null) {
      const list = this.children.get(item.parentSeq);
      if (list) list.push(item.seq);
      else this.children.set(item.parentSeq, [item.seq]);
    }
  }

  /** @internal Drop the oldest item; returns it. */
  dropOldest(): FeedItem | undefined {
    const it = this.items.shift();
    if (!it) return undefined;
    this.bySeq.delete(it.seq);
    this.children.delete(it.seq);
    if (this.images.get(it.pid) === it.seq) this.images.delete(it.pid);
    if (it.parentSeq !== null) {
      const list = this.children.get(it.parentSeq);
      if (list) {
        const i = list.indexOf(it.seq);
        if (i >= 0) list.splice(i, 1);
      }
    }
    this.dropped++;
    return it;
  }
}

export interface AuditFeedOptions {
  /** Items kept per session (default 2000). */
  maxItemsPerSession?: number;
  /** Items kept over all sessions (default 10000): the oldest sessions' items go first. */
  maxItemsTotal?: number;
  /** Sessions kept (default 50): the oldest ended sessions go first. */
  maxSessions?: number;
  /** Settled approvals kept per session (default 50). */
  maxSettled?: number;
  /** Label length (default 100). */
  labelChars?: number;
}

export interface FeedChanges {
  /** Sessions whose items, counts or approvals changed. */
  sessions: string[];
  /** Sessions were added or removed (the top level changed). */
  structure: boolean;
}

export class AuditFeed {
  private readonly byId = new Map<string, FeedSession>();
  private readonly order: FeedSession[] = [];
  private seq = 0;
  private total = 0;
  private readonly dirty = new Set<string>();
  private structural = false;
  private readonly maxPerSession: number;
  private readonly maxTotal: number;
  private readonly maxSessions: number;
  private readonly maxSettled: number;
  private readonly labelChars: number;
  private listener: (() => void) | null = null;

  constructor(o: AuditFeedOptions = {}) {
    this.maxPerSession = o.maxItemsPerSession ?? 2000;
    this.maxTotal = o.maxItemsTotal ?? 10_000;
    this.maxSessions = o.maxSessions ?? 50;
    this.maxSettled = o.maxSettled ?? 50;
    this.labelChars = o.labelChars ?? 100;
  }

  /** Called (once) when the feed goes from clean to dirty: schedule a refresh, then takeChanges(). */
  onDirty(listener: (() => void) | null): void {
    this.listener = listener;
  }

  /** Sessions, newest first. */
  sessions(): FeedSession[] {
    return [...this.order].reverse();
  }

  session(id: string): FeedSession | undefined {
    return this.byId.get(id);
  }

  /** Items held in memory over all sessions. */
  get size(): number {
    return this.total;
  }

  addSession(info: FeedSessionInfo): FeedSession {
    const existing = this.byId.get(info.id);
    if (existing) return existing;
    const s = new FeedSession(info);
    this.byId.set(info.id, s);
    this.order.push(s);
    while (this.order.length > this.maxSessions) {
      const old = this.order.findIndex((x) => x.ended !== null);
      if (old < 0) break;
      this.removeAt(old);
    }
    this.markDirty(s.id, true);
    return s;
  }

  removeSession(id: string): void {
    const i = this.order.findIndex((x) => x.id === id);
    if (i >= 0) {
      this.removeAt(i);
      this.markDirty(id, true);
    }
  }

  private removeAt(i: number): void {
    const [s] = this.order.splice(i, 1);
    if (!s) return;
    this.total -= s.items.length;
    this.byId.delete(s.id);
  }

  /** A decision record (already redacted, as logged). `asked`: an approval decided it. */
  addDecision(sessionId: string, rec: DecisionRecord, asked = false): FeedItem | null {
    const s = this.byId.get(sessionId);
    if (!s) return null;
    const c = s.counts;
    c.decisions++;
    if (rec.verdict === 'allow') c.allow++;
    else c.deny++;
    if (asked) c.asked++;
    const ruleKey = rec.rule_id ?? '(default)';
    const rc = c.byRule.get(ruleKey);
    if (rc) rc[rec.verdict]++;
    else c.byRule.set(ruleKey, { allow: rec.verdict === 'allow' ? 1 : 0, deny: rec.verdict === 'deny' ? 1 : 0 });

    const seq = ++this.seq;
    // Parent in the process tree: the process's previous image (an exec replacing it, e.g. `env curl`), else
    // what its parent process runs.
    const parentSeq = s.images.get(rec.pid) ?? s.images.get(rec.ppid) ?? null;
    const command = escapeForDisplay(rec.argv);
    const exe = rec.exe ?? rec.exe_requested;
    const item: FeedItem = {
      seq,
      session: sessionId,
      request: rec.request,
      time: rec.time,
      verdict: rec.verdict,
      asked,
      ruleId: rec.rule_id,
      reason: escapeText(rec.reason),
      layer: rec.layer,
      command,
      label: elide(command, this.labelChars),
      program: escapeText(exe.slice(exe.lastIndexOf('/') + 1) || exe),
      exe: escapeText(exe),
      cwd: escapeText(rec.cwd),
      pid: rec.pid,
      ppid: rec.ppid,
      latencyUs: rec.latency_us,
      cached: rec.cached,
      parentSeq,
      record: rec,
    };
    s.add(item);
    if (rec.verdict === 'allow') s.images.set(rec.pid, seq);
    this.total++;
    while (s.items.length > this.maxPerSession) {
      s.dropOldest();
      this.total--;
    }
    while (this.total > this.maxTotal) {
      // The oldest session that still holds items gives them up first.
      const victim = this.order.find((x) => x.items.length > 0 && x !== s) ?? s;
      if (!victim.dropOldest()) break;
      this.total--;
      this.markDirty(victim.id);
    }
    this.markDirty(sessionId);
    return item;
  }

  addPending(sessionId: string, p: FeedPending): void {
    const s = this.byId.get(sessionId);
    if (!s) return;
    s.pending.set(p.id, p);
    this.markDirty(sessionId);
  }

  /** An approval ended. Remembered for the view when it ended without a user's answer (timed out, withdrawn, rate-limited). */
  settle(sessionId: string, p: Pick<FeedPending, 'id' | 'commandShort'>, kind: FeedSettleKind, verdict: 'allow' | 'deny', reason: string): void {
    const s = this.byId.get(sessionId);
    if (!s) return;
    s.pending.delete(p.id);
    if (kind === 'timed-out') s.counts.timedOut++;
    else if (kind === 'withdrawn') s.counts.withdrawn++;
    else if (kind === 'rate-limited') s.counts.rateLimited++;
    if (kind !== 'answered' && kind !== 'remembered') {
      s.settled.push({ id: p.id, kind, verdict, reason: escapeText(reason), commandShort: p.commandShort, time: Date.now() });
      if (s.settled.length > this.maxSettled) s.settled.shift();
    }
    this.markDirty(sessionId);
  }

  endSession(sessionId: string, exitCode: number, failure: string | null): void {
    const s = this.byId.get(sessionId);
    if (!s) return;
    s.ended = { exitCode, failure: failure === null ? null : escapeText(failure), at: Date.now() };
    s.pending.clear();
    this.markDirty(sessionId);
  }

  /** Pending approvals over all sessions. */
  pendingCount(): number {
    let n = 0;
    for (const s of this.order) n += s.pending.size;
    return n;
  }

  /** What changed since the last call (and clears it). */
  takeChanges(): FeedChanges {
    const out = { sessions: [...this.dirty], structure: this.structural };
    this.dirty.clear();
    this.structural = false;
    return out;
  }

  private markDirty(id: string, structural = false): void {
    const wasClean = this.dirty.size === 0 && !this.structural;
    this.dirty.add(id);
    if (structural) this.structural = true;
    if (wasClean) this.listener?.();
  }
}
