// GateSession: one guarded run of an agent. It owns the policy in force (loaded once, at start: edits to
// .gate.toml during the session do not change it), the audit log, the approval queue and the link to the
// native supervisor, and decides every exec the supervisor reports:
//
//   cached by the supervisor → write the record (the supervisor already applied the verdict)
//   allow / deny            → write the record, then answer the kernel (a failed write denies: fail closed)
//   ask                     → HOLD (no supervisor timeout), ask through the ApprovalQueue, record, answer
//
// Events (for the extension's UI and the CLI): 'decision' (DecisionRecord, and whether an approval decided
// it), 'approvalRequested' (ApprovalRequest: an approver is being asked), 'approvalSettled'
// (ApprovalSettlement: answered, timed out, withdrawn, rate-limited…), 'policyUpdated', 'warning' (string),
// 'ended' (SessionEnd). `pendingApprovals()` lists what is waiting for an answer.
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isUnder, realpathOfNearest, type RealpathMemo } from './canonical';
import { AuditLog, AuditWriteError, chainHeadFile } from '../audit/audit-log';
import { buildDecisionRecord, originJson, redactSupervisorRecord, type AuditRecord, type DecisionLayer, type DecisionRecord, type SocketRecord } from '../audit/records';
import { redactArgv, redactText, SECRET_LITERALS } from '../audit/redact';
import { escapeText } from '../audit/display';
import { AuditStats } from '../audit/stats';
import type { ExecFacts } from '../exec/facts';
import { processAlive, processStartTime } from '../exec/proc';
import { forgetPolicyInForce, notePolicyInForce, savePolicySnapshot } from './policy-in-force';
import type { BinaryAction, Decision, Evaluator, FilesystemPolicy, Policy } from '../policy/types';
import { PolicyEvaluator } from '../policy/evaluator';
import { planExecuteSet, type ExecutePlan } from '../policy/execute-set';
import { hashUnderPaths } from '../policy/grants';
import type { DerivedCache } from '../policy/derived-cache';
import { EMPTY_ENV_POLICY, type EnvPlan, type EnvPolicy } from '../policy/env';
import { removeSocketDir, SOCKET_DIR_VARIABLES } from './socket-dir';
import { AgentHomeGuard, agentHomeDirs } from '../protect/agent-home';
import { homeStartupPaths } from '../protect/home-startup';
import { ToolCaches } from '../protect/tool-caches';
import { WorkspaceGuard, type ProtectedChange, type PutBack } from '../protect/guard';
import { DEFAULT_LOOPBACK, DEFAULT_UNIX_SOCKETS, decideUnixSocket, resolvConfServers, unixSocketGrants, unixSocketTarget } from '../policy/sockets';
import { ApprovalQueue, type ApprovalRequest, type ApprovalSettlement, type Approver } from './approvals';
import type { EnforcementReport, ExecEvent, Leftovers, SocketRefusal, SocketRequest, SpawnSupervisor, SupervisorConfig, SupervisorLinkHandlers } from './types';
import type { SupervisorLinkOptions } from './supervisor-link';
import type { TerminalRelay } from './wire';
import { decodeSupervisorLine, encodeExecLine, type AuditHandOff } from './wire';

/** What GateSession needs from the supervisor link (src/core/session/supervisor-link.ts). */
export interface GateLink {
  readonly report: EnforcementReport;
  readonly warnings: string[];
  readonly agentPid: number;
  /** What the agent's environment lost and got ([env]); absent for links that do not start a supervisor. */
  readonly envPlan?: EnvPlan;
  /** `origin` (with cache): see originJson; the supervisor then records later hits itself. `record`: the
   *  decision's record, when the supervisor writes the audit log (it is on disk before the kernel is answered). */
  verdict(id: number, action: BinaryAction, cache: boolean, origin?: string, record?: string): void;
  /** The supervisor writes the audit log while the session runs (docs/protocol.md "The audit log"); absent or
   *  false: the session writes it. */
  readonly writesAudit?: boolean;
  /** A record into the log the supervisor writes. */
  log?(json: string): void;
  /** After the agent exited: the supervisor closes the log and says where its chain ends. */
  bye?(): Promise<{ head: string; size: number } | null>;
  /** Resolves when the supervisor process has exited. */
  readonly exited?: Promise<unknown>;
  hold(id: number): void;
  /** Forget every verdict the supervisor cached (the policy changed). Optional for test doubles. */
  flushCache?(): void;
  close(): void;
  /** Hold ('broker') or resume ('agent') the supervisor's terminal relay (SupervisorLink.terminal). */
  terminal?(owner: 'broker' | 'agent'): Promise<TerminalRelay | undefined>;
  /** Make a path read-only in the agent's mount namespace from now on (SupervisorLink.readOnly): null when
   *  done, else why not. Absent: the link cannot. */
  readOnly?(file: string): Promise<string | null>;
}

/** What the session gives the link it starts (SupervisorLink.start, or a test double). */
export type StartLinkOptions = Omit<SupervisorLinkOptions, 'startTimeoutMs'>;

export type StartLink = (options: StartLinkOptions) => Promise<GateLink>;

export interface GateSessionOptions {
  policy: Policy;
  evaluator: Evaluator;
  /** The derived-data cache (policy/derived-cache.ts): the execute plan from it, and what was new saved once
   *  the agent runs. */
  derived?: Pick<DerivedCache, 'planExecuteSet' | 'save'>;
  /** The policy text the policy was loaded from (its sha256 goes into the session record). */
  policyText?: string;
  auditPath: string;
  approver: Approver;
  supervisorPath: string;
  spawn: SpawnSupervisor;
  startLink: StartLink;
  /** The agent's command line (text that keeps bytes that are not UTF-8: bytesToText). */
  argv: string[];
  env?: NodeJS.ProcessEnv;
  /** Variables `env` cannot carry because they are not UTF-8 (see SupervisorLinkOptions.rawEnv). */
  rawEnv?: readonly (readonly [string, string])[];
  sessionId?: string;
  /** Called for every warning, including those raised during start() (before 'warning' listeners exist). */
  onWarning?: (message: string) => void;
  /** Longest wait for cached verdicts' records from the supervisor when it is idle (default 250 ms; a live
   *  view wants less). */
  recordsMaxDelayMs?: number;
  /** How often pending approvals are checked for a process that died meanwhile (default 500 ms). */
  withdrawCheckMs?: number;
  /** The user said, for this run, that a root agent may run without filesystem write sealing (the CLI's
   *  --allow-root-without-filesystem; the policy's [session] allow_root_without_filesystem says it for good). */
  allowRootWithoutFilesystem?: boolean;
  /** The agent's uid (default: this process's; the supervisor and the agent run as this process). */
  uid?: number;
  /** Where the audit log's chain head is kept (audit-log.ts chainHeadFile): out of the agent's reach — the CLI's
   *  state directory, the extension's storage. Absent: nowhere (a log cut short cannot be told apart). */
  headDir?: string;
  /** Bytes kept allocated ahead of the audit log's end (default AGENT_GATE_AUDIT_RESERVE, else 8 MiB). */
  auditReserve?: number;
  /** Leave the processes the agent started running when it exits (the CLI's --keep-leftovers; the policy's
   *  [session] keep_leftovers says it for good). */
  keepLeftovers?: boolean;
  /** The directory the agent runs in: its files that tools outside the gate run (.git/config, hooks,
   *  .vscode/…) are guarded (src/core/protect/guard.ts). Absent: no guard (test doubles). */
  workspace?: string;
  /** Where the agent's versions of guarded files are kept for review (default: beside the audit log,
   *  `review-<session>/`). */
  reviewDir?: string;
  /** The session's own directory (socket-dir.ts, made by the caller): the one place the agent may make
   *  sockets and FIFOs, its TMPDIR, removed at the end when nothing of the session runs. Absent: sockets and
   *  FIFOs can be made nowhere. */
  socketDir?: { path: string; rights: string };
  /** The gate's own files (launch.ts gateOwnFiles): refused when any is inside a write grant (red-team R70).
   *  Absent: not checked (test doubles). */
  gateFiles?: readonly GateFile[];
}

/** What updatePolicy() could and could not change in a running session. */
export interface PolicyUpdate {
  /** sha256 of the policy text now in force. */
  sha256: string;
  /** Parts that need a new session, in words (Landlock grants are fixed once the agent runs). Empty when all applied. */
  notApplied: string[];
}

export interface SessionEnd {
  /** The agent's exit code, 128+signal when killed, or 126 when the gate failed. */
  exitCode: number;
  code: number | null;
  signal: number | null;
  /** Set when the session ended because the gate failed (link broken, supervisor died). */
  failure: string | null;
  /** What the agent left running when it exited: ended by the supervisor, or kept (keep_leftovers). */
  leftovers?: Leftovers;
  /** Protected workspace files the agent changed (put back; its versions kept for review). */
  protectedChanges?: ProtectedChange[];
}

/** The gate could not be set up; `message` says what went wrong and what to do. Exit code 126. */
export class GateSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GateSetupError';
  }
}

export interface GateSessionEvents {
  /** `asked`: the policy said ask, and an approval (or its timeout, rate limit, withdrawal) decided. */
  decision: [DecisionRecord, boolean];
  /** A socket the gate refused or allowed by policy (not the agent's own, see SocketRecord). */
  socket: [SocketRecord];
  approvalRequested: [ApprovalRequest];
  approvalSettled: [ApprovalSettlement];
  policyUpdated: [PolicyUpdate];
  warning: [string];
  ended: [SessionEnd];
  /** The agent changed a protected workspace file (src/core/protect/guard.ts): put back, kept for review. */
  protectedChange: [ProtectedChange];
}

/** The program a process runs now (its last allowed exec) and its parent: for approvals' process chains. */
interface ProcessImage {
  exe: string;
  ppid: number;
}

/** Processes remembered for process chains; the oldest are forgotten beyond this. */
const MAX_IMAGES = 20_000;

interface CachedOrigin {
  ruleId: string | null;
  reason: string;
  layer: DecisionLayer;
}

export class GateSession extends EventEmitter<GateSessionEvents> {
  readonly stats = new AuditStats();
  readonly warnings: string[] = [];
  private link: GateLink | null = null;
  private readonly queue: ApprovalQueue;
  private readonly cachedOrigins = new Map<string, CachedOrigin>();
  private firstRequestId = 0;
  private endResult: SessionEnd | null = null;
  private readonly endPromise: Promise<SessionEnd>;
  private resolveEnd!: (end: SessionEnd) => void;
  private auditFailing = false;
  /** Events that arrived before start() returned the link (the agent's first exec can beat it). */
  private early: (() => void)[] | null = [];
  /** sha256 of the policy text in force, to notice at the end whether the file was changed meanwhile. */
  private policySha256 = '';
  /** The policy and evaluator deciding execs: the start's, or what updatePolicy() applied. */
  private policy: Policy;
  private evaluator: Evaluator;
  private readonly images = new Map<number, ProcessImage>();
  /** Start times of the processes pending approvals wait for (tid → /proc start time), to withdraw theirs when they die. */
  private readonly waiting = new Map<number, string | null>();
  private withdrawTimer: NodeJS.Timeout | null = null;
  /** Where the audit log's chain head is kept (null: nowhere). */
  private headFile: string | undefined;

  private constructor(
    readonly id: string,
    private readonly options: GateSessionOptions,
    private readonly audit: AuditLog,
  ) {
    super();
    this.policy = options.policy;
    this.evaluator = options.evaluator;
    this.queue = new ApprovalQueue(options.policy.approval, options.approver, {
      onPrompt: (r) => {
        this.watchForWithdrawal();
        this.emit('approvalRequested', r);
      },
      onSettle: (s) => this.emit('approvalSettled', s),
    });
    this.endPromise = new Promise((resolve) => (this.resolveEnd = resolve));
    options.approver.attachTerminal?.({
      hold: () => this.link?.terminal?.('broker') ?? Promise.resolve(undefined),
      release: async () => void (await this.link?.terminal?.('agent')),
    });
  }

  /** The policy deciding execs now (the start's, or the last one applied with updatePolicy). */
  get currentPolicy(): Policy {
    return this.policy;
  }

  /** The asks waiting for an answer, oldest first. */
  pendingApprovals(): ApprovalRequest[] {
    return this.queue.pendingRequests();
  }

  /** Whether the session has ended. */
  get ended(): boolean {
    return this.endResult !== null;
  }

  /**
   * Decide later execs by `policy` (the user applied a changed policy to this running session): rules,
   * default action and [approval] settings take effect at once, and the supervisor forgets its cached
   * verdicts. Landlock's grants ([filesystem], [network]) are fixed once the agent runs: when they differ,
   * `notApplied` says so and they apply to new sessions. Pending approvals keep the question they asked.
   */
  /** Files the kernel refuses to execute for this session (the start's execute plan). */
  private kernelExcluded: string[] = [];

  updatePolicy(policy: Policy, evaluator: Evaluator, text: string): PolicyUpdate {
    const notApplied: string[] = [];
    const before = supervisorConfig(this.policy);
    const after = supervisorConfig(policy);
    if (JSON.stringify(before.fs) !== JSON.stringify(after.fs) || before.require.fs !== after.require.fs) notApplied.push('the [filesystem] grants (Landlock is fixed once the agent runs)');
    if (JSON.stringify(before.net) !== JSON.stringify(after.net) || before.require.net !== after.require.net) notApplied.push('the [network] ports (Landlock is fixed once the agent runs)');
    // Programs the kernel refuses for this session (execute-set.ts) stay refused, whatever the new rules say.
    if (this.kernelExcluded.length) {
      const still = new Set(evaluator instanceof PolicyEvaluator ? planExecuteSet(policy, evaluator).excluded.map((e) => e.path) : []);
      const freed = this.kernelExcluded.filter((p) => !still.has(p));
      if (freed.length) notApplied.push(`running ${freed.slice(0, 5).join(', ')}${freed.length > 5 ? ` and ${freed.length - 5} more` : ''} (the kernel refuses them for this session: the start's rules denied them)`);
    }
    warmUp(evaluator);
    this.policy = policy;
    this.evaluator = evaluator;
    this.queue.updateSettings(policy.approval);
    this.cachedOrigins.clear();
    this.link?.flushCache?.();
    const sha256 = sha256Of(text);
    this.policySha256 = sha256;
    notePolicyInForce(this.id, policy.file, text);
    savePolicySnapshot(this.audit.file, text);
    this.writeRecord({
      type: 'session',
      time: new Date().toISOString(),
      session: this.id,
      event: 'policy',
      policy_file: policy.file,
      policy_sha256: sha256,
      ...(notApplied.length ? { warnings: notApplied.map((n) => `not applied until a new session: ${n}`) } : {}),
    });
    const update = { sha256, notApplied };
    this.emit('policyUpdated', update);
    return update;
  }

  get auditFile(): string {
    return this.audit.file;
  }

  /** Where the audit log's chain ended (the last line's sha256, the log's size), once the session has ended and
   *  its last records are written; null before, or when the end could not be written. */
  get auditHead(): { head: string; size: number } | null {
    return this.endHead;
  }

  private endHead: { head: string; size: number } | null = null;

  private envPlanAtReady: EnvPlan | undefined;

  /** Names of the variables removed from the agent's environment (the start banner's list; never values). */
  get envRemoved(): string[] {
    return this.link?.envPlan?.removed ?? this.envPlanAtReady?.removed ?? [];
  }

  /** Of those, the ones removed because their value held a URL with a user or password ([env] remove_url_credentials). */
  get envRemovedUrl(): string[] {
    const plan = this.link?.envPlan ?? this.envPlanAtReady;
    return plan ? plan.removed.filter((_, i) => plan.removedBy[i] === 'url-credentials') : [];
  }

  /** Of those, the ones removed because their value held a token of a known shape ([env] remove_token_values). */
  get envRemovedToken(): string[] {
    const plan = this.link?.envPlan ?? this.envPlanAtReady;
    return plan ? plan.removed.filter((_, i) => plan.removedBy[i] === 'token-value') : [];
  }

  get report(): EnforcementReport {
    return this.link?.report ?? {};
  }

  get agentPid(): number {
    return this.link?.agentPid ?? 0;
  }

  /** Resolves when the agent has exited (or the gate failed). */
  wait(): Promise<SessionEnd> {
    return this.endPromise;
  }

  /**
   * Check the setup, open the audit log, warm the evaluator up, start the supervisor and the agent.
   * Throws GateSetupError when the gate cannot be set up (nothing was started then).
   */
  static async start(options: GateSessionOptions): Promise<GateSession> {
    // The placement checks below resolve the same grants again and again: their real paths are shared until
    // the first await (nothing but this start, which makes no symlink, changes them meanwhile).
    const memo: RealpathMemo = new Map();
    const realpath = (p: string): string => realpathOfNearest(p, memo);
    const refusal = rootRefusal(options, realpath);
    if (refusal) throw new GateSetupError(refusal);
    const own = options.gateFiles ? gateFilesPlacement(options.gateFiles, options.policy.filesystem, { realpath }) : null;
    if (own?.refusal) throw new GateSetupError(own.refusal);
    const id = options.sessionId ?? newSessionId();
    const auditPath = path.resolve(options.auditPath);
    const setupWarnings = [...(own?.warnings ?? []), ...checkAuditPlacement(auditPath, options.policy.filesystem, realpath)];
    let audit: AuditLog;
    try {
      audit = AuditLog.open(auditPath);
    } catch (err) {
      throw new GateSetupError(`${(err as Error).message}\nChoose another audit path (--audit FILE) on a writable disk.`);
    }
    const session = new GateSession(id, options, audit);
    audit.onDeferredError = (err) => session.auditFailed(err);
    // Before the agent exists: its protected workspace files as they are now. Done while the supervisor starts
    // (config() below runs right after it is spawned, and returns the guard's list in the CONFIG the
    // supervisor needs before it forks the agent), so the snapshot always precedes the agent.
    let guardStarted = false;
    const startGuard = (): void => {
      if (guardStarted) return;
      guardStarted = true;
      if (options.workspace) session.startGuard(options.workspace, options.reviewDir ?? path.join(path.dirname(auditPath), `review-${id}`));
    };
    for (const w of [...setupWarnings, ...audit.repairs]) session.warn(w);
    for (const w of testSwitchWarnings(options.env ?? process.env)) session.warn(w);
    // The supervisor writes the log while the session runs (docs/protocol.md "The audit log"): it gets the
    // file, the space to reserve ahead of it, and where to keep the chain's head.
    const headFile = options.headDir ? chainHeadFile(options.headDir, auditPath) : undefined;
    session.headFile = headFile;
    if (options.headDir && isWritableByAgent(path.resolve(options.headDir), options.policy.filesystem, memo)) {
      session.warn(`the audit log's chain head is kept in ${options.headDir}, which the agent can write: a log cut short or rewritten whole could go unnoticed`);
    }
    const ident = audit.identity();
    const auditHandOff: AuditHandOff = {
      path: auditPath,
      dev: ident.dev,
      ino: ident.ino,
      reserve: options.auditReserve ?? reserveFromEnv(options.env) ?? DEFAULT_AUDIT_RESERVE,
      requireReserve: logFilesystemWritableByAgent(auditPath, options.policy.filesystem, undefined, realpath),
      ...(headFile ? { headFile } : {}),
      redact: SECRET_LITERALS,
    };
    const home = (options.env ?? process.env).HOME;
    if (home && home !== '/' && options.policy.filesystem.enabled && options.policy.filesystem.handled.includes('w') && isWritableByAgent(path.resolve(home, '.local', 'share'), options.policy.filesystem, memo)) {
      session.warn(`the agent can write your home directory ${home} (the workspace holds it, or a grant covers it): your shell's, git's and ssh's start-up files are put back when it changes them, but your caches and programs under ~/.local and ~/.cache are its to write; start it in a project directory instead`);
    }
    const policyFile = options.policy.file;
    if (policyFile && isWritableByAgent(path.resolve(policyFile), options.policy.filesystem, memo)) {
      session.warn(
        options.workspace
          ? `the agent can write the policy file ${policyFile}: a change it makes is put back at once and kept for your review (the policy in force was loaded at start, sha256 in the audit log)`
          : `the agent can write the policy file ${policyFile}: edits take effect only in a new session (the policy in force was loaded at start, sha256 in the audit log); review changes to ${path.basename(policyFile)} before restarting`,
      );
    }
    // Program-only denies become the kernel's (execute-set.ts): planned while the supervisor starts (the link
    // calls the config function once it has spawned it), applied by the supervisor's Landlock. The guard's
    // snapshot is done there too: the supervisor's exec and kernel probes take that long. The evaluator's
    // warm-up comes once CONFIG is sent (afterConfig), while the supervisor builds its Landlock ruleset (~900
    // rules), so neither CONFIG nor the agent's first exec waits for it.
    let executePlan: ExecutePlan | null = null;
    let warmed = false;
    const warm = (): void => {
      if (warmed) return;
      warmed = true;
      warmUp(options.evaluator);
    };
    const config = (): SupervisorConfig => {
      startGuard();
      const ev = options.evaluator;
      executePlan = ev instanceof PolicyEvaluator ? (options.derived ? options.derived.planExecuteSet(options.policy, ev) : planExecuteSet(options.policy, ev)) : null;
      session.kernelExcluded = executePlan?.excluded.map((e) => e.path) ?? [];
      for (const w of executePlan?.warnings ?? []) session.warn(w);
      return {
        ...supervisorConfig(options.policy, executePlan),
        ...(options.socketDir ? { socketDir: options.socketDir } : {}),
        ...(options.keepLeftovers || options.policy.session.keepLeftovers ? { keepLeftovers: true } : {}),
        protect: session.guard?.existing() ?? [],
      };
    };
    const kernelDenies = (): object => {
      const p = executePlan;
      return p && p.fs ? { kernel_denies: { programs: p.excluded.map((e) => e.path), landlock_rules: p.rules, plan_ms: Math.round(p.ms * 10) / 10 } } : {};
    };

    const startRecord = {
      type: 'session' as const,
      time: new Date().toISOString(),
      session: id,
      event: 'start' as const,
      policy_file: options.policy.file,
      policy_sha256: sha256Of(options.policyText ?? readOrEmpty(options.policy.file)),
      argv: redactArgv(options.argv),
    };
    // What is on disk now (normally the text in force), to tell at the end whether the file changed.
    const onDisk = options.policy.file ? readOrEmpty(options.policy.file) : '';
    session.policySha256 = onDisk ? sha256Of(onDisk) : '';

    // The start record goes out when the supervisor is READY: the kernel report is known and the agent is
    // forked only afterwards, so its first exec does not wait behind this work.
    let startWritten = false;
    const writeStart = (report: EnforcementReport, supervisorWarnings: readonly string[], envPlan?: EnvPlan, log?: ((json: string) => void) | null): void => {
      if (startWritten) return;
      startWritten = true;
      session.envPlanAtReady = envPlan;
      for (const w of supervisorWarnings) session.warn(`supervisor: ${w}`);
      const removed = session.envRemoved;
      const rec = { ...startRecord, ...kernelDenies(), enforcement: report, warnings: session.warnings, ...(removed.length ? { env_removed: removed } : {}) };
      if (log) {
        // Before GO: the supervisor writes it, and the agent starts only after.
        log(JSON.stringify(rec));
        return;
      }
      const err = audit.tryWrite(rec);
      if (err) session.auditFailed(err);
    };
    try {
      session.link = await options.startLink({
        supervisorPath: options.supervisorPath,
        recordSession: id,
        argv: options.argv,
        config,
        hashUnder: hashUnder(options.policy.filesystem),
        ...(options.evaluator.contentSizes ? { hashSizes: options.evaluator.contentSizes() } : {}),
        ...(options.policy.env || options.socketDir ? { envPolicy: withSocketDir(options.policy.env, options.socketDir) } : {}),
        spawn: options.spawn,
        env: options.env,
        ...(options.rawEnv?.length ? { rawEnv: options.rawEnv } : {}),
        handlers: session.handlers(),
        onReady: writeStart,
        afterConfig: warm,
        audit: auditHandOff,
        ...(options.recordsMaxDelayMs !== undefined ? { recordsMaxDelayMs: options.recordsMaxDelayMs } : {}),
      });
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      // The supervisor may have touched the log (cut a partial line back, written the start record): go on
      // from what is there.
      try {
        audit.resume();
      } catch {
        // written below, or reported by the write
      }
      if (!startWritten) audit.tryWrite({ ...startRecord, warnings: session.warnings });
      audit.tryWrite({ type: 'session', time: new Date().toISOString(), session: id, event: 'end', exit_code: 126, reason: msg });
      if (headFile) audit.saveHead(headFile);
      audit.close();
      throw new GateSetupError(msg);
    }
    startGuard(); // a link that did not ask for the config (test doubles)
    writeStart(session.link.report, session.link.warnings, session.link.envPlan); // a link that has no READY step (test doubles)
    // What this start learnt for the next one, now that the agent runs (a miss only writes).
    options.derived?.save();
    // Replay what arrived while the link was starting.
    const early = session.early ?? [];
    session.early = null;
    for (const run of early) run();
    // What "Compare with the policy in force" shows (policy-in-force.ts); best effort, never fatal.
    const inForce = options.policyText ?? readOrEmpty(options.policy.file);
    notePolicyInForce(id, options.policy.file, inForce, startRecord.time);
    savePolicySnapshot(auditPath, inForce);
    void session.wait().then(() => forgetPolicyInForce(id));
    return session;
  }

  /** End the session now: withdraw pending approvals and close the link (the supervisor then kills the
   *  agent's process group and every exec fails closed). */
  stop(reason = 'stopped by the user'): void {
    this.queue.close(`the session was stopped (${reason}) before an answer`);
    // The link reports nothing after a close by the broker: end the session here.
    this.finish(null, null, `the session was stopped (${reason})`);
  }

  private handlers(): SupervisorLinkHandlers {
    const later = (run: () => void): void => {
      if (this.early) this.early.push(run);
      else run();
    };
    return {
      // Events that arrive before start() has the link (the agent's first exec often does) wait for it, so
      // the session start record comes first in the log; that wait is a microtask.
      exec: (ev) => {
        // The hot path (every exec once the session runs) without a closure.
        if (this.early) this.early.push(() => this.onExec(ev));
        else this.onExec(ev);
      },
      record: (rec, json) => {
        if (this.early) this.early.push(() => this.onRecord(rec, json));
        else this.onRecord(rec, json);
      },
      timeout: (id, action) => later(() => this.onSupervisorTimeout(id, action)),
      socket: (req) => later(() => this.onSocket(req)),
      socketRefused: (ev) => later(() => this.onSocketRefused(ev)),
      warn: (message) => this.warn(`supervisor: ${message}`),
      exit: (code, signal, leftovers) => later(() => this.finish(code, signal, null, leftovers)),
      failed: (message) => later(() => this.finish(null, null, message)),
    };
  }

  /** A cached verdict the supervisor recorded itself (RECORD): already applied; log it like onExec's cached
   *  records (deferred, coalesced), after the same redaction. */
  private onRecord(rec: DecisionRecord, json: string): void {
    if (this.firstRequestId === 0) this.firstRequestId = rec.request;
    // A supervisor that writes the log wrote this record there itself (redacted: it asks about anything the
    // redaction prefilter would look at); otherwise the session writes it.
    if (!this.supervisorWrites) this.audit.appendJson(redactSupervisorRecord(rec, json));
    this.stats.add(rec);
    if (rec.verdict === 'allow' && rec.exe !== null) this.remember(rec.pid, rec.exe, rec.ppid);
    this.emit('decision', rec, false);
  }

  /** Remember what process `pid` runs now (an allowed exec replaced its image). */
  private remember(pid: number, exe: string, ppid: number): void {
    const images = this.images;
    if (images.size >= MAX_IMAGES && !images.has(pid)) {
      const oldest = images.keys().next();
      if (!oldest.done) images.delete(oldest.value);
    }
    images.set(pid, { exe, ppid });
  }

  /** The programs that led to this exec, outermost first (what each ancestor process runs now). */
  private ancestry(f: ExecFacts): string[] {
    const chain: string[] = [];
    let pid = f.pid;
    let image = this.images.get(pid);
    if (!image) {
      pid = f.ppid;
      image = this.images.get(pid);
      if (!image && f.parent) chain.unshift(f.parent.exe);
    }
    const seen = new Set<number>();
    while (image && chain.length < 16 && !seen.has(pid)) {
      seen.add(pid);
      chain.unshift(image.exe);
      pid = image.ppid;
      image = this.images.get(pid);
    }
    return chain;
  }

  private onExec(ev: ExecEvent): void {
    const f = ev.facts;
    if (this.firstRequestId === 0) this.firstRequestId = f.requestId;
    if (ev.cached) {
      // Already applied by the supervisor: the record is deferred (coalesced with others in one write).
      const origin = f.exe ? this.cachedOrigins.get(identity(f)) : undefined;
      const rec = buildDecisionRecord({
        session: this.id,
        facts: f,
        verdict: ev.cached.action,
        ruleId: origin?.ruleId ?? null,
        reason: origin?.reason ?? 'same file as an earlier decision (supervisor identity cache)',
        layer: origin?.layer ?? 'kernel',
        latencyUs: ev.cached.latencyUs,
        cached: true,
        // Cached records reach us in batches (the record pipe): stamp them when the supervisor decided.
        time: decidedAt(ev),
      });
      this.audit.append(rec);
      this.stats.add(rec);
      if (rec.verdict === 'allow' && f.exe) this.remember(f.pid, f.exe.path, f.ppid);
      this.emit('decision', rec, false);
      return;
    }
    let decision: Decision;
    try {
      decision = this.evaluator.evaluate(f);
    } catch (err) {
      const action = this.policy.meta.onPolicyError;
      const reason = `policy evaluation failed (${err instanceof Error ? err.message : String(err)}): on_policy_error = ${action}`;
      this.settle(f, action, null, reason, 'error', latencyUs(ev), false, null);
      return;
    }
    if (decision.action === 'ask') {
      this.askUser(ev, decision);
      return;
    }
    this.settle(f, decision.action, decision.ruleId, decision.reason, decision.layer, latencyUs(ev), false, decision.cacheable && f.exe !== null ? decision : null);
  }

  private askUser(ev: ExecEvent, decision: Decision): void {
    const f = ev.facts;
    this.link?.hold(f.requestId);
    if (!this.waiting.has(f.tid)) this.waiting.set(f.tid, processStartTime(f.tid));
    const request = ApprovalQueue.describe(f, decision.ruleId, decision.reason, this.ancestry(f));
    void this.queue.request(request).then((outcome) => {
      this.waiting.delete(f.tid);
      const reason = decision.ruleId ? `${outcome.reason} (asked by rule ${decision.ruleId})` : outcome.reason;
      this.settle(f, outcome.verdict, decision.ruleId, reason, outcome.layer, latencyUs(ev), true, null);
    });
  }

  /** While approvals are pending, withdraw those whose every waiting process has died (nothing to answer). */
  private watchForWithdrawal(): void {
    if (this.withdrawTimer) return;
    this.withdrawTimer = setInterval(() => {
      this.queue.withdrawWhere((requests) =>
        requests.every((r) => !processAlive(r.facts.tid, this.waiting.get(r.facts.tid) ?? null)) ? 'withdrawn: the process that asked has exited' : null,
      );
      if (this.queue.pendingCount === 0 && this.withdrawTimer) {
        clearInterval(this.withdrawTimer);
        this.withdrawTimer = null;
      }
    }, this.options.withdrawCheckMs ?? 500);
    this.withdrawTimer.unref();
  }

  /** Whether the supervisor writes the audit log now (records go to it, with the verdicts). */
  private get supervisorWrites(): boolean {
    return this.link?.writesAudit === true;
  }

  /**
   * Record a decision and answer the kernel with it. The record is written first, always: by the supervisor,
   * which gets it with the verdict and writes it before it answers (and fails closed when it cannot), or here,
   * where a record that cannot be written turns the verdict into a deny. `cacheAs`: the decision, when the
   * supervisor may answer later execs of the same file with it.
   */
  private settle(f: ExecFacts, verdict: BinaryAction, ruleId: string | null, reason: string, layer: DecisionLayer, latency: number, asked: boolean, cacheAs: Decision | null): void {
    const rec = buildDecisionRecord({ session: this.id, facts: f, verdict, ruleId, reason, layer, latencyUs: latency, cached: false });
    const origin = cacheAs ? originJson(cacheAs.ruleId, cacheAs.reason, cacheAs.layer) : undefined;
    if (this.supervisorWrites) {
      if (cacheAs) this.cachedOrigins.set(identity(f), { ruleId: cacheAs.ruleId, reason: cacheAs.reason, layer: cacheAs.layer });
      this.link?.verdict(f.requestId, verdict, cacheAs !== null, origin, JSON.stringify(rec));
      this.noteDecision(rec, f, asked);
      return;
    }
    const ok = this.record(rec, f, asked);
    if (ok && cacheAs) this.cachedOrigins.set(identity(f), { ruleId: cacheAs.ruleId, reason: cacheAs.reason, layer: cacheAs.layer });
    this.link?.verdict(f.requestId, ok ? verdict : 'deny', ok && cacheAs !== null, ok ? origin : undefined);
  }

  private noteDecision(rec: DecisionRecord, f: ExecFacts, asked: boolean): void {
    this.stats.add(rec);
    if (rec.verdict === 'allow' && f.exe) this.remember(f.pid, f.exe.path, f.ppid);
    this.emit('decision', rec, asked);
  }

  /** Write the decision record here; false (and the exec must be denied) when it could not be written. */
  private record(rec: DecisionRecord, f: ExecFacts, asked: boolean): boolean {
    const err = this.audit.tryWrite(rec);
    if (err) {
      this.auditFailed(err);
      const denied: DecisionRecord = { ...rec, verdict: 'deny', layer: 'error', rule_id: null, reason: `the audit log could not be written (${err.message}): denied` };
      this.stats.add(denied);
      this.emit('decision', denied, asked);
      return false;
    }
    if (this.auditFailing) {
      this.auditFailing = false;
      this.warn(`the audit log ${this.audit.file} is writable again`);
    }
    this.noteDecision(rec, f, asked);
    return true;
  }

  /** A record that is not a decision (policy update, outcome, end): to the supervisor's log, or here. */
  private writeRecord(rec: AuditRecord): void {
    if (this.supervisorWrites && this.link?.log) {
      this.link.log(JSON.stringify(rec));
      return;
    }
    const err = this.audit.tryWrite(rec);
    if (err) this.auditFailed(err);
  }

  private auditFailed(err: AuditWriteError): void {
    if (this.auditFailing) return;
    this.auditFailing = true;
    this.warn(`${err.message}: every exec is denied until the log can be written again (free disk space or fix the path)`);
  }

  /** A connect to a unix socket no process of the session made: [unix_sockets] decides; the record is written
   *  before the supervisor is answered (a record that cannot be written denies, as for execs). */
  private onSocket(req: SocketRequest): void {
    const d = decideUnixSocket(this.policy.unixSockets ?? DEFAULT_UNIX_SOCKETS, req);
    const target = redactText(unixSocketTarget(req));
    const name = req.abstract ? undefined : redactText(req.name);
    const rec: SocketRecord = {
      type: 'socket',
      time: new Date().toISOString(),
      session: this.id,
      request: req.requestId,
      pid: req.pid,
      tid: req.tid,
      op: req.op,
      family: 'unix',
      target,
      ...(name !== undefined && name !== target ? { name } : {}),
      verdict: d.allow ? 'allow' : 'deny',
      reason: d.reason,
      layer: d.allow ? 'rule' : 'default',
    };
    if (this.supervisorWrites) {
      // The supervisor writes the record it gets with the verdict before it connects (or fails closed).
      this.link?.verdict(req.requestId, d.allow ? 'allow' : 'deny', false, undefined, JSON.stringify(rec));
    } else {
      const err = this.audit.tryWrite(rec);
      if (err) this.auditFailed(err);
      this.link?.verdict(req.requestId, d.allow && !err ? 'allow' : 'deny', false);
    }
    this.emit('socket', rec);
  }

  private onSocketRefused(ev: SocketRefusal): void {
    const rec: SocketRecord = {
      type: 'socket',
      time: new Date().toISOString(),
      session: this.id,
      pid: ev.pid,
      tid: ev.tid,
      op: ev.op,
      family: ev.family,
      target: ev.address === null ? '' : ev.address.includes(':') ? `[${ev.address}]:${ev.port}` : `${ev.address}:${ev.port}`,
      verdict: 'deny',
      reason: ev.reason,
      layer: 'kernel',
    };
    // Already refused by the supervisor: the record follows (through the supervisor when it writes the log).
    this.writeRecord(rec);
    this.emit('socket', rec);
  }

  private onSupervisorTimeout(id: number, action: BinaryAction): void {
    // A supervisor that writes the log recorded the timeout itself, before it answered.
    if (!this.supervisorWrites) this.audit.tryWrite({
      type: 'supervisor_timeout',
      time: new Date().toISOString(),
      session: this.id,
      request: id,
      verdict: action,
      reason: `no verdict within on_supervisor_timeout_ms = ${this.policy.meta.onSupervisorTimeoutMs}: the supervisor applied ${action}`,
    });
    this.warn(`exec request ${id}: no verdict in time, the supervisor applied ${action}`);
  }

  private warn(message: string): void {
    this.warnings.push(message);
    this.options.onWarning?.(message);
    this.emit('warning', message);
  }

  /**
   * The session kept the policy it started with; if the file was changed meanwhile (by the agent, when the
   * policy file is inside its write grants, or by anyone else), say so: the change applies to the next
   * session, so it must be reviewed first. Returns the file's sha256 now when it differs, else null.
   */
  private policyFileChanged(): string | null {
    const file = this.options.policy.file;
    if (!file || !this.policySha256) return null;
    let now: string;
    try {
      now = sha256Of(fs.readFileSync(file, 'utf8'));
    } catch {
      now = 'missing';
    }
    if (now === this.policySha256) return null;
    this.warn(
      `the policy file ${file} was ${now === 'missing' ? 'removed' : 'changed'} during this session (sha256 ${this.policySha256.slice(0, 12)}… → ${now.slice(0, 12)}…): the change did not apply to this session; review it before the next run`,
    );
    return now;
  }

  private guard: WorkspaceGuard | null = null;
  private homeGuard: AgentHomeGuard | null = null;
  /** Set while the session ends: protected-file records found then join its last records. */
  private lateRecords: AuditRecord[] | null = null;

  private toolCaches: ToolCaches | null = null;
  private onProtected: ((c: ProtectedChange) => void) | null = null;

  private startGuard(workspace: string, reviewDir: string): void {
    const onChange = (c: ProtectedChange): void => {
      const rec: AuditRecord = {
        type: 'protected',
        time: c.time,
        session: this.id,
        path: c.path,
        class: c.class,
        change: c.change,
        reverted: c.reverted,
        ...(c.reason ? { reason: c.reason } : {}),
        ...(c.held ? { held: c.held } : {}),
        diff: c.attempt.length > 16384 ? `${c.attempt.slice(0, 16384)}\n… (cut at 16 KiB; the agent's version is kept in full)\n` : c.attempt,
        saved: Object.values(c.saved),
      };
      // At the end they go with the session's last records (whoever writes the log then).
      if (this.lateRecords) this.lateRecords.push(rec);
      else this.writeRecord(rec);
      this.emit('protectedChange', c);
    };
    // The guards ask about each of their ~130 paths in one synchronous run (start, a poll): the directories'
    // real paths are shared by that run's questions only.
    let memo: RealpathMemo | null = null;
    const writable = (p: string): boolean => {
      if (!memo) {
        memo = new Map();
        process.nextTick(() => (memo = null));
      }
      return isWritableByAgent(p, this.policy.filesystem, memo);
    };
    try {
      const policyFile = this.policy.file;
      this.guard = WorkspaceGuard.start({
        workspace,
        reviewDir,
        writable,
        // The agents' own directories of rules, extensions and policies in the home directory: guarded whole.
        // The user's own start-up files (a shell's rc, ~/.ssh/config, ~/.gitconfig…), when the agent can write
        // them (the workspace is the home directory, a dotfiles repository, no write sealing): kept whole (R109).
        also: [
          ...(policyFile && fs.existsSync(policyFile) ? [{ path: policyFile, class: 'gate-policy' as const }] : []),
          ...agentHomeDirs(this.options.env ?? process.env).map((d) => ({ path: d, class: 'agent-home' as const, kind: 'dir' as const })),
          ...homeStartupPaths((this.options.env ?? process.env).HOME ?? '').map((h) => ({ ...h, class: 'home-startup' as const })),
        ],
      });
      this.guard.on('change', onChange);
      this.guard.on('putBack', (b) => this.onPutBack(b));
      // aider's repo-map cache (pickles), at the workspace and at the repository's top: removed at the end when
      // the session made or changed it (tool-caches.ts, R110).
      const top = enclosingRepoTop(workspace);
      this.toolCaches = new ToolCaches(top && top !== path.resolve(workspace) ? [path.resolve(workspace), top] : [path.resolve(workspace)], writable, workspace);
      this.onProtected = onChange;
    } catch (e) {
      this.warn(`cannot guard the workspace files that tools outside the gate run (.git/config, hooks, .vscode…): ${(e as Error).message}`);
    }
    // The agents' own config in the home directory (~/.claude.json, ~/.codex/config.toml, ~/.gemini/settings.json…):
    // only the keys that make a later run execute something are put back (agent-home.ts).
    try {
      this.homeGuard = AgentHomeGuard.start({ env: this.options.env ?? process.env, workspace, reviewDir, writable });
      this.homeGuard.on('change', onChange);
    } catch (e) {
      this.warn(`cannot guard the agents' own config in the home directory (~/.claude.json, ~/.codex/config.toml…): ${(e as Error).message}`);
    }
  }

  /** Paths being made read-only in the agent's mount namespace (asked after the first put-back), and those done. */
  private readonly holding = new Set<string>();
  private readonly readOnlyNow = new Set<string>();

  /**
   * A protected path was put back (red-team R106). Detection alone leaves a window of about a millisecond per
   * write, and an agent that rewrites the file in a loop turns those windows into a race that a tool outside
   * the gate (VS Code's git extension runs `git status` because .git changed) wins now and then. So after the
   * first put-back the kernel refuses the next write where it can: the supervisor bind-mounts the put-back
   * path read-only in the agent's mount namespace. Where it cannot (no mount namespace of the agent's, a path
   * the agent created, which is absent once put back, or .git itself), a second put-back of the same path ends
   * the session, fail closed: the windows are two per path, not as many as the agent likes.
   */
  private onPutBack(b: PutBack): void {
    if (this.ending || this.endResult) return;
    if (b.times === 1) {
      const kind = this.guard?.paths.find((p) => p.path === b.path)?.kind;
      // Only where the agent has a mount namespace of its own (REPORT mountns=root, or user: a non-root agent's
      // made through a user namespace).
      const ns = this.link?.report.mountns;
      if (!b.present || kind === 'entry' || !this.link?.readOnly || (ns !== 'root' && ns !== 'user')) return;
      this.holding.add(b.path);
      void this.link.readOnly(b.path).then((why) => {
        this.holding.delete(b.path);
        if (why === null) {
          this.readOnlyNow.add(b.path);
          this.guard?.hold(b.path, 'readonly');
        } else if (!this.ending && !this.endResult) {
          this.warn(`${b.rel} could not be made read-only for the agent after it was put back (${why}): a second change ends the session`);
        }
      });
      return;
    }
    // A write that came before the read-only mount was in place (a loop) is a second offence all the same.
    // (The test switch: tests of detection alone write one protected file several times.) Not for the policy
    // file: nothing outside the gate obeys a changed text before the user accepts it, so there is no race to
    // win, and an agent retrying its .gate.toml gets the review, not a killed session.
    if (b.class === 'gate-policy' || this.readOnlyNow.has(b.path) || (this.options.env ?? process.env).AGENT_GATE_GUARD_DETECT_ONLY === '1') return;
    this.guard?.hold(b.path, 'ended');
    const why = `the agent changed ${b.rel} again after it was put back (${b.times} times): a file that tools outside the gate run, rewritten in a loop, races the put-back (red-team R106); the session was ended, fail closed`;
    // Stopped at once, here: the supervisor ends every process of the session when the link closes, but by the
    // time it has read that, a loop has written dozens of times more (each a window). The agent's process group
    // (its own, the supervisor made it) is stopped now; what left the group, the supervisor's end finds.
    const pid = this.link?.agentPid ?? 0;
    if (pid > 1) {
      try {
        process.kill(-pid, 'SIGSTOP');
      } catch {
        // gone, or not ours to signal: the supervisor's end follows all the same
      }
    }
    // After the guard's check returns (stop() ends with its last look at every path).
    queueMicrotask(() => this.stop(why));
  }

  /** Protected workspace files the agent changed so far (each put back; its version kept for review). */
  protectedChanges(): ProtectedChange[] {
    return [...(this.guard?.list() ?? []), ...(this.homeGuard?.list() ?? [])];
  }

  /** The user is about to write `content` to `file` (VS Code saving it): not the agent's change. */
  expectUserWrite(file: string, content: Buffer): void {
    this.guard?.expect(file, content);
  }

  private finish(code: number | null, signal: number | null, failure: string | null, leftovers?: Leftovers): void {
    if (this.endResult || this.ending) return;
    this.ending = true;
    const link = this.link;
    if (failure !== null && link?.exited) {
      // The agent did not exit on its own (the session was stopped, or the gate failed): the supervisor ends
      // every process of the session as it goes (fail closed). The guard's last check waits for that, so what a
      // last survivor wrote before it died is still caught, put back and offered for review (red-team R88).
      link.close();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), SUPERVISOR_END_MS)));
      void Promise.race([link.exited, late]).then((how) => {
        clearTimeout(timer);
        if (how === 'late') this.warn(`the supervisor did not exit within ${SUPERVISOR_END_MS / 1000} s of the session's end: the workspace files were checked a last time before every process of the session was known to have ended`);
        this.finishNow(code, signal, failure, leftovers);
      });
      return;
    }
    this.finishNow(code, signal, failure, leftovers);
  }

  private ending = false;

  private finishNow(code: number | null, signal: number | null, failure: string | null, leftovers?: Leftovers): void {
    // After the supervisor ended every process of the session (EXIT comes after its reap; a failure waited for
    // it above): every protected path once more (an event could have been missed), then no more watching.
    this.lateRecords = [];
    const cacheChanges = this.toolCaches?.end() ?? [];
    for (const c of cacheChanges) this.onProtected?.(c);
    const changes = [...(this.guard ? this.guard.checkAll() : []), ...(this.homeGuard ? this.homeGuard.checkAll() : []), ...cacheChanges];
    this.guard?.stop();
    this.homeGuard?.stop();
    const late = this.lateRecords;
    const exitCode = failure !== null ? 126 : signal ? 128 + signal : (code ?? 126);
    this.endResult = { exitCode, code, signal: signal || null, failure, ...(leftovers ? { leftovers } : {}), ...(changes.length ? { protectedChanges: changes } : {}) };
    if (leftovers && leftovers.count > 0) this.warn(leftoversMessage(leftovers));
    if (this.withdrawTimer) clearInterval(this.withdrawTimer);
    this.withdrawTimer = null;
    this.queue.close('the session ended before an answer');
    const last: AuditRecord[] = [...late];
    if (failure === null && this.firstRequestId !== 0) {
      last.push({ type: 'outcome', time: new Date().toISOString(), session: this.id, request: this.firstRequestId, exit_code: code, signal: signal || null });
    }
    const m = this.stats.toMetrics();
    const policyNow = this.policyFileChanged();
    last.push({
      type: 'session',
      time: new Date().toISOString(),
      session: this.id,
      event: 'end',
      exit_code: exitCode,
      ...(failure !== null ? { reason: failure } : {}),
      ...(policyNow !== null ? { policy_changed: true, policy_sha256_now: policyNow } : {}),
      stats: { decisions: m.decisions, allowed: m.allowed, denied: m.denied },
      ...(leftovers ? { leftovers: { [leftovers.kept ? 'kept' : 'ended']: leftovers.count, ...(leftovers.remaining ? { remaining: leftovers.remaining } : {}), ...(leftovers.stuck ? { stuck: leftovers.stuck } : {}), names: leftovers.names } } : {}),
      ...(changes.length ? { protected_changes: changes.map((c) => ({ path: c.path, class: c.class, change: c.change, times: c.times, reverted: c.reverted, ...(c.overtaken ? { overtaken: c.overtaken } : {}), ...(c.held ? { held: c.held } : {}) })) } : {}),
    });
    void this.writeLast(last, failure === null).then(() => {
      this.removeSocketDir(leftovers);
      this.resolveEnd(this.endResult as SessionEnd);
      this.emit('ended', this.endResult as SessionEnd);
    });
  }

  /** The agent's socket and temporary directory goes once every process of the session has ended (the
   *  supervisor said so at the agent's exit); while one could still run, it could swap a directory in it for a
   *  symlink during the removal, so the directory stays, and the user is told where. */
  private removeSocketDir(leftovers: Leftovers | undefined): void {
    const dir = this.options.socketDir?.path;
    if (!dir) return;
    // Kept processes are gone too by the end (the session lasts until they are: red-team R54).
    const problem = leftovers && !leftovers.remaining ? removeSocketDir(dir) : `the agent's temporary directory ${dir} is kept: processes of the session may still use it`;
    if (problem) this.warn(problem);
  }

  /**
   * The session's last records, and the chain's head kept outside the log. After a normal exit the supervisor,
   * which still holds the log and its reservation, writes them, closes the log and says where the chain ends
   * (BYE). Otherwise (the gate failed, the session was stopped) the supervisor is made to go, and once it is
   * gone the session goes on from what is in the log.
   */
  private async writeLast(records: AuditRecord[], agentExited: boolean): Promise<void> {
    const link = this.link;
    if (link && this.supervisorWrites && agentExited && link.log && link.bye) {
      for (const r of records) link.log(JSON.stringify(r));
      const head = await link.bye();
      if (head) {
        this.endHead = head;
        this.audit.close();
        return;
      }
      this.warn('the supervisor did not close the audit log in time: the session writes its end itself');
    }
    const supervisorWrote = this.supervisorWrites;
    link?.close();
    if (supervisorWrote && link?.exited) {
      // It must be gone before the session writes: one writer at a time.
      await Promise.race([link.exited, new Promise((r) => setTimeout(r, 3000).unref())]);
    }
    try {
      if (supervisorWrote) this.audit.resume();
      for (const w of this.audit.repairs.splice(0)) this.warn(w);
    } catch (err) {
      this.warn(`the audit log ${this.audit.file} cannot be read back (${(err as Error).message}): its end is not recorded`);
    }
    let ended = true;
    for (const r of records) {
      const err = this.audit.tryWrite(r);
      if (err) {
        this.warn(`${err.message}: the session's end is not in the log`);
        ended = false;
        break;
      }
    }
    if (ended) this.endHead = this.audit.head;
    if (this.headFile) {
      const err = this.audit.saveHead(this.headFile);
      if (err) this.warn(`cannot keep the audit log's last hash in ${this.headFile}: ${err.message}`);
    }
    this.audit.close();
  }
}

/** How long the end of a stopped or failed session waits for the supervisor to end the session's processes and
 *  exit (its reap has no deadline while one can still be ended; uninterruptible sleep stops it after 3 s). */
const SUPERVISOR_END_MS = 15_000;

/** What the user is told about the processes the agent left running. */
export function leftoversMessage(l: Leftovers): string {
  // Names are the agent's own (prctl PR_SET_NAME): shown escaped (red-team R52).
  const names = l.names.length ? ` (${l.names.map((n) => escapeText(n)).join(', ')}${l.count > l.names.length ? ', …' : ''})` : '';
  if (l.kept) {
    return `${l.count} process${l.count === 1 ? '' : 'es'} the agent started ${l.count === 1 ? 'was' : 'were'} kept${names} (keep_leftovers): the session lasted until they ended (red-team R54: their programs judged and the workspace files guarded meanwhile)`;
  }
  // Only ever said of processes the supervisor saw in uninterruptible sleep (D) for seconds (red-team R88:
  // survivors were once called stuck that were not); their SIGKILL is pending, so none runs its own code again.
  const stuck = l.remaining
    ? `; ${l.remaining} could NOT be ended: in uninterruptible sleep in the kernel${l.stuck ? ` (${escapeText(l.stuck)})` : ''}, they end as soon as the kernel lets them go — check with ps before trusting the workspace`
    : '';
  return `ended ${l.count} process${l.count === 1 ? '' : 'es'} the agent left running${names}${stuck}; set keep_leftovers = true in [session] (or --keep-leftovers) to keep them`;
}

/** Where root's writes make the kernel, the service manager or a later program run what root wrote, outside
 *  the gate (red-team R71): kernel settings (core_pattern, modprobe, binfmt_misc), the system's configuration
 *  (cron.d, ld.so.preload, systemd units, sudoers, profile.d), its programs and libraries, the boot loader,
 *  spools that cron and at run, and systemd's state and runtime units. */
export const ROOT_SYSTEM_DIRS = [
  '/proc/sys', '/sys', '/etc', '/usr', '/lib', '/lib32', '/lib64', '/libx32', '/bin', '/sbin', '/boot',
  '/var/spool', '/var/lib/systemd', '/run/systemd',
] as const;

/** The write grants of a sealed policy that cover one of ROOT_SYSTEM_DIRS, or lie inside one. */
export function rootSystemGrants(fsPolicy: FilesystemPolicy, realpath: (p: string) => string = realpathOfNearest): { grant: string; source: string; dir: string }[] {
  const out: { grant: string; source: string; dir: string }[] = [];
  // The built-in grants (/dev/null…) are none of these. /bin may be a link to /usr/bin (merged /usr): both
  // the name and where it leads are compared.
  const dirs = ROOT_SYSTEM_DIRS.flatMap((d) => [...new Set([d, realpath(d)])].map((p) => ({ name: d, p })));
  for (const g of fsPolicy.grants) {
    if (!g.rights.includes('w')) continue;
    const roots = [...new Set([path.resolve(g.path), realpath(g.path)])];
    const hit = dirs.find((d) => roots.some((r) => isUnder(d.p, r) || isUnder(r, d.p)));
    if (hit) out.push({ grant: g.path, source: g.source, dir: hit.name });
  }
  return out;
}

/**
 * Why a root agent may not start with this policy, or null. Root whose writes are not sealed by Landlock can
 * make the kernel or another service run its programs outside the gate — /proc/sys/kernel/core_pattern (the
 * kernel runs it on the next crash), /etc/cron.d, systemd units, another user's shell startup files — so it
 * runs only when the user says so (the gate still drops root's dangerous capabilities and syscalls). A sealed
 * policy whose write grants reach one of ROOT_SYSTEM_DIRS is the same thing in parts (red-team R71), refused
 * the same way.
 */
export function rootRefusal(options: Pick<GateSessionOptions, 'policy' | 'allowRootWithoutFilesystem' | 'uid'>, realpath: (p: string) => string = realpathOfNearest): string | null {
  const uid = options.uid ?? process.getuid?.() ?? -1;
  const fsPolicy = options.policy.filesystem;
  if (uid !== 0) return null;
  if (options.allowRootWithoutFilesystem || options.policy.session.allowRootWithoutFilesystem) return null;
  const override = `to accept the risk, pass --allow-root-without-filesystem (CLI) or set allow_root_without_filesystem = true in [session].`;
  if (fsPolicy.enabled && fsPolicy.handled.includes('w')) {
    const system = rootSystemGrants(fsPolicy, realpath);
    if (system.length === 0) return null;
    const list = system.map((s) => `${s.grant} (from ${s.source}) reaches ${s.dir}`).join('; ');
    return (
      `refusing to run the agent as root with write grants on the system's own files: ${list}. ` +
      `Root that can write there makes the kernel or other services run its programs outside the gate: ` +
      `/proc/sys/kernel/core_pattern (the kernel runs it on the next crash), /etc/cron.d, /var/spool/cron, a systemd unit, /etc/ld.so.preload, or a program in /usr/bin the user runs later. ` +
      `Narrow write_globs to the workspace and the caches the agent needs, or run as a normal user; ${override}`
    );
  }
  const why = fsPolicy.enabled
    ? `its [filesystem] grants writes on / (so Landlock seals no writes)`
    : `the policy has no [filesystem] section`;
  return (
    `refusing to run the agent as root without filesystem write sealing (${why}). Root that can write anywhere can make the kernel or other services run its programs outside the gate: ` +
    `writing /proc/sys/kernel/core_pattern makes the kernel run a program of its choice on the next crash, and /etc/cron.d or a systemd unit does the same later. ` +
    `Add [filesystem] with write_globs limited to the workspace (e.g. write_globs = ["\${WORKSPACE}/**"]), or run as a normal user; ` +
    override
  );
}

/** The SupervisorConfig for a policy (docs/protocol.md, CONFIG … START); `plan` replaces the filesystem grants
 *  with ones that leave the programs the policy always denies out of the execute set (execute-set.ts). */
export function supervisorConfig(policy: Policy, plan?: ExecutePlan | null): SupervisorConfig {
  const fsPolicy = policy.filesystem;
  const net = policy.network;
  const ports = new Map<number, { port: number; connect: boolean; bind: boolean }>();
  for (const p of net.connectTcpPorts) ports.set(p, { port: p, connect: true, bind: false });
  for (const p of net.bindTcpPorts) {
    const e = ports.get(p);
    if (e) e.bind = true;
    else ports.set(p, { port: p, connect: false, bind: true });
  }
  const unix = policy.unixSockets ?? DEFAULT_UNIX_SOCKETS;
  const loopback = policy.loopback ?? DEFAULT_LOOPBACK;
  return {
    fs: plan?.fs ?? (fsPolicy.enabled ? { handled: fsPolicy.handled, grants: fsPolicy.grants } : null),
    net: net.enabled
      ? { connect: true, bind: true, ports: [...ports.values()].sort((a, b) => a.port - b.port), ...(net.dns ? { dns: net.dnsServers ?? [] } : {}) }
      : null,
    unix: unix.sealed ? { grants: unixSocketGrants(unix) } : null,
    loopback: loopback.sealed ? { connectPorts: loopback.connectPorts, acceptPorts: loopback.acceptPorts, resolvers: loopbackResolvers(net) } : null,
    // require_enforced is about the sealing the policy asks for: nothing to require when a class is off.
    require: { fs: fsPolicy.enabled && fsPolicy.requireEnforced, net: net.enabled && net.requireEnforced, unix: unix.sealed && unix.requireEnforced },
    timeout: { ms: policy.meta.onSupervisorTimeoutMs, action: policy.meta.onPolicyError },
  };
}

/** The resolvers DNS may go to on this host while [loopback] seals: [network]'s when it names them, else the
 *  nameservers of /etc/resolv.conf (127.0.0.53 for systemd-resolved), read when the session starts. */
function loopbackResolvers(net: Policy['network']): string[] {
  if (net.enabled && net.dns) return net.dnsServers ?? [];
  try {
    return resolvConfServers(fs.readFileSync('/etc/resolv.conf', 'utf8'));
  } catch {
    return [];
  }
}

/** The [env] policy with TMPDIR and TMUX_TMPDIR naming the session's directory; the policy's own `set` comes
 *  after, so a policy that sets them wins. */
export function withSocketDir(env: EnvPolicy | undefined, dir: { path: string } | undefined): EnvPolicy {
  const base = env ?? EMPTY_ENV_POLICY;
  if (!dir) return base;
  return { ...base, set: [...SOCKET_DIR_VARIABLES.map((name) => [name, dir.path] as const), ...base.set] };
}

/** Where a copy of another program could have been planted: the write grants, or everything when
 *  writes are not sealed (one definition with `explain`'s: hashUnderPaths). */
export function hashUnder(fsPolicy: FilesystemPolicy): string[] {
  return hashUnderPaths(fsPolicy);
}

/** One of the gate's own files (or directories) and what it is, for gateFilesPlacement. */
export interface GateFile {
  path: string;
  what: string;
}

/**
 * The gate's own files against the agent's write grants (red-team R70): the CLI's loader, bundle and V8 code
 * cache, the native supervisor, the shipped policies and profiles, the extension's install — whatever runs
 * or decides outside the gate the next time the user starts it. One of them inside a write grant (or a grant
 * inside one of them) lets the agent replace it, and the user's next run starts the agent's program as the
 * gate, outside any gate: refused, saying which and why. Writes not sealed: the agent can write wherever the
 * user can, so a warning names the ones this user may write.
 */
export function gateFilesPlacement(
  files: readonly GateFile[],
  fsPolicy: FilesystemPolicy,
  o: { realpath?: (p: string) => string; writable?: (p: string) => boolean } = {},
): { refusal: string | null; warnings: string[] } {
  const realpath = o.realpath ?? realpathOfNearest;
  if (!fsPolicy.enabled || !fsPolicy.handled.includes('w')) {
    const writable = o.writable ?? writableByUser;
    const hit = files.filter((f) => writable(f.path));
    return {
      refusal: null,
      warnings: hit.length
        ? [`filesystem writes are not sealed (no [filesystem] in the policy): the agent may change the gate's own files, which run outside the gate on the next start: ${hit.map((f) => `${f.what} ${f.path}`).join('; ')}`]
        : [],
    };
  }
  const problems: string[] = [];
  const reported: string[] = [];
  // Each write grant resolved once (this runs at every start); not the built-in device files (/dev/null, /dev/tty…),
  // which hold nothing and lie inside nothing of the gate's.
  const roots = fsPolicy.grants.filter((g) => g.rights.includes('w') && g.source !== 'bootstrap').map((g) => ({ g, root: realpath(g.path) }));
  for (const f of files) {
    // Both the name (a symlink such as node_modules/.bin/agent-gate can itself be replaced) and the file.
    const names = [...new Set([path.resolve(f.path), realpath(f.path)])];
    // A file in a directory already named (the supervisor in dist/) adds nothing to the message.
    if (names.some((n) => reported.some((r) => isUnder(n, r)))) continue;
    for (const { g, root } of roots) {
      if (names.some((n) => isUnder(n, root) || isUnder(root, n))) {
        problems.push(`${f.what} ${f.path} is inside the write grant ${g.path} (from ${g.source})`);
        reported.push(...names);
        break;
      }
    }
  }
  if (problems.length === 0) return { refusal: null, warnings: [] };
  return {
    refusal:
      `refusing to start: the gate's own files are where the agent may write — ${problems.join('; ')}. ` +
      `The agent could replace them, and the next agent-gate run would start its program outside any gate. ` +
      `Install agent-gate where the agent cannot write (npm install -g, or a directory outside the workspace and the caches the agent writes; not an npx run by the agent, whose _npx is in its own npm cache), or narrow the grant.`,
    warnings: [],
  };
}

function writableByUser(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Variables of the gate's own environment that name a file the gate runs or reads (AGENT_GATE_SUPERVISOR,
 *  the test switches that name a directory): any AGENT_GATE_* set to an absolute path (red-team R80). */
export function gateEnvFiles(env: NodeJS.ProcessEnv): GateFile[] {
  return Object.entries(env)
    .filter(([k, v]) => k.startsWith('AGENT_GATE_') && typeof v === 'string' && v.startsWith('/'))
    .map(([k, v]) => ({ path: v!, what: `${k} in the gate's environment names` }));
}

/** Errors (GateSetupError) and warnings about where the audit log is, relative to the agent's grants. */
export function checkAuditPlacement(auditPath: string, fsPolicy: FilesystemPolicy, realpath: (p: string) => string = realpathOfNearest): string[] {
  const real = realpath(auditPath);
  const dir = path.dirname(real);
  const warnings: string[] = [];
  if (!fsPolicy.enabled || !fsPolicy.handled.includes('w')) {
    warnings.push(`filesystem writes are not sealed (no [filesystem] in the policy): the agent could modify the audit log ${auditPath}`);
    return warnings;
  }
  for (const g of fsPolicy.grants) {
    const root = realpath(g.path);
    if (g.rights.includes('w') && (isUnder(real, root) || isUnder(dir, root))) {
      throw new GateSetupError(
        `the audit log ${auditPath} is inside a path the agent may write (${g.path}, from ${g.source}): the agent could rewrite its own audit trail. Put the log elsewhere (--audit FILE; the default is under ~/.local/state/agent-gate) or narrow the grant.`,
      );
    }
  }
  for (const g of fsPolicy.grants) {
    // Not for a read grant on / (the user let the agent read everything; its pieces are marked `everywhere`).
    if (g.rights.includes('r') && !g.everywhere && isUnder(dir, realpath(g.path))) {
      warnings.push(`the agent may read the audit log directory ${dir} (grant ${g.path} from ${g.source}): it can see past commands`);
      break;
    }
  }
  return warnings;
}

/** The write grants' canonical paths, once per policy: the workspace guard asks about each of its ~100
 *  paths at start (a realpath of every grant for each was ~40 % of a start's Node CPU). Landlock resolved the
 *  grants when the session's ruleset was made, so the first answer is also the kernel's. */
const writeRootsOf = new WeakMap<FilesystemPolicy, string[]>();

function isWritableByAgent(file: string, fsPolicy: FilesystemPolicy, memo?: RealpathMemo): boolean {
  if (!fsPolicy.enabled || !fsPolicy.handled.includes('w')) return true;
  let roots = writeRootsOf.get(fsPolicy);
  if (!roots) {
    roots = fsPolicy.grants.filter((g) => g.rights.includes('w')).map((g) => realpathOfNearest(g.path, memo));
    writeRootsOf.set(fsPolicy, roots);
  }
  const real = realpathOfNearest(file, memo);
  return roots.some((r) => isUnder(real, r));
}



/** Identity key matching the supervisor's cache (dev, ino, size). */
function identity(f: ExecFacts): string {
  return f.exe ? `${f.exe.dev}:${f.exe.ino}:${f.exe.size}` : '';
}

/** CLOCK_MONOTONIC in µs, the supervisor's `t`'s clock. process.hrtime is that clock; performance.now() is
 *  not (it drifted ~1.4 ms per second from it here), so no cheaper stand-in. */
function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** The wall-clock time at which the supervisor decided a cached exec (from its CLOCK_MONOTONIC `t`). */
function decidedAt(ev: ExecEvent): Date {
  const agoMs = (monotonicUs() - ev.receivedAtUs - ev.cached!.latencyUs) / 1000;
  return new Date(Date.now() - Math.max(0, agoMs));
}

function latencyUs(ev: ExecEvent): number {
  return monotonicUs() - ev.receivedAtUs;
}

/** Node's first evaluations are slow (JIT, regex compilation, lazy requires: ~2 ms): pay that before the
 *  agent's first exec is waiting. The whole per-exec path is exercised: decoding an EXEC line (slow and
 *  cached), the evaluation, building and serializing the decision record (not written). Three rounds: the
 *  first compiles everything; twenty (as before) cost 10–30 ms of start-up and gave the same first-decision
 *  latency (16 runs each, median ~0.7 ms, at load ~11). */
function warmUp(evaluator: Evaluator): void {
  const samples: [string, string[]][] = [
    ['/bin/sh', ['sh', '-c', 'true']],
    ['/usr/bin/env', ['env', 'true']],
    ['/bin/true', ['true']],
  ];
  for (let round = 0; round < 3; round++) {
    for (const [exe, argv] of samples) {
      try {
        const sample: ExecFacts = {
          requestId: round + 1,
          tid: process.pid,
          pid: process.pid,
          ppid: process.ppid,
          uid: process.getuid?.() ?? 0,
          syscall: 'execve',
          requestedPath: exe,
          exe: { path: exe, dev: '0', ino: String(round), size: 0 },
          argv,
          argvTruncated: false,
          cwd: process.cwd(),
          parent: { exe: '/bin/bash', argv: ['bash', '-c', argv.join(' ')] },
        };
        const line = encodeExecLine({ facts: sample, receivedAtUs: 1, cached: round % 2 ? { action: 'allow', latencyUs: 1 } : null });
        const m = decodeSupervisorLine(line);
        const facts = m.type === 'EXEC' ? m.event.facts : sample;
        const d = evaluator.evaluate(facts);
        const action: BinaryAction = d.action === 'deny' ? 'deny' : 'allow';
        const json = JSON.stringify(buildDecisionRecord({ session: 'warm-up', facts, verdict: action, ruleId: d.ruleId, reason: d.reason, layer: d.layer, latencyUs: 1, cached: round % 2 === 1 }));
        if (round % 2 === 1) {
          // A cached hit as the supervisor records it (RECORD).
          const r = decodeSupervisorLine(`RECORD ${action} ${json}`);
          if (r.type === 'RECORD') redactSupervisorRecord(r.record, r.json);
        }
      } catch {
        // A failing warm-up evaluation shows up again, and is handled, on the real exec.
      }
    }
  }
}

export function newSessionId(): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return `${t}-${randomBytes(3).toString('hex')}`;
}

function sha256Of(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function readOrEmpty(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/**
 * The supervisor's test switches (native/src): each turns a protection off or changes how a fact is read, for
 * the tests. They are read from the environment the gate is started with — the user's, never the agent's; an
 * agent can set them only for an `agent-gate run` of its own, which cannot start under the gate (EBUSY) and
 * would be under it if it did (red-team R56, gate-test-switches.test.ts). A session started with one says so
 * in its start warnings (banner, start record).
 */
const TEST_SWITCHES: Readonly<Record<string, string>> = {
  AGENT_GATE_NO_MOUNTNS: "the agent's mount namespace is off (read-only bind mounts of protected files, a root agent's private /proc and IPC namespace)",
  AGENT_GATE_LANDLOCK_ABI_MAX: 'the Landlock ABI the gate uses is capped',
  AGENT_GATE_BINFMT_MISC: 'binfmt_misc registrations are read from another directory',
  AGENT_GATE_NO_PIDFD_INFO: 'process facts are read as on a kernel before 6.13',
  AGENT_GATE_NO_WAIT_KILLABLE: 'the supervisor behaves as on a kernel before 5.19',
  AGENT_GATE_SYNC_WAKEUP: 'seccomp notifications use synchronous wake-up',
  AGENT_GATE_DEBUG: 'the supervisor writes debugging lines',
  AGENT_GATE_GUARD_DETECT_ONLY: 'a second change of a protected file does not end the session (red-team R106: detection alone)',
};

export function testSwitchWarnings(env: NodeJS.ProcessEnv): string[] {
  return Object.entries(TEST_SWITCHES)
    .filter(([k]) => env[k] !== undefined && env[k] !== '')
    .map(([k, what]) => `test switch ${k}=${env[k]} is set in the gate's environment: ${what}`);
}

/** Default reservation ahead of the audit log's end: ~16 000 records. */
export const DEFAULT_AUDIT_RESERVE = 8 << 20;

/** AGENT_GATE_AUDIT_RESERVE (bytes) from the environment the gate runs in (never the agent's: it is set for the
 *  broker). */
function reserveFromEnv(env: NodeJS.ProcessEnv | undefined): number | undefined {
  const v = (env ?? process.env).AGENT_GATE_AUDIT_RESERVE;
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  return Number(v);
}

/**
 * Whether the agent can write to the filesystem the audit log is on: writes are not sealed, or a write grant
 * is on that filesystem, or has it mounted somewhere below it. The agent could then fill it and stop the log,
 * so the session starts only with space reserved for the log (AUDIT require_reserve).
 */
export function logFilesystemWritableByAgent(
  auditPath: string,
  fsPolicy: FilesystemPolicy,
  mountinfo: () => string = () => fs.readFileSync('/proc/self/mountinfo', 'utf8'),
  realpath: (p: string) => string = realpathOfNearest,
): boolean {
  if (!fsPolicy.enabled || !fsPolicy.handled.includes('w')) return true;
  let logDev: number;
  try {
    logDev = fs.statSync(path.dirname(realpath(auditPath))).dev;
  } catch {
    return true;
  }
  const devOf = (p: string): number | null => {
    try {
      // (No exception for a grant that does not exist yet.)
      return fs.statSync(p, { throwIfNoEntry: false })?.dev ?? null;
    } catch {
      return null;
    }
  };
  let mounts: { point: string; dev: string }[] = [];
  try {
    mounts = mountinfo()
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => f.length > 4)
      .map((f) => ({ dev: f[2] as string, point: (f[4] as string).replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))) }));
  } catch {
    // without the mount table, only the grants' own filesystems are compared
  }
  const mm = (dev: number): string => {
    const d = BigInt(dev);
    return `${Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn))}:${Number((d & 0xffn) | ((d >> 12n) & ~0xffn))}`;
  };
  const logMm = mm(logDev);
  for (const g of fsPolicy.grants) {
    if (!g.rights.includes('w')) continue;
    const root = realpath(g.path);
    if (devOf(root) === logDev) return true;
    if (mounts.some((m) => m.dev === logMm && isUnder(m.point, root))) return true;
  }
  return false;
}

/** The top of the git repository the workspace is in, when that is above it (aider keeps its cache there). */
function enclosingRepoTop(workspace: string): string | null {
  for (let d = path.resolve(workspace); d !== path.dirname(d); d = path.dirname(d)) if (fs.existsSync(path.join(d, '.git'))) return d;
  return null;
}
