// Helpers for the real-agents and workloads suites: run a command ungated and under `agent-gate run` (the
// real CLI bundle, supervisor and kernel), read its audit log, and find processes it left behind.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readAuditLog } from '../../src/core/audit/audit-log';
import type { DecisionRecord } from '../../src/core/audit/records';
import { isUnder } from '../../src/core/policy/landlock';
import { loadPolicyFile } from '../../src/core/policy/index';
import { CLI, ROOT, SUPERVISOR, prepare } from '../native/gate-progs/cli';

export { ROOT, prepare };
export const AGENT_BIN = path.join(ROOT, '.cache', 'agents', 'node_modules', '.bin');
export const DEFAULT_POLICY = path.join(ROOT, 'policies', 'default.gate.toml');

/**
 * A scratch area outside every place the shipped default policy lets the agent write (not /tmp, not the
 * caches): a test home there shows that the agent's state is writable because of its profile, and the audit
 * logs there are out of the agent's reach.
 */
export function scratch(prefix: string): { root: string; cleanup: () => void } {
  const base = path.join(os.homedir(), '.local', 'state');
  fs.mkdirSync(base, { recursive: true });
  const root = fs.mkdtempSync(path.join(base, `agent-gate-test-${prefix}-`));
  const env = { ...process.env, HOME: os.homedir() } as Record<string, string>;
  const policy = loadPolicyFile(DEFAULT_POLICY, { env, workspace: path.join(root, 'no-workspace') }).policy;
  const covering = policy?.filesystem.grants.find((g) => g.rights.includes('w') && g.source !== 'bootstrap' && isUnder(root, g.path));
  if (covering) throw new Error(`the scratch area ${root} is inside a write grant of the default policy (${covering.path}): the tests would prove nothing`);
  return { root, cleanup: () => fs.rmSync(root, { recursive: true, force: true }) };
}

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time in ms (informational: tests never assert it). */
  ms: number;
  /** True when `until` matched and the run was stopped (SIGTERM). */
  stopped: boolean;
}

export interface RunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Stop the run (SIGTERM to its process group) once its output matches. */
  until?: RegExp;
  /** Give up (SIGKILL) after this long. */
  timeoutMs?: number;
  stdin?: string;
}

/** Run a command in its own process group with piped stdio. */
export function run(file: string, args: string[], o: RunOptions): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(file, args, { cwd: o.cwd, env: o.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    let stopped = false;
    const check = (): void => {
      if (o.until && !stopped && o.until.test(stdout + stderr)) {
        stopped = true;
        try {
          process.kill(-(child.pid as number), 'SIGTERM');
        } catch {
          // already gone
        }
      }
    };
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      check();
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      check();
    });
    child.stdin.end(o.stdin ?? '');
    const guard = setTimeout(() => {
      stderr += `\n[test: killed after ${o.timeoutMs} ms]`;
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // gone
      }
    }, o.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0, stopped });
    });
  });
}

export interface GatedRun extends Run {
  decisions: DecisionRecord[];
  /** Decisions that asked someone (layer approval or timeout). */
  asks: DecisionRecord[];
  denials: DecisionRecord[];
}

/** `agent-gate run --on-ask deny --audit AUDIT [extra] -- argv…` with the shipped default policy (no .gate.toml in cwd). */
export async function gated(argv: string[], o: RunOptions & { audit: string; extra?: string[] }): Promise<GatedRun> {
  const r = await run(process.execPath, [CLI, 'run', '--accept-policy', '--on-ask', 'deny', '--audit', o.audit, '--supervisor', SUPERVISOR, ...(o.extra ?? []), '--', ...argv], o);
  const decisions = fs.existsSync(o.audit) ? readAuditLog(o.audit).filter((x): x is DecisionRecord => x.type === 'decision') : [];
  return { ...r, decisions, asks: decisions.filter((d) => d.layer === 'approval' || d.layer === 'timeout'), denials: decisions.filter((d) => d.verdict === 'deny') };
}

/** A marker to put in a run's environment, to find its processes later. */
export function marker(): [string, string] {
  return ['GATE_TEST_RUN_MARK', randomBytes(8).toString('hex')];
}

/** Processes whose environment holds NAME=VALUE (polled up to `waitMs` for them to go). */
export async function processesWith([name, value]: [string, string], waitMs = 3000): Promise<string[]> {
  const needle = Buffer.from(`${name}=${value}\0`);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const found: string[] = [];
    for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        if (fs.readFileSync(`/proc/${pid}/environ`).includes(needle)) found.push(`${pid} ${fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim()}`);
      } catch {
        // gone, or not ours to read
      }
    }
    if (found.length === 0 || Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Every file under a directory (relative paths), for "what state did it write". */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

/** Gated ÷ ungated, for the suite's summary (printed, never asserted). */
export const timings: { name: string; ungatedMs: number; gatedMs: number; asks: number; denials: number }[] = [];
