// Everything decided before a guarded session starts, in one place for the CLI (`agent-gate run`, `check`,
// `explain`) and the VS Code terminal:
//   - which policy file is in force: --policy, else <workspace>/.gate.toml (only in a trusted workspace), else
//     the shipped default — and why, in words;
//   - ${WORKSPACE}: the directory the agent runs in (--workspace, else the current directory / the terminal's
//     folder), never the policy's directory;
//   - where the audit log goes (src/core/audit/paths.ts) and where the supervisor binary is;
//   - loading the policy for a run, and what the kernel must enforce (which gaps are fatal);
//   - the start banner: the policy, what the kernel enforces, where the audit log is;
//   - the reason a session could not start, in words.
import { makeSocketDir, removeSocketDir, socketDirCandidates } from './socket-dir';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { escapeText } from '../audit/display';
import type { SocketRecord } from '../audit/records';
import { auditPathFor, defaultAuditDirectory, defaultHeadDirectory } from '../audit/paths';
import type { EnforcementReport } from '../exec/enforcement';
import { createEvaluator, defaultEvaluationContext, defaultPolicyPath, formatDiagnostic, loadPolicyText, PolicyEvaluator, type AgentSection, type CliGrants, type Diagnostic, type Evaluator, type FilesystemPolicy, type Policy } from '../policy/index';
import { DerivedCache } from '../policy/derived-cache';
import { envRemovedWhy } from '../policy/env';
import { isUnder, realpathOfNearest } from './canonical';
import type { Approver } from './approvals';
import { gateEnvFiles, GateSession, GateSetupError, newSessionId, type GateFile, type StartLink } from './session';
import { applyAgentProfile, prepareState } from '../agents/profiles';
import { textToBytes } from '../exec/facts';
import { spawnable } from '../exec/raw-process';
import { SupervisorLink } from './supervisor-link';
import type { SpawnSupervisor } from './types';

export type PolicySourceKind = 'explicit' | 'workspace' | 'default';

export interface PolicySource {
  /** Absolute path of the policy file. */
  file: string;
  kind: PolicySourceKind;
  /** Why this file, in words: "given with --policy", "the workspace's .gate.toml", "no .gate.toml in /w". */
  why: string;
}

export interface PolicySourceOptions {
  /** A policy named by the user (--policy); relative to `cwd`. */
  explicit?: string;
  /** How the front end names an explicit policy in `why` (default "given with --policy"). */
  explicitWhy?: string;
  /** The directory the agent runs in. */
  workspace: string;
  cwd?: string;
  /** False in an untrusted workspace: its .gate.toml is never read (a cloned repository must not loosen the
   *  gate), and the shipped default is used. */
  trusted?: boolean;
  /** For tests. */
  exists?: (file: string) => boolean;
  defaultPolicy?: string;
}

/** The one rule for which policy file is in force. */
export function resolvePolicySource(o: PolicySourceOptions): PolicySource {
  const exists = o.exists ?? ((f: string): boolean => fs.existsSync(fsPath(f)));
  const fallback = o.defaultPolicy ?? defaultPolicyPath();
  if (o.explicit !== undefined) return { file: path.resolve(o.cwd ?? process.cwd(), o.explicit), kind: 'explicit', why: o.explicitWhy ?? 'given with --policy' };
  const local = path.join(o.workspace, '.gate.toml');
  if (o.trusted === false) {
    return {
      file: fallback,
      kind: 'default',
      why: exists(local) ? `the workspace is not trusted, so its .gate.toml is not used` : 'the workspace is not trusted',
    };
  }
  if (exists(local)) return { file: local, kind: 'workspace', why: "the workspace's .gate.toml" };
  return { file: fallback, kind: 'default', why: `no .gate.toml in ${o.workspace}` };
}

/** A path in text that keeps bytes (bytesToText) as fs takes it: bytes that are not UTF-8 go as a Buffer. */
function fsPath(text: string): string | Buffer {
  return spawnable(text) ? text : textToBytes(text);
}

/** ${WORKSPACE}: --workspace, else the current directory. Never the policy's directory. */
export function resolveWorkspace(explicit: string | undefined, cwd: string = process.cwd()): string {
  return path.resolve(cwd, explicit ?? '.');
}

/** The native supervisor: given, else $AGENT_GATE_SUPERVISOR, else next to the bundle (dist/). */
export function supervisorPathFor(explicit?: string, env: NodeJS.ProcessEnv = process.env, bundleDir: string = __dirname): string {
  return path.resolve(explicit ?? (env.AGENT_GATE_SUPERVISOR || path.join(bundleDir, 'agent-gate-supervisor')));
}

/** The gate's own files as installed beside this bundle (dist/): the bundle directory (the CLI's loader, bundle
 *  and V8 code cache, or the extension's code), the supervisor, and beside dist/ the shipped policies and
 *  profiles, the launcher (bin/) and the package manifest (which names the code Node or VS Code loads). The
 *  session refuses to start when any is inside a write grant (GateSession gateFilesPlacement, red-team R70). */
export function gateOwnFiles(supervisorPath: string, bundleDir: string = __dirname, exists: (p: string) => boolean = fs.existsSync): GateFile[] {
  const root = path.dirname(bundleDir);
  const out: GateFile[] = [
    { path: bundleDir, what: "the gate's code (loader, bundle, V8 code cache)" },
    { path: supervisorPath, what: 'the native supervisor' },
  ];
  if (exists(path.join(root, 'policies'))) out.push({ path: path.join(root, 'policies'), what: 'the shipped policies and agent profiles' });
  if (exists(path.join(root, 'bin'))) out.push({ path: path.join(root, 'bin'), what: 'the launcher' });
  if (exists(path.join(root, 'package.json'))) out.push({ path: path.join(root, 'package.json'), what: 'the package manifest (it names the code that is loaded)' });
  return out;
}

/** Null when the supervisor can run; else what is wrong and what to do. */
export function checkSupervisor(file: string): string | null {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return null;
  } catch {
    return `the native supervisor ${file} is missing or not executable: run npm run build (or reinstall the extension)`;
  }
}

/** FILE:LINE:COL: severity: message [code] — the one format for diagnostics on a terminal (the policy engine's). */
export { formatDiagnostic };

export interface RunPolicy {
  policy: Policy;
  /** The text the policy was loaded from: the policy in force for the whole session. */
  text: string;
  evaluator: Evaluator;
  /** Warnings (errors make the load fail). */
  diagnostics: Diagnostic[];
}

export type RunPolicyResult = ({ ok: true } & RunPolicy) | { ok: false; error: string; diagnostics: Diagnostic[] };

export interface RunPolicyOptions {
  workspace: string;
  grants?: CliGrants;
  /** The text to load instead of reading the file (the text the user reviewed and accepted). */
  text?: string;
  env?: NodeJS.ProcessEnv;
}

/** Load the policy for a run: once, from `text` or the file; any error refuses the run (fail closed). */
export function loadRunPolicy(file: string, o: RunPolicyOptions): RunPolicyResult {
  let text = o.text;
  if (text === undefined) {
    try {
      text = fs.readFileSync(fsPath(file), 'utf8');
    } catch (e) {
      const msg = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message;
      return { ok: false, error: `cannot read the policy ${file}: ${msg}`, diagnostics: [] };
    }
  }
  const loaded = loadPolicyText(text, file, { cliGrants: o.grants ?? {}, workspace: o.workspace, ...(o.env ? { env: o.env } : {}) });
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
  if (!loaded.policy || errors.length > 0) {
    const first = errors[0];
    return {
      ok: false,
      error: `the policy ${file} has ${errors.length || 'an'} error${errors.length === 1 ? '' : 's'}${first ? ` (first: line ${first.line}: ${first.message})` : ''}; nothing runs until it is fixed (agent-gate check --policy ${file})`,
      diagnostics: loaded.diagnostics,
    };
  }
  const policy = loaded.policy;
  let evaluator: Evaluator | undefined;
  // Made on first use: a run merges an agent profile first and evaluates the merged policy instead, and
  // resolving every program the rules name costs milliseconds of start-up.
  return {
    ok: true,
    policy,
    text,
    get evaluator(): Evaluator {
      return (evaluator ??= createEvaluator(policy));
    },
    diagnostics: loaded.diagnostics,
  };
}

/**
 * What the kernel must enforce for this policy. A gap in sealing the policy asks for with require_enforced
 * (the default) is fatal: the supervisor refuses to start (REQUIRE, FATAL). Without exec gating (seccomp user
 * notification, or a listener already in place: WSL2, a gate in a gate) nothing ever runs. Everything else
 * is a gap that is reported and not fatal: enforcementGaps().
 */
export function enforcementGaps(report: EnforcementReport, policy: Policy): string[] {
  const good: Record<string, string[]> = {
    fs: ['enforced'],
    net: ['enforced'],
    scope_signal: ['enforced'],
    scope_abstract_unix: ['enforced'],
    notif: ['ok'],
    wait_killable: ['1'],
    unix: ['mediated', 'landlock', 'off'],
    loopback: ['sealed', 'off'],
  };
  const gaps: string[] = [];
  for (const [key, ok] of Object.entries(good)) {
    const v = report[key];
    // Sealing the policy does not ask for is not a gap.
    if ((key === 'fs' && !policy.filesystem.enabled) || (key === 'net' && !policy.network.enabled)) continue;
    if (v !== undefined && !ok.includes(v)) gaps.push(`${key}=${v}`);
  }
  return gaps;
}

/** What the kernel enforces for this session, in words, in one line. */
export function describeEnforcement(report: EnforcementReport, policy: Policy): string {
  const parts: string[] = [];
  const notif = report.notif;
  parts.push(notif === 'ok' || notif === undefined ? `exec gate on${report.wait_killable === '0' ? ' (no killable wait: a signalled exec may be asked twice)' : ''}` : `exec gate ${notif}`);
  const abi = Number(report.landlock_abi ?? 0);
  const fsPol = policy.filesystem;
  const ll: string[] = [];
  if (!fsPol.enabled) ll.push('files not sealed (no [filesystem] in the policy)');
  else {
    const sealed: string[] = [];
    if (fsPol.handled.includes('w')) {
      const places = fsPol.grants.filter((g) => g.rights.includes('w') && g.source !== 'bootstrap').map((g) => g.path);
      sealed.push(places.length === 0 ? 'no writes' : `writes only to ${places.slice(0, 4).join(', ')}${places.length > 4 ? ` and ${places.length - 4} more` : ''}`);
    }
    if (fsPol.handled.includes('r')) sealed.push('reads sealed');
    if (fsPol.handled.includes('x')) sealed.push('execution sealed');
    ll.push(`${sealed.join(', ') || 'files'} (${report.fs ?? 'unknown'})`);
  }
  const net = policy.network;
  if (!net.enabled) ll.push('network not sealed (no [network])');
  else {
    const ports = net.connectTcpPorts.length ? `connect to ${net.connectTcpPorts.join(',')}` : 'no TCP connect';
    ll.push(`TCP ${ports}${net.bindTcpPorts.length ? `, bind ${net.bindTcpPorts.join(',')}` : ''} (${report.net ?? 'unknown'})`);
    if (report.net_filter === 'sealed') ll.push(report.dns === 'resolvers' ? 'UDP only DNS to the resolvers' : 'no UDP');
  }
  const scope = [report.scope_signal === 'enforced' ? 'signals' : '', report.scope_abstract_unix === 'enforced' ? 'abstract sockets' : ''].filter(Boolean);
  ll.push(scope.length ? `${scope.join(' and ')} scoped` : 'no signal/socket scoping');
  parts.push(abi > 0 ? `Landlock ABI ${abi}: ${ll.join('; ')}` : `no Landlock: ${ll.join('; ')}`);
  const unix = report.unix;
  if (unix !== undefined) {
    parts.push(
      unix === 'off'
        ? 'unix sockets not sealed ([unix_sockets] allow has "/**")'
        : unix === 'mediated' || unix === 'landlock'
          ? `unix sockets outside the gate refused (${unix})`
          : `unix sockets ${unix}`,
    );
  }
  const loopback = report.loopback;
  if (loopback !== undefined) {
    parts.push(
      loopback === 'sealed'
        ? "services on this host outside the gate refused ([loopback])"
        : loopback === 'off'
          ? 'services on this host not sealed ([loopback] sealed = false)'
          : `services on this host ${loopback}`,
    );
  }
  // Where the agent can make a socket or FIFO a program outside the gate might connect to (socket-dir.ts).
  const made = report.sockets;
  if (made === 'sealed') parts.push('sockets and FIFOs made only in the session\'s TMPDIR');
  else if (made === 'partial') parts.push('sockets and FIFOs made only in the session\'s TMPDIR (writes not sealed: a directory holding one can be moved)');
  else if (made !== undefined) parts.push(`sockets and FIFOs can be made wherever the agent writes (${made})`);
  return parts.join(' · ');
}

export interface BannerInput {
  source: PolicySource;
  policy: Policy;
  report: EnforcementReport;
  auditFile: string;
  /** Environment variables removed before the agent started (the [env] filter: GateSession.envRemoved). */
  envRemoved?: readonly string[];
  /** Of those, the ones whose value held a URL with a user or password (GateSession.envRemovedUrl). */
  envRemovedUrl?: readonly string[];
  /** Of those, the ones whose value held a token of a known shape (GateSession.envRemovedToken). */
  envRemovedToken?: readonly string[];
  /** The agent profile in use, when there is one. */
  agent?: string;
}

/** The start banner: at most three lines, without prefix or newlines (the CLI prefixes `agent-gate: `). */
export function startBanner(b: BannerInput): string[] {
  const policy = b.source.kind === 'default' ? `policy: built-in default ${b.source.file} (${b.source.why})` : `policy: ${b.source.file}${b.source.kind === 'explicit' ? ` (${b.source.why})` : ''}`;
  const agent = b.agent ? `; agent profile: ${b.agent}` : '';
  const removed = (b.envRemoved ?? []).map(escapeText);
  const env = removed.length === 0 ? '' : `; removed from the agent's environment: ${removed.join(', ')} (${envRemovedWhy((b.envRemovedUrl ?? []).map(escapeText), (b.envRemovedToken ?? []).map(escapeText))})`;
  return [`${policy}${agent}`, `kernel: ${describeEnforcement(b.report, b.policy)}`, `audit log: ${b.auditFile}${env}`];
}

/** A socket the gate refused (or, verbose, an outside one the policy let through), in one line for the
 *  terminal: what, to where, why. The caller prefixes it and limits how many it shows. */
export function socketLine(r: SocketRecord): string {
  const what = r.target ? ` to ${escapeText(r.target)}` : '';
  return `${r.verdict === 'deny' ? 'refused' : 'allowed'} ${r.op}${what}: ${escapeText(r.reason)}`;
}

/**
 * Why the gate could not start, in words, with what to do. `message` is the supervisor's or the session's;
 * the kernel's own reasons (no user notification, EBUSY: WSL2 or a gate inside a gate, a missing Landlock
 * feature the policy requires) get their explanation.
 */
export function explainStartFailure(message: string): string {
  if (/ebusy|listener busy|already (has|holds) a (seccomp )?listener/i.test(message)) {
    return `${message}\nSomething already supervises this process tree with a seccomp listener (WSL2's init, or a gate inside a gate), and there can be only one. Agent Gate does not run ungated: use a Linux VM or a Dev Container on a Linux host, or run the agent outside the other gate.`;
  }
  if (/user notification|SECCOMP_FILTER_FLAG_NEW_LISTENER|notif=unsupported/i.test(message)) {
    return `${message}\nThe kernel cannot stop execs for a verdict (seccomp user notification needs Linux 5.9+). Agent Gate does not run ungated.`;
  }
  if (/requires (filesystem|network) enforcement/i.test(message)) {
    return `${message}\nThe policy requires sealing this kernel cannot do (require_enforced = true). Upgrade the kernel (or enable Landlock: lsm=…,landlock), or set require_enforced = false in [filesystem] / [network] to run with the gap reported.`;
  }
  return message;
}

export interface LaunchOptions {
  /** The agent's command line. */
  argv: string[];
  /** The agent profile (policies/agents/: "claude", "codex", "gemini", "aider", "shell", or a profile file),
   *  merged into the policy; null: none; absent: the profile of the agent the program is, if any. */
  agent?: string | null;
  /** The directory the agent runs in: ${WORKSPACE}. */
  workspace: string;
  /** Where a relative program path is looked up (default: the workspace). */
  cwd?: string;
  /** --policy, or a policy chosen by the front end. */
  policyFile?: string;
  policyFileWhy?: string;
  /** False: an untrusted workspace (its .gate.toml is never read). Default true. */
  trusted?: boolean;
  /** The policy text to use (reviewed and accepted by the user); else the file is read once, now. */
  policyText?: string;
  grants?: CliGrants;
  /** The audit log; else `<auditDir>/audit-<session>.jsonl`. */
  auditPath?: string;
  auditDir?: string;
  /** Where the audit log's chain head is kept (out of the agent's reach); else `<auditDir>/heads`. */
  headDir?: string;
  supervisorPath?: string;
  /** The environment the agent would inherit. */
  env: NodeJS.ProcessEnv;
  /** Variables `env` cannot carry because they are not UTF-8 (rawEnvironment() in src/core/exec/raw-process.ts):
   *  given to the agent as the bytes they are. */
  rawEnv?: readonly (readonly [string, string])[];
  sessionId?: string;
  /** Overrides for tests (which policy is the shipped default). */
  defaultPolicy?: string;
  /** The derived-data cache's directory (derived-cache.ts; the CLI: derivedCacheDirectory()): used only when
   *  the policy seals writes and no write grant reaches it. Absent: everything is computed. */
  derivedCacheDir?: string;
}

/** A run ready to start: every decision made, nothing started yet. */
export interface LaunchPlan {
  sessionId: string;
  /** The command line to start (an agent profile may have put arguments after the program name). */
  argv: string[];
  /** The agent profile's display name, or null. */
  agent: string | null;
  /** The agent profile merged in, why it was chosen, what it added to the command line and what it says. */
  agentProfile: { section: AgentSection; why: string; prepended: string[]; executables: string[] } | null;
  workspace: string;
  source: PolicySource;
  policy: Policy;
  text: string;
  evaluator: Evaluator;
  diagnostics: Diagnostic[];
  auditPath: string;
  /** Where the audit log's chain head is kept (`agent-gate audit verify` looks there). */
  headDir: string;
  supervisorPath: string;
  /** The environment given to the supervisor; it removes what the [env] policy says before the agent starts
   *  (GateSession.envRemoved names what went). */
  env: NodeJS.ProcessEnv;
  rawEnv?: readonly (readonly [string, string])[];
  /** The derived-data cache this start uses (its execute plan, and saving what was new), when it may. */
  derived?: DerivedCache;
}

export type LaunchPlanResult = ({ ok: true } & LaunchPlan) | { ok: false; error: string; diagnostics: Diagnostic[]; source: PolicySource | null };

/** Decide everything about a run: policy (loaded), audit path, supervisor, environment. Starts nothing. */
export function planLaunch(o: LaunchOptions): LaunchPlanResult {
  const supervisorPath = supervisorPathFor(o.supervisorPath, o.env);
  const bad = checkSupervisor(supervisorPath);
  if (bad) return { ok: false, error: bad, diagnostics: [], source: null };
  const source = resolvePolicySource({
    ...(o.policyFile !== undefined ? { explicit: o.policyFile } : {}),
    ...(o.policyFileWhy !== undefined ? { explicitWhy: o.policyFileWhy } : {}),
    workspace: o.workspace,
    cwd: o.workspace,
    ...(o.trusted !== undefined ? { trusted: o.trusted } : {}),
    ...(o.defaultPolicy !== undefined ? { defaultPolicy: o.defaultPolicy } : {}),
  });
  const loaded = loadRunPolicy(source.file, {
    workspace: o.workspace,
    ...(o.grants ? { grants: o.grants } : {}),
    ...(o.policyText !== undefined ? { text: o.policyText } : {}),
    env: o.env,
  });
  if (!loaded.ok) return { ok: false, error: loaded.error, diagnostics: loaded.diagnostics, source };
  const applied = applyAgentProfile(loaded.policy, {
    ...(o.agent !== undefined ? { agent: o.agent } : {}),
    argv: o.argv,
    cwd: o.cwd ?? o.workspace,
    workspace: o.workspace,
    env: o.env,
    ...(o.grants ? { cliGrants: o.grants } : {}),
  });
  if (!applied.ok) return { ok: false, error: applied.error, diagnostics: [...loaded.diagnostics, ...applied.diagnostics], source };
  const sessionId = o.sessionId ?? newSessionId();
  const derived = o.derivedCacheDir !== undefined && derivedCacheUsable(o.derivedCacheDir, applied.policy.filesystem) === null
    ? DerivedCache.open(o.derivedCacheDir, { policy: applied.policy, path: process.env.PATH ?? '', cwd: o.cwd ?? o.workspace, workspace: o.workspace })
    : undefined;
  const evaluator = derived ? new PolicyEvaluator(applied.policy, derived.context(defaultEvaluationContext(applied.policy.filesystem))) : applied.agent ? createEvaluator(applied.policy) : loaded.evaluator;
  return {
    ok: true,
    sessionId,
    argv: applied.argv,
    agent: applied.agent?.name ?? null,
    agentProfile: applied.agent ? { section: applied.agent, why: applied.why, prepended: applied.prepended, executables: applied.executables } : null,
    workspace: o.workspace,
    source,
    policy: applied.policy,
    text: loaded.text,
    evaluator,
    diagnostics: [...loaded.diagnostics, ...applied.diagnostics],
    auditPath: path.resolve(o.auditPath ?? auditPathFor(sessionId, o.auditDir ?? defaultAuditDirectory(o.env))),
    headDir: path.resolve(o.headDir ?? defaultHeadDirectory(o.auditDir ?? defaultAuditDirectory(o.env))),
    supervisorPath,
    env: o.env,
    ...(o.rawEnv?.length ? { rawEnv: o.rawEnv } : {}),
    ...(derived ? { derived } : {}),
  };
}

/** The derived-data cache's directory: beside the accepted policies and the audit logs. */
export function derivedCacheDirectory(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(defaultAuditDirectory(env), 'derived-cache');
}

/**
 * Null when the cache in `dir` may be used under this policy; else why not. An agent that could write there
 * could plant an entry that leaves a denied program in the execute set, so: not when writes are not sealed,
 * and not when a write grant covers the directory or lies inside it.
 */
export function derivedCacheUsable(dir: string, fsPolicy: FilesystemPolicy): string | null {
  if (!fsPolicy.enabled || !fsPolicy.handled.includes('w')) return 'filesystem writes are not sealed';
  const real = realpathOfNearest(dir);
  for (const g of fsPolicy.grants) {
    if (!g.rights.includes('w')) continue;
    const root = realpathOfNearest(g.path);
    if (isUnder(real, root) || isUnder(root, real)) return `the agent may write ${g.path} (${g.source})`;
  }
  return null;
}

export interface StartOptions {
  approver: Approver;
  spawn: SpawnSupervisor;
  onWarning?: (message: string) => void;
  /** Default SupervisorLink.start. */
  startLink?: StartLink;
  recordsMaxDelayMs?: number;
  /** A root agent may run without filesystem write sealing (--allow-root-without-filesystem). */
  allowRootWithoutFilesystem?: boolean;
  /** Leave what the agent left running (--keep-leftovers). */
  keepLeftovers?: boolean;
  /** What was made before the start so that grants apply (prepareState), and what was left out. */
  onPrepared?: (state: { created: string[]; skipped: string[]; failed: string[] }) => void;
  /** More of the gate's own files than gateOwnFiles finds (the CLI: the script it was started as, Node). */
  gateFiles?: readonly GateFile[];
}

/**
 * Start the planned session. Throws GateSetupError (with explainStartFailure's words) when it cannot. First the
 * state directories and files the grants need are made (create_dirs, an agent profile's create_files:
 * Landlock grants only paths that exist); `o.onPrepared` hears what was made.
 */
export async function startPlannedSession(plan: LaunchPlan, o: StartOptions): Promise<GateSession> {
  const state = prepareState(plan.policy);
  o.onPrepared?.(state);
  for (const f of state.failed) o.onWarning?.(`cannot make ${f}: its grant does not apply`);
  // The one place the agent may make sockets and FIFOs, and its TMPDIR (socket-dir.ts).
  const sockets = makeSocketDir(state.policy.filesystem, socketDirCandidates(plan.env, plan.auditPath), plan.env);
  for (const w of sockets.warnings) o.onWarning?.(w);
  try {
    return await GateSession.start({
      ...(sockets.path ? { socketDir: { path: sockets.path, rights: sockets.rights } } : {}),
      policy: state.policy,
      evaluator: plan.evaluator,
      policyText: plan.text,
      auditPath: plan.auditPath,
      headDir: plan.headDir,
      approver: o.approver,
      supervisorPath: plan.supervisorPath,
      spawn: o.spawn,
      startLink: o.startLink ?? ((opts) => SupervisorLink.start(opts)),
      argv: plan.argv,
      env: plan.env,
      ...(plan.rawEnv?.length ? { rawEnv: plan.rawEnv } : {}),
      sessionId: plan.sessionId,
      ...(o.onWarning ? { onWarning: o.onWarning } : {}),
      ...(o.recordsMaxDelayMs !== undefined ? { recordsMaxDelayMs: o.recordsMaxDelayMs } : {}),
      ...(o.allowRootWithoutFilesystem ? { allowRootWithoutFilesystem: true } : {}),
      ...(o.keepLeftovers ? { keepLeftovers: true } : {}),
      workspace: plan.workspace,
      gateFiles: [...gateOwnFiles(plan.supervisorPath), ...gateEnvFiles(plan.env), ...(o.gateFiles ?? [])],
      ...(plan.derived ? { derived: plan.derived } : {}),
    });
  } catch (e) {
    if (sockets.path) removeSocketDir(sockets.path);
    if (e instanceof GateSetupError) throw new GateSetupError(explainStartFailure(e.message));
    throw e;
  }
}

/**
 * Where an "always allow / always deny" rule goes for a session planned as `plan`, and the text it goes into:
 * the policy file in force, read now (what the user would edit); with the built-in default in force, a new
 * `<workspace>/.gate.toml` made from the default's text. `refusal` says, in words, why no rule can be written
 * (an untrusted workspace's own .gate.toml is never used, so a rule written there would not apply).
 */
export interface RuleTarget {
  file: string;
  text: string;
  /** The file does not exist yet: it is made from the default policy's text. */
  fromDefault: boolean;
  refusal: string | null;
}

export function ruleTarget(plan: Pick<LaunchPlan, 'source' | 'workspace' | 'text'>, exists: (file: string) => boolean = (f) => fs.existsSync(fsPath(f))): RuleTarget {
  if (plan.source.kind !== 'default') {
    let text = plan.text;
    try {
      text = fs.readFileSync(fsPath(plan.source.file), 'utf8');
    } catch {
      // Gone meanwhile: the rule goes into the text in force.
    }
    return { file: plan.source.file, text, fromDefault: false, refusal: null };
  }
  const file = path.join(plan.workspace, '.gate.toml');
  if (exists(file)) {
    return { file, text: plan.text, fromDefault: true, refusal: `${file} exists but is not in force (${plan.source.why}): trust the workspace, or edit it by hand` };
  }
  return { file, text: plan.text, fromDefault: true, refusal: null };
}

/**
 * The policy a running session planned as `plan` decides by once `text` (the new text of its policy file) is
 * applied: loaded as the start loaded it, with the same agent profile merged and the same state prepared. For
 * GateSession.updatePolicy.
 */
export function replanPolicy(plan: Pick<LaunchPlan, 'source' | 'workspace' | 'argv' | 'env' | 'agentProfile'>, text: string): RunPolicyResult {
  const loaded = loadRunPolicy(plan.source.file, { workspace: plan.workspace, text, env: plan.env });
  if (!loaded.ok) return loaded;
  const applied = applyAgentProfile(loaded.policy, {
    // The profile the start chose is found again from the same command line; none stays none.
    ...(plan.agentProfile ? {} : { agent: null }),
    argv: plan.argv,
    cwd: plan.workspace,
    workspace: plan.workspace,
    env: plan.env,
  });
  if (!applied.ok) return { ok: false, error: applied.error, diagnostics: applied.diagnostics };
  const policy = prepareState(applied.policy).policy;
  return { ok: true, policy, text: loaded.text, evaluator: createEvaluator(policy), diagnostics: [...loaded.diagnostics, ...applied.diagnostics] };
}
