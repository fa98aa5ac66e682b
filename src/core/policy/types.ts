// Public types of the policy engine (src/core/policy). The broker, the CLI and the extension depend only on
// these and on the functions exported from ./index.ts.
import type { ExecFacts } from '../exec/facts';
import type { DiagnosticCode } from './diagnostic-codes';
import type { EnvPolicy } from './env';
import type { LoopbackPolicy, UnixSocketPolicy } from './sockets';

export type { EnvPolicy, LoopbackPolicy, UnixSocketPolicy };

export type Action = 'allow' | 'deny' | 'ask';
export type BinaryAction = 'allow' | 'deny';

export type { DiagnosticCode } from './diagnostic-codes';

/** A range in the policy text: 1-based line and column (UTF-16 code units), end column exclusive. */
export interface SourceRange {
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
}

/** A machine-readable fix: replace `range` with `newText`. The editor offers it as a quick fix. */
export interface Fix {
  title: string;
  range: SourceRange;
  newText: string;
  /** The fix to apply when the user asks for "the" fix (VS Code's preferred quick fix). */
  preferred?: boolean;
}

export interface Diagnostic {
  severity: 'error' | 'warning';
  /** Stable machine-readable code (see diagnostic-codes.ts). */
  code: DiagnosticCode;
  message: string;
  file: string;
  /** 1-based line and column of the offending key or value. */
  line: number;
  column: number;
  /** End of the range (1-based, exclusive column), when known — for editor squiggles. */
  endLine?: number;
  endColumn?: number;
  ruleId?: string;
  /** Fixes, best first, when the problem has a mechanical one. */
  fixes?: Fix[];
}

/** A Landlock path-beneath grant: `rights` is a subset of 'rwxl' ('l': list directories only; see docs/protocol.md). */
export interface Grant {
  path: string;
  rights: string;
  /** The glob or flag this grant came from, for messages. */
  source: string;
  /** True when the grant is broader than the glob it came from (a glob widened to its static prefix). */
  widened: boolean;
  /** A piece of a read grant on / (split around /dev, see landlock.ts): the user granted reads everywhere. */
  everywhere?: boolean;
}

export interface FilesystemPolicy {
  /** False when the policy has no [filesystem] table and no CLI grants: Landlock fs sealing is off. */
  enabled: boolean;
  grants: Grant[];
  /** Access classes restricted by Landlock, subset of 'rwx'. */
  handled: string;
  requireEnforced: boolean;
  /** Directories made before the agent starts when missing (create_dirs), so their grants apply. */
  createDirs?: string[];
}

export interface NetworkPolicy {
  enabled: boolean;
  connectTcpPorts: number[];
  bindTcpPorts: number[];
  requireEnforced: boolean;
  /** DNS to dnsServers (UDP and TCP, port 53) is allowed when the network is sealed. */
  dns?: boolean;
  dnsServers?: string[];
}

export interface ApprovalPolicy {
  timeoutMs: number;
  onTimeout: BinaryAction;
  maxPending: number;
  maxPerMinute: number;
}

export interface PolicyMeta {
  version: number;
  defaultAction: Action;
  onPolicyError: BinaryAction;
  onSupervisorTimeoutMs: number;
}

/** [session]: how the agent's session runs. */
export interface SessionPolicy {
  /** A root agent may start without filesystem write sealing (refused by default: see GateSession.start). */
  allowRootWithoutFilesystem: boolean;
  /** Processes the agent leaves running outlive the session (counted, not ended). */
  keepLeftovers: boolean;
}

/** The outcome of evaluating one exec. */
export interface Decision {
  action: Action;
  /** Deciding rule id, or null when the default action decided. */
  ruleId: string | null;
  reason: string;
  /** `gate`: the gate's own refusal before any rule (execute-set.ts): an anonymous file or a program outside
   *  the execute set, or a dynamic loader's program that cannot be resolved. */
  layer: 'rule' | 'default' | 'gate';
  /** Match keys of the deciding rule that matched, e.g. ['exe_basename', 'argv_regex']. */
  matched: string[];
  /**
   * True when this verdict depends only on the executable's identity (not argv, cwd, parent, uid or the
   * name it was invoked by), so the supervisor may reuse it for later execs of the same file.
   */
  cacheable: boolean;
}

export interface Policy {
  file: string;
  meta: PolicyMeta;
  filesystem: FilesystemPolicy;
  network: NetworkPolicy;
  approval: ApprovalPolicy;
  session: SessionPolicy;
  /** Rule ids in order, for UI. */
  ruleIds: string[];
  /** [env]: the agent's environment (absent: the built-in channel list only, see env.ts). */
  env?: EnvPolicy;
  /** [unix_sockets] (absent: sealed, nothing outside allowed; see sockets.ts). */
  unixSockets?: UnixSocketPolicy;
  /** [loopback] (absent: sealed, nothing outside allowed; see sockets.ts). */
  loopback?: LoopbackPolicy;
  /** [agent]: present in an agent profile (policies/agents/), and in a policy merged with one. */
  agent?: AgentSection;
}

/** [agent] of an agent profile, with ${VAR} expanded in its paths (src/core/agents/profiles.ts uses it). */
export interface AgentSection {
  id: string;
  name: string;
  commands: string[];
  /** node_modules-relative ('@scope/pkg/bin/x') or absolute paths, `*` within one segment. */
  executables: string[];
  prependArgs: string[];
  /** Absolute path and initial content (`{}` for a .json file, else empty). */
  createFiles: [string, string][];
  neverWrite: string[];
  notes: string[];
  docs?: string;
  /** The profile file it came from. */
  file: string;
}

export interface LoadedPolicy {
  /** Null when there are errors. */
  policy: Policy | null;
  diagnostics: Diagnostic[];
}

export interface Evaluator {
  evaluate(facts: ExecFacts): Decision;
  /**
   * Sizes of every program the rules know by content (exe and exe_basename values found at load time). A
   * file of any other size cannot match a rule by its hash, so the supervisor need not hash it (HASH_SIZES
   * in docs/protocol.md). Absent: the supervisor hashes every file in a writable place.
   */
  contentSizes?(): number[];
}
