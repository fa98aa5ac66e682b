// `agent-gate run [options] -- PROGRAM [ARGS…]`: run a program under the gate, headless. Exit code: the
// program's (128+signal when killed), or 126 when the gate cannot be set up (the reason is on stderr).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { escapeText } from '../core/audit/display';
import { formatProtectedChanges } from '../core/protect/guard';
import { suggestRules, writableRoots, type CliGrants, type Policy } from '../core/policy/index';
import { AutoApprover, type ApprovalAnswer, type ApprovalRequest, type Approver } from '../core/session/approvals';
import { derivedCacheDirectory, enforcementGaps, formatDiagnostic, planLaunch, resolveWorkspace, ruleTarget, socketLine, startBanner, startPlannedSession, type LaunchOptions, type LaunchPlan } from '../core/session/launch';
import { acceptedPolicyDirectory, storePlacement } from '../core/session/policy-review';
import { GateSetupError, type GateSession } from '../core/session/session';
import { GATE_END_START, GATE_LINE_START } from '../core/session/terminal-text';
import { spawnWithChildProcess } from '../core/session/spawn';
import type { SpawnSupervisor, SupervisorProcess } from '../core/session/types';
import { rawCwd, rawEnvironment } from '../core/exec/raw-process';
import { policyOption, scanOptions, UsageError } from './options';
import { reviewForRun, reviewProfileForRun } from './policy';
import { TerminalApprover } from './terminal-approver';

export const RUN_USAGE = `Usage: agent-gate run [options] -- PROGRAM [ARGS…]

Run PROGRAM under the gate: every exec of it and its descendants is checked against the policy, files and
ports are sealed by Landlock, and every verdict is written to the audit log.

  --policy FILE         the policy (default: WORKSPACE/.gate.toml if present, else the shipped default policy).
                        A policy file is used only as you accepted it: the first time and after any change,
                        run shows it (or the change) and asks; with nobody to ask (no terminal, CI) it runs
                        nothing and says how to accept it (agent-gate policy --help). Shipped policies need no
                        acceptance
  --accept-policy       accept the policy file as it is now (recorded: a later change is asked about again)
  --audit FILE          the audit log (default: \${XDG_STATE_HOME:-~/.local/state}/agent-gate/audit-SESSION.jsonl)
  --on-ask ANSWER       what an 'ask' verdict does: prompt (ask on the terminal), deny or allow.
                        Default: prompt when there is a terminal and CI is not set, else deny.
  -r, --read GLOB       extra Landlock read grant, repeatable
  -w, --write GLOB      extra Landlock write grant, repeatable
  -a, --allow GLOB      extra read+write grant, repeatable
  --workspace DIR       the directory the agent works in: \${WORKSPACE} in the policy, and where .gate.toml
                        is looked for (default: the current directory)
  --agent NAME          the agent profile merged into the policy: claude, codex, gemini, aider, shell (see
                        policies/agents/), or a profile file; none for no profile. Default: the profile of the
                        agent the program is, when it is one
  --metrics FILE        at the end, write the decision and denial counters there (Prometheus text format)
  -q, --quiet           no start banner (the policy, what the kernel enforces, the audit log) on stderr, and
                        no line with the audit log's last hash at the end
  --allow-root-without-filesystem
                        let a root agent run although the policy does not seal filesystem writes
                        (refused by default: root could make the kernel run its programs, e.g. through
                        /proc/sys/kernel/core_pattern)
  --keep-leftovers      when PROGRAM exits, leave the processes it started running: the session (the gate
                        over their programs, the workspace guard) goes on until the last one exits or you
                        interrupt agent-gate (which ends them); by default they are ended with it
  -v, --verbose         print the grants (what a refused write was refused by), the agent profile's notes,
                        and every decision to stderr
  --supervisor PATH     the native supervisor (default: next to the CLI bundle, or $AGENT_GATE_SUPERVISOR)

Exit status: PROGRAM's, 128+N when it was killed by signal N, 126 when the gate cannot be set up.
`;

interface RunOptions {
  policy?: string;
  audit?: string;
  onAsk?: 'prompt' | 'deny' | 'allow';
  grants: Required<CliGrants>;
  verbose: boolean;
  quiet: boolean;
  supervisor?: string;
  workspace?: string;
  metrics?: string;
  /** undefined: detect from the program; null: no profile. */
  agent?: string | null;
  allowRootWithoutFilesystem?: boolean;
  keepLeftovers?: boolean;
  acceptPolicy?: boolean;
  help: boolean;
  program: string[];
}

export function parseRunOptions(args: string[]): RunOptions {
  const o: Omit<RunOptions, 'grants' | 'help' | 'program'> = { verbose: false, quiet: false };
  const scanned = scanOptions(args, (name, value) => {
    // --workspace is resolved against the current directory's bytes (rawCwd) in runGate.
    if (policyOption(o, name, value, true)) return true;
    switch (name) {
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
      case '-q':
      case '--quiet':
        o.quiet = true;
        return true;
      case '--supervisor':
        o.supervisor = value();
        return true;
      case '--metrics':
        o.metrics = path.resolve(value());
        return true;
      case '--allow-root-without-filesystem':
        o.allowRootWithoutFilesystem = true;
        return true;
      case '--keep-leftovers':
        o.keepLeftovers = true;
        return true;
      case '--accept-policy':
        o.acceptPolicy = true;
        return true;
      default:
        return false;
    }
  });
  // No `--`: the first bare word starts the program.
  return { ...o, grants: scanned.grants, help: scanned.help, program: scanned.rest };
}

function err(line: string): void {
  // On a terminal the agent writes to, each line first ends what the agent's output left open and plain
  // colours (red-team R58); the terminal may be raw while the agent runs, hence CR LF.
  if (process.stderr.isTTY) process.stderr.write(`${GATE_LINE_START}agent-gate: ${line}\r\n`);
  else process.stderr.write(`agent-gate: ${line}\n`);
}

function chooseApprover(onAsk: RunOptions['onAsk'], suggest: (r: ApprovalRequest) => string | null): { approver: Approver; close: () => void } {
  const ci = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';
  const auto = (answer: ApprovalAnswer, why: string): { approver: Approver; close: () => void } => ({ approver: new AutoApprover(answer, why), close: () => undefined });
  if (onAsk === 'deny') return auto('deny', '--on-ask deny');
  if (onAsk === 'allow') return auto('allow-once', '--on-ask allow');
  if (ci) return auto('deny', 'CI is set');
  const unavailable = TerminalApprover.unavailableReason();
  if (unavailable !== null) return auto('deny', unavailable);
  const t = new TerminalApprover({ suggestRule: suggest });
  return { approver: t, close: () => t.close() };
}

/**
 * After "always (this session)": the rule that would make it permanent and where it goes (the core's
 * suggestion, the narrowest one), for the user to add. The file is read now: it is what they would edit.
 */
export function permanentRuleHint(plan: Pick<LaunchPlan, 'source' | 'workspace' | 'text'>, policy: Policy, r: ApprovalRequest): string | null {
  const target = ruleTarget(plan);
  const isDefault = target.fromDefault;
  const text = target.text;
  const { suggestions, note } = suggestRules({
    action: 'allow',
    argv: r.facts.argv,
    exe: r.facts.exe?.path ?? null,
    requestedPath: r.facts.requestedPath,
    decidingRuleId: r.ruleId,
    policyText: text,
    writableRoots: writableRoots(policy.filesystem),
  });
  const first = suggestions[0];
  if (!first) return note ? `Allowed for this session (${note}).` : null;
  const where = first.insert.beforeRuleId ? `before line ${first.insert.line} (rule ${first.insert.beforeRuleId}: first match wins)` : 'at the end';
  const into = isDefault ? `copy ${plan.source.file} to ${target.file} and add ${where}` : `add to ${target.file} ${where}`;
  const block = first.toml.trimEnd().split('\n').map((l) => `  ${l}`).join('\n');
  const broader = suggestions.slice(1).map((x) => `Broader: ${x.label} (rule ${x.id}).`);
  return [`Allowed for this session. To allow it always, ${into}:`, block, ...(first.warning ? [`Note: ${first.warning}.`] : []), ...broader, ...(note ? [`(${note})`] : [])].join('\n');
}

/** What the agent may write (and read, execute), one line per grant (-v): what a refused write was refused by. */
export function describeGrants(policy: Policy): string[] {
  const fsPol = policy.filesystem;
  if (!fsPol.enabled) return ['filesystem: not sealed (no [filesystem] in the policy)'];
  const names: Record<string, string> = { r: 'reads', w: 'writes', x: 'execution' };
  const sealed = [...fsPol.handled].map((c) => names[c]).join(', ') || 'nothing';
  const open = ['r', 'w', 'x'].filter((c) => !fsPol.handled.includes(c)).map((c) => names[c]).join(', ');
  const lines = [`filesystem: Landlock seals ${sealed}${open ? ` (${open}: not sealed)` : ''}; outside these grants the kernel answers EACCES ("Permission denied"):`];
  for (const g of fsPol.grants) {
    if (!g.source.startsWith('bootstrap')) lines.push(`  ${g.rights.padEnd(3)} ${escapeText(g.path)}  (${g.source})`);
  }
  const boot = fsPol.grants.filter((g) => g.source.startsWith('bootstrap')).map((g) => `${g.path} ${g.rights}`);
  if (boot.length) lines.push(`  and what every program needs: ${boot.join(', ')}`);
  return lines;
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

  // The directory and environment as bytes (Node's copies replaced what is not UTF-8): a workspace whose path
  // is not UTF-8 still gets its write grant, and the agent gets its variables unchanged.
  const cwd = rawCwd();
  const { env, raw: rawEnv } = rawEnvironment();
  const workspace = resolveWorkspace(o.workspace, cwd);
  const launch: LaunchOptions = {
    argv: o.program,
    workspace,
    cwd,
    ...(o.agent !== undefined ? { agent: o.agent } : {}),
    ...(o.policy !== undefined ? { policyFile: path.resolve(cwd, o.policy) } : {}),
    grants: o.grants,
    ...(o.audit !== undefined ? { auditPath: path.resolve(o.audit) } : {}),
    ...(o.supervisor !== undefined ? { supervisorPath: o.supervisor } : {}),
    env,
    ...(rawEnv.length ? { rawEnv } : {}),
    // AGENT_GATE_DERIVED_CACHE=0: every start computes (benchmarks, comparing a verdict with and without it).
    ...(env.AGENT_GATE_DERIVED_CACHE === '0' ? {} : { derivedCacheDir: derivedCacheDirectory(env) }),
  };
  // An agent profile given as a file is reviewed like a policy (R78): its text as read before planning.
  const profileFile = o.agent?.includes('/') ? path.resolve(o.agent) : null;
  let profileText: string | null = null;
  try {
    if (profileFile) profileText = fs.readFileSync(profileFile, 'utf8');
  } catch {
    // planLaunch says why it cannot be read.
  }
  let planned = planLaunch(launch);
  for (const d of planned.diagnostics) process.stderr.write(formatDiagnostic(d) + '\n');
  if (!planned.ok) {
    err(planned.error);
    return 126;
  }
  // The accepted policies must be out of the agent's reach, or it could accept one for the next run.
  const store = acceptedPolicyDirectory(env);
  const placement = (p: LaunchPlan): string | null | false => {
    const where = storePlacement(store, p.policy.filesystem);
    if (where?.error) err(`cannot start the gate: ${where.error}`);
    return where?.error ? false : (where?.warning ?? null);
  };
  let storeWarning = placement(planned);
  if (storeWarning === false) return 126;
  // A policy file is used only as the user accepted it (red-team R43): shown and asked about, else nothing runs.
  const accept = await reviewForRun(planned.source, planned.text, { acceptFlag: !!o.acceptPolicy, env, fsPolicy: planned.policy.filesystem });
  if (accept.go === 'none') {
    for (const line of accept.lines) err(line);
    return 126;
  }
  if (accept.go === 'previous') {
    planned = planLaunch({ ...launch, policyText: accept.text });
    for (const d of planned.diagnostics) process.stderr.write(formatDiagnostic(d) + '\n');
    if (!planned.ok) {
      err(planned.error);
      return 126;
    }
    storeWarning = placement(planned);
    if (storeWarning === false) return 126;
  }
  if (storeWarning) err(`warning: ${storeWarning}`);
  if (accept.go === 'planned' && accept.warning) err(`warning: ${accept.warning}`);
  if (accept.line && !o.quiet) err(accept.line);
  if (profileFile && profileText !== null) {
    const profile = await reviewProfileForRun(profileFile, profileText, { acceptFlag: !!o.acceptPolicy, env, fsPolicy: planned.policy.filesystem });
    if (profile.go !== 'planned') {
      for (const line of profile.go === 'none' ? profile.lines : []) err(line);
      return 126;
    }
    if (profile.warning) err(`warning: ${profile.warning}`);
    if (profile.line && !o.quiet) err(profile.line);
  }
  const plan: LaunchPlan = planned;
  const policy = plan.policy;
  const { approver, close: closeApprover } = chooseApprover(o.onAsk, (r) => permanentRuleHint(plan, policy, r));

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
    session = await startPlannedSession(plan, {
      approver,
      spawn,
      onWarning: (w) => err(`warning: ${w}`),
      ...(o.allowRootWithoutFilesystem ? { allowRootWithoutFilesystem: true } : {}),
      ...(o.keepLeftovers ? { keepLeftovers: true } : {}),
      // The script agent-gate was started as (node_modules/.bin/agent-gate is a link the agent could replace)
      // and the Node.js running it: both run outside the gate at the next start.
      gateFiles: [
        ...(process.argv[1] ? [{ path: path.resolve(process.argv[1]), what: 'the agent-gate command' }] : []),
        { path: process.execPath, what: 'the Node.js that runs agent-gate' },
      ],
      ...(o.verbose ? { onPrepared: (state: { created: string[] }) => state.created.forEach((c) => err(`made ${escapeText(c)} (so its grant applies)`)) } : {}),
    });
  } catch (e) {
    cleanup();
    if (e instanceof GateSetupError) {
      err(`cannot start the gate: ${e.message}`);
      return 126;
    }
    throw e;
  }
  if (!o.quiet) {
    for (const line of startBanner({ source: plan.source, policy, report: session.report, auditFile: session.auditFile, envRemoved: session.envRemoved, envRemovedUrl: session.envRemovedUrl, envRemovedToken: session.envRemovedToken, ...(plan.agent ? { agent: plan.agent } : {}) })) err(line);
  }
  if (o.verbose) {
    const a = plan.agentProfile;
    if (a) {
      err(`agent profile ${a.section.id} (${a.why}; ${a.section.file})`);
      for (const n of a.section.notes) err(n);
      if (a.prepended.length) err(`started as: ${plan.argv.map((w) => escapeText(w)).join(' ')}`);
    }
    for (const line of describeGrants(session.currentPolicy)) err(line);
    const d = plan.derived;
    const saved = d?.lastSaveSkipped === null ? ', saved' : d?.lastSaveSkipped === 'unchanged' ? '' : `, not saved (${d?.lastSaveSkipped})`;
    err(d ? `derived-data cache: ${d.state}${saved} (${d.file})` : 'derived-data cache: not used (AGENT_GATE_DERIVED_CACHE=0, unsealed writes, or a write grant reaches it)');
  }
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
  // Sockets the gate refused (and, with -v, the outside sockets the policy let through): said at once, since a
  // refused connect often makes the agent's program fail or wait with a message of its own.
  let socketNotes = 0;
  session.on('socket', (r) => {
    if (r.verdict === 'allow' && !o.verbose) return;
    if (++socketNotes > 20 && !o.verbose) {
      if (socketNotes === 21) err('more sockets refused: see the audit log');
      return;
    }
    err(socketLine(r));
  });
  const end = await session.wait();
  cleanup();
  // The agent is gone: the terminal is put in a state where the last lines are read as written (R58).
  if (process.stderr.isTTY) process.stderr.write(GATE_END_START);
  if (end.failure) err(`the gate failed: ${end.failure}`);
  const review = formatProtectedChanges(end.protectedChanges ?? []);
  if (review) process.stderr.write(review.replace(/^/gm, 'agent-gate: '));
  if (o.metrics) {
    try {
      fs.writeFileSync(o.metrics, session.stats.toPrometheus({ session: session.id }), { mode: 0o600 });
    } catch (e) {
      err(`cannot write the metrics file ${o.metrics}: ${(e as Error).message}`);
    }
  }
  const m = session.stats.toMetrics();
  if (m.denied > 0 || o.verbose) err(`${m.decisions} exec decision(s), ${m.denied} denied; audit log: ${session.auditFile}`);
  // The chain's end, where the agent cannot change it (this terminal, CI's log): with it, `agent-gate audit
  // verify --head` tells a rewritten log even when the agent could write the head file too.
  const head = session.auditHead;
  if (head && !o.quiet) err(`audit log ends with sha256 ${head.head} at ${head.size} bytes (agent-gate audit verify ${session.auditFile})`);
  return end.exitCode;
}
