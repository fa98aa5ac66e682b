// Secrets of other processes (issue 13, item 6): with read_globs limited to the workspace, /proc/<pid>/environ
// of a process outside the gate was readable. Why, measured on 6.18: Landlock refuses ptrace-mode access to
// tasks outside the agent's domain, but mm_access() lets a caller with CAP_SYS_ADMIN or CAP_PERFMON read
// environ and maps past that check — a root agent had both. Now the agent keeps neither (privs.c), and a root
// agent gets a /proc of its own that shows only the session's processes (mountns.c, hidepid=ptraceable).
// A secret is planted in an outside process's environment and command line; the agent tries environ,
// cmdline, mem, maps, fd/, cwd, exe and root/ traversal, of it and of the supervisor.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDirs, prepare, runCli, type CliRun } from './gate-progs/cli';

const SECRET = `sk-agentgate-${process.pid}-secret`;
let dirs: ReturnType<typeof makeDirs>;
let outside: ChildProcess;
let n = 0;

beforeAll(async () => {
  await prepare();
  dirs = makeDirs('proc');
  // Outside the gate: a process with the secret in its environment, its command line and its cwd's name.
  const cwd = path.join(dirs.root, `cwd-${SECRET}`);
  fs.mkdirSync(cwd);
  outside = spawn('bash', ['-c', `sleep 300; : ${SECRET}`], { cwd, env: { ...process.env, API_TOKEN: SECRET }, stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 100));
});
afterAll(() => {
  outside?.kill('SIGKILL');
  dirs?.cleanup();
});

const POLICY = `[meta]
version = 1
default_action = "allow"

[filesystem]
read_globs = ["\${WORKSPACE}/**"]
write_globs = ["\${WORKSPACE}/**"]
`;

/** Every way to read another process's secrets through /proc, for pid $1; each prints what it got. */
const PROBE = `p=$1
for f in environ cmdline maps stat status; do echo "== $f"; cat /proc/$p/$f 2>&1 | tr '\\0' ' '; echo; done
echo "== mem"; dd if=/proc/$p/mem bs=1 count=16 skip=4096 2>&1 | head -c 200; echo
echo "== fd"; ls -l /proc/$p/fd/ 2>&1 | head -5
echo "== cwd"; readlink -v /proc/$p/cwd 2>&1
echo "== exe"; readlink -v /proc/$p/exe 2>&1
echo "== root"; ls /proc/$p/root/ 2>&1 | head -3; cat /proc/$p/root/etc/hostname 2>&1
echo "== listed"; ls /proc | grep -cx "$p"
echo "== end"`;

function gated(extraEnv: NodeJS.ProcessEnv = {}, pid = outside.pid!): Promise<CliRun> {
  const ws = path.join(dirs.root, `ws-${++n}`);
  fs.mkdirSync(ws);
  const policy = path.join(ws, '.gate.toml');
  fs.writeFileSync(policy, POLICY);
  fs.writeFileSync(path.join(ws, 'probe.sh'), PROBE, { mode: 0o755 });
  return runCli(['bash', '-c', `./probe.sh ${pid}; ./probe.sh $PPID`], { policy, audit: dirs.audit(`proc-${n}`), cwd: ws, env: extraEnv });
}

describe('gate: secrets of processes outside the gate', () => {
  it('control: without the gate, the outside process\'s environment, command line and maps are readable', () => {
    const ws = path.join(dirs.root, 'control');
    fs.mkdirSync(ws);
    fs.writeFileSync(path.join(ws, 'probe.sh'), PROBE, { mode: 0o755 });
    const r = spawnSync(path.join(ws, 'probe.sh'), [String(outside.pid)], { encoding: 'utf8' });
    expect(r.stdout).toContain(`API_TOKEN=${SECRET}`);
    expect(r.stdout).toMatch(/== maps\n[0-9a-f]+-/);
  });

  it('a root agent sees none of it, nor the supervisor\'s: /proc shows only the session\'s processes', async () => {
    const r = await gated();
    expect(r.start?.enforcement).toMatchObject({ proc: 'session', caps: '0x5fb' });
    expect(r.stdout).not.toContain(SECRET);
    expect(r.stdout).not.toContain('API_TOKEN');
    // Neither process is even listed; every file of theirs is missing.
    expect(r.stdout.match(/== listed\n0\n/g)).toHaveLength(2);
    expect(r.stdout).not.toMatch(/== maps\n[0-9a-f]+-/);
    expect(r.stdout.match(/No such file or directory/g)!.length).toBeGreaterThanOrEqual(12);
    expect(r.stdout.match(/== end/g)).toHaveLength(2);
  });

  it('without the private /proc (a non-root agent\'s case): environ, mem, maps, fd/, cwd, exe and root/ are still refused', async () => {
    // AGENT_GATE_NO_MOUNTNS=1: the supervisor gives the agent no mount namespace, as for a non-root user.
    // What refuses then is Landlock's ptrace scoping, which the dropped capabilities no longer get around.
    const r = await gated({ AGENT_GATE_NO_MOUNTNS: '1' });
    expect(r.start?.enforcement).toMatchObject({ proc: 'shared' });
    const sections = (text: string): Map<string, string[]> => {
      const m = new Map<string, string[]>();
      for (const part of text.split('== ').slice(1)) {
        const [name, ...rest] = part.split('\n');
        m.set(name!, [...(m.get(name!) ?? []), rest.join('\n')]);
      }
      return m;
    };
    const s = sections(r.stdout);
    for (const f of ['environ', 'maps', 'mem', 'fd', 'cwd', 'exe', 'root']) {
      for (const out of s.get(f) ?? []) expect(out, f).toMatch(/Permission denied|Operation not permitted/);
    }
    expect(r.stdout).not.toContain('API_TOKEN');
    // The command line stays readable, as every process's is to every user on Linux without hidepid.
    expect(s.get('cmdline')?.[0]).toContain(SECRET);
  });

  it('a non-root agent (uid 65534, through agent-gate run) cannot read the environment of a process of its own user outside the gate', async () => {
    const AS_NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
    const secret = `${SECRET}-nobody`;
    const victim = spawn(AS_NOBODY[0]!, [...AS_NOBODY.slice(1), 'bash', '-c', `sleep 300; : ${secret}`], { env: { ...process.env, API_TOKEN: secret }, stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 100));
      // Control: the same user, ungated, reads it.
      expect(spawnSync(AS_NOBODY[0]!, [...AS_NOBODY.slice(1), 'cat', `/proc/${victim.pid}/environ`], { encoding: 'latin1' }).stdout).toContain(`API_TOKEN=${secret}`);
      const base = path.join(dirs.root, `nobody-${++n}`);
      const ws = path.join(base, 'ws');
      fs.mkdirSync(ws, { recursive: true });
      fs.chmodSync(dirs.root, 0o755);
      const policy = path.join(ws, '.gate.toml');
      fs.writeFileSync(policy, POLICY);
      fs.writeFileSync(path.join(ws, 'probe.sh'), PROBE, { mode: 0o755 });
      for (const p of [base, ws, policy, path.join(ws, 'probe.sh')]) fs.chownSync(p, 65534, 65534);
      const r = await runCli(['bash', '-c', `./probe.sh ${victim.pid}`], { policy, audit: path.join(base, 'audit.jsonl'), cwd: ws, env: { HOME: base }, wrap: AS_NOBODY });
      expect(r.start?.enforcement, r.stderr).toMatchObject({ proc: 'shared', caps: '0' });
      expect(r.stdout).toContain('== end');
      expect(r.stdout).not.toContain('API_TOKEN');
      expect(r.stdout).toMatch(/== environ\n[^\n]*Permission denied/);
      expect(r.stdout).toMatch(/== mem\n[^\n]*Permission denied/);
    } finally {
      victim.kill('SIGKILL');
    }
  });
});
