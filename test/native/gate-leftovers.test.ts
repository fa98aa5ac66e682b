// Leftovers (issue 13, item 7): when the agent exits, every process of its session ends with it — a
// setsid'd, double-forked grandchild, a daemon, a stopped process, a deep tree, a process forking as fast
// as it can — and the end record says how many. [session] keep_leftovers (or --keep-leftovers) keeps them,
// and then they can exec nothing. Real CLI, supervisor and kernel; the processes are found by a unique
// token in their command line, so a reused pid is never mistaken for one of them.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { denyCurlPolicy, makeDirs, prepare, runCli, type CliRun } from './gate-progs/cli';

let dirs: ReturnType<typeof makeDirs>;
let n = 0;
const strays: number[] = [];

beforeAll(async () => {
  await prepare();
  dirs = makeDirs('left');
});
afterAll(() => {
  for (const pid of strays) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  dirs?.cleanup();
});

/** Pids of live processes whose command line holds `token`. */
function withToken(token: string): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${e}/cmdline`, 'latin1');
      const state = fs.readFileSync(`/proc/${e}/stat`, 'latin1').replace(/^.*\) /s, '')[0];
      if (cmd.includes(token) && state !== 'Z') out.push(Number(e));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function workspace(extraPolicy = ''): { ws: string; policy: string } {
  const ws = path.join(dirs.root, `ws-${++n}`);
  fs.mkdirSync(ws);
  const policy = path.join(ws, '.gate.toml');
  fs.writeFileSync(policy, denyCurlPolicy() + extraPolicy);
  return { ws, policy };
}

function gated(w: { ws: string; policy: string }, script: string, extra: string[] = []): Promise<CliRun> {
  return runCli(['bash', '-c', script], { policy: w.policy, audit: dirs.audit(`left-${++n}`), cwd: w.ws, extra });
}

const token = (): string => `agent-gate-leftover-${process.pid}-${++n}-${Date.now()}`;

describe('gate: the session\'s processes end with the agent', () => {
  it('control: without the gate, a setsid\'d double-forked grandchild outlives the program that started it', async () => {
    const t2 = token();
    await new Promise<void>((resolve) => spawn('bash', ['-c', `(setsid bash -c 'sleep 300; : ${t2}' &) ; exit 0`], { stdio: 'ignore' }).on('close', () => resolve()));
    await new Promise((r) => setTimeout(r, 200));
    const alive = withToken(t2);
    strays.push(...alive);
    expect(alive.length).toBeGreaterThan(0);
    for (const pid of alive) process.kill(pid, 'SIGKILL');
  });

  it('a setsid\'d double-forked grandchild is ended, and the end record counts it', async () => {
    const w = workspace();
    const t = token();
    const r = await gated(w, `(setsid bash -c 'sleep 300; : ${t}' &); sleep 0.2; echo started`);
    expect(r.stdout).toContain('started');
    expect(r.code).toBe(0);
    expect(withToken(t)).toEqual([]);
    // The detached shell and its sleep: every process is counted.
    expect(r.end?.leftovers).toMatchObject({ ended: 2 });
    expect((r.end?.leftovers as { names: string[] }).names).toEqual(['bash', 'sleep']);
    expect(r.stderr).toMatch(/ended 2 processes the agent left running \(bash, sleep\)/);
  });

  it('a daemon (double fork, setsid, chdir /, stdio closed, SIGTERM and SIGHUP ignored) is ended', async () => {
    const w = workspace();
    const t = token();
    const daemon = `import os, signal, time
if os.fork(): os._exit(0)
os.setsid()
if os.fork(): os._exit(0)
os.chdir('/')
for fd in (0, 1, 2): os.close(fd)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
while True: time.sleep(1)
# ${t}`;
    fs.writeFileSync(path.join(w.ws, 'daemon.py'), daemon);
    const r = await gated(w, `python3 ${path.join(w.ws, 'daemon.py')} ${t}; sleep 0.3; echo daemonized`);
    expect(r.stdout).toContain('daemonized');
    expect(withToken(t)).toEqual([]);
    expect(r.end?.leftovers).toMatchObject({ ended: 1 });
  });

  it('a stopped process, a deep tree and a process forking as fast as it can are all ended', async () => {
    const w = workspace();
    const t = token();
    const script = [
      // stopped
      `(setsid bash -c 'kill -STOP $$; : ${t}-stopped' &)`,
      // a chain of 6 nested shells, each detached
      `(setsid bash -c "bash -c \\"bash -c 'bash -c \\\\\\"sleep 300; : ${t}-deep\\\\\\"' & wait\\" & wait" &)`,
      // forks continuously
      `(setsid bash -c 'while :; do (: ${t}-fork) & done' &)`,
      'sleep 0.5; echo spawned',
    ].join('; ');
    const r = await gated(w, script);
    expect(r.stdout).toContain('spawned');
    await new Promise((res) => setTimeout(res, 200));
    expect(withToken(t)).toEqual([]);
    const left = r.end?.leftovers as { ended: number; remaining?: number };
    expect(left.ended).toBeGreaterThanOrEqual(3);
    expect(left.remaining).toBeUndefined();
  });

  it('nothing left: the end record says 0 and nothing is printed', async () => {
    const w = workspace();
    const r = await gated(w, 'echo quiet');
    expect(r.end?.leftovers).toMatchObject({ ended: 0 });
    expect(r.stderr).not.toMatch(/left running/);
  });
});

describe('gate: keep_leftovers', () => {
  for (const how of ['--keep-leftovers', '[session] keep_leftovers = true'] as const) {
    it(`${how}: the daemon keeps running, counted in the end record, and every exec it makes then fails`, async () => {
      const w = how.startsWith('--') ? workspace() : workspace('\n[session]\nkeep_leftovers = true\n');
      const t = token();
      const log = path.join(w.ws, 'exec.log');
      // Every 100 ms the leftover tries to run a program and logs how that went.
      const loop = `while :; do if /usr/bin/true 2>/dev/null; then echo ran; else echo "failed $?"; fi >> ${log}; sleep 0.1; : ${t}; done`;
      // (Its stdio away from the CLI's pipes, as a daemon's is: the test waits for those to close.)
      const r = await gated(w, `(setsid bash -c '${loop}' </dev/null >/dev/null 2>&1 &); sleep 0.3; echo started`, how.startsWith('--') ? [how] : []);
      expect(r.stdout).toContain('started');
      const alive = withToken(t);
      strays.push(...alive);
      // The loop's shell (and a child of it forked for the exec of the moment, if any).
      expect(alive.length).toBeGreaterThanOrEqual(1);
      // The loop's shell (and its sleep of the moment, if any).
      const kept = r.end?.leftovers as { kept: number; names: string[] };
      expect(kept.kept).toBeGreaterThanOrEqual(1);
      expect(kept.names).toEqual(['bash']);
      expect(r.stderr).toMatch(/\d+ process(es)? the agent started (is|are) still running \(bash.*\) \(keep_leftovers\): the gate has ended, so every program they try to start fails \(ENOSYS\)/);
      // While the session ran its execs ran; after it, each fails (the shell reports 126: ENOSYS).
      const before = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).length;
      await new Promise((res) => setTimeout(res, 600));
      const lines = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
      expect(lines.slice(0, before)).toContain('ran');
      const after = lines.slice(before);
      expect(after.length).toBeGreaterThan(2);
      expect(after.every((l) => l.startsWith('failed'))).toBe(true);
      for (const pid of withToken(t)) process.kill(pid, 'SIGKILL');
    });
  }
});
