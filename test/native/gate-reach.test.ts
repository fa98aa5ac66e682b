// What an agent can reach outside its session besides running programs (red-team R1, R2, R3), tried through
// `agent-gate run` under the strictest policy the format has (files, execution, TCP and unix sockets sealed),
// as root and as uid 65534, each with an ungated control that shows the try works on this machine:
// - descriptors the launcher leaked (a socket to the launcher, a file outside the write grants opened for
//   writing): never passed to the agent (native/src/main.c);
// - limits, priority and scheduling of processes outside the session (Landlock scopes signals, not these):
//   refused by the filter for any pid but the caller's own 0 (native/src/seccomp.c);
// - metadata of files outside the write grants (Landlock checks none of it): performed by the supervisor
//   inside the grants only (native/src/meta.c); setuid and setgid bits refused everywhere (seccomp.c).
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, makeDirs, prepare, prog, PROGS, runCli, SUPERVISOR, type CliRun } from './gate-progs/cli';
import { ownedWorkspace } from './helpers/procs';

const NOBODY = 65534;
const AS_NOBODY = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];
type Who = 'root' | 'nobody';

let dirs: ReturnType<typeof makeDirs>;
let n = 0;
const outside: ChildProcess[] = [];

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('these tests need root: they run the agent as root and as uid 65534');
  await prepare();
  dirs = makeDirs('reach');
  fs.chmodSync(dirs.root, 0o755);
});
afterAll(() => {
  for (const p of outside) p.kill('SIGKILL');
  dirs?.cleanup();
});

/** A workspace (and state directory) the user `who` owns. */
function workspace(who: Who): { ws: string; state: string; policy: string } {
  return ownedWorkspace(path.join(dirs.root, `${who}-${++n}`), STRICT, { owner: who === 'nobody' ? NOBODY : undefined, policyInWorkspace: true });
}

/** Files, execution, TCP and unix sockets sealed; everything readable (the files tried are readable). */
const STRICT = `[meta]
version = 1
default_action = "allow"

[filesystem]
read_globs = ["/**"]
write_globs = ["\${WORKSPACE}/**"]
execute_globs = ["/usr/**", ${JSON.stringify(`${PROGS}/**`)}]
require_enforced = true

[network]
connect_tcp_ports = []
bind_tcp_ports = []
require_enforced = true

[unix_sockets]
allow = []
`;

function gated(who: Who, argv: string[]): Promise<CliRun> {
  const w = workspace(who);
  return runCli(argv, {
    policy: w.policy,
    audit: path.join(w.state, 'audit.jsonl'),
    cwd: w.ws,
    env: { HOME: path.dirname(w.ws) },
    wrap: who === 'nobody' ? AS_NOBODY : undefined,
  });
}

function ungated(who: Who, argv: string[]): string {
  const [cmd, ...args] = who === 'nobody' ? [...AS_NOBODY, ...argv] : argv;
  return spawnSync(cmd!, args, { encoding: 'utf8' }).stdout;
}

function results(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const [, name, rest] of out.matchAll(/^RESULT (\S+) (.*)$/gm)) m.set(name!, rest!);
  return m;
}

/** A process of user `who` outside the gate, as the user's editor or shell would be. */
async function outsider(who: Who): Promise<number> {
  const argv = who === 'nobody' ? [...AS_NOBODY, 'sleep', '300'] : ['sleep', '300'];
  const p = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  outside.push(p);
  await new Promise((r) => setTimeout(r, 100));
  return p.pid!;
}

function limitOf(pid: number, name: string): string {
  return fs.readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith(name)) ?? '';
}

describe.each<Who>(['root', 'nobody'])('gate: descriptors the launcher leaked (agent as %s)', (who) => {
  /** The CLI started with a socket on fd 100 (the other end is ours) and a file outside the write grants
   *  opened for writing on fd 101, as a launcher that leaks descriptors would (libuv passes on every
   *  descriptor without close-on-exec; node's own low ones are close-on-exec, so high numbers are used). */
  async function withLeaks(argv: string[], gate: boolean): Promise<{ out: string; err: string; socket: string; file: string }> {
    const w = workspace(who);
    const file = path.join(path.dirname(w.ws), 'outside.txt');
    fs.writeFileSync(file, 'ORIGINAL\n');
    if (who === 'nobody') fs.chownSync(file, NOBODY, NOBODY);
    const fd = fs.openSync(file, 'r+');
    const cliArgs = [CLI, 'run', '--policy', w.policy, '--accept-policy', '--audit', path.join(w.state, 'a.jsonl'), '--supervisor', SUPERVISOR, '--', ...argv];
    const full = gate ? [process.execPath, ...cliArgs] : argv;
    const [cmd, ...args] = who === 'nobody' ? [...AS_NOBODY, ...full] : full;
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: path.dirname(w.ws) };
    delete env.CI;
    const stdio: StdioOptions = ['ignore', 'pipe', 'pipe', ...Array<'ignore'>(97).fill('ignore'), 'pipe', fd];
    const child = spawn(cmd!, args, { cwd: w.ws, env, stdio });
    fs.closeSync(fd);
    let out = '';
    let err = '';
    let socket = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    (child.stdio as unknown as NodeJS.ReadableStream[])[100]!.setEncoding('utf8').on('data', (d: string) => (socket += d));
    await new Promise((r) => child.on('close', r));
    return { out, err, socket, file: fs.readFileSync(file, 'utf8') };
  }

  it('control: ungated, the program writes to both (the launcher receives it, the file changes)', async () => {
    const r = await withLeaks([prog('reach'), 'fds'], false);
    expect(r.out).toMatch(/^FD 100 socket:/m);
    expect(r.socket).toContain('LEAKED');
    expect(r.file).toContain('LEAKED');
  });

  it('gated, the agent holds only 0, 1 and 2 (and what it opens): nothing reaches the launcher or the file; a warning names the socket', async () => {
    const r = await withLeaks([prog('reach'), 'fds'], true);
    expect(r.out, r.err).toContain('RESULT fds-listed ok');
    expect(r.out).not.toMatch(/^FD /m);
    expect(r.socket).toBe('');
    expect(r.file).toBe('ORIGINAL\n');
    expect(r.err, r.err).toMatch(/descriptors inherited from the launcher are not passed to the agent: 100 \(a socket\)/);
  });
});

describe.each<Who>(['root', 'nobody'])('gate: processes outside the session (agent as %s)', (who) => {
  it('control: ungated, limits, priority and scheduling of another process of the same user change', async () => {
    const pid = await outsider(who);
    const r = results(ungated(who, [prog('reach'), 'procs', String(pid), ...(who === 'nobody' ? ['user'] : [])]));
    expect(r.get('prlimit-nofile')).toBe('ok');
    expect(r.get('prlimit-core')).toBe('ok');
    expect(limitOf(pid, 'Max open files')).toMatch(/\s1\s+1\s/);
    if (who === 'nobody') {
      // Root keeps these only with CAP_SYS_NICE (which the gate drops too): as the user, they work.
      for (const k of ['setpriority', 'setpriority-user', 'sched-setscheduler', 'sched-setparam', 'ioprio-set']) expect(r.get(k), k).toBe('ok');
    }
  });

  it('gated, every one is refused, a signal too; the caller\'s own limits and priority still change', async () => {
    const pid = await outsider(who);
    const before = limitOf(pid, 'Max open files');
    const run = await gated(who, [prog('reach'), 'procs', String(pid), ...(who === 'nobody' ? ['user'] : [])]);
    const r = results(run.stdout);
    expect(r.size, run.stderr).toBeGreaterThan(5);
    for (const k of ['prlimit-nofile', 'prlimit-core', 'setpriority', 'sched-setscheduler', 'sched-setparam', 'ioprio-set', 'kill']) {
      expect(r.get(k), k).toBe('errno=EPERM');
    }
    if (who === 'nobody') expect(r.get('setpriority-user')).toBe('errno=EPERM');
    for (const k of ['own-setrlimit', 'own-prlimit', 'own-setpriority', 'own-sched-setscheduler']) expect(r.get(k), k).toBe('ok');
    expect(limitOf(pid, 'Max open files')).toBe(before);
    expect(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[16]).toBe('0'); // nice
  });
});

describe.each<Who>(['root', 'nobody'])('gate: metadata of files outside the write grants (agent as %s)', (who) => {
  /** A file of the agent's user outside its write grants (readable: the policy reads everything). */
  function outsideFile(): string {
    const f = path.join(dirs.root, `outside-${++n}`);
    fs.writeFileSync(f, 'content\n', { mode: 0o644 });
    fs.utimesSync(f, 1_000_000, 1_000_000);
    if (who === 'nobody') fs.chownSync(f, NOBODY, NOBODY);
    return f;
  }
  const CHANGES = ['chmod', 'chown', 'utimes', 'setxattr-user', 'setxattr-acl', 'fchmod', 'fchown', 'futimens', 'fsetxattr'];

  it('control: ungated, mode, owner, times, xattrs and an ACL change', () => {
    const f = outsideFile();
    const r = results(ungated(who, [prog('reach'), 'meta', f]));
    for (const k of CHANGES) expect(r.get(k), k).toBe('ok');
    expect(fs.statSync(f).mode & 0o7777).toBe(0o4755);
  });

  it('gated, every change is refused (EACCES, as Landlock answers for content) and the file is as it was', async () => {
    const f = outsideFile();
    const st = fs.statSync(f);
    const run = await gated(who, [prog('reach'), 'meta', f]);
    const r = results(run.stdout);
    expect(run.start?.enforcement?.metadata, run.stderr).toBe('mediated');
    for (const k of [...CHANGES, 'removexattr', 'setxattr-security']) expect(r.get(k), k).toBe('errno=EACCES');
    expect(r.get('chmod-setuid')).toBe('errno=EPERM');
    const after = fs.statSync(f);
    expect([after.mode, after.uid, after.mtimeMs, after.ctimeMs]).toEqual([st.mode, st.uid, st.mtimeMs, st.ctimeMs]);
  });

  it('inside the write grants the same calls work, performed by the supervisor (by path, by descriptor, relative to a directory, on a symlink)', async () => {
    const script = [
      'set -e',
      'mkdir -p d; echo hi > d/f; ln -s f d/l',
      'chmod 600 d/f; touch -d @5 d/f; touch -h -d @7 d/l; chown "$(id -u):$(id -g)" d/f; chown -h "$(id -u)" d/l',
      `${prog('reach')} meta d/f`,
      'stat -c "F %a %Y" d/f; stat -c "L %Y" d/l',
    ].join('; ');
    const run = await gated(who, ['bash', '-c', script]);
    const r = results(run.stdout);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('L 7');
    for (const k of CHANGES) expect(r.get(k), k).toBe('ok');
    expect(r.get('setxattr-security')).toBe('errno=EPERM'); // the supervisor's capabilities are not the agent's
    expect(r.get('chmod-setuid')).toBe('errno=EPERM');
    expect(run.stdout).toMatch(/^F 777 2$/m); // reach's fchmod and futimens came last
  });
});

describe.each<Who>(['root', 'nobody'])('gate: inode flags of files outside the write grants (agent as %s; red-team R90)', (who) => {
  const EXTENTS = 0x80000; // what ext4 shows of a plain file
  function outsideFile(): string {
    const f = path.join(dirs.root, `flags-${++n}`);
    fs.writeFileSync(f, 'content\n', { mode: 0o644 });
    if (who === 'nobody') fs.chownSync(f, NOBODY, NOBODY);
    return f;
  }
  const flagsOf = (f: string): string => results(ungated('root', [prog('reach'), 'flagsof', f])).get('flags') ?? '?';
  const PIPE = ['verity-pipe', 'encpolicy-pipe', 'fscrypt-add-key-pipe', 'fscrypt-remove-key-pipe', 'btrfs-subvol-create-pipe', 'btrfs-snap-destroy-v2-pipe', 'btrfs-subvol-setflags-pipe'];

  it('control: ungated, a read-only descriptor sets S, A, d, the xflags and the generation; file_setattr(2) too', () => {
    const f = outsideFile();
    const r = results(ungated(who, [prog('reach'), 'flags', f]));
    for (const k of ['getflags', 'setflags', 'fssetxattr', 'setversion', 'file-setattr']) expect(r.get(k), k).toBe('ok');
    for (const k of ['setflags32', ...PIPE]) expect(r.get(k), k).toBe('errno=ENOTTY');
    expect(flagsOf(f)).not.toBe(`0x${EXTENTS.toString(16)}`);
  });

  it('gated, every change is refused (EACCES; file_setattr ENOSYS, the 32-bit number ENOTTY) and the flags are as they were; fs-verity, encryption policies and keys, btrfs subvolumes refused by the filter', async () => {
    const f = outsideFile();
    const run = await gated(who, [prog('reach'), 'flags', f]);
    const r = results(run.stdout);
    expect(r.get('getflags'), run.stderr).toBe('ok');
    expect(r.get('fsgetxattr')).toBe('ok');
    for (const k of ['setflags', 'fssetxattr', 'setversion']) expect(r.get(k), k).toBe('errno=EACCES');
    expect(r.get('setflags32')).toBe('errno=ENOTTY');
    expect(r.get('file-setattr')).toBe('errno=ENOSYS');
    for (const k of ['verity-pipe', 'encpolicy-pipe']) expect(r.get(k), k).toBe('errno=EOPNOTSUPP');
    for (const k of PIPE.filter((k) => k.startsWith('btrfs') || k.startsWith('fscrypt'))) expect(r.get(k), k).toBe('errno=EPERM');
    expect(flagsOf(f)).toBe(`0x${EXTENTS.toString(16)}`);
  });

  it('inside the write grants chattr works, performed by the supervisor with the agent\'s capabilities: +i and +a stay refused', async () => {
    const run = await gated(who, ['bash', '-c', `echo hi > f; ${prog('reach')} flags f i; ${prog('reach')} flagsof f; echo hi > g; chattr +d +A g && lsattr g`]);
    const r = results(run.stdout);
    for (const k of ['setflags', 'fssetxattr', 'setversion']) expect(r.get(k), `${k} ${run.stderr}`).toBe('ok');
    expect(r.get('file-setattr')).toBe('errno=ENOSYS'); // libc and chattr use the ioctl
    expect(r.get('setflags-immutable')).toBe('errno=EPERM');
    expect(r.get('setflags-append')).toBe('errno=EPERM');
    const flags = Number(r.get('flags'));
    expect(flags & 0x40, r.get('flags')).toBe(0x40); // nodump, set
    expect(flags & 0x30).toBe(0); // neither immutable nor append-only
    expect(run.stdout).toMatch(/^-+dA-+e-* g$/m);
  });
});

describe('gate: metadata changes by an agent that switched user (red-team R46)', () => {
  it('a root-started agent that became uid 65534 gets the owner\'s rules only: another user\'s and root\'s files in its grants keep owner and mode; its own still change', async () => {
    const w = workspace('root');
    const other = path.join(w.ws, 'other');
    fs.writeFileSync(other, 'x\n', { mode: 0o600 });
    fs.chownSync(other, 1000, 1000);
    const mine = path.join(w.ws, 'mine');
    fs.writeFileSync(mine, 'y\n', { mode: 0o644 });
    fs.chownSync(mine, NOBODY, NOBODY);
    const script = `import os
def t(name, f):
    try:
        f(); print("RESULT", name, "ok")
    except OSError as e:
        print("RESULT", name, "errno=" + str(e.errno))
t("chown-other", lambda: os.chown("other", ${NOBODY}, ${NOBODY}))
t("chmod-other", lambda: os.chmod("other", 0o666))
t("utime-other", lambda: os.utime("other", (1, 1)))
t("chmod-mine", lambda: os.chmod("mine", 0o600))
t("chgrp-mine", lambda: os.chown("mine", -1, ${NOBODY}))
t("chown-mine-to-root", lambda: os.chown("mine", 0, -1))
`;
    const run = await runCli([...AS_NOBODY, '/usr/bin/python3', '-c', script], { policy: w.policy, audit: path.join(w.state, 'a.jsonl'), cwd: w.ws, env: { HOME: path.dirname(w.ws) } });
    const r = results(run.stdout);
    expect(r.get('chown-other'), run.stderr).toBe('errno=1');
    expect(r.get('chmod-other')).toBe('errno=1');
    expect(r.get('utime-other')).toBe('errno=1');
    expect(r.get('chmod-mine')).toBe('ok');
    expect(r.get('chgrp-mine')).toBe('ok');
    expect(r.get('chown-mine-to-root')).toBe('errno=1');
    const st = fs.statSync(other);
    expect([st.uid, st.mode & 0o777]).toEqual([1000, 0o600]);
    expect(fs.statSync(mine).mode & 0o777).toBe(0o600);
  });
});

describe('gate: a grant below another write grant follows no symlink (red-team R50)', () => {
  it('a symlink an earlier session planted where a nested grant points does not turn that grant into a grant of its target', async () => {
    const w = workspace('root');
    const outside = path.join(path.dirname(w.ws), 'home-like');
    fs.mkdirSync(outside);
    // What an earlier session left: the directory a profile grants, replaced by a symlink to the home directory.
    fs.mkdirSync(path.join(w.ws, 'cache'));
    fs.symlinkSync(outside, path.join(w.ws, 'cache', 'state'));
    fs.writeFileSync(w.policy, STRICT.replace('write_globs = ["${WORKSPACE}/**"]', 'write_globs = ["${WORKSPACE}/cache/**", "${WORKSPACE}/cache/state/**"]'));
    const run = await runCli(['bash', '-c', 'echo pwned > cache/state/.bashrc; echo rc=$?'], { policy: w.policy, audit: path.join(w.state, 'a.jsonl'), cwd: w.ws, env: { HOME: path.dirname(w.ws) } });
    expect(run.stdout, run.stderr).toContain('rc=1');
    expect(fs.existsSync(path.join(outside, '.bashrc'))).toBe(false);
    expect(run.stderr).toMatch(/cache\/state' \(\w+\) skipped: a symlink on its way inside another write grant/);
  });
});

describe.each<Who>(['root', 'nobody'])('gate: setuid and setgid files (agent as %s)', (who) => {
  it('control: ungated, a setuid file is made by open, creat, mknod and chmod', () => {
    const w = workspace(who);
    const r = results(ungated(who, [prog('reach'), 'setuid', w.ws]));
    for (const k of ['open-setuid', 'creat-setuid', 'mknod-setuid', 'fchmod-setuid', 'chmod-setgid', 'fchmodat-setuid']) expect(r.get(k), k).toBe('ok');
    expect(fs.statSync(path.join(w.ws, 'open-suid')).mode & 0o4000).toBe(0o4000);
  });

  it('gated, each is refused in the workspace; plain modes still work', async () => {
    const run = await gated(who, [prog('reach'), 'setuid', '.']);
    const r = results(run.stdout);
    for (const k of ['open-setuid', 'creat-setuid', 'mknod-setuid', 'fchmod-setuid', 'chmod-setgid', 'fchmodat-setuid']) expect(r.get(k), k).toBe('errno=EPERM');
    expect(r.get('open-plain'), run.stderr).toBe('ok');
    expect(r.get('chmod-plain')).toBe('ok');
  });
});
