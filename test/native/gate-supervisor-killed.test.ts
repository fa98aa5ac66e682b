// A SIGKILLed supervisor (the OOM killer, a user's kill -9) must not leave the session's processes running.
// The supervisor is the session's subreaper, but the role dies with it: without more, its orphans go to init,
// outside any gate (exec fails ENOSYS, writes within Landlock go on). The keeper (native/src/keeper.c), the
// supervisor's parent and a subreaper too, gets them and ends them; the end record and the terminal say so.
// Real CLI, keeper, supervisor and kernel, as root and as uid 65534; processes are found by a token in argv.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDirs, runCli } from './gate-progs/cli';
import { AS_NOBODY, NOBODY, rootAndNobodyDirs } from './helpers/as-users';
import { liveWithToken, ownedWorkspace } from './helpers/procs';


let dirs: ReturnType<typeof makeDirs>;
let n = 0;
const tokens: string[] = [];

beforeAll(async () => {
  dirs = await rootAndNobodyDirs('supkill', 'they run the agent as root and as uid 65534, and kill its supervisor');
});
afterAll(() => {
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
const comm = (pid: number): string => fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
const ppid = (pid: number): number => Number(fs.readFileSync(`/proc/${pid}/stat`, 'latin1').replace(/^.*\) /s, '').split(' ')[1]);

describe('gate: the session\'s processes end when the supervisor is SIGKILLed', () => {
  for (const who of ['root', 'nobody'] as const) {
    it(`kill -9 of the supervisor mid-session, with a setsid'd grandchild and a daemon deaf to SIGTERM/SIGHUP alive: none survives, the survivors' writes stop, and the end record says how many were ended (${who})`, async () => {
      const w = ownedWorkspace(path.join(dirs.root, `${who}-${++n}`), SEALED_WRITES, { owner: who === 'nobody' ? NOBODY : undefined });
      const t = `agent-gate-supkill-${process.pid}-${++n}-${Date.now()}`;
      tokens.push(t);
      const beat = path.join(w.ws, 'beat');
      const daemon = `import os, signal, time
if os.fork(): os._exit(0)
os.setsid()
if os.fork(): os._exit(0)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
while True:
    with open(${JSON.stringify(beat)}, 'a') as f: f.write('.')
    time.sleep(0.05)
# ${t}`;
      fs.writeFileSync(path.join(w.ws, 'daemon.py'), daemon);
      if (who === 'nobody') for (const f of fs.readdirSync(w.ws)) fs.chownSync(path.join(w.ws, f), NOBODY, NOBODY);
      // The agent's parent is the supervisor: the agent names it (a file in the workspace), then waits.
      const script = [
        `(setsid bash -c 'sleep 300; : ${t}' </dev/null >/dev/null 2>&1 &)`,
        `python3 daemon.py ${t} </dev/null >/dev/null 2>&1`,
        `until [ -s beat ]; do sleep 0.05; done`,
        `echo $PPID > sup.pid`,
        `sleep 300; : ${t}`,
      ].join('; ');
      const run = runCli(['bash', '-c', script], { policy: w.policy, audit: path.join(w.state, 'audit.jsonl'), cwd: w.ws, env: { HOME: path.dirname(w.ws) }, wrap: who === 'nobody' ? AS_NOBODY : undefined });
      const supFile = path.join(w.ws, 'sup.pid');
      for (let i = 0; i < 400 && !(fs.existsSync(supFile) && fs.readFileSync(supFile, 'utf8').endsWith('\n')); i++) await sleep(50);
      const sup = Number(fs.readFileSync(supFile, 'utf8'));
      // The supervisor, under its keeper; the agent, the grandchild and the daemon alive.
      expect(comm(sup)).toBe('agent-gate-supe');
      expect(comm(ppid(sup))).toBe('agent-gate-keep');
      expect(liveWithToken(t).length).toBeGreaterThanOrEqual(3);

      process.kill(sup, 'SIGKILL');
      const r = await run;
      await sleep(300);
      expect(liveWithToken(t)).toEqual([]);
      // Nothing of the session writes any more (the daemon wrote every 50 ms).
      const size = fs.statSync(beat).size;
      await sleep(500);
      expect(fs.statSync(beat).size).toBe(size);
      // Said in words, on the terminal and in the end record: the agent's shell, its sleep, the grandchild's
      // shell and sleep, the daemon.
      expect(r.code).toBe(126);
      const said = /the supervisor was killed by signal 9 without reporting the agent's exit; (\d+) processes of the session ended by the gate's keeper \(([^)]*)\)/;
      const m = said.exec(r.stderr);
      expect(m, r.stderr).not.toBeNull();
      expect(Number(m?.[1])).toBeGreaterThanOrEqual(5);
      expect((m?.[2] ?? '').split(', ')).toEqual(expect.arrayContaining(['bash', 'sleep', 'python3']));
      expect(String(r.end?.reason)).toMatch(said);
    });
  }

  it('an ordinary end is unchanged: the agent\'s status, no word from the keeper', async () => {
    const w = ownedWorkspace(path.join(dirs.root, `plain-${++n}`), SEALED_WRITES);
    const r = await runCli(['bash', '-c', 'echo hi; exit 3'], { policy: w.policy, audit: path.join(w.state, 'audit.jsonl'), cwd: w.ws, env: { HOME: path.dirname(w.ws) } });
    expect(r.stdout).toBe('hi\n');
    expect(r.code).toBe(3);
    expect(r.stderr).not.toContain('keeper');
    expect(r.end?.reason).toBeUndefined();
  });
});
