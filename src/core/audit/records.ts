// The audit log's record types: one JSON object per line (JSONL). Field names are snake_case because the
// log is read by people and by tools (jq, log shippers), not only by this code. Every string that came from
// the agent (argv, paths) is redacted before it is put in a record (see buildDecisionRecord).
import type { ExecFacts } from '../exec/facts';
import type { BinaryAction } from '../policy/types';
import type { EnforcementReport } from '../exec/enforcement';
import { maySecret, redactArgv, redactText } from './redact';

/** Which part of the gate decided: a policy rule, the default action, the gate's own checks before any rule
 *  (an anonymous executable or one outside the execute set, an unresolvable dynamic-loader program), the user,
 *  an approval timeout, an evaluation/audit error (fail closed), or the kernel side (the supervisor's own cache
 *  or its timeout). */
export type DecisionLayer = 'rule' | 'default' | 'gate' | 'approval' | 'timeout' | 'error' | 'kernel';

export interface DecisionRecord {
  type: 'decision';
  time: string;
  session: string;
  request: number;
  pid: number;
  ppid: number;
  tid: number;
  exe_requested: string;
  /** Canonical path of what the kernel will run, or null when it did not resolve. */
  exe: string | null;
  sha256?: string;
  /** For `#!` scripts and the dynamic loader: what actually gets loaded. */
  interpreter?: string;
  /** Every interpreter, in the order the kernel loads them, when there is more than one (a #! chain). */
  interpreters?: string[];
  loader_target?: string;
  argv: string[];
  argv_truncated?: boolean;
  cwd: string;
  verdict: BinaryAction;
  rule_id: string | null;
  reason: string;
  layer: DecisionLayer;
  /** From the supervisor receiving the notification to the verdict being decided (before it is sent). */
  latency_us: number;
  cached: boolean;
}

export interface OutcomeRecord {
  type: 'outcome';
  time: string;
  session: string;
  request: number;
  exit_code: number | null;
  signal: number | null;
}

export interface SessionRecord {
  type: 'session';
  time: string;
  session: string;
  /** start, end, or policy: the user applied a changed policy to the running session (file and sha256). */
  event: 'start' | 'end' | 'policy';
  policy_file?: string;
  policy_sha256?: string;
  enforcement?: EnforcementReport;
  warnings?: string[];
  argv?: string[];
  /** Start: names of the variables removed from the agent's environment ([env]; never values). */
  env_removed?: string[];
  exit_code?: number;
  /** End: why the session ended when it was not a normal agent exit. */
  reason?: string;
  /** End: summary counters. */
  stats?: { decisions: number; denied: number; allowed: number };
  /** End: the policy file on disk changed during the session (the session kept the policy it started with). */
  policy_changed?: boolean;
  policy_sha256_now?: string;
  /** Start: the programs the policy always denies, which Landlock's execute set leaves out (the kernel refuses
   *  them, whatever races the exec), the number of Landlock rules and the time the plan took. */
  kernel_denies?: { programs: string[]; landlock_rules: number; plan_ms: number };
  /** End: the processes the agent left running — ended (default) or kept (keep_leftovers), how many were
   *  left that could not be ended (all in uninterruptible sleep for seconds) and which (stuck), and the first
   *  20 distinct command names. */
  leftovers?: { ended?: number; kept?: number; remaining?: number; stuck?: string; names: string[] };
  /** End: protected workspace files the agent changed during the session (put back; see ProtectedRecord). */
  protected_changes?: { path: string; class: string; change: string; times: number; reverted: boolean; overtaken?: number; held?: 'readonly' | 'ended' }[];
}

/** The supervisor answered a request itself, past on_supervisor_timeout_ms, before the broker's verdict
 *  arrived: this (not the request's decision record) is what the kernel applied. */
export interface SupervisorTimeoutRecord {
  type: 'supervisor_timeout';
  time: string;
  session: string;
  request: number;
  verdict: BinaryAction;
  reason: string;
}

/** An exec the broker allowed was refused by the supervisor: read again just before it would run, its path,
 *  argv, cwd or files had changed (another thread rewrote them while the user read the question; red-team
 *  R47). Follows the request's decision record: this is what the kernel applied. */
export interface ExecChangedRecord {
  type: 'exec_changed';
  time: string;
  session: string;
  request: number;
  verdict: 'deny';
  reason: string;
}

/** The agent changed a workspace file that tools outside the gate run or obey (src/core/protect/guard.ts):
 *  it was put back, and the agent's version kept for review. */
export interface ProtectedRecord {
  type: 'protected';
  time: string;
  session: string;
  /** The protected path (absolute) and what runs or obeys it. */
  path: string;
  class: string;
  change: 'created' | 'modified' | 'removed';
  /** Put back as it was; when not, `reason` says why. */
  reverted: boolean;
  reason?: string;
  /** From the original to the agent's version (unified diff; at most 16 KiB here). */
  diff: string;
  /** Where the agent's version of each file is kept for review. */
  saved: string[];
  /** What kept the agent from writing it again after it was put back (red-team R106): 'readonly' — a read-only
   *  bind mount in its mount namespace from the first put-back on; 'ended' — the session, at the second. */
  held?: 'readonly' | 'ended';
}

/** A socket operation the gate decided (docs/protocol.md, "Sockets"): a connect to a unix socket no process of
 *  the session made ([unix_sockets]), or what the supervisor refused by itself ([network]). Connects the
 *  session's own sockets and allowed ports are not recorded (they are the agent's business, and frequent). */
export interface SocketRecord {
  type: 'socket';
  time: string;
  session: string;
  /** The request id, when the broker was asked. */
  request?: number;
  pid: number;
  tid: number;
  op: string;
  family: string;
  /** What was connected or sent to: the socket file's canonical path, @abstract-name, or address:port. */
  target: string;
  /** A unix socket's name as the agent gave it, when it differs from target. */
  name?: string;
  verdict: BinaryAction;
  reason: string;
  /** 'rule': [unix_sockets] allow matched; 'default': nothing allows it; 'kernel': the supervisor's own check. */
  layer: 'rule' | 'default' | 'kernel';
}


/** Every line of the log, as read back: the record and its chain link (audit-log.ts), the sha256 of the line
 *  before it. Records are built without it; the writer adds it. */
export type AuditRecord = (DecisionRecord | OutcomeRecord | SessionRecord | SupervisorTimeoutRecord | ExecChangedRecord | ProtectedRecord | SocketRecord) & { prev?: string };

export interface DecisionInput {
  session: string;
  facts: ExecFacts;
  verdict: BinaryAction;
  ruleId: string | null;
  reason: string;
  layer: DecisionLayer;
  latencyUs: number;
  cached: boolean;
  time?: Date;
}

/**
 * The part of a cached verdict's decision record that comes from the decision it repeats —
 * `"rule_id":…,"reason":…,"layer":…` — as the supervisor splices it into the records it writes itself
 * (docs/protocol.md, RECORD). The reason is redacted here, as buildDecisionRecord redacts it.
 */
export function originJson(ruleId: string | null, reason: string, layer: DecisionLayer): string {
  return `"rule_id":${JSON.stringify(ruleId)},"reason":${JSON.stringify(redactText(reason))},"layer":${JSON.stringify(layer)}`;
}

/**
 * A record the supervisor wrote (RECORD) carries the agent's strings as they were: redact them as
 * buildDecisionRecord does. Returns the JSON to log: `json` itself when its agent-supplied part (from
 * exe_requested to verdict; the other fields are the gate's own) has nothing the prefilter would look at,
 * else the redacted record re-serialized (the record object is redacted in place).
 */
export function redactSupervisorRecord(rec: DecisionRecord, json: string): string {
  const from = json.indexOf(',"exe_requested":');
  const to = json.indexOf(',"verdict":"', from);
  if (from >= 0 && to >= 0 && !maySecret(json.slice(from, to))) return json;
  rec.exe_requested = redactText(rec.exe_requested);
  if (rec.exe !== null) rec.exe = redactText(rec.exe);
  rec.argv = redactArgv(rec.argv);
  rec.cwd = redactText(rec.cwd);
  return JSON.stringify(rec);
}

/** Build a decision record from the exec facts, redacting everything that came from the agent. */
export function buildDecisionRecord(input: DecisionInput): DecisionRecord {
  const f = input.facts;
  const rec: DecisionRecord = {
    type: 'decision',
    time: (input.time ?? new Date()).toISOString(),
    session: input.session,
    request: f.requestId,
    pid: f.pid,
    ppid: f.ppid,
    tid: f.tid,
    exe_requested: redactText(f.requestedPath),
    exe: f.exe ? redactText(f.exe.path) : null,
    argv: redactArgv(f.argv),
    cwd: redactText(f.cwd),
    verdict: input.verdict,
    rule_id: input.ruleId,
    reason: redactText(input.reason),
    layer: input.layer,
    latency_us: Math.max(0, Math.round(input.latencyUs)),
    cached: input.cached,
  };
  if (f.exe?.sha256) rec.sha256 = f.exe.sha256;
  if (f.interpreter) rec.interpreter = redactText(f.interpreter.path);
  if (f.interpreters && f.interpreters.length > 1) rec.interpreters = f.interpreters.map((i) => redactText(i.path));
  if (f.loaderTarget) rec.loader_target = redactText(f.loaderTarget.path);
  if (f.argvTruncated) rec.argv_truncated = true;
  return rec;
}
