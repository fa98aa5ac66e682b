// End to end: services on this host outside the gate (red-team R59, issue 13 items 2 and 4). Under a policy
// with no [network], a process outside the gate listening on a port of this host — a Node inspector, Jupyter,
// code-server, a build daemon — would run code for the agent that connects to it. Each way there is tried for
// real through `agent-gate run` (root, and uid 65534) against listeners outside the gate that count what
// reaches them: TCP to 127.0.0.1, 127.0.0.2, ::1, a v4-mapped address, 0.0.0.0 and the host's own interface
// address (a listener on 0.0.0.0), MPTCP, TCP fast open, UDP (sendto, connect, sendmsg). The agent's own
// server and client (node http, python) keep working, DNS to the resolver too, and a client outside the gate
// never reaches the agent's listener (the squat of an OAuth callback port).
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SocketRecord } from '../../src/core/audit/records';
import { makeDirs, prepare, prog, runCli, type CliRun } from './gate-progs/cli';
import { until } from './gate-progs/outside';

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

async function tcpServer(host: string, port = 0): Promise<TcpCounter> {
  const c: TcpCounter = { port: 0, accepted: 0, server: net.createServer() };
  c.server.on('connection', (s) => {
    s.on('error', () => undefined);
    c.accepted++;
    s.end('outside');
  });
  await new Promise<void>((res, rej) => {
    c.server.once('error', rej);
    c.server.listen(port, host, () => res());
  });
  c.port = (c.server.address() as net.AddressInfo).port;
  return c;
}

async function udpServer(host: string, port = 0): Promise<UdpCounter> {
  const c: UdpCounter = { port: 0, received: [], socket: dgram.createSocket('udp4') };
  c.socket.on('message', (m) => c.received.push(m.toString()));
  await new Promise<void>((res, rej) => {
    c.socket.once('error', rej);
    c.socket.bind(port, host, () => res());
  });
  c.port = c.socket.address().port;
  return c;
}

/** The host's own non-loopback IPv4 address (a listener on 0.0.0.0 is reached through it too). */
function hostAddress(): string {
  for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  throw new Error('this machine has no non-loopback IPv4 address to try');
}

let v4: TcpCounter; // 127.0.0.1
let v4b: TcpCounter; // 127.0.0.2
let v6: TcpCounter; // ::1
let any: TcpCounter; // 0.0.0.0
let udp: UdpCounter; // 127.0.0.1
let resolver: UdpCounter; // 127.0.0.53:53, named by the policy as the resolver

beforeAll(async () => {
  await prepare();
  dirs = makeDirs('loopback');
  fs.chmodSync(dirs.root, 0o755);
  v4 = await tcpServer('127.0.0.1');
  v4b = await tcpServer('127.0.0.2');
  v6 = await tcpServer('::1');
  any = await tcpServer('0.0.0.0');
  udp = await udpServer('127.0.0.1');
  resolver = await udpServer('127.0.0.53', 53);
});
afterAll(() => {
  for (const s of [v4, v4b, v6, any]) s?.server.close();
  for (const s of [udp, resolver]) s?.socket.close();
  dirs?.cleanup();
});

const AS_NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

/** A workspace with a policy (no [network] unless `extra` adds it); for uid 65534 owned by it. */
function workspace(extra = '', nobody = false): { ws: string; policy: string; audit: string } {
  const base = path.join(dirs.root, `run-${++n}`);
  const ws = path.join(base, 'ws');
  fs.mkdirSync(ws, { recursive: true });
  const policy = path.join(ws, '.gate.toml');
  fs.writeFileSync(policy, `[meta]\nversion = 1\ndefault_action = "allow"\n\n[filesystem]\nread_globs = ["/**"]\nwrite_globs = ["\${WORKSPACE}/**"]\n\n${extra}`);
  if (nobody) for (const p of [base, ws, policy]) fs.chownSync(p, 65534, 65534);
  return { ws, policy, audit: path.join(base, 'audit.jsonl') };
}

function gated(script: string, opts: { extra?: string; nobody?: boolean; files?: Record<string, string> } = {}): Promise<CliRun> {
  const w = workspace(opts.extra, opts.nobody);
  for (const [name, text] of Object.entries(opts.files ?? {})) {
    fs.writeFileSync(path.join(w.ws, name), text, { mode: 0o755 });
    if (opts.nobody) fs.chownSync(path.join(w.ws, name), 65534, 65534);
  }
  return runCli(['bash', '-c', script], { policy: w.policy, audit: w.audit, cwd: w.ws, env: { HOME: path.dirname(w.ws) }, ...(opts.nobody ? { wrap: AS_NOBODY } : {}) });
}

const results = (r: CliRun): string[] => r.stdout.split('\n').filter((l) => l.startsWith('RESULT'));
const refusals = (r: CliRun): SocketRecord[] => r.records.filter((x): x is SocketRecord => x.type === 'socket' && x.verdict === 'deny');
const probe = (...args: (string | number)[]): string => [prog('sockprobe'), ...args].join(' ');
const OUTSIDE = /a process outside the gate serves (TCP|UDP) port \d+ on this host/;

describe.each([
  ['root', false],
  ['uid 65534', true],
])('gate: services on this host outside the gate (no [network]; %s)', (_who, nobody) => {
  it('TCP to an outside listener on 127.0.0.1, 127.0.0.2, ::1, v4-mapped, 0.0.0.0 and the host address is refused, recorded, and reaches nothing', async () => {
    const before = [v4.accepted, v4b.accepted, v6.accepted, any.accepted];
    const host = hostAddress();
    const r = await gated(
      [
        probe('tcp-connect', '127.0.0.1', v4.port),
        probe('tcp-connect', '127.0.0.2', v4b.port),
        probe('tcp-connect', '::1', v6.port),
        probe('tcp-connect', '::ffff:127.0.0.1', v4.port),
        probe('tcp-connect', '0.0.0.0', any.port),
        probe('tcp-connect', host, any.port),
        probe('tcp-connect', '127.0.0.1', any.port),
      ].join('; '),
      { nobody },
    );
    expect(results(r), r.stderr).toEqual(Array(7).fill('RESULT connect errno=EACCES'));
    expect(refusals(r).map((s) => [s.op, s.target, s.layer])).toEqual([
      ['connect', `127.0.0.1:${v4.port}`, 'kernel'],
      ['connect', `127.0.0.2:${v4b.port}`, 'kernel'],
      ['connect', `[::1]:${v6.port}`, 'kernel'],
      ['connect', `127.0.0.1:${v4.port}`, 'kernel'],
      ['connect', `0.0.0.0:${any.port}`, 'kernel'],
      ['connect', `${host}:${any.port}`, 'kernel'],
      ['connect', `127.0.0.1:${any.port}`, 'kernel'],
    ]);
    for (const s of refusals(r)) expect(s.reason).toMatch(OUTSIDE);
    expect(r.start?.enforcement).toMatchObject({ loopback: 'sealed' });
    await new Promise((res) => setTimeout(res, 100));
    expect([v4.accepted, v4b.accepted, v6.accepted, any.accepted]).toEqual(before);
  });

  it('MPTCP and TCP fast open to an outside listener are refused: no connection, no data', async () => {
    const before = v4.accepted;
    const r = await gated([probe('mptcp', '127.0.0.1', v4.port), probe('tcp-fastopen', '127.0.0.1', v4.port), probe('tcp-fastopen-msg', '127.0.0.1', v4.port), probe('tcp-fastopen-opt', '127.0.0.1', v4.port)].join('; '), { nobody });
    expect(results(r), r.stderr).toEqual(['RESULT connect errno=EACCES', 'RESULT sendto errno=EOPNOTSUPP', 'RESULT sendmsg errno=EOPNOTSUPP', 'RESULT setsockopt errno=ENOPROTOOPT']);
    expect(refusals(r)[0]?.reason).toMatch(OUTSIDE);
    await new Promise((res) => setTimeout(res, 100));
    expect(v4.accepted).toBe(before);
  });

  it('UDP to an outside service on this host (sendto, connect, sendmsg, sendmmsg) is refused and recorded; nothing arrives', async () => {
    const tag = `udp-${nobody ? 'nobody' : 'root'}`;
    const r = await gated(
      [probe('udp-sendto', '127.0.0.1', udp.port, `${tag}-a`), probe('udp-connect', '127.0.0.1', udp.port, `${tag}-b`), probe('udp-sendmsg', '127.0.0.1', udp.port, `${tag}-c`), probe('udp-sendmmsg', '127.0.0.1', udp.port, `${tag}-d`)].join('; '),
      { nobody },
    );
    expect(results(r), r.stderr).toEqual(['RESULT sendto errno=EACCES', 'RESULT connect errno=EACCES', 'RESULT sendmsg errno=EACCES', 'RESULT sendmmsg errno=EACCES']);
    expect(refusals(r).map((s) => s.reason)).toEqual(Array(4).fill(expect.stringMatching(/serves UDP port/)));
    await new Promise((res) => setTimeout(res, 100));
    expect(udp.received.filter((m) => m.startsWith(tag))).toEqual([]);
  });

  it('other protocols to this host (UDP-Lite, SCTP) are refused whatever listens; a ping socket to 127.0.0.1 (the kernel answers) is not', async () => {
    const py = `import socket, errno
def t(name, fam, typ, proto, addr):
    try:
        s = socket.socket(fam, typ, proto)
    except OSError as e:
        print('RESULT', name, 'nosocket', errno.errorcode[e.errno]); return
    try:
        s.connect(addr); print('RESULT', name, 'ok')
    except OSError as e:
        print('RESULT', name, errno.errorcode[e.errno])
t('udplite', socket.AF_INET, socket.SOCK_DGRAM, 136, ('127.0.0.1', ${udp.port}))
t('sctp', socket.AF_INET, socket.SOCK_STREAM, 132, ('127.0.0.1', ${v4.port}))
t('ping', socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP, ('127.0.0.1', 0))`;
    const r = await gated('python3 probe.py', { nobody, files: { 'probe.py': py } });
    const got = results(r);
    // Where the kernel has the protocol, the connect is refused; where it has not, nothing can be tried.
    expect(got[0], r.stderr).toMatch(/^RESULT udplite (EACCES|nosocket EPROTONOSUPPORT)$/);
    expect(got[1]).toMatch(/^RESULT sctp (EACCES|nosocket EPROTONOSUPPORT)$/);
    // ping sockets need net.ipv4.ping_group_range to cover the group: root's usually, 65534's not.
    expect(got[2]).toMatch(/^RESULT ping (ok|nosocket EACCES)$/);
    for (const s of refusals(r)) expect(s.reason).toMatch(/only TCP and UDP/);
  });

  it('other socket families (vsock, TIPC, RDS, CAN, Bluetooth, packet) and raw inet sockets are refused at socket(2), each family named in the record; unix, netlink, TCP and UDP sockets are made (red-team R103)', async () => {
    // vsock reaches services of this machine (CID 1) and of a VM's host (CID 2) outside the gate. The others
    // may be missing from this kernel (then EAFNOSUPPORT either way): the record shows the gate refused them.
    const py = `import socket, errno
def t(name, fam, typ, proto=0):
    try:
        socket.socket(fam, typ, proto).close(); print('RESULT', name, 'ok')
    except OSError as e:
        print('RESULT', name, errno.errorcode[e.errno])
t('vsock', 40, socket.SOCK_STREAM)
t('vsock-dgram', 40, socket.SOCK_DGRAM)
t('tipc', 30, socket.SOCK_RDM)
t('rds', 21, socket.SOCK_SEQPACKET)
t('can', 29, socket.SOCK_DGRAM, 2)
t('bluetooth', 31, socket.SOCK_STREAM, 3)
t('packet-dgram', 17, socket.SOCK_DGRAM)
t('packet-raw', 17, socket.SOCK_RAW)
t('raw-udp', socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
t('raw6-tcp', socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_TCP)
t('unix', socket.AF_UNIX, socket.SOCK_STREAM)
t('netlink', socket.AF_NETLINK, socket.SOCK_RAW, 0)
t('tcp', socket.AF_INET, socket.SOCK_STREAM)
t('udp6', socket.AF_INET6, socket.SOCK_DGRAM)`;
    const r = await gated('python3 families.py', { nobody, files: { 'families.py': py } });
    const got = new Map(results(r).map((l) => [l.split(' ')[1], l.split(' ')[2]]));
    for (const f of ['vsock', 'vsock-dgram', 'tipc', 'rds', 'can', 'bluetooth', 'packet-dgram']) expect(got.get(f), `${f}: ${r.stderr}`).toBe('EAFNOSUPPORT');
    for (const f of ['packet-raw', 'raw-udp', 'raw6-tcp']) expect(got.get(f), f).toBe('EPERM');
    for (const f of ['unix', 'netlink', 'tcp', 'udp6']) expect(got.get(f), f).toBe('ok');
    const refused = refusals(r).filter((x) => x.op === 'socket');
    expect(refused.map((x) => x.family).sort()).toEqual(['bluetooth', 'can', 'packet', 'rds', 'tipc', 'vsock', 'vsock']);
    for (const x of refused) expect(x.reason).toMatch(/sealed by \[loopback\]/);
  });

  it("the agent's own servers and clients work with no question: node http (127.0.0.1 and localhost) and python", async () => {
    const nodeScript = `const http = require('http');
for (const host of ['127.0.0.1', 'localhost']) {
  const s = http.createServer((q, r) => r.end('own-node'));
  s.listen(0, host, async () => {
    const r = await fetch('http://' + host + ':' + s.address().port + '/');
    console.log('RESULT node ' + host + ' ' + (await r.text()));
    s.close();
  });
}`;
    const pyScript = `import http.server, threading, urllib.request
srv = http.server.HTTPServer(('127.0.0.1', 0), http.server.SimpleHTTPRequestHandler)
threading.Thread(target=srv.serve_forever, daemon=True).start()
with urllib.request.urlopen('http://127.0.0.1:%d/own.txt' % srv.server_address[1]) as r:
    print('RESULT python', r.read().decode().strip())
srv.shutdown()`;
    const r = await gated('node own.js; python3 own.py', { nobody, files: { 'own.js': nodeScript, 'own.py': pyScript, 'own.txt': 'own-python\n' } });
    expect(results(r).sort(), r.stderr).toEqual(['RESULT node 127.0.0.1 own-node', 'RESULT node localhost own-node', 'RESULT python own-python']);
    expect(refusals(r)).toEqual([]);
  });
});

describe('gate: [loopback] names what may pass', () => {
  it('connect_ports lets the agent reach that outside service (and only it)', async () => {
    const before = [v4.accepted, v4b.accepted];
    const r = await gated([probe('tcp-connect', '127.0.0.1', v4.port), probe('tcp-connect', '127.0.0.2', v4b.port)].join('; '), { extra: `[loopback]\nconnect_ports = [${v4.port}]\n` });
    expect(results(r), r.stderr).toEqual(['RESULT connect ok read=outside', 'RESULT connect errno=EACCES']);
    await until('the allowed connection', () => v4.accepted === (before[0] ?? 0) + 1);
    expect(v4b.accepted).toBe(before[1]);
  });

  it('sealed = false: the old behaviour (the control: these listeners are reachable from inside a gate at all)', async () => {
    const before = v4.accepted;
    const r = await gated(probe('tcp-connect', '127.0.0.1', v4.port), { extra: '[loopback]\nsealed = false\n' });
    expect(results(r), r.stderr).toEqual(['RESULT connect ok read=outside']);
    expect(r.start?.enforcement).toMatchObject({ loopback: 'off' });
    await until('the connection', () => v4.accepted === before + 1);
  });

  it('sealed = false: a vsock socket is made (the control of R103: this kernel has vsock, and the seal is what refuses it)', async () => {
    const r = await gated(`python3 -c "import socket; socket.socket(40, socket.SOCK_STREAM); print('RESULT vsock ok')"`, { extra: '[loopback]\nsealed = false\n' });
    expect(results(r), r.stderr).toEqual(['RESULT vsock ok']);
  });

  it('DNS to the resolver on this host keeps working ([network] dns_servers names 127.0.0.53); UDP to another port of it is refused', async () => {
    const r = await gated([probe('udp-sendto', '127.0.0.53', 53, 'dns-query'), probe('udp-connect', '127.0.0.53', 53, 'dns-query-2'), probe('udp-sendto', '127.0.0.1', udp.port, 'not-dns')].join('; '), {
      extra: '[network]\nconnect_tcp_ports = [443]\ndns = true\ndns_servers = ["127.0.0.53"]\n',
    });
    expect(results(r), r.stderr).toEqual(['RESULT sendto ok', 'RESULT send ok', 'RESULT sendto errno=EACCES']);
    await until('the queries', () => resolver.received.includes('dns-query') && resolver.received.includes('dns-query-2'));
    expect(udp.received).not.toContain('not-dns');
  });

  it('[network] with a granted port no longer reaches an outside service on that port of this host (R59 strict: 127.0.0.2:443)', async () => {
    const before = v4b.accepted;
    const r = await gated(probe('tcp-connect', '127.0.0.2', v4b.port), { extra: `[network]\nconnect_tcp_ports = [${v4b.port}]\ndns = false\n` });
    expect(results(r), r.stderr).toEqual(['RESULT connect errno=EACCES']);
    expect(refusals(r)[0]?.reason).toMatch(OUTSIDE);
    await new Promise((res) => setTimeout(res, 100));
    expect(v4b.accepted).toBe(before);
  });
});

describe("gate: a client outside the gate never reaches the agent's listener (port squatting)", () => {
  // The agent listens on a loopback port, tells the test which (a file), accepts for 3 s, and connects once
  // itself after 1 s. The test connects from outside meanwhile and sends a secret (an OAuth code).
  const squat = `import socket, sys, threading, time
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(8)
port = s.getsockname()[1]
open('port.tmp', 'w').write(str(port)); import os; os.rename('port.tmp', 'port')
def own():
    time.sleep(1)
    c = socket.create_connection(('127.0.0.1', port)); c.sendall(b'own'); c.close()
threading.Thread(target=own, daemon=True).start()
s.settimeout(3); got = []
try:
    while True:
        c, a = s.accept(); c.settimeout(2); got.append(c.recv(100).decode()); c.close()
except socket.timeout:
    pass
print('RESULT accepted ' + ','.join(sorted(got)))`;

  async function squatRun(extra: string, nobody: boolean): Promise<{ r: CliRun; outsideGot: string }> {
    const w = workspace(extra, nobody);
    fs.writeFileSync(path.join(w.ws, 'squat.py'), squat);
    if (nobody) fs.chownSync(path.join(w.ws, 'squat.py'), 65534, 65534);
    const run = runCli(['python3', 'squat.py'], { policy: w.policy, audit: w.audit, cwd: w.ws, env: { HOME: path.dirname(w.ws) }, ...(nobody ? { wrap: AS_NOBODY } : {}) });
    const port = Number(await until('the agent listening', () => fs.existsSync(path.join(w.ws, 'port')) && fs.readFileSync(path.join(w.ws, 'port'), 'utf8')));
    let outsideGot = '';
    await new Promise<void>((res) => {
      const c = net.connect(port, '127.0.0.1', () => c.write('outside-secret'));
      c.on('data', (d) => (outsideGot += d.toString()));
      c.on('error', () => res());
      c.on('close', () => res());
      setTimeout(() => {
        c.destroy();
        res();
      }, 4000);
    });
    return { r: await run, outsideGot };
  }

  it.each([
    ['root', false],
    ['uid 65534', true],
  ])('the outside client is closed before the agent can accept it; the agent still gets its own client (%s)', async (_who, nobody) => {
    const { r } = await squatRun('', nobody);
    expect(results(r), r.stderr).toEqual(['RESULT accepted own']);
    const refused = refusals(r).filter((s) => s.op === 'accept');
    expect(refused.length).toBe(1);
    expect(refused[0]?.reason).toMatch(/a process outside the gate \(from 127\.0\.0\.1 port \d+\) connected to the agent's TCP port \d+: closed before the agent could accept it/);
  });

  it('accept_ports lets an outside client (a browser on a dev server) reach that port', async () => {
    // The port is not known before the run: the agent binds 0, so accept_ports names every port the test may
    // get… instead, a fixed free port is chosen first and the agent told through the policy file.
    const probeServer = await tcpServer('127.0.0.1');
    const port = probeServer.port;
    await new Promise<void>((res) => probeServer.server.close(() => res()));
    const fixed = squat.replace("s.bind(('127.0.0.1', 0))", `s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', ${port}))`);
    const w = workspace(`[loopback]\naccept_ports = [${port}]\n`);
    fs.writeFileSync(path.join(w.ws, 'squat.py'), fixed);
    const run = runCli(['python3', 'squat.py'], { policy: w.policy, audit: w.audit, cwd: w.ws, env: { HOME: path.dirname(w.ws) } });
    await until('the agent listening', () => fs.existsSync(path.join(w.ws, 'port')));
    const c = net.connect(port, '127.0.0.1', () => c.end('outside-secret'));
    c.on('error', () => undefined);
    const r = await run;
    expect(results(r), r.stderr).toEqual(['RESULT accepted outside-secret,own']);
    expect(refusals(r)).toEqual([]);
  });
});
