// End to end: when [network] seals, it seals (issue 13, item 4). With no TCP port but one granted, every other
// way out is tried for real against listeners on loopback that count what reaches them: TCP to another port
// (IPv4, IPv6, v4-mapped), TCP fast open, MPTCP, raw/packet/ping/SCTP/vsock… sockets, UDP to anything but
// the resolver (sendto, connect, sendmsg, sendmmsg, connect-then-sendto), listen() without bind, and a
// multi-threaded agent flipping addresses. The allowed port and DNS to the resolver keep working.
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SocketRecord } from '../../src/core/audit/records';
import { makeDirs, prepare, prog, runCli, type CliRun } from './gate-progs/cli';
import { runOutside, startOutside, stopAllOutside, until } from './gate-progs/outside';

let dirs: ReturnType<typeof makeDirs>;
let n = 0;

interface TcpCounter {
  port: number;
  accepted: number;
  server: net.Server;
}
interface UdpCounter {
  port: number;
  received: string[];
  socket: dgram.Socket;
}

async function tcpServer(host: string): Promise<TcpCounter> {
  const c: TcpCounter = { port: 0, accepted: 0, server: net.createServer() };
  c.server.on('connection', (s) => {
    s.on('error', () => undefined); // the race tests close connections as they please
    c.accepted++;
    s.end('hello');
  });
  await new Promise<void>((res) => c.server.listen(0, host, () => res()));
  c.port = (c.server.address() as net.AddressInfo).port;
  return c;
}

async function udpServer(port = 0): Promise<UdpCounter> {
  const c: UdpCounter = { port: 0, received: [], socket: dgram.createSocket('udp4') };
  c.socket.on('message', (m) => c.received.push(m.toString()));
  await new Promise<void>((res, rej) => {
    c.socket.once('error', rej);
    c.socket.bind(port, '127.0.0.1', () => res());
  });
  c.port = c.socket.address().port;
  return c;
}

let allowed: TcpCounter;
let denied: TcpCounter;
let denied6: TcpCounter;
let resolver: UdpCounter;
let other: UdpCounter;

beforeAll(async () => {
  await prepare();
  dirs = makeDirs('net');
  allowed = await tcpServer('127.0.0.1');
  denied = await tcpServer('127.0.0.1');
  denied6 = await tcpServer('::1');
  // The policy's resolver is 127.0.0.1 (dns_servers), port 53: a stand-in that counts what it gets.
  try {
    resolver = await udpServer(53);
  } catch (e) {
    throw new Error(`cannot bind 127.0.0.1:53/udp for the stand-in resolver (${(e as Error).message}); these tests run as root`);
  }
  other = await udpServer();
});
afterAll(() => {
  stopAllOutside();
  for (const s of [allowed, denied, denied6]) s?.server.close();
  for (const s of [resolver, other]) s?.socket.close();
  dirs?.cleanup();
});

// The listeners stand in for hosts on the network but are services outside the gate on this host, which
// [loopback] refuses (gate-loopback.test.ts) unless it names them: the granted ports are named there too.
function policy(network: string, loopbackPorts: number[] = [allowed.port]): string {
  const file = path.join(dirs.ws, `.gate-${++n}.toml`);
  fs.writeFileSync(file, `[meta]\nversion = 1\ndefault_action = "allow"\n\n[filesystem]\nread_globs = ["/**"]\nwrite_globs = ["\${WORKSPACE}/**"]\n\n${network}\n[loopback]\nconnect_ports = [${loopbackPorts.join(', ')}]\n`);
  return file;
}

const SEALED = () => policy(`[network]\nconnect_tcp_ports = [${allowed.port}]\nbind_tcp_ports = []\ndns = true\ndns_servers = ["127.0.0.1"]\n`);

function gated(script: string, policyFile = SEALED()): Promise<CliRun> {
  return runCli(['bash', '-c', script], { policy: policyFile, audit: dirs.audit(`net-${++n}`), cwd: dirs.ws });
}

const results = (r: CliRun): string[] => r.stdout.split('\n').filter((l) => l.startsWith('RESULT'));
const refusals = (r: CliRun): SocketRecord[] => r.records.filter((x): x is SocketRecord => x.type === 'socket' && x.verdict === 'deny');
const probe = (...args: (string | number)[]): string => [prog('sockprobe'), ...args].join(' ');

describe('gate: [network] seals TCP to the granted ports', () => {
  it('the granted port connects; another port, IPv6 loopback and a v4-mapped address are refused, recorded, and see nothing', async () => {
    const before = { allowed: allowed.accepted, denied: denied.accepted, denied6: denied6.accepted };
    const r = await gated(
      [probe('tcp-connect', '127.0.0.1', allowed.port), probe('tcp-connect', '127.0.0.1', denied.port), probe('tcp-connect', '::1', denied6.port), probe('tcp-connect', '::ffff:127.0.0.1', denied.port)].join('; '),
    );
    expect(results(r)).toEqual(['RESULT connect ok read=hello', 'RESULT connect errno=EACCES', 'RESULT connect errno=EACCES', 'RESULT connect errno=EACCES']);
    expect(refusals(r).map((s) => [s.op, s.target, s.layer])).toEqual([
      ['connect', `127.0.0.1:${denied.port}`, 'kernel'],
      ['connect', `[::1]:${denied6.port}`, 'kernel'],
      ['connect', `127.0.0.1:${denied.port}`, 'kernel'],
    ]);
    expect(r.stderr).toContain(`refused connect to 127.0.0.1:${denied.port}: TCP port not in [network] connect_tcp_ports`);
    expect(r.start?.enforcement).toMatchObject({ net: 'enforced', net_filter: 'sealed', dns: 'resolvers' });
    await until('the allowed connection', () => allowed.accepted === before.allowed + 1);
    expect([denied.accepted, denied6.accepted]).toEqual([before.denied, before.denied6]);
  });

  it('TCP fast open (sendto and sendmsg with MSG_FASTOPEN, TCP_FASTOPEN_CONNECT) is refused: no connection, no data', async () => {
    const before = denied.accepted;
    const r = await gated([probe('tcp-fastopen', '127.0.0.1', denied.port), probe('tcp-fastopen-msg', '127.0.0.1', denied.port), probe('tcp-fastopen-opt', '127.0.0.1', denied.port)].join('; '));
    expect(results(r)).toEqual(['RESULT sendto errno=EOPNOTSUPP', 'RESULT sendmsg errno=EOPNOTSUPP', 'RESULT setsockopt errno=ENOPROTOOPT']);
    await new Promise((res) => setTimeout(res, 100));
    expect(denied.accepted).toBe(before);
  });

  it('MPTCP (which Landlock does not check), SCTP, UDP-Lite and SMC are unsupported protocols; a program falls back to TCP', async () => {
    const r = await gated(
      [probe('mptcp', '127.0.0.1', denied.port), probe('socket-kind', 'mptcp6'), probe('socket-kind', 'sctp'), probe('socket-kind', 'sctp-seqpacket'), probe('socket-kind', 'udplite'), probe('socket-kind', 'smc'), probe('socket-kind', 'tcp'), probe('socket-kind', 'tcp6')].join('; '),
    );
    expect(results(r)).toEqual([
      'RESULT socket errno=EPROTONOSUPPORT',
      'RESULT socket errno=EPROTONOSUPPORT',
      'RESULT socket errno=EPROTONOSUPPORT',
      'RESULT socket errno=EPROTONOSUPPORT',
      'RESULT socket errno=EPROTONOSUPPORT',
      'RESULT socket errno=EPROTONOSUPPORT',
      'RESULT socket ok',
      'RESULT socket ok',
    ]);
  });

  it('raw, packet and ping sockets (root keeps CAP_NET_RAW otherwise), vsock, bluetooth, CAN, ALG, TIPC and inet SEQPACKET are refused; netlink still opens', async () => {
    const kinds = ['raw', 'raw6', 'packet', 'packet-dgram', 'ping', 'ping6', 'vsock', 'bluetooth', 'can', 'alg', 'tipc', 'inet-seqpacket', 'netlink'];
    const r = await gated(kinds.map((k) => probe('socket-kind', k)).join('; '));
    expect(results(r)).toEqual([
      'RESULT socket errno=EPERM',
      'RESULT socket errno=EPERM',
      'RESULT socket errno=EPERM',
      'RESULT socket errno=EPERM',
      'RESULT socket errno=EACCES',
      'RESULT socket errno=EPROTONOSUPPORT',
      'RESULT socket errno=EAFNOSUPPORT',
      'RESULT socket errno=EAFNOSUPPORT',
      'RESULT socket errno=EPERM', // CAN raw: every SOCK_RAW is EPERM, whatever the family
      'RESULT socket errno=EAFNOSUPPORT',
      'RESULT socket errno=EAFNOSUPPORT',
      'RESULT socket errno=EACCES',
      'RESULT socket ok',
    ]);
  });

  it('listen() without bind(), or on port 0, is refused with bind_tcp_ports = []: no ephemeral port to reach from outside', async () => {
    const r = await gated([probe('listen-unbound'), probe('listen-port0')].join('; '));
    // bind(port 0) is Landlock's to refuse (EACCES); listen on an unbound socket is the supervisor's.
    expect(results(r)).toEqual(['RESULT listen errno=EACCES', 'RESULT bind errno=EACCES']);
    expect(refusals(r).find((s) => s.op === 'listen')?.reason).toMatch(/not bound to an allowed port/);
  });
});

describe('gate: a granted bind port is not shared with a service outside the gate', () => {
  it('SO_REUSEPORT beside an outside listener, or the other loopback address (::1 while it listens on 127.0.0.1), is refused and takes none of its connections; the agent\'s own reuseport group on a free granted port works', async () => {
    const free = async (): Promise<number> => {
      const s = net.createServer();
      await new Promise<void>((res) => s.listen(0, '127.0.0.1', () => res()));
      const port = (s.address() as net.AddressInfo).port;
      await new Promise((res) => s.close(res));
      return port;
    };
    const shared = await free();
    const own = await free();
    // The user's service: SO_REUSEPORT (as nginx's reuseport, or a server with worker processes, sets it), loopback.
    const service = await startOutside(
      [
        '/usr/bin/python3',
        '-c',
        `import socket\ns = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1); s.bind(('127.0.0.1', ${shared})); s.listen(64); print('READY', flush=True)\nwhile True:\n    c, _ = s.accept(); c.sendall(b'service'); c.close()`,
      ],
      { ready: /READY/ },
    );
    const agent = `import socket, sys, errno
def listen(fam, host, port, reuse):
    s = socket.socket(fam)
    if reuse: s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        s.bind((host, port)); s.listen(8); print('RESULT listen ok', flush=True); return s
    except OSError as e:
        print('RESULT listen errno=' + errno.errorcode[e.errno], flush=True)
keep = []
keep.append(listen(socket.AF_INET, '127.0.0.1', ${shared}, True))
keep.append(listen(socket.AF_INET6, '::1', ${shared}, False))
keep.append(listen(socket.AF_INET, '127.0.0.1', ${own}, True))
keep.append(listen(socket.AF_INET, '127.0.0.1', ${own}, True))
`;
    fs.writeFileSync(path.join(dirs.ws, 'share.py'), agent);
    const p = policy(`[network]\nconnect_tcp_ports = [${allowed.port}]\nbind_tcp_ports = [${shared}, ${own}]\ndns = false\n`);
    const r = await gated('/usr/bin/python3 share.py', p);
    expect(results(r), r.stderr).toEqual(['RESULT listen errno=EADDRINUSE', 'RESULT listen errno=EADDRINUSE', 'RESULT listen ok', 'RESULT listen ok']);
    const refused = refusals(r).filter((x) => x.op === 'listen');
    expect(refused.map((x) => x.target)).toEqual([`127.0.0.1:${shared}`, `[::1]:${shared}`]);
    expect(refused[0]?.reason).toMatch(/outside the session listens on this port/);
    expect(r.stderr).toContain(`refused listen to 127.0.0.1:${shared}`);
    // Every connection still reaches the service.
    for (let i = 0; i < 10; i++) {
      const got = await new Promise<string>((res, rej) => {
        const c = net.connect(shared, '127.0.0.1');
        let d = '';
        c.on('data', (b) => (d += b.toString()));
        c.on('end', () => res(d));
        c.on('error', rej);
      });
      expect(got).toBe('service');
    }
    // Control: outside the gate the same program joins the service's group (what the gate refuses).
    const ctl = runOutside(['/usr/bin/python3', path.join(dirs.ws, 'share.py')]);
    expect(ctl.stdout.split('\n')[0]).toBe('RESULT listen ok');
    service.stop();
  });
});

describe('gate: a UDP port is not shared with a socket outside the gate', () => {
  it('SO_REUSEADDR and SO_REUSEPORT are refused on UDP sockets (Landlock never checks a UDP bind): the agent cannot bind beside a service outside; on a TCP socket they are set', async () => {
    const service = await startOutside(
      [
        '/usr/bin/python3',
        '-c',
        `import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', 0)); print('READY', s.getsockname()[1], flush=True)\nwhile True:\n    print('DGRAM', s.recv(100).decode(), flush=True)`,
      ],
      { ready: /READY \d+/ },
    );
    const port = Number(/READY (\d+)/.exec(service.output())?.[1]);
    const agent = `import socket, errno
def step(op, f):
    try:
        r = f(); print('RESULT', op, 'ok' if r is None else 'ok=%s' % r, flush=True)
    except OSError as e:
        print('RESULT', op, 'errno=' + errno.errorcode[e.errno], flush=True)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
step('udp-reuseaddr', lambda: u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1))
step('udp-reuseport', lambda: u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1))
step('udp-bind', lambda: u.bind(('127.0.0.1', ${port})))
t = socket.socket()
step('tcp-reuseaddr', lambda: t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1))
step('tcp-reuseaddr-read', lambda: t.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR))
`;
    fs.writeFileSync(path.join(dirs.ws, 'udpshare.py'), agent);
    const r = await gated('/usr/bin/python3 udpshare.py');
    expect(results(r), r.stderr).toEqual([
      'RESULT udp-reuseaddr errno=EPERM',
      'RESULT udp-reuseport errno=EPERM',
      'RESULT udp-bind errno=EADDRINUSE',
      'RESULT tcp-reuseaddr ok',
      'RESULT tcp-reuseaddr-read ok=1',
    ]);
    expect(refusals(r).filter((x) => x.op === 'setsockopt').map((x) => x.reason)).toEqual([expect.stringMatching(/SO_REUSEADDR on a UDP socket/), expect.stringMatching(/SO_REUSEPORT on a UDP socket/)]);
    // Control: outside the gate the same program shares the service's port.
    const ctl = runOutside(['/usr/bin/python3', path.join(dirs.ws, 'udpshare.py')]);
    expect(ctl.stdout).toContain('RESULT udp-bind ok');
    service.stop();
  });
});

describe('gate: [network] seals UDP to the resolvers', () => {
  it('to the resolver it goes; to anything else — sendto, connect+send, sendmsg, sendmmsg, connect-then-sendto — nothing arrives', async () => {
    const r = await gated(
      [
        probe('udp-sendto', '127.0.0.1', 53, 'to-resolver'),
        probe('udp-sendmsg', '127.0.0.1', 53, 'msg-to-resolver'),
        probe('udp-sendmmsg', '127.0.0.1', 53, 'mmsg-to-resolver'),
        probe('udp-sendto', '127.0.0.1', other.port, 'escape-sendto'),
        probe('udp-connect', '127.0.0.1', other.port, 'escape-connect'),
        probe('udp-sendmsg', '127.0.0.1', other.port, 'escape-sendmsg'),
        probe('udp-sendmmsg', '127.0.0.1', other.port, 'escape-sendmmsg'),
        probe('udp-redirect', '127.0.0.1', 53, other.port, 'escape-redirect'),
      ].join('; '),
    );
    expect(results(r)).toEqual([
      'RESULT sendto ok',
      'RESULT sendmsg ok',
      'RESULT sendmmsg ok sent=2 len=16,16',
      'RESULT sendto errno=EACCES',
      'RESULT connect errno=EACCES',
      'RESULT sendmsg errno=EACCES',
      'RESULT sendmmsg errno=EACCES',
      'RESULT sendto errno=EACCES',
    ]);
    await until('the resolver to get four datagrams', () => resolver.received.filter((m) => m.endsWith('to-resolver')).length >= 4);
    expect(other.received).toEqual([]);
    expect(refusals(r).every((s) => s.target === `127.0.0.1:${other.port}` && /DNS resolvers/.test(s.reason))).toBe(true);
  });

  it('with DNS every sendmsg is performed by the supervisor, and still behaves: SCM_RIGHTS passes the open file, a 3 MiB stream send arrives whole', async () => {
    const big = await new Promise<{ port: number; got: () => number; close: () => void }>((resolve) => {
      let got = 0;
      const srv = net.createServer((c) => {
        c.on('error', () => undefined);
        c.on('data', (d: Buffer) => (got += d.length));
      });
      srv.listen(0, '127.0.0.1', () => resolve({ port: (srv.address() as net.AddressInfo).port, got: () => got, close: () => srv.close() }));
    });
    const script = `import os, socket, sys
a, b = socket.socketpair()
fd = os.open(sys.argv[1], os.O_RDONLY)
socket.send_fds(a, [b'take this'], [fd])
msg, fds, _, _ = socket.recv_fds(b, 100, 4)
print('RESULT fds', msg.decode(), os.read(fds[0], 100).decode().strip())
s = socket.create_connection(('127.0.0.1', int(sys.argv[2])))
data = b'x' * (3 << 20)
sent = 0
while sent < len(data):
    sent += s.sendmsg([data[sent:]])
s.close()
print('RESULT sent', sent)`;
    fs.writeFileSync(path.join(dirs.ws, 'proxied.py'), script);
    fs.writeFileSync(path.join(dirs.ws, 'secret.txt'), 'the passed file\n');
    try {
      const p = policy(`[network]\nconnect_tcp_ports = [${allowed.port}, ${big.port}]\nbind_tcp_ports = []\ndns = true\ndns_servers = ["127.0.0.1"]\n`, [allowed.port, big.port]);
      const r = await gated(`/usr/bin/python3 proxied.py secret.txt ${big.port}`, p);
      expect(results(r), r.stderr).toEqual(['RESULT fds take this the passed file', `RESULT sent ${3 << 20}`]);
      await until('3 MiB to arrive', () => big.got() === 3 << 20);
    } finally {
      big.close();
    }
  });

  it('DNS through the real resolver of /etc/resolv.conf resolves with dns = true, and not without it', async () => {
    const withDns = policy(`[network]\nconnect_tcp_ports = [443]\ndns = true\n`);
    const without = policy(`[network]\nconnect_tcp_ports = [443]\ndns = false\n`);
    const a = await gated('getent hosts registry.npmjs.org; echo "rc=$?"', withDns);
    expect(a.stdout, a.stderr).toMatch(/registry\.npmjs\.org/);
    expect(a.stdout).toContain('rc=0');
    const b = await gated(`getent hosts registry.npmjs.org; echo "rc=$?"; ${probe('socket-kind', 'udp')}`, without);
    expect(b.stdout).toContain('rc=2');
    expect(b.stdout).toContain('RESULT socket errno=EACCES');
    expect(b.start?.enforcement).toMatchObject({ net_filter: 'sealed', dns: 'off' });
  });

  it('a multi-threaded agent flipping a sendmsg address between the resolver and another port: nothing reaches the other port', async () => {
    const r = await gated(`${prog('sockrace')} udp 127.0.0.1 53 ${other.port} 1.5`);
    const m = /RESULT race ok tries=(\d+) connected=(\d+)/.exec(r.stdout);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    expect(Number(m?.[1])).toBeGreaterThan(100);
    expect(Number(m?.[2])).toBeGreaterThan(0);
    await new Promise((res) => setTimeout(res, 200));
    expect(other.received).toEqual([]);
  });

  it('a multi-threaded agent flipping a connect address between the granted and a denied port: nothing reaches the denied port', async () => {
    const before = denied.accepted;
    const r = await gated(`${prog('sockrace')} tcp 127.0.0.1 ${allowed.port} ${denied.port} 1.5`);
    const m = /RESULT race ok tries=(\d+) connected=(\d+)/.exec(r.stdout);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    expect(Number(m?.[2])).toBeGreaterThan(0);
    await new Promise((res) => setTimeout(res, 200));
    expect(denied.accepted).toBe(before);
  });
});

describe('gate: without [network], nothing of this is sealed', () => {
  it('UDP anywhere, any TCP port, listen() without bind work; unix datagram sockets stay refused (unix sockets are sealed by default)', async () => {
    const before = other.received.length;
    const r = await gated([probe('udp-sendto', '127.0.0.1', other.port, 'open'), probe('tcp-connect', '127.0.0.1', denied.port), probe('listen-unbound'), probe('unix-dgram-pair')].join('; '), policy('', [other.port, denied.port]));
    expect(results(r).slice(0, 2)).toEqual(['RESULT sendto ok', 'RESULT connect ok read=hello']);
    expect(results(r)[2]).toMatch(/^RESULT listen ok port=\d+$/);
    expect(results(r)[3]).toBe('RESULT socketpair errno=EACCES');
    await until('the datagram', () => other.received.length === before + 1);
    expect(r.start?.enforcement).toMatchObject({ net_filter: 'off', unix: 'mediated' });
  });
});
