// The contract between the broker (src/core/session) and the native supervisor link. See docs/protocol.md.
import type { DecisionRecord } from '../audit/records';
import type { ExecFacts } from '../exec/facts';
import type { EnvPlan } from '../policy/env';
import type { BinaryAction, Grant } from '../policy/types';

export interface SupervisorConfig {
  fs: { handled: string; grants: Grant[] } | null;
  net: {
    connect: boolean;
    bind: boolean;
    ports: { port: number; connect: boolean; bind: boolean }[];
    /** Resolvers the agent may query (port 53, UDP and TCP) when DNS is allowed. */
    dns?: string[];
  } | null;
  /** The session's own directory, the one place the agent may make sockets and FIFOs (socket-dir.ts);
   *  absent: nowhere. */
  socketDir?: { path: string; rights: string } | null;
  /** [unix_sockets] seals: Landlock RESOLVE_UNIX grants (ABI 9; prefixes of the allow globs). */
  unix?: { grants: string[] } | null;
  /** [loopback] seals: services on this host outside the gate (LOOPBACK_*, docs/protocol.md). */
  loopback?: { connectPorts: number[]; acceptPorts: number[]; resolvers: string[] } | null;
  require: { fs: boolean; net: boolean; unix?: boolean };
  timeout: { ms: number; action: BinaryAction };
  /** The agent's environment, decided by the link once the supervisor has said which names it has (HELLO). */
  envPlan?: EnvPlan;
  /** Leave the session's other processes running when the agent exits (counted, not ended). */
  keepLeftovers?: boolean;
  /** Workspace paths tools outside the gate run (src/core/protect/guard.ts) that exist: read-only in a root
   *  agent's mount namespace (native/src/mountns.c). */
  protect?: string[];
}

/** What the agent left running when it exited (EXIT leftovers=…). */
export interface Leftovers {
  /** Processes of the session still there when the agent exited (ended, or kept). */
  count: number;
  /** Kept running (keep_leftovers); they can exec nothing once the supervisor is gone. */
  kept: boolean;
  /** Could not be ended: every one left sat in uninterruptible sleep (state D) for seconds, SIGKILL pending. */
  remaining: number;
  /** Which ones those were and where in the kernel (`pid N in WCHAN`, read from /proc), when any. */
  stuck?: string;
  /** Command names of the first 20. */
  names: string[];
}

export type { EnforcementReport } from '../exec/enforcement';

/** A started process the link can watch and signal: child_process in the CLI, node-pty in VS Code. */
export interface SupervisorProcess {
  readonly pid: number;
  onExit(listener: (code: number | null, signal: number | null) => void): void;
  kill(signal?: NodeJS.Signals): void;
}

export type SpawnSupervisor = (file: string, args: string[], env: NodeJS.ProcessEnv) => SupervisorProcess;

export interface ExecEvent {
  facts: ExecFacts;
  /** CLOCK_MONOTONIC µs at which the supervisor received the notification. */
  receivedAtUs: number;
  /** Set when the supervisor already answered from its identity cache (the event is then a record only). */
  cached: { action: BinaryAction; latencyUs: number } | null;
  /** On a line from the socket: how many records the supervisor had written to the record pipe before it (the
   *  broker drains the pipe first when it has read fewer). */
  piped?: number;
}

/** A connect to a unix socket no process of this session made: the supervisor waits for a VERDICT. */
export interface SocketRequest {
  requestId: number;
  tid: number;
  pid: number;
  op: 'connect';
  type: string;
  /** The name as the agent gave it (lossless text of the bytes), and for a path the canonical path. */
  name: string;
  abstract: boolean;
  canonical: string | null;
}

/** Something the supervisor refused by itself ([network]: a port, a UDP destination, listen(2)…). */
export interface SocketRefusal {
  tid: number;
  pid: number;
  op: string;
  family: string;
  address: string | null;
  port: number | null;
  reason: string;
}

export interface SupervisorLinkHandlers {
  /** A SOCKET request: answer with link.verdict(requestId, …). Without a handler, the link denies it. */
  socket?(req: SocketRequest): void;
  socketRefused?(ev: SocketRefusal): void;
  exec(event: ExecEvent): void;
  /** A cached verdict's decision record, written by the supervisor (RECORD; only when the link was started
   *  with a `recordSession`). `json` is `record` serialized, as the supervisor wrote it. */
  record?(record: DecisionRecord, json: string): void;
  timeout(requestId: number, action: BinaryAction): void;
  warn(message: string): void;
  /** The agent exited: code, or signal number (0 when none). */
  exit(code: number, signal: number, leftovers?: Leftovers): void;
  /** The link broke (protocol error, supervisor died): the session is over and fails closed. */
  failed(message: string): void;
}
