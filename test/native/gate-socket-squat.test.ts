// End to end: the agent cannot put a socket or FIFO where a program outside the gate connects (red-team R31,
// issue 13 item 2). The user's services are started by the test, outside the gate, where they really live —
// ssh-agent's /tmp/ssh-XXXX/agent.N, a tmux-like /tmp/tmux-*/default, git's credential cache in
// ~/.cache/git/credential/socket, a socket directly in /tmp as VS Code's IPC sockets are, a FIFO — under a
// policy that grants writes to /tmp and ~/.cache as the default does. The agent, through `agent-gate run`, the
// real supervisor and the real kernel, tries every way to put its own in their place: unlink and bind,
// mknod, rename and link of its own socket, a directory holding one moved there, its socket directory
// renamed, a bind in the workspace. While it still runs, outside clients connect: they reach their own
// listener or nothing, never the agent. The agent's own sockets in $TMPDIR keep working (Python's
// multiprocessing forkserver, a node server on a path, its own tmux), and the directory goes with the session.
// As root and as uid 65534 (the whole CLI as that user).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepare, prog, runCli, type CliRun } from './gate-progs/cli';
import { startOutside, stopAllOutside, until } from './gate-progs/outside';
import { spawnSync } from 'node:child_process';

const PY = '/usr/bin/python3';
const NOBODY = 65534;
const AS_NOBODY = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];
type Who = 'root' | 'nobody';

/** Homes, workspaces and audit logs: outside /tmp, which the policy lets the agent write. */
let root: string;
/** Where the outside services are made in /tmp (removed at the end). */
const made: string[] = [];
let n = 0;

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('these tests need root: they run the agent as root and as uid 65534');
  for (const p of [PY, '/usr/bin/tmux', '/usr/bin/node', '/usr/bin/setpriv']) if (!fs.existsSync(p)) throw new Error(`${p} is missing`);
  await prepare();
  root = fs.mkdtempSync('/var/tmp/gate-e2e-squat-');
  fs.chmodSync(root, 0o755);
});
afterAll(() => {
  stopAllOutside();
  for (const p of made) fs.rmSync(p, { recursive: true, force: true });
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

/** Writes where the default policy has them: the workspace, /tmp, the XDG cache. /dev/ptmx and /dev/pts: tmux
 *  makes terminals for its windows. */
const POLICY = `[meta]
version = 1
default_action = "allow"

[filesystem]
read_globs = ["/**"]
write_globs = ["\${WORKSPACE}/**", "/tmp/**", "/dev/shm/**", "\${HOME}/.cache/**"]
allow_globs = ["/dev/ptmx", "/dev/pts/**"]
require_enforced = true
`;

interface Home {
  home: string;
  ws: string;
  policy: string;
  audit: string;
}

function home(who: Who, requireEnforced = true): Home {
  const base = path.join(root, `${who}-${++n}`);
  const ws = path.join(base, 'ws');
  fs.mkdirSync(ws, { recursive: true });
  fs.mkdirSync(path.join(base, 'state'));
  const policy = path.join(base, 'gate.toml');
  // An older ABI seals writes only partly (no IOCTL_DEV before 5): the run is let go with the gap reported.
  fs.writeFileSync(policy, requireEnforced ? POLICY : POLICY.replace('require_enforced = true', 'require_enforced = false'));
  if (who === 'nobody') spawnSync('chown', ['-R', `${NOBODY}:${NOBODY}`, base]);
  return { home: base, ws, policy, audit: path.join(base, 'state', 'audit.jsonl') };
}

function gated(who: Who, h: Home, argv: string[], abiMax?: number): Promise<CliRun> {
  return runCli(argv, {
    policy: h.policy,
    audit: h.audit,
    cwd: h.ws,
    // SHELL: tmux runs a window's command with $SHELL, else the user's login shell — nobody's is nologin, so
    // without it the agent's own tmux would end at once, as it does ungated.
    env: { HOME: h.home, SHELL: '/bin/sh', XDG_CACHE_HOME: '', XDG_STATE_HOME: '', XDG_RUNTIME_DIR: '', TMPDIR: '', ...(abiMax !== undefined ? { AGENT_GATE_LANDLOCK_ABI_MAX: String(abiMax) } : {}) },
    wrap: who === 'nobody' ? AS_NOBODY : undefined,
  });
}

const as = (who: Who, argv: string[]): string[] => (who === 'nobody' ? [...AS_NOBODY, ...argv] : argv);

/** A directory of `who` in /tmp, as ssh-agent and tmux make theirs (0700). */
function tmpDir(who: Who, prefix: string): string {
  const d = fs.mkdtempSync(path.join('/tmp', prefix));
  made.push(d);
  if (who === 'nobody') fs.chownSync(d, NOBODY, NOBODY);
  return d;
}

function results(out: string): string[] {
  return [...out.matchAll(/^RESULT (.*)$/gm)].map((m) => m[1] as string);
}

/** The agent's side: a listener of its own in $TMPDIR that answers "agent", then each way to put a socket or
 *  FIFO at TARGET; then it says so (ATTACKED) and stays until the test has connected from outside (DONE). */
const ATTACK = String.raw`import errno, os, shutil, socket, stat, sys, threading, time
ws, tmp = os.getcwd(), os.environ['TMPDIR']
kind_targets = [a.split('=', 1) for a in sys.argv[1:]]
accepted = open(os.path.join(ws, 'agent-accepted.log'), 'a')
def res(name, f):
    try:
        f(); print('RESULT', name, 'ok', flush=True)
    except OSError as e:
        print('RESULT', name, 'errno=' + errno.errorcode.get(e.errno, str(e.errno)), flush=True)
def serve(s):
    while True:
        c, _ = s.accept()
        accepted.write('ACCEPT\n'); accepted.flush()
        c.sendall(b'agent'); c.close()
keep = []
def listener(p):
    s = socket.socket(socket.AF_UNIX); s.bind(p); s.listen(16); keep.append(s)
    threading.Thread(target=serve, args=(s,), daemon=True).start()
for i, (kind, t) in enumerate(kind_targets):
    if kind == 'abstract':
        # A name no one holds yet that a client outside will ask for (Landlock scopes abstract sockets only
        # from inside out).
        res(f'{i} bind', lambda: listener('\0' + t[1:]))
        continue
    d = os.path.dirname(t)
    own = os.path.join(tmp, f'own-{i}')
    if kind == 'sock':
        res(f'{i} own-listener', lambda: listener(own))
    else:
        res(f'{i} own-fifo', lambda: os.mkfifo(own))
    res(f'{i} unlink', lambda: os.unlink(t))
    if kind == 'sock':
        res(f'{i} bind', lambda: listener(t))
    else:
        res(f'{i} mkfifo', lambda: os.mkfifo(t))
    res(f'{i} mknod-sock', lambda: os.mknod(t, 0o600 | stat.S_IFSOCK))
    res(f'{i} mknod-fifo', lambda: os.mknod(t, 0o600 | stat.S_IFIFO))
    res(f'{i} rename-over', lambda: os.rename(own, t))
    res(f'{i} link', lambda: os.link(own, t))
    if d != '/tmp':
        # A directory of its own holding a listener, moved to where the user's was (across parents), and the
        # socket directory itself renamed there (its parent is out of reach).
        moved = os.path.join(tmp, f'dir-{i}')
        os.mkdir(moved)
        if kind == 'sock':
            listener(os.path.join(moved, os.path.basename(t)))
        else:
            os.mkfifo(os.path.join(moved, os.path.basename(t)))
        shutil.rmtree(d)
        res(f'{i} move-dir', lambda: os.rename(moved, d))
        res(f'{i} move-socket-dir', lambda: os.rename(tmp, d))
        res(f'{i} move-socket-dir-same-parent', lambda: os.rename(tmp, tmp + '-renamed'))
        os.mkdir(d, 0o700)
    if kind == 'sock':
        # A name that leads to its listener: a symlink (Landlock lets it make those in /tmp), or one through
        # /proc/PID/fd to the socket file held O_PATH. The supervisor's accept hands it no such connection.
        if i % 2:
            pathfd = os.open(own, os.O_PATH)
            res(f'{i} symlink', lambda: os.symlink(f'/proc/{os.getpid()}/fd/{pathfd}', t))
        else:
            res(f'{i} symlink', lambda: os.symlink(own, t))
# The workspace: no socket is made there either, and it cannot be renamed (its parent is out of reach).
res('ws bind', lambda: listener(os.path.join(ws, 'ws.sock')))
res('ws mkfifo', lambda: os.mkfifo(os.path.join(ws, 'ws.fifo')))
res('ws rename', lambda: os.rename(ws, ws + '-renamed'))
open(os.path.join(ws, 'ATTACKED'), 'w').close()
for _ in range(600):
    if os.path.exists(os.path.join(ws, 'DONE')):
        break
    time.sleep(0.05)
print('RESULT finished', flush=True)
`;

/** What an outside client gets at `target`: a socket's answer, or for a FIFO whether a writer finds a reader. */
const CLIENT = String.raw`import errno, os, socket, sys
kind, t = sys.argv[1], sys.argv[2]
try:
    if kind in ('sock', 'abstract'):
        s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect('\0' + t[1:] if kind == 'abstract' else t)
        print('read=' + s.recv(64).decode(), flush=True)
    else:
        fd = os.open(t, os.O_WRONLY | os.O_NONBLOCK)
        os.write(fd, b'secret\n'); print('wrote', flush=True)
except OSError as e:
    print('errno=' + errno.errorcode.get(e.errno, str(e.errno)), flush=True)
`;

/** Every way the agent could put its own socket or FIFO where the user's services are, tried for real;
 *  `abiMax`: as on a kernel with that Landlock ABI (AGENT_GATE_LANDLOCK_ABI_MAX). */
async function attack(who: Who, abiMax?: number): Promise<void> {
    const h = home(who, abiMax === undefined);
    const uid = who === 'nobody' ? NOBODY : 0;
    const ssh = path.join(tmpDir(who, 'ssh-'), 'agent.4242');
    const tmux = path.join(tmpDir(who, `tmux-${uid}-test-`), 'default');
    const gitDir = path.join(h.home, '.cache', 'git', 'credential');
    fs.mkdirSync(gitDir, { recursive: true, mode: 0o700 });
    if (who === 'nobody') spawnSync('chown', ['-R', `${NOBODY}:${NOBODY}`, path.join(h.home, '.cache')]);
    const git = path.join(gitDir, 'socket');
    const vscode = path.join('/tmp', `vscode-ipc-agent-gate-test-${process.pid}-${n}.sock`);
    made.push(vscode);
    const fifo = path.join(tmpDir(who, 'fifo-'), 'pipe');
    const socks = [ssh, tmux, git, vscode];
    for (const s of socks) await startOutside(as(who, [prog('sockprobe'), 'serve', 'stream', s]), { ready: /READY/ });
    expect(spawnSync(as(who, ['mkfifo', fifo])[0] as string, as(who, ['mkfifo', fifo]).slice(1)).status).toBe(0);
    // Controls: from outside, each reaches its own listener.
    const client = (kind: string, t: string): string => {
      const argv = as(who, [PY, '-c', CLIENT, kind, t]);
      return spawnSync(argv[0] as string, argv.slice(1), { encoding: 'utf8' }).stdout.trim();
    };
    for (const s of socks) expect(client('sock', s)).toBe('read=outside');

    // An abstract name a client outside will ask for, that no one holds yet (as a session bus's or an X
    // server's before it starts).
    const abstractName = `@agent-gate-test-squat-${process.pid}-${n}`;
    const targets = [...socks.map((s) => `sock=${s}`), `fifo=${fifo}`, `abstract=${abstractName}`];
    const run = gated(who, h, [PY, '-c', ATTACK, ...targets], abiMax);
    let ended: CliRun | null = null;
    void run.then((x) => (ended = x));
    await until('the agent to try', () => fs.existsSync(path.join(h.ws, 'ATTACKED')) || (ended && new Error(`the run ended first: ${ended.stderr}`)), 30_000);
    if (ended) throw new Error(`the run ended before the agent tried: ${(ended as CliRun).stderr}`);
    // While the agent runs (its listeners are up): the outside clients.
    const seen = [...socks.map((s) => client('sock', s)), client('fifo', fifo), client('abstract', abstractName)];
    fs.writeFileSync(path.join(h.ws, 'DONE'), '');
    const r = await run;
    expect(r.code, r.stderr).toBe(0);
    // The user's socket files were removed (the agent may write these directories); a symlink (or a
    // /proc/PID/fd link) there, and the abstract name, lead to the agent's listener, whose accept the
    // supervisor performs: the client's connection is closed before the agent sees it (nothing read). The
    // FIFO's path is empty: the client finds nothing.
    expect(seen).toEqual(['read=', 'read=', 'read=', 'read=', 'errno=ENOENT', 'read=']);
    expect(fs.existsSync(path.join(h.ws, 'agent-accepted.log')) ? fs.readFileSync(path.join(h.ws, 'agent-accepted.log'), 'utf8') : '').toBe('');
    // Each is recorded as refused, saying who connected and to what.
    const refused = r.records.filter((x) => x.type === 'socket' && x.op === 'accept');
    expect(refused.length, JSON.stringify(refused)).toBe(5);
    for (const x of refused) expect(x).toMatchObject({ verdict: 'deny', family: 'unix', layer: 'kernel' });
    expect(refused.map((x) => (x as { reason: string }).reason).join('\n')).toMatch(new RegExp(`a process outside the gate \\(pid \\d+, uid ${uid}\\) connected to the agent's socket @${abstractName.slice(1)}`));

    const want: string[] = [];
    targets.forEach((t, i) => {
      if (t.startsWith('abstract=')) {
        want.push(`${i} bind ok`);
        return;
      }
      const sock = t.startsWith('sock=');
      const inTmp = path.dirname(t.slice(5)) === '/tmp';
      want.push(sock ? `${i} own-listener ok` : `${i} own-fifo ok`, `${i} unlink ok`, sock ? `${i} bind errno=EACCES` : `${i} mkfifo errno=EACCES`);
      want.push(`${i} mknod-sock errno=EACCES`, `${i} mknod-fifo errno=EACCES`, `${i} rename-over errno=EACCES`, `${i} link errno=EACCES`);
      if (!inTmp) want.push(`${i} move-dir errno=EXDEV`, `${i} move-socket-dir errno=EACCES`, `${i} move-socket-dir-same-parent errno=EACCES`);
      if (sock) want.push(`${i} symlink ok`);
    });
    want.push('ws bind errno=EACCES', 'ws mkfifo errno=EACCES', 'ws rename errno=EACCES', 'finished');
    expect(results(r.stdout), r.stdout + r.stderr).toEqual(want);
    expect(r.start?.enforcement).toMatchObject({ sockets: 'sealed', accept: 'session', ...(abiMax !== undefined ? { landlock_abi: String(abiMax) } : {}) });
}

describe.each<Who>(['root', 'nobody'])('gate: sockets and FIFOs where clients outside the gate connect (R31, agent as %s)', (who) => {
  it('ssh-agent, tmux, git credential cache, a socket in /tmp, a FIFO, an abstract name: every way to put its own there is refused, and a symlink or name that leads to its listener gets no connection; outside clients never reach the agent', async () => {
    await attack(who);
  });

  it("the agent's own sockets in $TMPDIR work: Python's multiprocessing forkserver and Listener, a node server on a path, its own tmux; the directory goes with the session", async () => {
    const h = home(who);
    const py = String.raw`import multiprocessing as mp, multiprocessing.connection as mc, os, threading
def square(x):
    return x * x
if __name__ == '__main__':
    print('RESULT tmpdir', os.environ['TMPDIR'], flush=True)
    with mp.get_context('forkserver').Pool(2) as p:
        print('RESULT forkserver', p.map(square, [1, 2, 3]), flush=True)
    with mc.Listener(family='AF_UNIX') as l:
        threading.Thread(target=lambda: mc.Client(l.address).send('hello'), daemon=True).start()
        with l.accept() as c:
            print('RESULT listener', os.path.dirname(os.path.dirname(l.address)) == os.environ['TMPDIR'], c.recv(), flush=True)
`;
    fs.writeFileSync(path.join(h.ws, 'own.py'), py);
    const js = `const net = require('net'), os = require('os'), path = require('path');
const p = path.join(os.tmpdir(), 'node.sock');
const srv = net.createServer((c) => c.end('node-own')).listen(p, () => {
  net.connect(p).on('data', (d) => { console.log('RESULT node ' + d); srv.close(); });
});`;
    fs.writeFileSync(path.join(h.ws, 'own.js'), js);
    const script = [
      `${PY} own.py`,
      'node own.js',
      `tmux new-session -d 'sleep 30' && tmux run-shell 'touch "$TMPDIR/ran-in-own-tmux"'; tmux kill-server`,
      'test -e "$TMPDIR/ran-in-own-tmux" && echo "RESULT tmux ok"',
    ].join('; ');
    const r = await gated(who, h, ['bash', '-c', script]);
    expect(r.code, r.stderr).toBe(0);
    const res = results(r.stdout);
    const tmpdir = res[0]?.replace(/^tmpdir /, '') ?? '';
    expect(tmpdir.startsWith(path.join(h.home, '.local', 'state', 'agent-gate', 's-')), tmpdir).toBe(true);
    expect(res.slice(1), r.stdout + r.stderr).toEqual(['forkserver [1, 4, 9]', "listener True hello", 'node node-own', 'tmux ok']);
    // Nothing of the session runs any more: its directory is gone.
    expect(fs.existsSync(tmpdir)).toBe(false);
    // None of it asked or was refused.
    expect(r.records.filter((x) => x.type === 'socket')).toEqual([]);
  });
});

describe('gate: sockets and FIFOs where clients outside connect, on older kernels (R31)', () => {
  // Before ABI 5 there is no IOCTL_DEV to keep directories from leaving the socket directory: it has no
  // REFER instead (nothing crosses its border). ABI 1 has no REFER at all: no reparenting anywhere.
  it.each([4, 1])('Landlock ABI %i: the same tries are refused the same way', async (abi) => {
    await attack('root', abi);
  });

  it('writes not sealed (no [filesystem]): sockets and FIFOs are still made only in $TMPDIR ("partial": a directory holding one could be moved)', async () => {
    const h = home('nobody');
    fs.writeFileSync(h.policy, '[meta]\nversion = 1\ndefault_action = "allow"\n');
    const d = tmpDir('nobody', 'ssh-');
    const py = String.raw`import errno, os, socket, sys
def res(name, f):
    try:
        f(); print('RESULT', name, 'ok', flush=True)
    except OSError as e:
        print('RESULT', name, 'errno=' + errno.errorcode.get(e.errno, str(e.errno)), flush=True)
res('bind-tmp', lambda: socket.socket(socket.AF_UNIX).bind(sys.argv[1] + '/agent.1'))
res('mkfifo-tmp', lambda: os.mkfifo(sys.argv[1] + '/fifo'))
res('bind-ws', lambda: socket.socket(socket.AF_UNIX).bind('ws.sock'))
res('bind-tmpdir', lambda: socket.socket(socket.AF_UNIX).bind(os.environ['TMPDIR'] + '/own.sock'))
`;
    const r = await gated('nobody', h, [PY, '-c', py, d]);
    expect(results(r.stdout), r.stderr).toEqual(['bind-tmp errno=EACCES', 'mkfifo-tmp errno=EACCES', 'bind-ws errno=EACCES', 'bind-tmpdir ok']);
    expect(r.start?.enforcement).toMatchObject({ sockets: 'partial', accept: 'session' });
  });
});

// Red-team R76: the accept check above took the client's pid (SO_PEERCRED, recorded at connect time) and walked
// its parents. Once the client has exited, the agent can fork until one of its own processes has that number,
// and the walk then found the session. The test makes the pid come round at once (ns_last_pid, from outside),
// where an agent would fork ~30 000 times; the check must hold the same either way.
const REUSE = String.raw`import os, socket, sys, time
ws, tmp, target = os.getcwd(), os.environ['TMPDIR'], sys.argv[1]
own = os.path.join(tmp, 'own')
s = socket.socket(socket.AF_UNIX); s.bind(own); s.listen(4)
os.symlink(own, target)
open(os.path.join(ws, 'READY'), 'w').close()
pidfile = os.path.join(ws, 'PID')
for _ in range(600):
    if os.path.exists(pidfile) and os.path.getsize(pidfile): break
    time.sleep(0.05)
want = int(open(pidfile).read())
for tries in range(70000):
    pid = os.fork()
    if pid == 0:
        if os.getpid() != want:
            os._exit(0)
        s.settimeout(2)
        try:
            c, _ = s.accept()
            print('RESULT got ' + c.recv(64).decode(), flush=True)
        except OSError as e:
            print('RESULT refused ' + type(e).__name__, flush=True)
        os._exit(0)
    os.waitpid(pid, 0)
    if pid == want:
        print('RESULT reused after', tries + 1, 'forks', flush=True)
        break
else:
    print('RESULT never reused', flush=True)
`;

describe('gate: a connection from a process outside the gate is not handed over once its pid is reused (R76)', () => {
  it("the client sends its secret and exits; the agent's process that now has the client's pid accepts: the connection is closed before it, and recorded", async () => {
    const h = home('root');
    const dir = tmpDir('root', 'ssh-');
    const target = path.join(dir, 'agent.4242');
    const run = gated('root', h, [PY, '-c', REUSE, target]);
    let ended: CliRun | null = null;
    void run.then((x) => (ended = x));
    await until('the agent to listen', () => fs.existsSync(path.join(h.ws, 'READY')) || (ended && new Error(`the run ended first: ${ended.stderr}`)), 30_000);
    // The user's client, outside the gate: connects through the agent's symlink, sends, exits (and is reaped).
    const client = spawnSync(PY, ['-c', `import os, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b'the-user-secret'); print(os.getpid())`, target], { encoding: 'utf8' });
    expect(client.status, client.stderr).toBe(0);
    const pid = Number(client.stdout.trim());
    expect(pid).toBeGreaterThan(1);
    // Other processes take pids too: the next one is set again and again until the agent has it.
    const bump = setInterval(() => fs.writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1)), 2);
    fs.writeFileSync(path.join(h.ws, 'PID'), String(pid));
    const r = await run.finally(() => clearInterval(bump));
    expect(r.code, r.stderr).toBe(0);
    const res = results(r.stdout);
    // The agent did get the pid (else the test proves nothing) and got no byte of the client's.
    expect(res.some((l) => l.startsWith('reused after')), r.stdout + r.stderr).toBe(true);
    expect(res[0], r.stdout).toBe('refused TimeoutError');
    const refused = r.records.filter((x) => x.type === 'socket' && x.op === 'accept');
    expect(refused.length, JSON.stringify(refused)).toBe(1);
    expect((refused[0] as { reason: string }).reason).toContain(`a process outside the gate (pid ${pid}, uid 0)`);
  }, 120_000);
});
