// End to end: containers and VMs on this machine count as "this host" for [loopback] (red-team R105, issue 13
// item 2). A container's service at its own address (docker0 172.17.0.x, compose br-*, podman, kind, libvirt,
// LXD) is as much outside the gate as one on 127.0.0.1: a Node inspector there ran `sh` for the agent. Network
// namespaces with a veth, and a bridge with a veth port, stand in for containers (nothing else of docker is
// needed: that is all a container's network is); a tap device stands in for a VM's, a tun for a VPN's (another
// machine). Tried for real through `agent-gate run`, root and uid 65534: the connect (TCP over IPv4 and IPv6,
// UDP) is refused and recorded and reaches nothing; `connect_ports` lets it through; `sealed = false` is the
// control (the same connect works, so these tests can fail); a container made after the session started
// counts; and the other way, a container's client never reaches the agent's listener (Xdebug connecting back)
// unless `accept_ports` names the port.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SocketRecord } from '../../src/core/audit/records';
import { makeDirs, prepare, prog, runCli, type CliRun } from './gate-progs/cli';
import { startOutside, stopAllOutside, until, type Outside } from './gate-progs/outside';

if (process.getuid?.() !== 0) throw new Error('gate-loopback-guests runs as root (it makes network namespaces, veths, a bridge and tun/tap devices)');

// Names and subnets of this run (a device name is at most 15 bytes).
const tag = String(process.pid % 100000);
const o3 = 20 + (process.pid % 200);
const NS1 = `agr105a${tag}`; // a container on a veth
const NS2 = `agr105b${tag}`; // a container on a bridge, made while a session runs
const VETH = `agva${tag}`;
const BRIDGE = `agbr${tag}`;
const BPORT = `agvb${tag}`;
const TAP = `agtp${tag}`;
const TUN = `agtn${tag}`;
const C1 = { v4: `10.105.${o3}.2`, v6: `fd05:105:${o3}::2`, host4: `10.105.${o3}.1`, host6: `fd05:105:${o3}::1` };
const C2 = { v4: `10.106.${o3}.2`, v6: `fd05:106:${o3}::2` };
const TAP_PEER = `10.107.${o3}.2`;
const TUN_PEER = `10.108.${o3}.2`;
const NAT_TABLE = `agr105${tag}`;
/** nft makes the NAT rule of the "published without a proxy" case (the nftables package; the kernel's NAT is
 *  built in here). */
const HAS_NFT = spawnSync('nft', ['--version']).status === 0;

function sh(cmd: string, allowFail = false): string {
  const r = spawnSync('bash', ['-c', cmd], { encoding: 'utf8' });
  if (r.status !== 0 && !allowFail) throw new Error(`${cmd}: ${r.stderr}`);
  return r.stdout;
}

/** A network namespace joined to this one by a veth (HOST side in this namespace), as `docker run` makes. */
function container(ns: string, hostSide: string, inner: string, c: { v4: string; v6: string }, prefix4: string, prefix6: string): void {
  sh(`ip netns add ${ns} && ip link add ${hostSide} type veth peer name ${inner} && ip link set ${inner} netns ${ns}`);
  sh(`ip netns exec ${ns} sh -c 'ip link set lo up; ip addr add ${c.v4}/24 dev ${inner}; ip -6 addr add ${c.v6}/64 dev ${inner} nodad; ip link set ${inner} up; ip route add default via ${prefix4}.1; ip -6 route add default via ${prefix6}::1'`);
}

// The service inside a container: TCP on both families (one dual-stack listener) and UDP on both, answering
// "outside" and printing what reached it.
const SERVER = `import socket, sys, threading
port = int(sys.argv[1])
t = socket.socket(socket.AF_INET6, socket.SOCK_STREAM); t.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind(('::', port)); t.listen(16)
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); u.bind(('::', port))
def udp():
    while True:
        d, a = u.recvfrom(2048); print('UDP', d.decode(errors='replace'), flush=True)
threading.Thread(target=udp, daemon=True).start()
print('ready', flush=True)
while True:
    c, a = t.accept(); print('ACCEPT', a[0], flush=True)
    try:
        c.sendall(b'outside'); c.close()
    except OSError:
        pass
`;

let dirs: ReturnType<typeof makeDirs>;
let n = 0;
let server1: Outside;
let server2: Outside | undefined;
const PORT = 19000 + (process.pid % 1000);

beforeAll(async () => {
  await prepare();
  dirs = makeDirs('loopback-guests');
  fs.chmodSync(dirs.root, 0o755);
  fs.writeFileSync(path.join(dirs.root, 'server.py'), SERVER);
  cleanupNet();
  container(NS1, VETH, `agvc${tag}`, C1, `10.105.${o3}`, `fd05:105:${o3}`);
  sh(`ip addr add ${C1.host4}/24 dev ${VETH} && ip -6 addr add ${C1.host6}/64 dev ${VETH} nodad && ip link set ${VETH} up`);
  // A VM's tap (layer 2) and a VPN's tun (layer 3), each with a subnet; nothing answers behind them.
  sh(`ip tuntap add dev ${TAP} mode tap && ip addr add 10.107.${o3}.1/24 dev ${TAP} && ip link set ${TAP} up`);
  sh(`ip tuntap add dev ${TUN} mode tun && ip addr add 10.108.${o3}.1/24 dev ${TUN} && ip link set ${TUN} up`);
  server1 = await startOutside(['ip', 'netns', 'exec', NS1, 'python3', path.join(dirs.root, 'server.py'), String(PORT)], { ready: /ready/ });
});

/** Every namespace and device this file made (also after a failure, and left over from a killed run). */
function cleanupNet(): void {
  for (const dev of [VETH, BPORT, BRIDGE, TAP, TUN]) sh(`ip link del ${dev} 2>/dev/null`, true);
  for (const ns of [NS1, NS2]) sh(`ip netns del ${ns} 2>/dev/null`, true);
  if (HAS_NFT) sh(`nft delete table ip ${NAT_TABLE} 2>/dev/null`, true);
}

afterAll(() => {
  stopAllOutside();
  cleanupNet();
  dirs?.cleanup();
});

const AS_NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

function workspace(extra = '', nobody = false): { ws: string; policy: string; audit: string } {
  const base = path.join(dirs.root, `run-${++n}`);
  const ws = path.join(base, 'ws');
  fs.mkdirSync(ws, { recursive: true });
  const policy = path.join(ws, '.gate.toml');
  fs.writeFileSync(policy, `[meta]\nversion = 1\ndefault_action = "allow"\n\n[filesystem]\nread_globs = ["/**"]\nwrite_globs = ["\${WORKSPACE}/**"]\n\n${extra}`);
  if (nobody) for (const p of [base, ws, policy]) fs.chownSync(p, 65534, 65534);
  return { ws, policy, audit: path.join(base, 'audit.jsonl') };
}

function gatedRun(script: string, opts: { extra?: string; nobody?: boolean; files?: Record<string, string> } = {}): { run: Promise<CliRun>; ws: string } {
  const w = workspace(opts.extra, opts.nobody);
  for (const [name, text] of Object.entries(opts.files ?? {})) {
    fs.writeFileSync(path.join(w.ws, name), text, { mode: 0o755 });
    if (opts.nobody) fs.chownSync(path.join(w.ws, name), 65534, 65534);
  }
  const run = runCli(['bash', '-c', script], { policy: w.policy, audit: w.audit, cwd: w.ws, env: { HOME: path.dirname(w.ws) }, ...(opts.nobody ? { wrap: AS_NOBODY } : {}) });
  return { run, ws: w.ws };
}
const gated = (script: string, opts: { extra?: string; nobody?: boolean; files?: Record<string, string> } = {}): Promise<CliRun> => gatedRun(script, opts).run;

const results = (r: CliRun): string[] => r.stdout.split('\n').filter((l) => l.startsWith('RESULT'));
const refusals = (r: CliRun): SocketRecord[] => r.records.filter((x): x is SocketRecord => x.type === 'socket' && x.verdict === 'deny');
const probe = (...args: (string | number)[]): string => [prog('sockprobe'), ...args].join(' ');
const GUEST = (dev: string, kind: string): RegExp => new RegExp(`is a container or VM on this machine \\(reached through ${dev}, a local ${kind}\\)`);
const settle = (): Promise<void> => new Promise((res) => setTimeout(res, 150));

describe.each([
  ['root', false],
  ['uid 65534', true],
])('gate: a container on this machine is this host for [loopback] (no [network]; %s)', (_who, nobody) => {
  it("TCP (IPv4, IPv6, v4-mapped) and UDP to a container's service behind a veth are refused, recorded, and reach nothing", async () => {
    const before = [server1.count(/^ACCEPT/), server1.count(/^UDP/)];
    const t = `guest-${nobody ? 'nobody' : 'root'}`;
    const r = await gated(
      [
        probe('tcp-connect', C1.v4, PORT),
        probe('tcp-connect', C1.v6, PORT),
        probe('tcp-connect', `::ffff:${C1.v4}`, PORT),
        probe('udp-sendto', C1.v4, PORT, `${t}-a`),
        probe('udp-connect', C1.v4, PORT, `${t}-b`),
        probe('udp-sendmsg', C1.v4, PORT, `${t}-c`),
      ].join('; '),
      { nobody },
    );
    expect(results(r), r.stderr).toEqual(['RESULT connect errno=EACCES', 'RESULT connect errno=EACCES', 'RESULT connect errno=EACCES', 'RESULT sendto errno=EACCES', 'RESULT connect errno=EACCES', 'RESULT sendmsg errno=EACCES']);
    expect(refusals(r).map((s) => [s.op, s.target])).toEqual([
      ['connect', `${C1.v4}:${PORT}`],
      ['connect', `[${C1.v6}]:${PORT}`],
      ['connect', `${C1.v4}:${PORT}`],
      ['send', `${C1.v4}:${PORT}`],
      ['connect', `${C1.v4}:${PORT}`],
      ['send', `${C1.v4}:${PORT}`],
    ]);
    for (const s of refusals(r)) expect(s.reason).toMatch(GUEST(VETH, 'veth'));
    expect(r.start?.enforcement).toMatchObject({ loopback: 'sealed' });
    await settle();
    expect([server1.count(/^ACCEPT/), server1.count(/^UDP/)]).toEqual(before);
  });

  it('a container made after the session started (a bridge, as docker0 or a compose network, with a veth port) counts at once', async () => {
    const { run, ws } = gatedRun(`touch waiting; while [ ! -e go ]; do sleep 0.05; done; ${probe('tcp-connect', C2.v4, PORT)}; ${probe('tcp-connect', C2.v6, PORT)}`, { nobody });
    await until('the agent waiting', () => fs.existsSync(path.join(ws, 'waiting')), 20_000);
    sh(`ip netns del ${NS2} 2>/dev/null; ip link del ${BRIDGE} 2>/dev/null`, true);
    sh(`ip link add ${BRIDGE} type bridge && ip addr add 10.106.${o3}.1/24 dev ${BRIDGE} && ip -6 addr add fd05:106:${o3}::1/64 dev ${BRIDGE} nodad && ip link set ${BRIDGE} up`);
    container(NS2, BPORT, `agvd${tag}`, C2, `10.106.${o3}`, `fd05:106:${o3}`);
    sh(`ip link set ${BPORT} master ${BRIDGE} && ip link set ${BPORT} up`);
    server2 = await startOutside(['ip', 'netns', 'exec', NS2, 'python3', path.join(dirs.root, 'server.py'), String(PORT)], { ready: /ready/ });
    const before = server2.count(/^ACCEPT/);
    fs.writeFileSync(path.join(ws, 'go'), '');
    const r = await run;
    expect(results(r), r.stderr).toEqual(['RESULT connect errno=EACCES', 'RESULT connect errno=EACCES']);
    for (const s of refusals(r)) expect(s.reason).toMatch(GUEST(BRIDGE, 'bridge'));
    expect(refusals(r).length).toBe(2);
    await settle();
    expect(server2.count(/^ACCEPT/)).toBe(before);
    server2.stop();
    sh(`ip netns del ${NS2}; ip link del ${BRIDGE}`, true);
  });

  it("a VM's tap counts as this machine; a VPN's tun (layer 3: other machines) does not", async () => {
    const py = `import socket, errno
for name, host in (('tap', '${TAP_PEER}'), ('tun', '${TUN_PEER}')):
    s = socket.socket(); s.settimeout(1)
    try:
        s.connect((host, 9)); print('RESULT', name, 'ok')
    except socket.timeout:
        print('RESULT', name, 'timeout')
    except OSError as e:
        print('RESULT', name, errno.errorcode[e.errno])`;
    const r = await gated('python3 vm.py', { nobody, files: { 'vm.py': py } });
    const got = results(r);
    expect(got[0], r.stderr).toBe('RESULT tap EACCES');
    expect(got[1]).toMatch(/^RESULT tun (timeout|EHOSTUNREACH|ENETUNREACH|ECONNREFUSED)$/);
    expect(refusals(r).map((s) => s.target)).toEqual([`${TAP_PEER}:9`]);
    expect(refusals(r)[0]?.reason).toMatch(GUEST(TAP, 'tap'));
  });
});

describe('gate: [loopback] names the container services an agent may use', () => {
  it('connect_ports lets the agent reach that port of a container (and the shipped default policy refuses it)', async () => {
    const before = server1.count(/^ACCEPT/);
    const r = await gated([probe('tcp-connect', C1.v4, PORT), probe('tcp-connect', C1.v6, PORT)].join('; '), { extra: `[loopback]\nconnect_ports = [${PORT}]\n` });
    expect(results(r), r.stderr).toEqual(['RESULT connect ok read=outside', 'RESULT connect ok read=outside']);
    expect(refusals(r)).toEqual([]);
    await until('the allowed connections', () => server1.count(/^ACCEPT/) === before + 2);

    const w = workspace();
    const shipped = await runCli(['bash', '-c', probe('tcp-connect', C1.v4, PORT)], { policy: path.resolve(__dirname, '../../policies/default.gate.toml'), audit: w.audit, cwd: w.ws, env: { HOME: path.dirname(w.ws) } });
    expect(results(shipped), shipped.stderr).toEqual(['RESULT connect errno=EACCES']);
    expect(refusals(shipped)[0]?.reason).toMatch(GUEST(VETH, 'veth'));
  });

  it('the control, sealed = false: the same connects reach the container (so the refusals above are the gate)', async () => {
    const before = [server1.count(/^ACCEPT/), server1.count(/^UDP control/)];
    const r = await gated([probe('tcp-connect', C1.v4, PORT), probe('tcp-connect', C1.v6, PORT), probe('udp-sendto', C1.v4, PORT, 'control')].join('; '), { extra: '[loopback]\nsealed = false\n' });
    expect(results(r), r.stderr).toEqual(['RESULT connect ok read=outside', 'RESULT connect ok read=outside', 'RESULT sendto ok']);
    expect(r.start?.enforcement).toMatchObject({ loopback: 'off' });
    await until('the connections', () => server1.count(/^ACCEPT/) === (before[0] ?? 0) + 2 && server1.count(/^UDP control/) === (before[1] ?? 0) + 1);
  });
});

describe("gate: a container's client never reaches the agent's listener (Xdebug connecting back)", () => {
  // The agent listens on every address (dual stack), tells the test its port, accepts for 3 s, and connects
  // once itself after 1 s. Clients inside the container connect to the host's side of the veth meanwhile.
  const listen = (port: number): string => `import socket, threading, time, os
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('::', ${port})); s.listen(8)
port = s.getsockname()[1]
open('port.tmp', 'w').write(str(port)); os.rename('port.tmp', 'port')
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

  /** Connect from inside the container to the host's side of the veth and send a line (an Xdebug session). */
  function fromContainer(host: string, port: number, text: string): void {
    spawnSync('ip', ['netns', 'exec', NS1, 'python3', '-c', `import socket\ntry:\n  c = socket.create_connection(('${host}', ${port}), timeout=3); c.sendall(b'${text}'); c.recv(10)\nexcept OSError:\n  pass`], { timeout: 10_000 });
  }

  async function listenRun(port: number, extra: string, nobody: boolean): Promise<CliRun> {
    const { run, ws } = gatedRun('python3 listen.py', { extra, nobody, files: { 'listen.py': listen(port) } });
    const got = Number(await until('the agent listening', () => fs.existsSync(path.join(ws, 'port')) && fs.readFileSync(path.join(ws, 'port'), 'utf8'), 20_000));
    fromContainer(C1.host4, got, 'container-secret');
    fromContainer(C1.host6, got, 'container-secret6');
    return run;
  }

  it.each([
    ['root', false],
    ['uid 65534', true],
  ])("the container's connections (IPv4, IPv6) are closed before the agent can accept them; its own client still gets through (%s)", async (_who, nobody) => {
    const r = await listenRun(0, '', nobody);
    expect(results(r), r.stderr).toEqual(['RESULT accepted own']);
    const refused = refusals(r).filter((s) => s.op === 'accept');
    expect(refused.length).toBe(2);
    expect(refused[0]?.reason).toMatch(new RegExp(`a container or VM on this machine \\(${C1.v4.replace(/\./g, '\\.')} port \\d+, through ${VETH}, a local veth\\) connected to the agent's TCP port \\d+: closed before the agent could accept it`));
    expect(refused[1]?.reason).toMatch(new RegExp(`\\(${C1.v6} port \\d+, through ${VETH}, a local veth\\)`));
  });

  it('accept_ports lets the container reach that port', async () => {
    const free = await new Promise<number>((res) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => res(p));
      });
    });
    const r = await listenRun(free, `[loopback]\naccept_ports = [${free}]\n`, false);
    expect(results(r), r.stderr).toEqual(['RESULT accepted container-secret,container-secret6,own']);
    expect(refusals(r)).toEqual([]);
  });
});

/** This machine's own non-loopback IPv4 address. */
function hostAddress(): string {
  for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal && !a.address.startsWith('10.10')) return a.address;
  throw new Error('this machine has no non-loopback IPv4 address to try');
}

// A port of this host published to a container by a NAT rule alone, with no process listening on the host
// (docker with `userland-proxy: false`, rootful podman, LXD's nat proxies): the connect to this host's address
// is passed on to the container's service. Nothing listens on that port here, so the gate answers what the
// kernel would without the rule (ECONNREFUSED), recorded once per port.
describe.skipIf(!HAS_NFT)('gate: a port published to a container by NAT alone (needs nft, the nftables package)', () => {
  const NAT_PORT = PORT + 1000;
  let host = '';
  beforeAll(() => {
    host = hostAddress();
    sh(`nft add table ip ${NAT_TABLE} && nft add chain ip ${NAT_TABLE} out '{ type nat hook output priority -100 ; }' && nft add rule ip ${NAT_TABLE} out ip daddr ${host} tcp dport ${NAT_PORT} dnat to ${C1.v4}:${PORT}`);
  });
  afterAll(() => sh(`nft delete table ip ${NAT_TABLE} 2>/dev/null`, true));

  it.each([
    ['root', false],
    ['uid 65534', true],
  ])('the connect to the published port is refused as ECONNREFUSED, recorded once, and reaches nothing (%s)', async (_who, nobody) => {
    const before = server1.count(/^ACCEPT/);
    const r = await gated([probe('tcp-connect', host, NAT_PORT), probe('tcp-connect', host, NAT_PORT)].join('; '), { nobody });
    expect(results(r), r.stderr).toEqual(['RESULT connect errno=ECONNREFUSED', 'RESULT connect errno=ECONNREFUSED']);
    expect(refusals(r).map((x) => x.target)).toEqual([`${host}:${NAT_PORT}`]);
    expect(refusals(r)[0]?.reason).toMatch(new RegExp(`nothing on this host listens on TCP port ${NAT_PORT}: refused with ECONNREFUSED`));
    await settle();
    expect(server1.count(/^ACCEPT/)).toBe(before);
  });

  it('the controls: sealed = false reaches the container through the rule; connect_ports names the port', async () => {
    const before = server1.count(/^ACCEPT/);
    const off = await gated(probe('tcp-connect', host, NAT_PORT), { extra: '[loopback]\nsealed = false\n' });
    expect(results(off), off.stderr).toEqual(['RESULT connect ok read=outside']);
    const named = await gated(probe('tcp-connect', host, NAT_PORT), { extra: `[loopback]\nconnect_ports = [${NAT_PORT}]\n` });
    expect(results(named), named.stderr).toEqual(['RESULT connect ok read=outside']);
    expect(refusals(named)).toEqual([]);
    await until('both connections', () => server1.count(/^ACCEPT/) === before + 2);
  });
});
