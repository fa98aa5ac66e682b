// Processes the tests start *outside* the gate (as the user's tmux, bus, ssh-agent or an agent's daemon would
// be): started directly, never under the CLI, and ended by the pid this file started.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export interface Outside {
  proc: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
  /** Lines that match, e.g. /^ACCEPT / for a sockprobe server. */
  count(re: RegExp): number;
  stop(): void;
}

const started: Outside[] = [];

/** Start a program and wait until it prints `ready` (a line or substring). */
export function startOutside(argv: string[], opts: { ready: RegExp; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number }): Promise<Outside> {
  const proc = spawn(argv[0] as string, argv.slice(1), { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => (out += d));
  const o: Outside = {
    proc,
    output: () => out,
    count: (re) => out.split('\n').filter((l) => re.test(l)).length,
    stop: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
  started.push(o);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${argv.join(' ')} did not get ready: ${out}`)), opts.timeoutMs ?? 10_000);
    const check = (): void => {
      if (opts.ready.test(out)) {
        clearTimeout(timer);
        resolve(o);
      }
    };
    proc.stdout?.on('data', check);
    proc.stderr?.on('data', check);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      if (!opts.ready.test(out)) reject(new Error(`${argv.join(' ')} exited (${code}) before it was ready: ${out}`));
    });
  });
}

/** Run a program outside the gate and wait for it (a control: what the gated run must not achieve). */
export function runOutside(argv: string[], env: NodeJS.ProcessEnv = process.env, cwd?: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(argv[0] as string, argv.slice(1), { env, cwd, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function stopAllOutside(): void {
  for (const o of started.splice(0)) o.stop();
}

/** Wait until a condition holds (outside servers print asynchronously). */
export async function until<T>(what: string, probe: () => T | null | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
