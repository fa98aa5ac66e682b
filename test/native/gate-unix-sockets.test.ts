// End to end: nothing listening on a unix socket outside the gate can be made to act for the agent (issue 13,
// item 2). Each outside service is the real thing, started outside the gate as the user's would be — tmux,
// a D-Bus session bus, ssh-agent, a daemon that runs what it is sent — and the agent, through `agent-gate
// run`, the real supervisor and the real kernel, tries to use it. The sockets the agent makes itself keep
// working, and a multi-threaded agent racing the check (rewriting the address, re-pointing the descriptor)
// never gets through.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SocketRecord } from '../../src/core/audit/records';
import { makeDirs, prepare, prog, runCli, type CliRun } from './gate-progs/cli';
import { runOutside, startOutside, stopAllOutside, until } from './gate-progs/outside';

const PY = '/usr/bin/python3';
let dirs: ReturnType<typeof makeDirs>;
/** Where the outside services live: not in the agent's workspace (it can read there, not write). */
let out: string;
let n = 0;

beforeAll(async () => {
  for (const p of [PY, '/usr/bin/tmux', '/usr/bin/dbus-daemon', '/usr/bin/dbus-send', '/usr/bin/ssh-agent', '/usr/bin/ssh-add', '/usr/bin/ssh-keygen']) {
    if (!fs.existsSync(p)) throw new Error(`${p} is missing: apt-get install -y python3 tmux dbus openssh-client`);
  }
  await prepare();
  dirs = makeDirs('unix');
  out = path.join(dirs.root, 'outside');
  fs.mkdirSync(out, { mode: 0o700 });
});
afterAll(() => {
  stopAllOutside();
  dirs?.cleanup();
});

function policy(extra = ''): string {
  const file = path.join(dirs.ws, `.gate-${++n}.toml`);
  fs.writeFileSync(
    file,
    // /dev/ptmx and /dev/pts: tmux makes terminals for its windows (only the agent's own pty is granted otherwise).
    `[meta]\nversion = 1\ndefault_action = "allow"\n\n[filesystem]\nread_globs = ["/**"]\nwrite_globs = ["\${WORKSPACE}/**"]\nallow_globs = ["/dev/ptmx", "/dev/pts/**"]\n${extra}`,
  );
  return file;
}

function gated(script: string, opts: { policy?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliRun> {
  return runCli(['bash', '-c', script], { policy: opts.policy ?? policy(), audit: dirs.audit(`unix-${++n}`), cwd: dirs.ws, env: opts.env });
}

const sockets = (r: CliRun): SocketRecord[] => r.records.filter((x): x is SocketRecord => x.type === 'socket');

/** The refusal as the agent, the terminal and the audit log each see it. */
function expectRefused(r: CliRun, target: string): void {
  const denied = sockets(r).filter((s) => s.verdict === 'deny' && s.target === target);
  expect(denied.length, JSON.stringify(sockets(r))).toBeGreaterThanOrEqual(1);
  expect(denied[0]).toMatchObject({ op: 'connect', family: 'unix', layer: 'default' });
  expect(denied[0]?.reason).toMatch(/not made by the agent in this session/);
  expect(r.stderr).toContain(`refused connect to ${target}`);
  expect(sockets(r).some((s) => s.verdict === 'allow' && s.target === target)).toBe(false);
}

async function sockprobeServer(type: 'stream' | 'seqpacket' | 'dgram', name: string): Promise<ReturnType<typeof startOutside> extends Promise<infer T> ? T : never> {
  return startOutside([prog('sockprobe'), 'serve', type, name], { ready: /READY/ });
}

describe('gate: unix sockets outside the gate', () => {
  it('tmux -S SOCK run-shell to a server started outside is refused and runs nothing; the same command ungated does run', async () => {
    const sock = path.join(out, 'tmux.sock');
    const marker = path.join(out, 'ran-by-tmux');
    expect(runOutside(['tmux', '-S', sock, 'new-session', '-d', '-s', 'outside', 'sleep 300']).code).toBe(0);
    try {
      const r = await gated(`tmux -S ${sock} run-shell 'touch ${marker}'; echo "rc=$?"; tmux -S ${sock} send-keys -t outside 'touch ${marker}' Enter; echo "rc=$?"`);
      expect(r.stdout).toMatch(/rc=1\nrc=1/);
      expect(r.stderr).toMatch(/error connecting to .*tmux\.sock \(Permission denied\)/i);
      expectRefused(r, sock);
      await new Promise((res) => setTimeout(res, 200));
      expect(fs.existsSync(marker)).toBe(false);
      // Control: the server is alive and does what it is asked, for a caller outside the gate.
      expect(runOutside(['tmux', '-S', sock, 'run-shell', `touch ${marker}`]).code).toBe(0);
      await until('the outside tmux to run the command', () => fs.existsSync(marker));
    } finally {
      runOutside(['tmux', '-S', sock, 'kill-server']);
    }
  });

  it('a helper listening outside: stream, seqpacket and abstract sockets are refused; it sees no connection; datagram sockets cannot be made', async () => {
    const stream = await sockprobeServer('stream', path.join(out, 'helper-stream.sock'));
    const seq = await sockprobeServer('seqpacket', path.join(out, 'helper-seq.sock'));
    const abstractName = `@agent-gate-test-${process.pid}-helper`;
    const abs = await sockprobeServer('stream', abstractName);
    const dgram = await sockprobeServer('dgram', path.join(out, 'helper-dgram.sock'));
    const r = await gated(
      [
        `${prog('sockprobe')} unix-connect stream ${out}/helper-stream.sock`,
        `${prog('sockprobe')} unix-connect seqpacket ${out}/helper-seq.sock`,
        `${prog('sockprobe')} unix-connect stream ${abstractName}`,
        `${prog('sockprobe')} unix-dgram-send ${out}/helper-dgram.sock hello-from-the-agent`,
        `${prog('sockprobe')} unix-dgram-pair`,
      ].join('; '),
    );
    expect(r.stdout.split('\n').filter((l) => l.startsWith('RESULT'))).toEqual([
      'RESULT connect errno=EACCES',
      'RESULT connect errno=EACCES',
      // An abstract socket of another domain: EPERM, as Landlock's scoping answers.
      'RESULT connect errno=EPERM',
      'RESULT socket errno=EACCES',
      'RESULT socketpair errno=EACCES',
    ]);
    expectRefused(r, path.join(out, 'helper-stream.sock'));
    expectRefused(r, path.join(out, 'helper-seq.sock'));
    expect(sockets(r).find((s) => s.target === abstractName)).toMatchObject({ verdict: 'deny' });
    await new Promise((res) => setTimeout(res, 200));
    for (const s of [stream, seq, abs]) expect(s.count(/^ACCEPT /)).toBe(0);
    expect(dgram.count(/^DGRAM /)).toBe(0);
    // Control: the same probes from outside the gate reach them.
    expect(runOutside([prog('sockprobe'), 'unix-connect', 'stream', path.join(out, 'helper-stream.sock')]).stdout).toContain('read=outside');
    expect(runOutside([prog('sockprobe'), 'unix-dgram-send', path.join(out, 'helper-dgram.sock'), 'hello']).code).toBe(0);
    await until('the outside datagram', () => dgram.count(/^DGRAM hello/) === 1);
  });

  it('datagrams by every other way: a unix SOCK_RAW (the kernel makes it a datagram socket), flags on the type, and addressed sends on stream and seqpacket sockets (sendto, sendmsg, sendmmsg) reach nothing outside', async () => {
    const dg = await sockprobeServer('dgram', path.join(out, 'raw-dgram.sock'));
    const absName = `agent-gate-test-${process.pid}-dgram`;
    const adg = await sockprobeServer('dgram', `@${absName}`);
    const st = await sockprobeServer('stream', path.join(out, 'raw-stream.sock'));
    const sq = await sockprobeServer('seqpacket', path.join(out, 'raw-seq.sock'));
    const py = `import ctypes, errno, socket, sys
dg, adg, st, sq = sys.argv[1], '\\0' + sys.argv[2], sys.argv[3], sys.argv[4]
U = socket.AF_UNIX
def res(op, f):
    try:
        f(); print('RESULT', op, 'ok', flush=True)
    except OSError as e:
        name = 'EOPNOTSUPP' if e.errno == errno.EOPNOTSUPP else errno.errorcode.get(e.errno, str(e.errno))
        print('RESULT', op, 'errno=' + name, flush=True)
def sendto(t, addr):
    socket.socket(U, t).sendto(b'from-the-agent', addr)
def sendmsg(t, addr):
    socket.socket(U, t).sendmsg([b'from-the-agent'], [], 0, addr)
def sendmmsg(t, addr):
    # struct mmsghdr with one message addressed to addr, through libc (Python has no sendmmsg).
    libc = ctypes.CDLL(None, use_errno=True)
    s = socket.socket(U, t)
    name = addr.encode() if isinstance(addr, str) else addr
    sun = ctypes.create_string_buffer(b'\\x01\\x00' + name, 110)
    data = ctypes.create_string_buffer(b'from-the-agent')
    class iovec(ctypes.Structure): _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]
    class mmsghdr(ctypes.Structure): _fields_ = [('name', ctypes.c_void_p), ('namelen', ctypes.c_uint32), ('iov', ctypes.c_void_p), ('iovlen', ctypes.c_size_t), ('control', ctypes.c_void_p), ('controllen', ctypes.c_size_t), ('flags', ctypes.c_int), ('len', ctypes.c_uint)]
    iov = iovec(ctypes.addressof(data), 14)
    m = mmsghdr(ctypes.addressof(sun), 2 + len(name), ctypes.addressof(iov), 1, None, 0, 0, 0)
    if libc.sendmmsg(s.fileno(), ctypes.byref(m), 1, 0) < 0:
        e = ctypes.get_errno(); raise OSError(e, '')
res('raw-socket', lambda: sendto(socket.SOCK_RAW, dg))
res('raw-socket-abstract', lambda: sendto(socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC, adg))
res('raw-socketpair', lambda: socket.socketpair(U, socket.SOCK_RAW))
res('dgram-socket-flags', lambda: sendto(socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC, dg))
res('stream-sendto', lambda: sendto(socket.SOCK_STREAM, st))
res('stream-sendmsg-abstract', lambda: sendmsg(socket.SOCK_STREAM, adg))
res('seqpacket-sendto', lambda: sendto(socket.SOCK_SEQPACKET, sq))
res('seqpacket-sendmsg-to-dgram', lambda: sendmsg(socket.SOCK_SEQPACKET, dg))
res('seqpacket-sendmmsg-to-dgram', lambda: sendmmsg(socket.SOCK_SEQPACKET, dg))
res('stream-sendmmsg-to-seqpacket', lambda: sendmmsg(socket.SOCK_STREAM, sq))`;
    fs.writeFileSync(path.join(dirs.ws, 'dgrams.py'), py);
    const expected = [
      'RESULT raw-socket errno=EACCES',
      'RESULT raw-socket-abstract errno=EACCES',
      'RESULT raw-socketpair errno=EACCES',
      'RESULT dgram-socket-flags errno=EACCES',
      // The kernel ignores or refuses an address on a connection-oriented socket: nothing is sent anywhere.
      'RESULT stream-sendto errno=EOPNOTSUPP',
      'RESULT stream-sendmsg-abstract errno=EOPNOTSUPP',
      'RESULT seqpacket-sendto errno=ENOTCONN',
      'RESULT seqpacket-sendmsg-to-dgram errno=ENOTCONN',
      'RESULT seqpacket-sendmmsg-to-dgram errno=ENOTCONN',
      'RESULT stream-sendmmsg-to-seqpacket errno=EOPNOTSUPP',
    ];
    const args = [path.join(out, 'raw-dgram.sock'), absName, path.join(out, 'raw-stream.sock'), path.join(out, 'raw-seq.sock')].join(' ');
    // Unix sockets sealed alone, and with [network] sealing too (its socket rules must not let a unix SOCK_RAW by).
    for (const extra of ['', `[network]\nconnect_tcp_ports = [443]\ndns = false\n`]) {
      const r = await gated(`${PY} dgrams.py ${args}`, { policy: policy(extra) });
      expect(r.stdout.split('\n').filter((l) => l.startsWith('RESULT')), r.stderr).toEqual(expected);
    }
    await new Promise((res) => setTimeout(res, 200));
    expect([dg.count(/^DGRAM /), adg.count(/^DGRAM /), st.count(/^ACCEPT /), sq.count(/^ACCEPT /)]).toEqual([0, 0, 0, 0]);
    // Control: a unix SOCK_RAW from outside the gate does reach the datagram servers.
    const ctl = runOutside([PY, path.join(dirs.ws, 'dgrams.py'), ...args.split(' ')]);
    expect(ctl.stdout).toContain('RESULT raw-socket ok');
    expect(ctl.stdout).toContain('RESULT raw-socket-abstract ok');
    await until('the outside datagrams', () => dg.count(/^DGRAM from-the-agent/) >= 1 && adg.count(/^DGRAM from-the-agent/) >= 1);
  });

  it('a stale socket file (its server gone) answers ECONNREFUSED, as the kernel does: tmux and ssh start their own server on that', async () => {
    const stale = path.join(out, 'stale.sock');
    expect(runOutside([PY, '-c', `import socket; s = socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(stale)})`]).code).toBe(0);
    expect(fs.statSync(stale).isSocket()).toBe(true);
    const r = await gated(`${prog('sockprobe')} unix-connect stream ${stale}; ${prog('sockprobe')} unix-connect stream ${out}/does-not-exist.sock`);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('RESULT'))).toEqual(['RESULT connect errno=ECONNREFUSED', 'RESULT connect errno=ENOENT']);
    expect(sockets(r)).toEqual([]);
  });

  it('however the agent names the socket — a symlink, a hard link, a relative path, /proc/self/fd — the socket file decides', async () => {
    const target = path.join(out, 'named.sock');
    const server = await sockprobeServer('stream', target);
    fs.symlinkSync(target, path.join(dirs.ws, 'innocent.sock'));
    fs.linkSync(target, path.join(dirs.ws, 'hardlink.sock'));
    const py = `import os, socket
fd = os.open(${JSON.stringify(target)}, os.O_PATH)
s = socket.socket(socket.AF_UNIX)
try:
    s.connect('/proc/self/fd/%d' % fd); print('RESULT connect ok')
except OSError as e: print('RESULT connect errno=%s' % e.errno)`;
    fs.writeFileSync(path.join(dirs.ws, 'procfd.py'), py);
    const r = await gated(
      `${prog('sockprobe')} unix-connect stream ./innocent.sock; ${prog('sockprobe')} unix-connect stream hardlink.sock; cd ${out} && ${prog('sockprobe')} unix-connect stream named.sock; ${PY} ${dirs.ws}/procfd.py`,
    );
    const results = r.stdout.split('\n').filter((l) => l.startsWith('RESULT'));
    expect(results.slice(0, 3)).toEqual(['RESULT connect errno=EACCES', 'RESULT connect errno=EACCES', 'RESULT connect errno=EACCES']);
    // Through a magic link the supervisor would name its own descriptors: refused outright (ELOOP).
    expect(results[3]).toMatch(/^RESULT connect errno=(40|13)$/);
    // The symlink, the hard link and the relative name are all the same socket file: that is what is recorded.
    const recs = sockets(r).filter((s) => s.verdict === 'deny');
    expect(recs.length).toBeGreaterThanOrEqual(3);
    expect(recs.map((s) => s.target)).toContain(target);
    expect(recs.find((s) => s.name === './innocent.sock')).toMatchObject({ target });
    await new Promise((res) => setTimeout(res, 200));
    expect(server.count(/^ACCEPT /)).toBe(0);
  });

  it('a D-Bus session bus started outside: UpdateActivationEnvironment (LD_PRELOAD of an agent-built library) is refused, and a service the bus starts later does not get it', async () => {
    const bus = path.join(out, 'bus');
    const services = path.join(out, 'dbus-services');
    const activated = path.join(out, 'activated-env');
    fs.mkdirSync(services);
    fs.writeFileSync(
      path.join(services, 'org.agentgate.Probe.service'),
      `[D-BUS Service]\nName=org.agentgate.Probe\nExec=/bin/sh -c 'env > ${activated}'\n`,
    );
    const conf = path.join(out, 'bus.conf');
    fs.writeFileSync(
      conf,
      `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path=${bus}</listen><servicedir>${services}</servicedir><auth>EXTERNAL</auth>
<limit name="service_start_timeout">500</limit>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>\n`,
    );
    await startOutside(['dbus-daemon', '--nofork', `--config-file=${conf}`, '--print-address=1'], { ready: /unix:path=/ });
    const address = `unix:path=${bus}`;
    const update = ['dbus-send', `--bus=${address}`, '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.UpdateActivationEnvironment'];
    const start = ['dbus-send', `--bus=${address}`, '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.StartServiceByName', 'string:org.agentgate.Probe', 'uint32:0'];
    fs.writeFileSync(path.join(dirs.ws, 'evil.so'), 'not really a library');
    const r = await gated(`${update.join(' ')} dict:string:string:LD_PRELOAD,${dirs.ws}/evil.so,AGENT_WAS_HERE,1; echo "rc=$?"`);
    expect(r.stdout).toContain('rc=1');
    expect(r.stderr).toMatch(/Permission denied/);
    expectRefused(r, bus);
    // The bus never got it: a service it starts now has the bus's own environment.
    runOutside(start);
    await until('the bus to start the probe service', () => fs.existsSync(activated));
    expect(fs.readFileSync(activated, 'utf8')).not.toMatch(/LD_PRELOAD|AGENT_WAS_HERE/);
    // Control: the same call from outside the gate works, and the next service gets it.
    fs.rmSync(activated);
    expect(runOutside([...update, 'dict:string:string:AGENT_WAS_HERE,1']).code).toBe(0);
    runOutside(start);
    await until('the bus to start the probe service again', () => fs.existsSync(activated) && fs.readFileSync(activated, 'utf8').includes('AGENT_WAS_HERE=1'));
  });

  it("a daemon started outside on a socket in /tmp that runs what it is sent (an agent's own app-server): the gated client is refused, nothing runs", async () => {
    const dir = fs.mkdtempSync('/tmp/agent-gate-app-server-');
    const sock = path.join(dir, 'app-server.sock');
    const marker = path.join(out, 'ran-by-daemon');
    const daemon = `import os, socket, subprocess
s = socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(sock)}); s.listen(8); print('READY', flush=True)
while True:
    c, _ = s.accept(); cmd = c.recv(4096).decode()
    subprocess.run(['sh', '-c', cmd]); c.sendall(b'done'); c.close()`;
    const client = `import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(${JSON.stringify(sock)}); s.sendall(sys.argv[1].encode()); print('RESULT', s.recv(10))
except OSError as e: print('RESULT connect errno=%d' % e.errno)`;
    fs.writeFileSync(path.join(dirs.ws, 'client.py'), client);
    try {
      await startOutside([PY, '-c', daemon], { ready: /READY/ });
      const r = await gated(`${PY} client.py 'touch ${marker}'`);
      expect(r.stdout).toContain('RESULT connect errno=13');
      expectRefused(r, sock);
      await new Promise((res) => setTimeout(res, 200));
      expect(fs.existsSync(marker)).toBe(false);
      expect(runOutside([PY, path.join(dirs.ws, 'client.py'), `touch ${marker}`]).stdout).toContain("RESULT b'done'");
      expect(fs.existsSync(marker)).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("ssh-agent started outside: listing and signing with the user's key are refused (even with SSH_AUTH_SOCK passed on purpose)", async () => {
    const key = path.join(out, 'id_ed25519');
    expect(runOutside(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', key]).code).toBe(0);
    const sock = path.join(out, 'ssh-agent.sock');
    const agent = await startOutside(['ssh-agent', '-D', '-a', sock], { ready: /SSH_AUTH_SOCK/ });
    const env = { ...process.env, SSH_AUTH_SOCK: sock };
    expect(runOutside(['ssh-add', key], env).code).toBe(0);
    // The key now lives only in the agent (as a passphrase-protected key effectively does).
    fs.rmSync(key);
    const data = path.join(dirs.ws, 'data.txt');
    fs.writeFileSync(data, 'sign me');
    const r = await gated(`ssh-add -l; echo "list=$?"; ssh-keygen -Y sign -f ${key}.pub -n file ${data}; echo "sign=$?"`, {
      policy: policy('[env]\npass = ["SSH_AUTH_SOCK"]\n'),
      env: { SSH_AUTH_SOCK: sock },
    });
    expect(r.stdout).toMatch(/list=2/);
    expect(r.stdout).toMatch(/sign=255|sign=1/);
    expect(r.stderr).toMatch(/Error connecting to agent: Permission denied|agent refused|Couldn't/i);
    expectRefused(r, sock);
    expect(fs.existsSync(`${data}.sig`)).toBe(false);
    // Control: outside the gate the agent lists the key and signs.
    expect(runOutside(['ssh-add', '-l'], env).stdout).toMatch(/ED25519/);
    expect(runOutside(['ssh-keygen', '-Y', 'sign', '-f', `${key}.pub`, '-n', 'file', data], env).code).toBe(0);
    expect(fs.existsSync(`${data}.sig`)).toBe(true);
    agent.stop();
  });

  it('[unix_sockets] allow names an outside socket (by canonical path or glob): connecting works and is recorded as allowed', async () => {
    const allowed = path.join(out, 'allowed.sock');
    const other = path.join(out, 'other.sock');
    const a = await sockprobeServer('stream', allowed);
    const o = await sockprobeServer('stream', other);
    fs.symlinkSync(allowed, path.join(dirs.ws, 'link-to-allowed.sock'));
    const r = await gated(
      `${prog('sockprobe')} unix-connect stream ${allowed}; ${prog('sockprobe')} unix-connect stream ./link-to-allowed.sock; ${prog('sockprobe')} unix-connect stream ${other}`,
      { policy: policy(`[unix_sockets]\nallow = ["${out}/allow*.sock"]\n`) },
    );
    expect(r.stdout.split('\n').filter((l) => l.startsWith('RESULT'))).toEqual(['RESULT connect ok read=outside', 'RESULT connect ok read=outside', 'RESULT connect errno=EACCES']);
    const allowedRecs = sockets(r).filter((s) => s.verdict === 'allow');
    expect(allowedRecs).toHaveLength(2);
    expect(allowedRecs[0]).toMatchObject({ target: allowed, layer: 'rule' });
    expect(allowedRecs[0]?.reason).toContain(`allow "${out}/allow*.sock"`);
    expectRefused(r, other);
    await until('two connections', () => a.count(/^ACCEPT /) === 2);
    expect(o.count(/^ACCEPT /)).toBe(0);
  });
});

describe("gate: the agent's own unix sockets work", () => {
  it('a server it binds and connects to (stream, seqpacket, abstract, by a relative path), socketpair, and a tmux server it starts; none of it asks or is recorded', async () => {
    // In $TMPDIR, the session's own directory: the one place the agent may make sockets (gate-socket-squat).
    const own = '"$TMPDIR/own"';
    const r = await gated(
      [
        `mkdir ${own}`,
        `${prog('sockprobe')} unix-own stream ${own}/s.sock`,
        `${prog('sockprobe')} unix-own seqpacket ${own}/q.sock`,
        `${prog('sockprobe')} unix-own stream @agent-gate-own-${process.pid}`,
        `cd ${own} && ${prog('sockprobe')} unix-own stream rel.sock`,
        `${prog('sockprobe')} pair`,
        `tmux -S ${own}/tmux.sock new-session -d 'sleep 60' && tmux -S ${own}/tmux.sock run-shell 'touch ${dirs.ws}/ran-in-own-tmux'; tmux -S ${own}/tmux.sock kill-server`,
      ].join('; '),
    );
    expect(r.stdout.split('\n').filter((l) => l.startsWith('RESULT'))).toEqual([
      'RESULT connect ok read=own',
      'RESULT connect ok read=own',
      'RESULT connect ok read=own',
      'RESULT connect ok read=own',
      'RESULT socketpair ok',
    ]);
    expect(fs.existsSync(path.join(dirs.ws, 'ran-in-own-tmux'))).toBe(true);
    expect(sockets(r)).toEqual([]);
    expect(r.start?.enforcement).toMatchObject({ unix: 'mediated' });
  });

  it('a blocking connect to its own listener whose backlog is full does not stall the gate: the programs that will accept it still run', async () => {
    // The listener accepts only once `go` exists, and `go` is made by a program the agent runs after the
    // blocked connect: if the supervisor waited in that connect, no exec would be answered — a deadlock.
    // One write of the whole line: the probes print to the same pipe at the same time.
    const script = `import os, socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind('backlog.sock'); s.listen(0)
print('listening', flush=True)
while not os.path.exists('go'): time.sleep(0.02)
n = 0
while n < 3:
    c, _ = s.accept(); n += 1; c.close()
sys.stdout.write(f'accepted {n}\\n'); sys.stdout.flush()`;
    fs.writeFileSync(path.join(dirs.ws, 'backlog.py'), script);
    const r = await gated(
      `cd "$TMPDIR"; ${PY} ${dirs.ws}/backlog.py & while [ ! -S backlog.sock ]; do sleep 0.02; done; ` +
        `for i in 1 2 3; do ${prog('sockprobe')} unix-connect stream backlog.sock & done; sleep 0.3; ` +
        `for i in $(seq 20); do /bin/true; done; touch go; wait`,
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout, r.stderr).toContain('accepted 3');
    expect(r.stdout.match(/RESULT connect ok/g)).toHaveLength(3);
  });
});

describe('gate: a multi-threaded agent racing the check', () => {
  it('rewriting the address between its own socket and an outside one: never connects outside', async () => {
    const outside = await sockprobeServer('stream', path.join(out, 'race-outside.sock'));
    const own = '"$TMPDIR/race-own.sock"';
    const r = await gated(`${prog('sockprobe')} serve stream ${own} > own.log & while [ ! -S ${own} ]; do sleep 0.02; done; ${prog('sockrace')} addr ${own} ${out}/race-outside.sock 1.5; kill $!`);
    const m = /RESULT race ok tries=(\d+) connected=(\d+)/.exec(r.stdout);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    // Both addresses were tried many times; some connects reached the agent's own server, none the outside.
    expect(Number(m?.[1])).toBeGreaterThan(100);
    expect(Number(m?.[2])).toBeGreaterThan(0);
    expect(outside.count(/^ACCEPT /)).toBe(0);
    expect(fs.readFileSync(path.join(dirs.ws, 'own.log'), 'utf8')).toMatch(/ACCEPT/);
  });

  it('dup2-ing a unix socket over a descriptor that was a TCP socket, while the address flips from TCP to the outside path: never connects outside', async () => {
    const outside = await sockprobeServer('stream', path.join(out, 'race-fd.sock'));
    const { createServer } = await import('node:net');
    let accepted = 0;
    const tcp = createServer((c) => {
      accepted++;
      c.destroy();
    });
    await new Promise<void>((res) => tcp.listen(0, '127.0.0.1', () => res()));
    const port = (tcp.address() as { port: number }).port;
    try {
      // The TCP listener is outside the gate on this host: [loopback] names its port so the TCP side connects.
      const r = await gated(`${prog('sockrace')} fd 127.0.0.1 ${port} ${out}/race-fd.sock 1.5`, { policy: policy(`[loopback]\nconnect_ports = [${port}]\n`) });
      const m = /RESULT race ok tries=(\d+) connected=(\d+)/.exec(r.stdout);
      expect(m, r.stdout + r.stderr).not.toBeNull();
      expect(Number(m?.[1])).toBeGreaterThan(100);
      await new Promise((res) => setTimeout(res, 200));
      expect(outside.count(/^ACCEPT /)).toBe(0);
      expect(accepted).toBeGreaterThan(0);
    } finally {
      tcp.close();
    }
  });
});
