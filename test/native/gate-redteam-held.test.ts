// Red-team probes (session of 2026-12-02) that the gate held, kept as regression tests. Each tries the bypass
// for real through `agent-gate run` (root, and uid 65534 where the kernel's rules differ), with an ungated
// control that shows the same try works on this machine:
// - leftovers: a process made with clone(CLONE_PARENT) is the supervisor's child, not the agent's; setsid'd, it
//   still ends with the session (native/src/reap.c);
// - signals by I/O ownership: fcntl F_SETOWN / F_SETOWN_EX / a negative owner (a process group) aimed at a
//   process outside the gate, with F_SETSIG, then O_ASYNC traffic — Landlock's signal scoping covers the file
//   owner path (it is not kill(2)), so nothing arrives;
// - DNS with `dns = true`: port 53 of a host that is not a configured resolver (TCP, UDP, v4-mapped IPv6);
// - the workspace guard (outside the gate, reading the agent's version of a protected file) is not stopped by a
//   FIFO planted as that file: later changes are still put back;
// - R43's review is not skipped by pointing into the install's shipped policies/ (red-team R77): a workspace
//   `.gate.toml` that is a symlink to the shipped permissive policy, and `--policy` through a directory symlink
//   to policies/, are asked about like any other file (no terminal: nothing runs).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDirs, prepare, ROOT, runCli, type CliRun } from './gate-progs/cli';
import { liveWithToken, ownedWorkspace } from './helpers/procs';

const NOBODY = 65534;
const AS_NOBODY = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];
type Who = 'root' | 'nobody';

let dirs: ReturnType<typeof makeDirs>;
let bin: string;
let n = 0;
const outside: ChildProcess[] = [];

/** fcntl I/O ownership aimed at `pid` (and its process group), with SIGTERM as the signal, then traffic. */
const SIGIO_C = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
static void arm(int how, pid_t pid) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) { perror("socketpair"); exit(2); }
  int r;
  if (how == 2) { struct f_owner_ex o = { F_OWNER_TID, pid }; r = fcntl(sv[0], F_SETOWN_EX, &o); }
  else r = fcntl(sv[0], F_SETOWN, how == 1 ? -pid : pid);
  fcntl(sv[0], F_SETSIG, SIGTERM);
  fcntl(sv[0], F_SETFL, O_ASYNC | O_NONBLOCK);
  if (write(sv[1], "x", 1) != 1) perror("write");
  printf("RESULT owner%d %s\n", how, r == 0 ? "set" : "refused");
}
int main(int argc, char **argv) {
  pid_t pid = atoi(argv[1]);
  for (int how = 0; how < 3; how++) arm(how, pid);
  usleep(300000);
  return 0;
}
`;

/** clone(CLONE_PARENT): the child is our parent's child. It setsids and runs `sh -c 'sleep 300; :' TOKEN`. */
const CLONE_PARENT_C = String.raw`
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
  long p = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
  if (p < 0) { perror("clone"); return 1; }
  if (p == 0) { setsid(); execl("/bin/sh", "sh", "-c", "sleep 300; :", argv[1], (char *)0); _exit(127); }
  printf("RESULT sibling %ld\n", p);
  return 0;
}
`;

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('these tests need root: they run the agent as root and as uid 65534');
  await prepare();
  dirs = makeDirs('redteam');
  fs.chmodSync(dirs.root, 0o755);
  bin = path.join(dirs.root, 'bin');
  fs.mkdirSync(bin, { mode: 0o755 });
  for (const [name, src] of [['sigio', SIGIO_C], ['cloneparent', CLONE_PARENT_C]] as const) {
    fs.writeFileSync(path.join(bin, `${name}.c`), src);
    execFileSync('cc', ['-O2', '-o', path.join(bin, name), path.join(bin, `${name}.c`)]);
  }
});
afterAll(() => {
  for (const p of outside) p.kill('SIGKILL');
  dirs?.cleanup();
});

/** A workspace, state directory and policy the user `who` owns. */
function workspace(who: Who, policyText: string): { ws: string; state: string; policy: string } {
  return ownedWorkspace(path.join(dirs.root, `${who}-${++n}`), policyText, { owner: who === 'nobody' ? NOBODY : undefined });
}

const SEALED_WRITES = `[meta]
version = 1
default_action = "allow"

[filesystem]
read_globs = ["/**"]
write_globs = ["\${WORKSPACE}/**"]
require_enforced = true
`;

function gated(who: Who, argv: string[], w = workspace(who, SEALED_WRITES), env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return runCli(argv, {
    policy: w.policy,
    audit: path.join(w.state, 'audit.jsonl'),
    cwd: w.ws,
    env: { HOME: path.dirname(w.ws), ...env },
    wrap: who === 'nobody' ? AS_NOBODY : undefined,
  });
}

const results = (out: string): string[] => out.split('\n').filter((l) => l.startsWith('RESULT'));

/** A `sleep` outside the gate, owned by `who`, leader of its own process group. */
function outsideSleeper(who: Who): ChildProcess {
  const [cmd, ...args] = who === 'nobody' ? [...AS_NOBODY, 'sleep', '300'] : ['sleep', '300'];
  const p = spawn(cmd, args, { detached: true, stdio: 'ignore' });
  outside.push(p);
  return p;
}

const alive = (p: ChildProcess): boolean => p.exitCode === null && p.signalCode === null;
const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('gate (red-team, held): signals by I/O ownership do not reach a process outside the gate', () => {
  for (const who of ['root', 'nobody'] as const) {
    it(`F_SETOWN, a process-group owner and F_SETOWN_EX with F_SETSIG deliver nothing (${who})`, async () => {
      // Control: ungated, the same program kills a sleeper of the same user.
      const control = outsideSleeper(who);
      await settle(100);
      const [cmd, ...args] = who === 'nobody' ? [...AS_NOBODY, path.join(bin, 'sigio')] : [path.join(bin, 'sigio')];
      spawnSync(cmd, [...args, String(control.pid)], { encoding: 'utf8' });
      await settle(300);
      expect(alive(control), 'the ungated try must work on this machine').toBe(false);

      const target = outsideSleeper(who);
      await settle(100);
      const r = await gated(who, [path.join(bin, 'sigio'), String(target.pid)]);
      expect(r.code, r.stderr).toBe(0);
      expect(results(r.stdout)).toHaveLength(3);
      await settle(300);
      expect(alive(target)).toBe(true);
    });
  }
});

describe('gate (red-team, held): a clone(CLONE_PARENT) sibling is a leftover like any other', () => {
  for (const who of ['root', 'nobody'] as const) {
    it(`the supervisor's other child, setsid'd, ends with the session and is counted (${who})`, async () => {
      // Control: ungated, the sibling outlives the program that made it.
      const ctoken = `agent-gate-redteam-clone-control-${process.pid}-${++n}`;
      spawnSync(path.join(bin, 'cloneparent'), [ctoken], { stdio: 'ignore' });
      await settle(200);
      const strays = liveWithToken(ctoken);
      for (const pid of strays) process.kill(pid, 'SIGKILL');
      expect(strays.length, 'the ungated sibling must outlive its maker').toBeGreaterThan(0);

      const token = `agent-gate-redteam-clone-${process.pid}-${++n}`;
      const r = await gated(who, [path.join(bin, 'cloneparent'), token]);
      expect(results(r.stdout)[0], r.stderr).toMatch(/^RESULT sibling \d+$/);
      await settle(200);
      const left = liveWithToken(token);
      for (const pid of left) process.kill(pid, 'SIGKILL');
      expect(left).toEqual([]);
      expect((r.end?.leftovers as { ended: number } | undefined)?.ended).toBeGreaterThanOrEqual(1);
    });
  }
});

describe('gate (red-team, held): dns = true opens port 53 of the resolvers only', () => {
  it('TCP, UDP and v4-mapped UDP to port 53 of another host are refused and see nothing', async () => {
    const seen: string[] = [];
    const tcp = net.createServer((c) => {
      seen.push('tcp');
      c.destroy();
    });
    await new Promise<void>((res, rej) => tcp.once('error', rej).listen(53, '127.0.0.2', res));
    const udp = dgram.createSocket('udp4');
    udp.on('message', (m) => seen.push(`udp:${m.toString()}`));
    await new Promise<void>((res, rej) => udp.once('error', rej).bind(53, '127.0.0.2', res));
    try {
      const py = String.raw`
import socket
def t(f):
    try: f(); print('RESULT ok')
    except OSError as e: print('RESULT', e.errno)
def tcp():
    s = socket.socket(); s.settimeout(3); s.connect(('127.0.0.2', 53))
def udp():
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'plain', ('127.0.0.2', 53))
def udp_connected():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(('127.0.0.2', 53)); s.send(b'connected')
def udp_mapped():
    socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).sendto(b'mapped', ('::ffff:127.0.0.2', 53))
for f in (tcp, udp, udp_connected, udp_mapped): t(f)
`;
      // Control: ungated, all four reach the stand-in.
      const control = spawnSync('/usr/bin/python3', ['-c', py], { encoding: 'utf8' });
      expect(results(control.stdout)).toEqual(['RESULT ok', 'RESULT ok', 'RESULT ok', 'RESULT ok']);
      await settle(200);
      expect(seen.sort()).toEqual(['tcp', 'udp:connected', 'udp:mapped', 'udp:plain']);
      seen.length = 0;

      const w = workspace('root', `${SEALED_WRITES}\n[network]\nconnect_tcp_ports = []\nbind_tcp_ports = []\ndns = true\ndns_servers = ["127.0.0.1"]\nrequire_enforced = true\n`);
      const r = await gated('root', ['/usr/bin/python3', '-c', py], w);
      expect(results(r.stdout), r.stderr).toEqual(['RESULT 13', 'RESULT 13', 'RESULT 13', 'RESULT 13']);
      await settle(200);
      expect(seen).toEqual([]);
    } finally {
      tcp.close();
      udp.close();
    }
  });
});

describe('gate (red-team, held): a FIFO planted as a protected file does not stop the workspace guard', () => {
  it('after .git/info/exclude became a FIFO, a new hook and a config change are still put back (uid 65534: detection only)', async () => {
    const w = workspace('nobody', SEALED_WRITES);
    execFileSync('git', ['init', '-q', w.ws]);
    execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, w.ws]);
    const config = fs.readFileSync(path.join(w.ws, '.git', 'config'), 'utf8');
    const script = [
      // renamed over the file in one step (an rm then mkfifo loses to the guard, which puts the file back at
      // once). FIFOs are made only in the session's $TMPDIR (gate-socket-squat), and moved out of it nowhere:
      // the plant itself is refused now, and the rest must still be caught.
      'mkfifo "$TMPDIR/planted-fifo" && mv "$TMPDIR/planted-fifo" .git/info/exclude 2>/dev/null && echo RESULT fifo || echo RESULT no-fifo',
      'sleep 0.5',
      `printf '#!/bin/sh\\necho hook\\n' > .git/hooks/pre-commit; echo RESULT hook`,
      'sleep 0.5',
      `printf '[core]\\n\\tfsmonitor = "echo fsmonitor"\\n' >> .git/config && echo RESULT config`,
      'sleep 1',
    ].join('; ');
    // Detection alone: without the mount namespace a uid 65534 agent now gets through a user namespace (R106),
    // and without the end of the session at a second put-back.
    const r = await gated('nobody', ['/bin/sh', '-c', script], w, { AGENT_GATE_NO_MOUNTNS: '1', AGENT_GATE_GUARD_DETECT_ONLY: '1' });
    expect(results(r.stdout), r.stderr).toEqual(['RESULT no-fifo', 'RESULT hook', 'RESULT config']);
    expect(fs.existsSync(path.join(w.ws, '.git', 'hooks', 'pre-commit'))).toBe(false);
    expect(fs.readFileSync(path.join(w.ws, '.git', 'config'), 'utf8')).toBe(config);
    expect(fs.lstatSync(path.join(w.ws, '.git', 'info', 'exclude')).isFile()).toBe(true);
    const changed = (r.end?.protected_changes as { path: string }[] | undefined)?.map((c) => path.relative(w.ws, c.path)) ?? [];
    expect(changed).toEqual(expect.arrayContaining([path.join('.git', 'config')]));
  });
});

describe('gate (red-team, held): a policy that points into the shipped policies/ is still reviewed (R77)', () => {
  const permissive = (): string => path.join(ROOT, 'policies', 'permissive.gate.toml');

  it('a workspace .gate.toml symlinked to the shipped permissive policy: nothing runs without acceptance', async () => {
    const w = workspace('root', SEALED_WRITES);
    fs.symlinkSync(permissive(), path.join(w.ws, '.gate.toml'));
    const proof = path.join(path.dirname(w.ws), 'ran');
    const r = await runCli(['/bin/sh', '-c', `touch ${proof}`], { audit: path.join(w.state, 'audit.jsonl'), cwd: w.ws, accept: false, extra: ['--allow-root-without-filesystem'] });
    expect(r.code, r.stderr).toBe(126);
    expect(r.stderr).toContain('nothing ran');
    expect(fs.existsSync(proof)).toBe(false);
    // Reviewed as a workspace file, not as a shipped policy.
    expect(r.stderr).not.toContain('a shipped policy');
    // Control: the shipped file named as itself is recognised as shipped (so the refusal above is the symlink's).
    // It is still reviewed here, for its own reason: permissive seals no writes, so the agent of that run could
    // rewrite the install's file for the next run (R70); a shipped policy is exempt only out of the agent's reach.
    const c = await runCli(['/bin/sh', '-c', `touch ${proof}`], { policy: permissive(), audit: path.join(w.state, 'control.jsonl'), cwd: w.ws, accept: false, extra: ['--allow-root-without-filesystem'] });
    expect(c.code, c.stderr).toBe(126);
    expect(c.stderr).toContain('a shipped policy, but in a place the agent of this run may write');
    expect(fs.existsSync(proof)).toBe(false);
  });

  it('--policy through a directory symlink to policies/ is asked about too', async () => {
    const w = workspace('root', SEALED_WRITES);
    fs.symlinkSync(path.join(ROOT, 'policies'), path.join(w.ws, 'pol'));
    const proof = path.join(path.dirname(w.ws), 'ran');
    const r = await runCli(['/bin/sh', '-c', `touch ${proof}`], { policy: path.join(w.ws, 'pol', 'permissive.gate.toml'), audit: path.join(w.state, 'audit.jsonl'), cwd: w.ws, accept: false, extra: ['--allow-root-without-filesystem'] });
    expect(r.code, r.stderr).toBe(126);
    expect(r.stderr).toContain('nothing ran');
    expect(fs.existsSync(proof)).toBe(false);
  });
});
