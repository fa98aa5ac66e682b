// The broker's end of the link to the native supervisor (docs/protocol.md): a private socket, one accepted
// connection, the handshake, then EXEC events in and VERDICT/HOLD lines out. This is the per-exec hot path:
// lines are framed incrementally without copying complete chunks, and each verdict is one socket write.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, constants as fsConstants, mkdtempSync, openSync, readSync, rmdirSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EMPTY_ENV_POLICY, envRemovedBy, planEnvironment, type EnvPlan, type EnvPolicy } from '../policy/env';
import type { BinaryAction } from '../policy/types';
import { escapeText } from '../audit/display';
import type {
  EnforcementReport,
  SpawnSupervisor,
  SupervisorConfig,
  SupervisorLinkHandlers,
  SupervisorProcess,
} from './types';
import { decodeSupervisorLine, encodeConfig, encodeFlush, encodeHold, encodeLog, encodeTerminal, encodeVerdict, MAX_LINE_BYTES, WireError, type AuditHandOff, type SupervisorMessage, type SupervisorStats, type TerminalRelay } from './wire';

export interface SupervisorLinkOptions {
  supervisorPath: string;
  /** The agent's command line (PROGRAM ARGS…). */
  argv: string[];
  /** The CONFIG block's settings; a function is called once the supervisor is spawned, so work it does (the
   *  execute set's plan) overlaps the supervisor's start. */
  config: SupervisorConfig | (() => SupervisorConfig);
  /** [env] of the policy: the built-in channel list applies even without it (src/core/policy/env.ts). */
  envPolicy?: EnvPolicy;
  /** Variables `env` cannot carry (their name or value is not UTF-8: a spawned process gets them re-encoded),
   *  as text that keeps the bytes (bytesToText): the supervisor sets them for the agent, unless the policy
   *  removes them or sets them itself. */
  rawEnv?: readonly (readonly [string, string])[];
  /** Directories under which the supervisor hashes executables (HASH_UNDER). */
  hashUnder: string[];
  /** Only files of these sizes are worth hashing (HASH_SIZES: the policy's programs known by content);
   *  absent: every size. */
  hashSizes?: readonly number[];
  spawn: SpawnSupervisor;
  env?: NodeJS.ProcessEnv;
  handlers: SupervisorLinkHandlers;
  /** The session id: the supervisor then writes cached verdicts' decision records itself (RECORD lines, to
   *  `handlers.record`) for the verdicts sent with an origin. */
  recordSession?: string;
  /** How long the supervisor may take to connect and finish the handshake (default 15 s). */
  startTimeoutMs?: number;
  /** The longest wait between drains of the record pipe when it is idle (default 250 ms). */
  recordsMaxDelayMs?: number;
  /**
   * Called when the supervisor is READY: the kernel report and the supervisor's warnings are known and the
   * agent does not exist yet (it is forked after this returns). Do start-up work here (the session record)
   * so the agent's first exec does not queue behind it. Throwing aborts the start.
   */
  onReady?: (report: EnforcementReport, warnings: readonly string[], envPlan: EnvPlan, log: ((json: string) => void) | null) => void;
  /** The audit log, handed to the supervisor to write while the session runs (AUDIT; docs/protocol.md "The
   *  audit log"). `log` in onReady is then how a record goes in before the agent starts. */
  audit?: AuditHandOff;
  /** Called once CONFIG is sent, before anything else from the supervisor is read: work done here overlaps
   *  the supervisor's own setup (its Landlock ruleset) instead of delaying CONFIG. */
  afterConfig?: () => void;
}

/** What the supervisor said in HELLO. */
export interface SupervisorHello {
  pid: number;
  landlockAbi: number;
  notif: boolean;
  killable: boolean;
}

const NL = 0x0a;

/** The variable that hands the supervisor the link's secret (docs/protocol.md, AUTH). */
export const LINK_TOKEN_VAR = 'AGENT_GATE_LINK_TOKEN';
/** The most a peer may send before its AUTH line is complete (`AUTH token=` + 64 hex digits + newline). */
const AUTH_MAX = 128;

interface LineFrame {
  /** The head of a line not yet complete. */
  partial: Buffer[];
  partialLen: number;
  /** Copy the head (the chunk's buffer is reused: the record pipe's). */
  copy: boolean;
}

/** How often the record pipe is drained: soon while records flow, backing off to the maximum when idle. */
const RECORDS_MIN_MS = 50;
const RECORDS_MAX_MS = 250;

export class SupervisorLink {
  report: EnforcementReport = {};
  readonly warnings: string[] = [];
  agentPid = 0;
  hello: SupervisorHello | null = null;
  /** What the agent's environment lost and got (decided at HELLO, from the names the supervisor has). */
  envPlan: EnvPlan = { removed: [], removedBy: [], set: [] };
  /** Counters and decision latencies from the supervisor's EXIT line (see SupervisorStats). */
  stats: SupervisorStats | null = null;
  /** The supervisor process (for its exit status and for signals). */
  readonly process: SupervisorProcess;
  /** Resolves with the supervisor's exit status once it has exited. */
  readonly exited: Promise<{ code: number | null; signal: number | null }>;

  private socket: net.Socket | null = null;
  private started = false;
  private ended = false;
  private sawExit = false;
  /** The socket's line framing (a line may span chunks). */
  private readonly frame: LineFrame = { partial: [], partialLen: 0, copy: false };
  /** The record pipe (docs/protocol.md): cached decision records, drained on a timer, not per exec. */
  private records: { fd: number; frame: LineFrame; timer: NodeJS.Timeout | null; delayMs: number } | null = null;
  private onHandshake: ((m: SupervisorMessage) => void) | null = null;

  private constructor(
    private readonly handlers: SupervisorLinkHandlers,
    proc: SupervisorProcess,
  ) {
    this.process = proc;
    this.exited = new Promise((resolve) => proc.onExit((code, signal) => resolve({ code, signal })));
  }

  /**
   * Start the supervisor and complete the handshake. Resolves once the agent runs (STARTED); rejects with
   * the supervisor's FATAL message, or when it exits or times out before that. The handlers are never
   * called before the returned promise has resolved, so they can use the link (e.g. `link.verdict`).
   */
  static async start(opts: SupervisorLinkOptions): Promise<SupervisorLink> {
    // mkdtemp creates the directory 0700: nobody else can reach the socket while it exists.
    // (Synchronous, as the removal below: each is a system call or three, and a trip through libuv's thread
    // pool costs more, on the path to the agent's start.)
    const dir = mkdtempSync(join(tmpdir(), 'agent-gate-'));
    const socketPath = join(dir, 'broker.sock');
    const recordsPath = join(dir, 'records');
    const server = net.createServer({ allowHalfOpen: false });
    // Runs once; every caller awaits the same removal (start() must not resolve before the directory is gone).
    let cleaning: Promise<void> | null = null;
    const remove = (): void => {
      server.close();
      for (const f of [socketPath, recordsPath]) {
        try {
          unlinkSync(f);
        } catch {
          // already gone, or never made
        }
      }
      try {
        rmdirSync(dir);
      } catch {
        rmSync(dir, { recursive: true, force: true }); // something else in it
      }
    };
    const cleanup = (): Promise<void> =>
      (cleaning ??= new Promise<void>((resolve) => {
        remove();
        resolve();
      }));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
      // The socket file is in a private directory, but a process of another session's agent (the same user,
      // and its policy may let it write /tmp) could find it during the start and connect first. So the peer
      // proves it is the supervisor we spawned: its first line carries a secret only the supervisor's
      // environment holds (an agent cannot read another process's environment: Landlock's ptrace scoping,
      // and the supervisor is not dumpable). The supervisor unsets it before anything else.
      const token = randomBytes(32).toString('hex');
      const proc = opts.spawn(opts.supervisorPath, ['--socket', socketPath, '--', ...opts.argv], { ...(opts.env ?? process.env), [LINK_TOKEN_VAR]: token });
      // While the supervisor starts (exec, its kernel probes, the connection), the CONFIG it will get is made.
      let config: SupervisorConfig;
      try {
        config = typeof opts.config === 'function' ? opts.config() : opts.config;
      } catch (e) {
        proc.kill('SIGKILL');
        throw e;
      }
      const link = new SupervisorLink(opts.handlers, proc);
      if (opts.recordsMaxDelayMs !== undefined) link.recordsMaxMs = Math.max(RECORDS_MIN_MS, opts.recordsMaxDelayMs);
      const timeoutMs = opts.startTimeoutMs ?? 15_000;
      await link.handshake(server, cleanup, recordsPath, { ...opts, config }, timeoutMs, token);
      await cleanup();
      // The caller's continuation runs in a microtask once we return; deliver what arrived meanwhile after it.
      setImmediate(() => link.releaseDeferred());
      return link;
    } finally {
      await cleanup();
    }
  }

  private handshake(
    server: net.Server,
    cleanup: () => Promise<void>,
    recordsPath: string,
    opts: SupervisorLinkOptions & { config: SupervisorConfig },
    timeoutMs: number,
    token: string,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let exitInfo: string | null = null;
      /** Connections that have not (yet) proved to be the supervisor's. */
      const impostors: net.Socket[] = [];
      let refusedCount = 0;
      // kill: false after FATAL (the supervisor exits 126 by itself, and its status should say so).
      const fail = (msg: string, kill = true): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.onHandshake = null;
        this.ended = true;
        this.socket?.destroy();
        for (const other of impostors.splice(0)) other.destroy();
        this.closeRecords();
        if (kill) this.process.kill('SIGKILL');
        reject(new Error(msg));
      };
      const timer = setTimeout(() => fail(`the supervisor did not start within ${timeoutMs} ms`), timeoutMs);
      void this.exited.then(({ code, signal }) => {
        exitInfo = signal !== null ? `signal ${signal}` : `code ${code}`;
        const refusedNote = refusedCount > 0 ? ` (${refusedCount} connection${refusedCount > 1 ? 's' : ''} refused: not proved to be the supervisor's)` : '';
        if (!this.socket) fail(`the supervisor exited (${exitInfo}) before connecting to the broker${refusedNote}`);
      });

      const expected = Buffer.from(`AUTH token=${token}\n`);
      const refuse = (sock: net.Socket, why: string): void => {
        sock.destroy();
        refusedCount++;
        if (!settled) this.warnings.push(`refused a connection to the broker's socket that was not the supervisor's (${why}): another process found it during the start`);
      };
      const adopt = (sock: net.Socket, rest: Buffer): void => {
        this.socket = sock;
        for (const other of impostors.splice(0)) other.destroy();
        // The supervisor made the record pipe before connecting: open our end before the directory goes.
        // Without one (it could not make it), cached records come over the socket like everything else.
        this.openRecords(recordsPath);
        // The one peer is here: nobody else may connect, so the socket file and its directory go now.
        void cleanup();
        sock.on('data', (chunk: Buffer) => this.onData(chunk));
        if (rest.length > 0) this.onData(rest);
        sock.on('error', () => undefined); // 'close' follows and reports
        sock.on('close', () => {
          if (!settled) {
            const why = exitInfo ? ` (supervisor exited with ${exitInfo})` : '';
            fail(`the supervisor closed the connection during the handshake${why}`);
          } else {
            this.dispatch(() => this.onClose());
          }
        });
      };

      server.on('connection', (sock) => {
        if (this.socket) {
          sock.destroy(); // exactly one connection per session
          return;
        }
        // Nothing is read from a peer, and nothing sent to it, before its first line proves it is ours.
        impostors.push(sock);
        let head = Buffer.alloc(0);
        const onAuth = (chunk: Buffer): void => {
          head = Buffer.concat([head, chunk]);
          const nl = head.indexOf(NL);
          if (nl < 0) {
            if (head.length >= AUTH_MAX) refuse(sock, 'no AUTH line');
            return;
          }
          sock.off('data', onAuth);
          const line = head.subarray(0, nl + 1);
          impostors.splice(impostors.indexOf(sock), 1);
          if (this.socket || line.length !== expected.length || !timingSafeEqual(line, expected)) return refuse(sock, 'wrong AUTH');
          adopt(sock, head.subarray(nl + 1));
        };
        sock.on('data', onAuth);
        sock.on('error', () => undefined);
      });

      let sentConfig = false;
      const started = (): void => {
        settled = true;
        clearTimeout(timer);
        this.started = true;
        this.onHandshake = null;
        // Lines after this one may sit in the same chunk (the agent's first EXEC follows at once). The
        // caller can only answer them once start() has resolved and it holds the link: hold them back
        // until the continuation of `await start()` has run.
        this.deferred = [];
        // An empty read of the pipe (EAGAIN, an exception) costs ~200 µs the first time: pay it now, while
        // the agent waits for GO, not on its first exec.
        this.drainRecords();
        this.scheduleDrain();
        resolve();
      };
      this.onHandshake = (m) => {
        switch (m.type) {
          case 'HELLO': {
            if (m.version !== 1) return fail(`the supervisor speaks protocol ${m.version}, the broker speaks 1`);
            this.hello = { pid: m.pid, landlockAbi: m.abi, notif: m.notif, killable: m.killable };
            // The names the supervisor has (exact bytes), and those of the environment it was given in case it
            // did not say (an older supervisor): whatever the agent inherits is filtered.
            const given = opts.env ?? process.env;
            this.envPlan = planEnvironment([...(m.envNames ?? []), ...Object.keys(given)], opts.envPolicy ?? EMPTY_ENV_POLICY, (k) => given[k]);
            addRawEnvironment(this.envPlan, opts.rawEnv ?? [], opts.envPolicy ?? EMPTY_ENV_POLICY);
            sentConfig = true;
            // CONFIG only once the socket file and its directory are gone: the supervisor forks the agent
            // after START, so the agent can never find them, and the agent's first exec does not wait on
            // the removal (which would count in its decision latency).
            void cleanup().then(() => {
              if (!settled) this.socket?.write(encodeConfig({ ...opts.config, envPlan: this.envPlan }, opts.hashUnder, {
                  records: this.records !== null,
                  ...(opts.hashSizes ? { hashSizes: opts.hashSizes } : {}),
                  ...(opts.recordSession !== undefined && this.handlers.record ? { session: opts.recordSession } : {}),
                  ...(opts.audit ? { audit: opts.audit } : {}),
                  // Always: the command line the supervisor got may not be the user's bytes.
                  argv: opts.argv,
                }));
              if (!settled) opts.afterConfig?.();
            });
            return;
          }
          case 'REPORT':
            this.report = m.report;
            return;
          case 'WARN':
            this.warnings.push(m.message);
            return;
          case 'FATAL':
            return fail(m.message, false);
          case 'READY':
            if (!sentConfig) return fail('protocol error: READY before HELLO');
            try {
              opts.onReady?.(this.report, this.warnings, this.envPlan, this.writesAudit ? (json) => this.log(json) : null);
            } catch (e) {
              return fail(e instanceof Error ? e.message : String(e));
            }
            if (m.pid <= 0) {
              this.socket?.write('GO\n'); // no agent yet: STARTED ends the handshake
              return;
            }
            // The agent exists, gated, and waits for GO. start() resolves now; GO goes out once the caller's
            // continuation has run (releaseDeferred), so the agent's first exec finds this process idle.
            this.agentPid = m.pid;
            this.goPending = true;
            return started();
          case 'STARTED':
            if (!sentConfig) return fail('protocol error: STARTED before HELLO');
            this.agentPid = m.pid;
            return started();
          default:
            return fail(`protocol error: ${m.type} during the handshake`);
        }
      };
      this.handshakeFail = fail;
    });
  }

  private handshakeFail: ((msg: string) => void) | null = null;
  private closedByBroker = false;
  private deferred: (() => void)[] | null = null;

  /** Answer an EXEC: one write. With `record` (when the supervisor writes the audit log) the decision's record
   *  goes with it, and is on disk before the kernel is answered. */
  verdict(id: number, action: BinaryAction, cache: boolean, origin?: string, record?: string): void {
    this.write(encodeVerdict(id, action, cache, origin, record));
  }

  /** Whether the supervisor writes the audit log (it said so in REPORT audit=…): records then go to it. */
  get writesAudit(): boolean {
    const a = this.report.audit;
    return a !== undefined && a !== 'broker';
  }

  /** A record for the audit log the supervisor writes (one JSON object). */
  log(json: string): void {
    this.write(encodeLog(json));
  }

  private byeWaiter: ((head: { head: string; size: number } | null) => void) | null = null;

  /**
   * After the agent exited, when the supervisor writes the audit log: the last records have been sent with
   * log(); ask it to close the log, and wait for the chain's head (null when it did not answer in time or
   * is gone). The link is closed afterwards.
   */
  bye(timeoutMs = 10_000): Promise<{ head: string; size: number } | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(null), timeoutMs);
      const done = (head: { head: string; size: number } | null): void => {
        clearTimeout(timer);
        this.byeWaiter = null;
        this.close();
        resolve(head);
      };
      if (!this.socket || this.closedByBroker || this.socket.destroyed) return done(null);
      this.byeWaiter = done;
      this.socket.once('close', () => this.byeWaiter?.(null));
      this.write('BYE\n');
    });
  }

  /** An approval is pending for this request: the supervisor must not time it out. */
  hold(id: number): void {
    this.write(encodeHold(id));
  }

  /**
   * Hold the supervisor's terminal relay ('broker': while the CLI asks the user on the user's terminal,
   * nothing of the agent's is shown and nothing typed reaches the agent, and the terminal has the user's own
   * mode) or resume it ('agent'). Resolves once the supervisor has done it (the agent's output so far is on
   * the screen), or at once when the link is over. Without a terminal it only round-trips.
   */
  terminal(owner: 'broker' | 'agent'): Promise<TerminalRelay | undefined> {
    if (this.ended || !this.socket) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.terminalAcks.push(resolve);
      this.write(encodeTerminal(owner));
    });
  }

  private terminalAcks: ((relay: TerminalRelay | undefined) => void)[] = [];

  private releaseTerminalAcks(): void {
    for (const r of this.terminalAcks.splice(0)) r(undefined);
  }

  /** Forget every cached verdict (the policy changed): later execs of those files are asked again. */
  flushCache(): void {
    // Records of hits under the old verdicts come first in the log.
    this.drainRecords();
    this.write(encodeFlush());
  }

  /** End the session: the supervisor fails closed (kills the agent, exits 126) unless the agent already exited. */
  close(): void {
    this.closedByBroker = true;
    this.ended = true;
    this.releaseTerminalAcks();
    this.socket?.destroy();
    this.closeRecords();
  }

  private openRecords(path: string): void {
    try {
      // (libuv opens every file O_CLOEXEC.) O_NONBLOCK: opening a FIFO for reading never waits, and a read of an empty pipe returns EAGAIN.
      const fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
      this.records = { fd, frame: { partial: [], partialLen: 0, copy: true }, timer: null, delayMs: RECORDS_MIN_MS };
    } catch {
      this.records = null;
    }
  }

  private closeRecords(): void {
    const r = this.records;
    if (!r) return;
    this.records = null;
    if (r.timer) clearTimeout(r.timer);
    try {
      closeSync(r.fd);
    } catch {
      // already closed
    }
  }

  private scheduleDrain(): void {
    const r = this.records;
    if (!r || this.ended) return;
    r.timer = setTimeout(() => {
      r.timer = null;
      const got = this.drainRecords();
      r.delayMs = got > 0 ? RECORDS_MIN_MS : Math.min(this.recordsMaxMs, r.delayMs * 2);
      this.scheduleDrain();
    }, r.delayMs);
    // The socket keeps the process alive while the session runs; the timer alone must not.
    r.timer.unref();
  }

  private drainBuf: Buffer | null = null;
  private recordsMaxMs = RECORDS_MAX_MS;

  /**
   * Read every record the supervisor has put in the pipe so far and handle them, in order. Called on the
   * timer, and before anything from the socket that must not overtake them (an asked EXEC, TIMEOUT, EXIT)
   * or the end of the link. Returns the bytes read.
   */
  private drainRecords(): number {
    const r = this.records;
    if (!r) return 0;
    const buf = (this.drainBuf ??= Buffer.allocUnsafe(256 * 1024));
    let total = 0;
    for (;;) {
      let n: number;
      try {
        n = readSync(r.fd, buf, 0, buf.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break;
        this.protocolError(`reading the record pipe: ${e instanceof Error ? e.message : String(e)}`);
        return total;
      }
      if (n === 0) break; // the supervisor closed its end (it exited)
      total += n;
      // frameLines may hand lines to handlers that end the link: stop then.
      this.frameLines(buf.subarray(0, n), r.frame, true);
      if (this.ended && !this.sawExit) return total;
      if (n < buf.length) break;
    }
    return total;
  }

  private write(line: string): void {
    if (this.ended || !this.socket) return;
    if (this.goPending) {
      // Whatever the caller sends first (a TERMINAL line right after start()) goes after GO: the supervisor
      // takes nothing else before it.
      this.goPending = false;
      this.write('GO\n');
    }
    // The hot path (a VERDICT answering an EXEC): one write(2) on the socket's descriptor, without the
    // stream machinery, when nothing is queued before it (order) and the kernel takes the whole line. Else
    // (a full socket buffer, a partial write, no descriptor) the stream writes it, or its rest, in order. The
    // descriptor is looked up each time: once the handle is closed there is none (never a reused number).
    const fd = (this.socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
    if (typeof fd === 'number' && fd >= 0 && this.socket.writableLength === 0) {
      let n = 0;
      try {
        n = writeSync(fd, line, null, 'latin1');
      } catch {
        n = 0; // EAGAIN: the stream waits for room
      }
      if (n === line.length) return;
      line = line.slice(n);
    }
    this.socket.write(line);
  }

  private onData(chunk: Buffer): void {
    this.frameLines(chunk, this.frame);
  }

  /** Split a chunk into lines (a line may span chunks: its head waits in `st.partial`). */
  private frameLines(chunk: Buffer, st: LineFrame, pipe = false): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NL, start);
      if (nl < 0) break;
      let line: string;
      if (st.partialLen > 0) {
        st.partial.push(chunk.subarray(start, nl));
        line = Buffer.concat(st.partial, st.partialLen + (nl - start)).toString('latin1');
        st.partial = [];
        st.partialLen = 0;
      } else {
        line = chunk.toString('latin1', start, nl);
      }
      start = nl + 1;
      this.onLine(line, pipe);
      if (this.ended) return;
    }
    if (start < chunk.length) {
      st.partial.push(st.copy ? Buffer.from(chunk.subarray(start)) : chunk.subarray(start));
      st.partialLen += chunk.length - start;
      if (st.partialLen > MAX_LINE_BYTES) this.protocolError('line too long');
    }
  }

  private onLine(line: string, pipe = false): void {
    let m: SupervisorMessage;
    try {
      m = decodeSupervisorLine(line);
    } catch (e) {
      this.protocolError(e instanceof WireError ? e.message : String(e));
      return;
    }
    // The record pipe carries the supervisor's records of cached verdicts (RECORD, or EXEC cached=) and
    // nothing else. It had a name while the session started (docs/protocol.md): a line of another kind
    // there — a question, an exit, a socket request — was written by another process.
    if (pipe && m.type !== 'RECORD' && !(m.type === 'EXEC' && m.event.cached)) {
      this.protocolError(`the record pipe carried a ${m.type} line, which only the socket carries: another process wrote to the pipe`);
      return;
    }
    // The keeper's word after the supervisor is gone (native/src/keeper.c): said when the link fails.
    if (m.type === 'REAPED') {
      this.reaped = m;
      return;
    }
    if (!this.started) {
      this.onHandshake?.(m);
      return;
    }
    // (Not through dispatch: no closure per line on the hot path once started.)
    if (this.deferred) this.deferred.push(() => this.onMessage(m));
    else this.onMessage(m);
  }

  private releaseDeferred(): void {
    const queued = this.deferred ?? [];
    this.deferred = null;
    for (const run of queued) run();
    if (this.goPending) {
      this.goPending = false;
      this.write('GO\n');
    }
  }

  /** READY named the agent: it waits, gated, for GO (sent by releaseDeferred). */
  private goPending = false;

  /** Run now, or after start() has resolved when called before (see STARTED). */
  private dispatch(run: () => void): void {
    if (this.deferred) this.deferred.push(run);
    else run();
  }

  /** EXEC lines read from the record pipe so far. */
  private recordsRead = 0;

  private onMessage(m: SupervisorMessage): void {
    if (m.type === 'EXEC' && m.event.cached) this.recordsRead++;
    switch (m.type) {
      case 'RECORD':
        this.recordsRead++;
        this.handlers.record?.(m.record, m.json);
        return;
      case 'EXEC':
        // A supervisor that writes the audit log records every cached hit itself (RECORD): an EXEC cached=
        // would be an exec answered without its record in the log.
        if (m.event.cached && this.writesAudit) return this.protocolError('a cached EXEC from a supervisor that writes the audit log');
        // Cached records written to the pipe before this line was sent come first (a read only when there
        // are some: an empty read costs an exception, ~25 µs warm).
        if ((m.event.piped ?? 0) > this.recordsRead) this.drainRecords();
        this.handlers.exec(m.event);
        return;
      case 'TIMEOUT':
        if (m.piped > this.recordsRead) this.drainRecords();
        this.handlers.timeout(m.id, m.action);
        return;
      case 'WARN':
        this.handlers.warn(m.message);
        return;
      case 'SOCKET':
        if (this.handlers.socket) this.handlers.socket(m.request);
        else this.verdict(m.request.requestId, 'deny', false);
        return;
      case 'SOCKET_REFUSED':
        this.handlers.socketRefused?.(m.refusal);
        return;
      case 'TERMINAL':
        this.terminalAcks.shift()?.(m.relay);
        return;
      case 'STARTED':
        // After READY pid=…: the agent was released (the handshake ended at READY).
        this.agentPid ||= m.pid;
        return;
      case 'FATAL':
        this.fail(`the supervisor failed: ${m.message}`);
        return;
      case 'EXIT':
        // Every record of the session is in the pipe by now (the supervisor wrote them before EXIT).
        this.drainRecords();
        this.closeRecords();
        this.sawExit = true;
        // When the supervisor writes the audit log it waits for the last records and BYE: keep the link.
        if (!this.writesAudit) this.ended = true;
        this.releaseTerminalAcks();
        this.stats = m.stats;
        this.handlers.exit(m.code, m.signal, m.leftovers);
        return;
      case 'BYE':
        this.byeWaiter?.({ head: m.head, size: m.size });
        return;
      default:
        this.protocolError(`unexpected ${m.type} after STARTED`);
    }
  }

  private protocolError(msg: string): void {
    if (!this.started) {
      this.handshakeFail?.(`protocol error: ${msg}`);
      return;
    }
    this.ended = true; // stop reading: nothing after a bad line is trusted
    this.dispatch(() => this.fail(`protocol error from the supervisor: ${msg}`));
  }

  private onClose(): void {
    if (this.sawExit || this.closedByBroker) return;
    // The supervisor is gone; what it recorded before is still in the pipe: keep it.
    this.drainRecords();
    this.closeRecords();
    this.ended = true;
    // Say how the supervisor ended when it is quick to tell; never wait long for it.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), 2000)));
    void Promise.race([this.exited, late]).then((st) => {
      clearTimeout(timer);
      const kept = keeperLine(this.reaped);
      if (this.reaped?.signal) return this.fail(`the supervisor was killed by signal ${this.reaped.signal} without reporting the agent's exit${kept}`);
      if (!st) return this.fail(`the supervisor closed the connection without reporting the agent's exit${kept}`);
      const how = st.signal !== null ? `was killed by signal ${st.signal}` : `exited with code ${st.code}`;
      this.fail(`the supervisor ${how} without reporting the agent's exit${kept}`);
    });
  }

  private fail(msg: string): void {
    this.releaseTerminalAcks();
    if (this.failedReported || this.sawExit || this.closedByBroker) return;
    this.failedReported = true;
    this.ended = true;
    this.socket?.destroy();
    this.closeRecords();
    this.handlers.failed(msg);
  }

  private failedReported = false;

  /** The keeper's REAPED, when the supervisor died (or left processes behind). */
  private reaped: Extract<SupervisorMessage, { type: 'REAPED' }> | null = null;
}

/** What the keeper did about the session's processes when the supervisor was gone, for the failure message
 *  (and so the end record): how many it ended, which, and what it could not end. */
export function keeperLine(r: Extract<SupervisorMessage, { type: 'REAPED' }> | null): string {
  if (!r) return '';
  if (r.ended === 0 && r.remaining === 0) return '; no process of the session was left';
  const names = r.names.length ? ` (${r.names.map(escapeText).join(', ')})` : '';
  const ended = `; ${r.ended} process${r.ended === 1 ? '' : 'es'} of the session ended by the gate's keeper${names}`;
  return r.remaining ? `${ended}; ${r.remaining} could not be ended: in uninterruptible sleep, SIGKILL pending${r.stuck ? ` (${escapeText(r.stuck)})` : ''}` : ended;
}

// The spawners moved to ./spawn (one exit-handling path); re-exported for existing importers.
export { childProcessSpawner, spawnWithChildProcess, type ChildProcessSpawnOptions } from './spawn';

/** The variables `env` could not carry, put back through ENV_SET when the policy keeps them and does not set
 *  them itself (its own `set` comes after, so it wins), and named as removed when it does not keep them. */
function addRawEnvironment(plan: EnvPlan, raw: readonly (readonly [string, string])[], policy: EnvPolicy): void {
  const setByPolicy = new Set(plan.set.map(([k]) => k));
  const back: [string, string][] = [];
  for (const [name, value] of raw) {
    const by = envRemovedBy(name, policy, value);
    if (by !== null) {
      plan.removed.push(name);
      plan.removedBy.push(by);
    } else if (!setByPolicy.has(name)) {
      back.push([name, value]);
    }
  }
  plan.set = [...back, ...plan.set];
}
