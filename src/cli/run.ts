// `agent-gate run [options] -- PROGRAM [ARGS…]`: run a program under the gate, headless. Exit code: the
// program's (128+signal when killed), or 126 when the gate cannot be set up (the reason is on stderr).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { escapeText } from '../core/audit/display';
import {
  createEvaluator,
  defaultPolicyPath,
  loadPolicyText,
  type CliGrants,
  type Diagnostic,
  type Policy,
} from '../core/policy/index';
import { envBannerLine } from '../core/policy/env';
import { AutoApprover, type ApprovalAnswer, type Approver } from '../core/session/approvals';
import { GateSession, GateSetupError, newSessionId } from '../core/session/session';
import { SupervisorLink, spawnWithChildProcess } from '../core/session/supervisor-link';
import { TerminalApprover } from '../core/session/terminal-approver';
import type { SpawnSupervisor, SupervisorProcess } from '../core/session/types';
import { scanOptions, UsageError } from './options';

export const RUN_USAGE = `Usage: agent-gate run [options] -- PROGRAM [ARGS…]

Run PROGRAM under the gate: every exec of it and its descendants is checked against the policy, files and
ports are sealed by Landlock, and every verdict is written to the audit log.

  --policy FILE         the policy (default: ./.gate.toml if present, else the shipped default policy)
  --audit FILE          the audit log (default: \${XDG_STATE_HOME:-~/.local/state}/agent-gate/audit-SESSION.jsonl)
  --on-ask ANSWER       what an 'ask' verdict does: prompt (ask on the terminal), deny or allow.
                        Default: prompt when there is a terminal and CI is not set, else deny.
  -r, --read GLOB       extra Landlock read grant, repeatable
  -w, --write GLOB      extra Landlock write grant, repeatable
  -a, --allow GLOB      extra read+write grant, repeatable
  --workspace DIR       value of \${WORKSPACE} (default: the policy's directory; the current directory for
                        the shipped default policy)
  --metrics FILE        at the end, write the decision and denial counters there (Prometheus text format)
  --allow-root-without-filesystem
                        let a root agent run although the policy does not seal filesystem writes
                        (refused by default: root could make the kernel run its programs, e.g. through
                        /proc/sys/kernel/core_pattern)
  -v, --verbose         print every decision to stderr
  --supervisor PATH     the native supervisor (default: next to the CLI bundle, or $AGENT_GATE_SUPERVISOR)

Exit status: PROGRAM's, 128+N when it was killed by signal N, 126 when the gate cannot be set up.
`;

interface RunOptions {
  policy?: string;
  audit?: string;
  onAsk?: 'prompt' | 'deny' | 'allow';
  grants: Required<CliGrants>;
  verbose: boolean;
  supervisor?: string;
  workspace?: string;
  metrics?: string;
  allowRootWithoutFilesystem?: boolean;
  help: boolean;
  program: string[];
}

export function parseRunOptions(args: string[]): RunOptions {
  const o: Omit<RunOptions, 'grants' | 'help' | 'program'> = { verbose: false };
  const scanned = scanOptions(args, (name, value) => {
    switch (name) {
      case '--policy':
      case '-p':
        o.policy = value();
        return true;
      case '--audit':
        o.audit = value();
        return true;
      case '--on-ask': {
        const v = value();
        if (v !== 'prompt' && v !== 'deny' && v !== 'allow') throw new UsageError(`--on-ask must be prompt, deny or allow (got '${v}')`);
        o.onAsk = v;
        return true;
      }
      case '-v':
      case '--verbose':
        o.verbose = true;
        return true;
      case '--supervisor':
        o.supervisor = value();
        return true;
      case '--metrics':
        o.metrics = path.resolve(value());
        return true;
      case '--workspace':
        o.workspace = path.resolve(value());
        return true;
      case '--allow-root-without-filesystem':
        o.allowRootWithoutFilesystem = true;
        return true;
      default:
        return false;
    }
  });
  // No `--`: the first bare word starts the program.
  return { ...o, grants: scanned.grants, help: scanned.help, program: scanned.rest };
}

function err(line: string): void {
  process.stderr.write(`agent-gate: ${line}\n`);
}

function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}${d.code ? ` [${d.code}]` : ''}`;
}

/** The policy path the run uses: --policy, else ./.gate.toml, else the shipped default. */
export function choosePolicyPath(explicit: string | undefined, cwd = process.cwd()): string {
  if (explicit) return path.resolve(cwd, explicit);
  const local = path.join(cwd, '.gate.toml');
  return fs.existsSync(local) ? local : defaultPolicyPath();
}

export function defaultAuditPath(sessionId: string, env: NodeJS.ProcessEnv = process.env): string {
  const state = env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : path.join(os.homedir(), '.local', 'state');
  return path.join(state, 'agent-gate', `audit-${sessionId}.jsonl`);
}

function defaultSupervisorPath(): string {
  return process.env.AGENT_GATE_SUPERVISOR || path.join(__dirname, 'agent-gate-supervisor');
}

function chooseApprover(onAsk: RunOptions['onAsk']): { approver: Approver; close: () => void } {
  const ci = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';
  const auto = (answer: ApprovalAnswer, why: string): { approver: Approver; close: () => void } => ({ approver: new AutoApprover(answer, why), close: () => undefined });
  if (onAsk === 'deny') return auto('deny', '--on-ask deny');
  if (onAsk === 'allow') return auto('allow-once', '--on-ask allow');
  if (ci) return auto('deny', 'CI is set');
  const unavailable = TerminalApprover.unavailableReason();
  if (unavailable !== null) return auto('deny', unavailable);
  const t = new TerminalApprover();
  return { approver: t, close: () => t.close() };
}

/** Load the policy (errors → stderr as FILE:LINE:COL lines) with the command line's grants merged in. */
function loadForRun(file: string, grants: CliGrants, workspace: string | undefined): { policy: Policy; text: string } | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    err(`cannot read the policy ${file}: ${(e as Error).message}`);
    return null;
  }
  // The policy in force is this text, loaded once: later edits of the file do not change this session.
  const loaded = loadPolicyText(text, file, { cliGrants: grants, ...(workspace ? { workspace } : {}) });
  for (const d of loaded.diagnostics) process.stderr.write(formatDiagnostic(d) + '\n');
  if (!loaded.policy || loaded.diagnostics.some((d) => d.severity === 'error')) {
    err(`the policy ${file} has errors; fix them (agent-gate check --policy ${file}) and run again`);
    return null;
  }
  return { policy: loaded.policy, text };
}

/** Enforcement report entries that are gaps (not fatal unless require_enforced): shown on stderr. */
function enforcementGaps(report: Record<string, string>, policy: Policy): string[] {
  const good: Record<string, string[]> = {
    fs: ['enforced'],
    net: ['enforced'],
    scope_signal: ['enforced'],
    scope_abstract_unix: ['enforced'],
    notif: ['ok'],
    wait_killable: ['1'],
    unix: ['mediated', 'landlock', 'off'],
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

export async function runGate(args: string[]): Promise<number> {
  let o: RunOptions;
  try {
    o = parseRunOptions(args);
  } catch (e) {
    err(`${(e as Error).message}\n\n${RUN_USAGE}`);
    return 2;
  }
  if (o.help) {
    process.stdout.write(RUN_USAGE);
    return 0;
  }
  if (o.program.length === 0) {
    err(`no program to run: agent-gate run [options] -- PROGRAM [ARGS…]`);
    return 2;
  }

  const supervisorPath = path.resolve(o.supervisor ?? defaultSupervisorPath());
  try {
    fs.accessSync(supervisorPath, fs.constants.X_OK);
  } catch {
    err(`the native supervisor ${supervisorPath} is missing or not executable: run npm run build`);
    return 126;
  }

  const policyFile = choosePolicyPath(o.policy);
  // ${WORKSPACE} is the policy's directory for a workspace policy, and the current directory for the
  // shipped default (which lives in the extension's install, not in the workspace).
  const workspace = o.workspace ?? (policyFile === defaultPolicyPath() ? process.cwd() : undefined);
  const loaded = loadForRun(policyFile, o.grants, workspace);
  if (!loaded) return 126;
  const { policy, text } = loaded;
  const evaluator = createEvaluator(policy);

  const sessionId = newSessionId();
  const auditPath = path.resolve(o.audit ?? defaultAuditPath(sessionId));
  const { approver, close: closeApprover } = chooseApprover(o.onAsk);

  // Keep the supervisor process so a SIGTERM/SIGHUP sent to us alone reaches the agent too. SIGINT from the
  // terminal already reaches the whole foreground process group: ignore it here so the gate outlives the
  // agent and records the end.
  let supervisorProcess: SupervisorProcess | null = null;
  const spawn: SpawnSupervisor = (file, argv, env) => {
    supervisorProcess = spawnWithChildProcess(file, argv, env);
    return supervisorProcess;
  };
  const forward = (sig: NodeJS.Signals) => (): void => {
    supervisorProcess?.kill(sig);
  };
  const onInt = (): void => undefined;
  const onTerm = forward('SIGTERM');
  const onHup = forward('SIGHUP');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  process.on('SIGHUP', onHup);
  const cleanup = (): void => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    process.off('SIGHUP', onHup);
    closeApprover();
  };

  let session: GateSession;
  try {
    session = await GateSession.start({
      policy,
      evaluator,
      policyText: text,
      auditPath,
      approver,
      supervisorPath,
      spawn,
      startLink: (opts) => SupervisorLink.start(opts),
      argv: o.program,
      env: process.env,
      sessionId,
      onWarning: (w) => err(`warning: ${w}`),
      ...(o.allowRootWithoutFilesystem ? { allowRootWithoutFilesystem: true } : {}),
    });
  } catch (e) {
    cleanup();
    if (e instanceof GateSetupError) {
      err(`cannot start the gate: ${e.message}`);
      return 126;
    }
    throw e;
  }
  const envLine = envBannerLine({ removed: session.envRemoved, removedBy: [], set: [] }, escapeText);
  if (envLine) err(envLine);
  const gaps = enforcementGaps(session.report, policy);
  if (gaps.length > 0) err(`enforcement gaps (not fatal; set require_enforced to make them fatal): ${gaps.join(' ')}`);
  session.on('approvalRequested', (r) => {
    if (o.verbose) err(`asking: ${r.command}`);
  });
  session.on('decision', (d) => {
    if (o.verbose || (d.verdict === 'deny' && d.layer === 'error')) {
      err(`${d.verdict} ${escapeText(d.exe ?? d.exe_requested)} [${d.layer}${d.rule_id ? ` ${d.rule_id}` : ''}${d.cached ? ', cached' : ''}] ${d.reason}`);
    }
  });
  // Sockets the gate refused (and, with -v, the outside sockets the policy let through): said at once, since
  // a refused connect often makes the agent's program fail or wait with a message of its own.
  let socketNotes = 0;
  session.on('socket', (r) => {
    if (r.verdict === 'allow' && !o.verbose) return;
    socketNotes++;
    if (socketNotes > 20 && !o.verbose) {
      if (socketNotes === 21) err('more sockets refused: see the audit log');
      return;
    }
    const what = r.target ? ` to ${escapeText(r.target)}` : '';
    err(`${r.verdict === 'deny' ? 'refused' : 'allowed'} ${r.op}${what}: ${escapeText(r.reason)}`);
  });
  const end = await session.wait();
  cleanup();
  if (end.failure) err(`the gate failed: ${end.failure}`);
  if (o.metrics) {
    try {
      fs.writeFileSync(o.metrics, session.stats.toPrometheus({ session: session.id }), { mode: 0o600 });
    } catch (e) {
      err(`cannot write the metrics file ${o.metrics}: ${(e as Error).message}`);
    }
  }
  const m = session.stats.toMetrics();
  if (m.denied > 0 || o.verbose) err(`${m.decisions} exec decision(s), ${m.denied} denied; audit log: ${session.auditFile}`);
  return end.exitCode;
}
