// Red-team probes (fourth red team, session of 2026-12-03) that the gate held, kept as regression tests. Each
// tries the route for real through `agent-gate run`, as root and as uid 65534 unless said, with an ungated
// control that shows the same try works on this machine:
// - a second seccomp listener: were the agent allowed one, its own filter's USER_NOTIF for execve would be
//   answered by the agent (the most recent filter's listener gets the notification) and every exec it CONTINUEs
//   would pass the supervisor unseen; the kernel refuses a second listener in a filter chain (EBUSY);
// - execveat(AT_EMPTY_PATH) of an O_PATH descriptor of a program a rule denies: judged and recorded like its path;
// - personality(READ_IMPLIES_EXEC) (every readable mapping executable): refused;
// - the new mount API for a root agent (open_tree, open_tree_attr, fsopen, fspick, fsconfig, fsmount,
//   move_mount, mount_setattr): refused by the filter before the kernel looks at the arguments;
// - the agent program's very first instructions (a static binary: nothing of it runs before) creating a file
//   the guards keep whole — Codex's rules/ in the home directory under the codex profile, a `.vscode/tasks.json`
//   below the workspace root: the guards' snapshots are taken before the agent starts, so both are put back.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDirs, prog, runCli } from './gate-progs/cli';
import { AS_NOBODY, NOBODY, rootAndNobodyDirs } from './helpers/as-users';
import { ownedWorkspace } from './helpers/procs';

type Who = 'root' | 'nobody';

let dirs: ReturnType<typeof makeDirs>;
let n = 0;

beforeAll(async () => {
  dirs = await rootAndNobodyDirs('redteam4');
});
afterAll(() => dirs?.cleanup());

const POLICY = `[meta]
version = 1
default_action = "allow"

[filesystem]
read_globs = ["/**"]
write_globs = ["\${WORKSPACE}/**"]
require_enforced = true

[[rule]]
id = "deny-mount"
action = "deny"
reason = "administers the machine"
exe_basename = "mount"
`;

function workspace(who: Who): { ws: string; state: string; policy: string } {
  return ownedWorkspace(path.join(dirs.root, `${who}-${++n}`), POLICY, { owner: who === 'nobody' ? NOBODY : undefined });
}

const results = (out: string): string[] => out.split('\n').filter((l) => l.startsWith('RESULT'));

/** Run the probe ungated (the control), as `who`. */
function ungated(who: Who, probe: string, args: string[] = []): { stdout: string; stderr: string } {
  const asWho = who === 'nobody' ? AS_NOBODY : [];
  const r = spawnSync(asWho[0] ?? '/usr/bin/python3', [...asWho.slice(1), ...(asWho.length ? ['/usr/bin/python3'] : []), probe, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { stdout: r.stdout, stderr: r.stderr };
}

async function gated(who: Who, w: { ws: string; state: string; policy: string }, argv: string[]): Promise<Awaited<ReturnType<typeof runCli>>> {
  return runCli(argv, {
    policy: w.policy,
    audit: path.join(w.state, 'audit.jsonl'),
    cwd: w.ws,
    env: { HOME: path.dirname(w.ws) },
    wrap: who === 'nobody' ? AS_NOBODY : [],
  });
}

describe('gate (red-team 4, held): the agent cannot install a seccomp listener of its own', () => {
  // A filter that sends execve (59) to a new listener and allows everything else. Printed: the call's result.
  // Ungated the kernel gives a listener descriptor; under the gate (whose filter has the listener) EBUSY.
  const PROBE = String.raw`
import ctypes, os, struct
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
def stmt(code, k): return struct.pack('HBBI', code, 0, 0, k)
def jump(code, k, jt, jf): return struct.pack('HBBI', code, jt, jf, k)
prog = (stmt(0x20, 0)                      # ld [nr]
        + jump(0x15, 59, 0, 1)             # jeq #execve
        + stmt(0x06, 0x7fc00000)           # ret USER_NOTIF
        + stmt(0x06, 0x7fff0000))          # ret ALLOW
buf = ctypes.create_string_buffer(prog, len(prog))
fprog = struct.pack('HxxxxxxQ', len(prog) // 8, ctypes.addressof(buf))
fbuf = ctypes.create_string_buffer(fprog, len(fprog))
r = libc.syscall(317, 1, 8, fbuf)           # seccomp(SET_MODE_FILTER, NEW_LISTENER)
print('RESULT listener', 'fd' if r >= 0 else os.strerror(ctypes.get_errno()), flush=True)
`;
  for (const who of ['root', 'nobody'] as const) {
    it(`seccomp(SECCOMP_FILTER_FLAG_NEW_LISTENER) for execve: a descriptor ungated, EBUSY in the gate, and exec is still judged (${who})`, async () => {
      const w = workspace(who);
      const probe = path.join(w.ws, 'listener.py');
      fs.writeFileSync(probe, PROBE, { mode: 0o644 });
      const ctl = ungated(who, probe);
      expect(results(ctl.stdout), ctl.stderr).toEqual(['RESULT listener fd']);

      // In the gate: refused; then a denied program is still denied (the gate's listener still hears exec).
      const r = await gated(who, w, ['sh', '-c', `/usr/bin/python3 ${probe}; mount --version >/dev/null 2>&1 && echo 'RESULT mount ran' || echo 'RESULT mount refused'`]);
      expect(r.code, r.stderr).toBe(0);
      expect(results(r.stdout), r.stderr).toEqual(['RESULT listener Device or resource busy', 'RESULT mount refused']);
      expect(r.decisions.some((d) => d.verdict === 'deny' && /mount$/.test(d.exe ?? ''))).toBe(true);
    });
  }
});

describe('gate (red-team 4, held): execveat of an O_PATH descriptor, and personality', () => {
  // execveat(fd, "", AT_EMPTY_PATH) of an O_PATH descriptor of /usr/bin/mount (a rule denies it), in a child;
  // then personality(READ_IMPLIES_EXEC).
  const PROBE = String.raw`
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open(sys.argv[1], os.O_PATH)
pid = os.fork()
if pid == 0:
    argv = (ctypes.c_char_p * 3)(sys.argv[1].encode(), b'--version', None)
    envp = (ctypes.c_char_p * 1)(None)
    devnull = os.open('/dev/null', os.O_WRONLY); os.dup2(devnull, 1)
    libc.syscall(322, fd, b'', argv, envp, 0x1000)   # execveat(..., AT_EMPTY_PATH)
    os.write(2, ('RESULT execveat ' + os.strerror(ctypes.get_errno()) + '\n').encode()); os._exit(3)
_, st = os.waitpid(pid, 0)
if os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0: print('RESULT execveat ran', flush=True)
r = libc.personality(0x0400000)                        # READ_IMPLIES_EXEC
print('RESULT personality', 'set' if r >= 0 else os.strerror(ctypes.get_errno()), flush=True)
`;
  for (const who of ['root', 'nobody'] as const) {
    it(`a denied program through execveat(AT_EMPTY_PATH) of its O_PATH descriptor: refused and recorded; READ_IMPLIES_EXEC refused (${who})`, async () => {
      const w = workspace(who);
      const probe = path.join(w.ws, 'execveat.py');
      fs.writeFileSync(probe, PROBE, { mode: 0o644 });
      const ctl = ungated(who, probe, ['/usr/bin/mount']);
      expect(results(ctl.stdout), ctl.stderr).toEqual(['RESULT execveat ran', 'RESULT personality set']);

      const r = await gated(who, w, ['/usr/bin/python3', probe, '/usr/bin/mount']);
      expect(r.code, r.stderr).toBe(0);
      expect(results(r.stdout), r.stderr).toEqual(['RESULT personality Operation not permitted']);
      expect(r.stderr).toMatch(/RESULT execveat (Permission denied|Operation not permitted)/);
      expect(r.decisions.some((d) => d.verdict === 'deny' && d.exe === '/usr/bin/mount'), JSON.stringify(r.decisions.map((d) => [d.exe, d.verdict]))).toBe(true);
    });
  }
});

describe('gate (red-team 4, held): the new mount API is refused to a root agent', () => {
  // Harmless forms only: a clone of / that is closed at once, a tmpfs context that is never mounted; the calls
  // that could change a mount (fsconfig, fsmount, move_mount, mount_setattr) get arguments the kernel would
  // refuse anyway (EBADF/EINVAL), so that EPERM can only be the filter's answer.
  const PROBE = String.raw`
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def t(name, *a):
    r = libc.syscall(*a)
    if r >= 0: os.close(r)
    print('RESULT', name, 'ok' if r >= 0 else os.strerror(ctypes.get_errno()), flush=True)
AT_FDCWD = -100
t('open_tree', 428, AT_FDCWD, b'/', 1 | 0o2000000)             # OPEN_TREE_CLONE | O_CLOEXEC
t('fsopen', 430, b'tmpfs', 0)
t('fspick', 433, AT_FDCWD, b'/', 0)
t('fsconfig', 431, -1, 7, None, None, 0)
t('fsmount', 432, -1, 0, 0)
t('move_mount', 429, -1, b'', -1, b'', 0)
t('mount_setattr', 442, -1, b'', 0, None, 0)
t('open_tree_attr', 467, AT_FDCWD, b'/', 1 | 0o2000000, None, 0)
`;
  it('open_tree, fsopen and fspick work ungated as root; in the gate every mount-API call is EPERM (root)', async () => {
    const w = workspace('root');
    const probe = path.join(w.ws, 'mountapi.py');
    fs.writeFileSync(probe, PROBE, { mode: 0o644 });
    const ctl = results(ungated('root', probe).stdout);
    // The control: the kernel takes these from root (and looks at the arguments of the others).
    expect(ctl.slice(0, 3)).toEqual(['RESULT open_tree ok', 'RESULT fsopen ok', 'RESULT fspick ok']);
    for (const l of ctl.slice(3)) expect(l).not.toMatch(/Operation not permitted/);

    const r = await gated('root', w, ['/usr/bin/python3', probe]);
    expect(r.code, r.stderr).toBe(0);
    const got = results(r.stdout);
    expect(got.length, r.stderr).toBe(8);
    for (const l of got) expect(l).toMatch(/ Operation not permitted$/);
  });
});

describe('gate (red-team 4, held): the agent\'s first instructions meet guards that are already watching', () => {
  const RULE = 'prefix_rule(pattern=["bash"], decision="allow")';
  const TASKS = '{"version":"2.0.0","tasks":[{"label":"x","type":"shell","command":"id","runOptions":{"runOn":"folderOpen"}}]}';
  for (const who of ['root', 'nobody'] as const) {
    it(`a static program whose first write is ~/.codex/rules/default.rules (codex profile) or sub/.vscode/tasks.json: refused or put back (recorded), never kept (${who})`, async () => {
      const w = workspace(who);
      const home = path.join(path.dirname(w.ws), 'home');
      // rules/ exists (Codex makes it): a new directory there would be removed before the file is in it.
      fs.mkdirSync(path.join(home, '.codex', 'rules'), { recursive: true });
      fs.mkdirSync(path.join(w.ws, 'sub'));
      if (who === 'nobody') for (const d of [home, path.join(home, '.codex'), path.join(home, '.codex', 'rules'), path.join(w.ws, 'sub')]) fs.chownSync(d, NOBODY, NOBODY);
      const fw = path.join(w.ws, 'fw');
      fs.copyFileSync(prog('rt4_firstwrite'), fw);
      fs.chmodSync(fw, 0o755);
      const rules = path.join(home, '.codex', 'rules', 'default.rules');
      const tasks = path.join(w.ws, 'sub', '.vscode', 'tasks.json');

      // Control: ungated, the program makes the file.
      const ctlFile = path.join(dirs.root, `ctl-${n}`, 'rules', 'default.rules');
      fs.mkdirSync(path.join(dirs.root, `ctl-${n}`));
      expect(spawnSync(fw, [ctlFile, RULE]).status).toBe(0);
      expect(fs.readFileSync(ctlFile, 'utf8')).toBe(`${RULE}\n`);

      const run = (file: string, line: string, extra: string[]): ReturnType<typeof runCli> =>
        runCli(['./fw', file, line], { policy: w.policy, audit: path.join(w.state, `audit-${path.basename(file)}.jsonl`), cwd: w.ws, env: { HOME: home }, wrap: who === 'nobody' ? AS_NOBODY : [], extra });
      // Either the write is refused (3: a root agent's guarded places are read-only mounts; a directory the
      // agent makes is removed as it appears, so the file cannot be made in it) or it is made and put back
      // (0), with its record. Never kept.
      for (const [file, line, extra] of [[rules, RULE, ['--agent', 'codex']], [tasks, TASKS, []]] as const) {
        const r = await run(file, line, [...extra]);
        expect(r.end, r.stderr).toBeDefined();
        expect([0, 3], r.stderr).toContain(r.code);
        expect(fs.existsSync(file), r.stderr).toBe(false);
        if (r.code === 0) expect(r.records.some((x) => x.type === 'protected'), r.stderr).toBe(true);
      }
    });
  }
});
