// Test and bench helpers: build the supervisor and the C test programs, and run a program under the real
// gate with a decide callback standing in for the policy engine.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { childProcessSpawner, SupervisorLink } from '../../../src/core/session/supervisor-link';
import type { EnforcementReport, ExecEvent, SpawnSupervisor, SupervisorConfig } from '../../../src/core/session/types';
import type { ExecFacts } from '../../../src/core/exec/facts';
import type { BinaryAction } from '../../../src/core/policy/types';
import type { DecisionRecord } from '../../../src/core/audit/records';

function findRoot(): string {
  // test/native/helpers → repo root; bundled copies (scripts/run-ts.mjs) run from dist/run, so fall back to cwd.
  const fromHere = join(__dirname, '..', '..', '..');
  return existsSync(join(fromHere, 'native', 'Makefile')) ? fromHere : process.cwd();
}

export const ROOT = findRoot();
export const SUPERVISOR = join(ROOT, 'native', 'build', 'agent-gate-supervisor');
export const PROGS = join(ROOT, 'test', 'native', 'progs', 'build');

/** Build native/ and test/native/progs/ (make is incremental). */
export function buildNative(): void {
  execFileSync('make', ['-s', '-C', join(ROOT, 'native')], { stdio: 'inherit' });
  execFileSync('make', ['-s', '-C', join(ROOT, 'test', 'native', 'progs')], { stdio: 'inherit' });
}

export function prog(name: string): string {
  return join(PROGS, name);
}

export const OPEN_CONFIG: SupervisorConfig = {
  fs: null,
  net: null,
  require: { fs: false, net: false },
  timeout: { ms: 0, action: 'deny' },
};

/** `origin`: with cache, what VERDICT carries for the supervisor's own records of later hits (RECORD). */
export type Decide = (facts: ExecFacts) => BinaryAction | { action: BinaryAction; cache?: boolean; origin?: string } | 'hold' | 'none';

/** Allow everything except programs named curl. */
export const denyCurl: Decide = (f) => (f.exe && basename(f.exe.path) === 'curl' ? 'deny' : 'allow');

export interface GateRunOptions {
  argv: string[];
  decide?: Decide;
  config?: SupervisorConfig;
  hashUnder?: string[];
  /** HASH_SIZES: only files of these sizes are hashed under hashUnder (absent: every size). */
  hashSizes?: number[];
  env?: NodeJS.ProcessEnv;
  /** Called once the agent runs (e.g. to signal it or kill the supervisor). */
  onStarted?: (link: SupervisorLink, child: ChildProcess) => void;
  /** Start the link with a record session: cached hits of verdicts sent with an origin come as RECORD. */
  recordSession?: string;
  /** Called for every EXEC before it is decided. */
  onEvent?: (event: ExecEvent, link: SupervisorLink) => void;
}

export interface GateRun {
  link: SupervisorLink;
  events: ExecEvent[];
  /** The records the supervisor wrote itself (RECORD), with recordSession. */
  records: DecisionRecord[];
  timeouts: { id: number; action: BinaryAction }[];
  warnings: string[];
  failures: string[];
  exit: { code: number; signal: number } | null;
  /** The supervisor's own exit status. */
  status: { code: number | null; signal: number | null };
  stdout: string;
  stderr: string;
}

/**
 * SupervisorLink.start with OPEN_CONFIG and every exec allowed, for tests about the link, the handshake or the
 * terminal rather than verdicts. Resolves with the started link (as SupervisorLink.start).
 */
export function startAllowingLink(opts: {
  argv: string[];
  spawn: SpawnSupervisor;
  cache?: boolean;
  onExit?: (code: number, signal: number) => void;
  onReady?: (report: EnforcementReport) => void;
}): Promise<SupervisorLink> {
  let link: SupervisorLink | null = null;
  return SupervisorLink.start({
    supervisorPath: SUPERVISOR,
    argv: opts.argv,
    config: OPEN_CONFIG,
    hashUnder: [],
    spawn: opts.spawn,
    handlers: {
      // Never called before start() has resolved (SupervisorLink holds events back until then).
      exec: (e) => link?.verdict(e.facts.requestId, 'allow', opts.cache ?? false),
      timeout: () => undefined,
      warn: () => undefined,
      exit: (code, signal) => opts.onExit?.(code, signal),
      failed: () => undefined,
    },
    ...(opts.onReady ? { onReady: opts.onReady } : {}),
  }).then((l) => (link = l));
}

/** Start the supervisor with piped stdio; resolves when it exits. */
export async function runGated(opts: GateRunOptions): Promise<GateRun> {
  const decide = opts.decide ?? (() => 'allow');
  const events: ExecEvent[] = [];
  const records: DecisionRecord[] = [];
  const timeouts: GateRun['timeouts'] = [];
  const warnings: string[] = [];
  const failures: string[] = [];
  let exit: GateRun['exit'] = null;
  let child: ChildProcess | null = null;
  let stdout = '';
  let stderr = '';
  let link: SupervisorLink | null = null;
  const pendingEvents: ExecEvent[] = [];
  const handle = (ev: ExecEvent): void => {
    events.push(ev);
    if (!link) return;
    opts.onEvent?.(ev, link);
    if (ev.cached) return;
    const d = decide(ev.facts);
    if (d === 'none') return;
    if (d === 'hold') return link.hold(ev.facts.requestId);
    if (typeof d === 'string') link.verdict(ev.facts.requestId, d, false);
    else link.verdict(ev.facts.requestId, d.action, d.cache ?? false, d.origin);
  };
  link = await SupervisorLink.start({
    supervisorPath: SUPERVISOR,
    argv: opts.argv,
    config: opts.config ?? OPEN_CONFIG,
    hashUnder: opts.hashUnder ?? [],
    ...(opts.hashSizes ? { hashSizes: opts.hashSizes } : {}),
    env: opts.env ?? process.env,
    ...(opts.recordSession !== undefined ? { recordSession: opts.recordSession } : {}),
    spawn: childProcessSpawner({
      stdio: 'pipe',
      onSpawn: (c) => {
        child = c;
        c.stdout?.setEncoding('latin1').on('data', (d: string) => (stdout += d));
        c.stderr?.setEncoding('latin1').on('data', (d: string) => (stderr += d));
      },
    }),
    handlers: {
      exec: (ev) => (link ? handle(ev) : pendingEvents.push(ev)),
      record: (rec) => records.push(rec),
      timeout: (id, action) => timeouts.push({ id, action }),
      warn: (m) => warnings.push(m),
      exit: (code, signal) => (exit = { code, signal }),
      failed: (m) => failures.push(m),
    },
  });
  for (const ev of pendingEvents.splice(0)) handle(ev);
  opts.onStarted?.(link, child as unknown as ChildProcess);
  const status = await link.exited;
  // The process's exit can be heard before the socket's last lines (EXIT, or the close that fails the link)
  // are read: wait for one of them (bounded), then let the pipes drain.
  for (let t = 0; t < 5000 && exit === null && failures.length === 0; t += 10) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 20));
  return { link, events, records, timeouts, warnings, failures, exit, status, stdout, stderr };
}
