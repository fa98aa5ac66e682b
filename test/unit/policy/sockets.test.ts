// [unix_sockets] and [network] dns: the broker's decisions and the wire lines that carry them. The kernel side
// is tried for real in test/native/gate-unix-sockets.test.ts and gate-network.test.ts.
import { describe, expect, it } from 'vitest';
import { loadPolicyText } from '../../../src/core/policy/index';
import { DEFAULT_UNIX_SOCKETS, decideUnixSocket, ipBytes, resolvConfServers, unixSocketGrants, type UnixSocketPolicy } from '../../../src/core/policy/sockets';
import { decodeSupervisorLine, encodeConfig } from '../../../src/core/session/wire';

const pol = (allow: string[]): UnixSocketPolicy => ({ sealed: !allow.includes('/**'), allow, requireEnforced: true });

describe('[unix_sockets]: which outside sockets the agent may connect to', () => {
  it('nothing outside by default; the reason says how to allow one', () => {
    const d = decideUnixSocket(DEFAULT_UNIX_SOCKETS, { name: '/tmp/tmux-0/default', abstract: false, canonical: '/tmp/tmux-0/default' });
    expect(d).toMatchObject({ allow: false, pattern: null });
    expect(d.reason).toMatch(/not made by the agent in this session.*\[unix_sockets\] allow/);
  });
  it('matches the canonical path, never the name the agent asked by', () => {
    const p = pol(['/var/run/docker.sock', '/run/user/*/pipewire-0']);
    expect(decideUnixSocket(p, { name: './d.sock', abstract: false, canonical: '/var/run/docker.sock' })).toMatchObject({ allow: true, pattern: '/var/run/docker.sock' });
    expect(decideUnixSocket(p, { name: '/var/run/docker.sock', abstract: false, canonical: '/tmp/tmux-0/default' }).allow).toBe(false);
    expect(decideUnixSocket(p, { name: 'x', abstract: false, canonical: '/run/user/1000/pipewire-0' }).allow).toBe(true);
    expect(decideUnixSocket(p, { name: 'x', abstract: false, canonical: '/run/user/1000/bus' }).allow).toBe(false);
    expect(decideUnixSocket(p, { name: 'x', abstract: false, canonical: null }).allow).toBe(false);
  });
  it('abstract names only match @ patterns, and paths never do', () => {
    const p = pol(['@/tmp/.X11-unix/X*', '/tmp/**']);
    expect(decideUnixSocket(p, { name: '/tmp/.X11-unix/X0', abstract: true, canonical: null })).toMatchObject({ allow: true });
    expect(decideUnixSocket(p, { name: 'dbus-abc', abstract: true, canonical: null }).allow).toBe(false);
    expect(decideUnixSocket(pol(['@*']), { name: '/tmp/x', abstract: false, canonical: '/tmp/x' }).allow).toBe(false);
  });
  it('Landlock RESOLVE_UNIX grants are the static prefixes of the path globs', () => {
    expect(unixSocketGrants(pol(['/var/run/docker.sock', '/run/user/*/pipewire-0', '@abstract', '/srv/**']))).toEqual(['/run/user', '/srv', '/var/run/docker.sock']);
  });
  it('loads from .gate.toml: ${VAR}, "/**" turns the sealing off, bad entries are errors at their place', () => {
    const load = (t: string) => loadPolicyText(t, '/w/.gate.toml', { env: { XDG: '/run/user/7' }, exists: () => true });
    expect(load('').policy?.unixSockets).toEqual({ sealed: true, allow: [], requireEnforced: true });
    expect(load('[unix_sockets]\nallow = ["${XDG}/bus", "@x"]\n').policy?.unixSockets).toEqual({ sealed: true, allow: ['/run/user/7/bus', '@x'], requireEnforced: true });
    expect(load('[unix_sockets]\nallow = ["/**"]\nrequire_enforced = false\n').policy?.unixSockets).toMatchObject({ sealed: false, requireEnforced: false });
    for (const [text, code] of [
      ['[unix_sockets]\nallow = ["relative.sock"]\n', 'bad-value'],
      ['[unix_sockets]\nallow = ["@"]\n', 'bad-value'],
      ['[unix_sockets]\nallow = ["/a/../b"]\n', 'bad-value'],
      ['[unix_sockets]\nallow = ["${NOPE}/x"]\n', 'unset-variable'],
      ['[unix_sockets]\nallow = "/x"\n', 'wrong-type'],
    ] as const) {
      const r = load(text);
      expect(r.policy, text).toBeNull();
      expect(r.diagnostics.map((d) => [d.code, d.line]), text).toContainEqual([code, 2]);
    }
  });
});

describe('[network] dns', () => {
  it('reads the nameservers of resolv.conf (IPv4 and IPv6, zones dropped, junk ignored)', () => {
    expect(resolvConfServers('# c\nnameserver 10.0.0.53\nnameserver fe80::1%eth0\nnameserver bogus\nsearch x\n nameserver 10.0.0.53\n')).toEqual(['10.0.0.53', 'fe80::1']);
  });
  it('turns addresses into the bytes the supervisor compares', () => {
    expect(ipBytes('127.0.0.53')?.toString('hex')).toBe('7f000035');
    expect(ipBytes('::ffff:10.1.2.3')?.toString('hex')).toBe('0a010203');
    expect(ipBytes('::1')?.toString('hex')).toBe('00000000000000000000000000000001');
    expect(ipBytes('2001:db8::8:800:200c:417a')?.toString('hex')).toBe('20010db80000000000080800200c417a');
    expect(ipBytes('fe80::1.2.3.4')?.toString('hex')).toBe('fe800000000000000000000001020304');
    expect(ipBytes('nope')).toBeNull();
  });
  it('loads dns, dns_servers, and warns when TCP goes out without a word on DNS', () => {
    const load = (t: string) => loadPolicyText(t, '/w/.gate.toml', { env: {}, exists: () => true, resolvConf: () => 'nameserver 10.9.8.7\n' });
    expect(load('[network]\nconnect_tcp_ports = [443]\ndns = true\n').policy?.network).toMatchObject({ dns: true, dnsServers: ['10.9.8.7'] });
    expect(load('[network]\ndns = true\ndns_servers = ["127.0.0.53", "::1"]\n').policy?.network).toMatchObject({ dns: true, dnsServers: ['127.0.0.53', '::1'] });
    expect(load('[network]\nconnect_tcp_ports = [443]\ndns = false\n').policy?.network).toMatchObject({ dns: false, dnsServers: [] });
    const noWord = load('[network]\nconnect_tcp_ports = [443]\n');
    expect(noWord.policy?.network.dns).toBe(false);
    expect(noWord.diagnostics).toMatchObject([{ code: 'no-dns', severity: 'warning', line: 2 }]);
    expect(load('[network]\ndns = true\ndns_servers = ["resolver.example"]\n').diagnostics).toMatchObject([{ code: 'bad-value', line: 3 }]);
    const none = loadPolicyText('[network]\ndns = true\n', '/w/.gate.toml', { env: {}, resolvConf: () => '' });
    expect(none.diagnostics).toMatchObject([{ code: 'no-dns', severity: 'warning' }]);
  });
});

describe('sockets on the wire', () => {
  const base = { fs: null, require: { fs: false, net: false }, timeout: { ms: 0, action: 'deny' as const } };
  it('CONFIG carries the resolvers, the unix sealing and its Landlock grants', () => {
    const text = encodeConfig({ ...base, net: { connect: true, bind: true, ports: [], dns: ['127.0.0.53', '::1'] }, unix: { grants: ['/run/user'] }, require: { fs: false, net: true, unix: true } }, []);
    expect(text).toContain('NET_DNS addr=7f000035 port=53\n');
    expect(text).toContain('NET_DNS addr=00000000000000000000000000000001 port=53\n');
    expect(text).toContain('UNIX_SEALED\n');
    expect(text).toContain(`UNIX_GRANT path=${Buffer.from('/run/user').toString('hex')}\n`);
    expect(text).toContain('REQUIRE fs=0 net=1 unix=1\n');
    expect(encodeConfig({ ...base, net: null, unix: null }, [])).not.toMatch(/UNIX|NET_DNS|unix=/);
  });
  it('CONFIG carries [loopback]: the sealing, its ports (connect and accept merged per port) and the resolvers on this host', () => {
    const text = encodeConfig({ ...base, net: null, loopback: { connectPorts: [5432, 3000], acceptPorts: [3000], resolvers: ['127.0.0.53'] } }, []);
    expect(text).toContain('LOOPBACK_SEALED\nLOOPBACK_PORT port=3000 connect=1 accept=1\nLOOPBACK_PORT port=5432 connect=1 accept=0\nLOOPBACK_DNS addr=7f000035 port=53\n');
    expect(text).not.toContain('NET_DNS');
    expect(encodeConfig({ ...base, net: null, loopback: null }, [])).not.toContain('LOOPBACK');
    expect(() => encodeConfig({ ...base, net: null, loopback: { connectPorts: [0], acceptPorts: [], resolvers: [] } }, [])).toThrow(/bad port 0/);
  });
  it('[loopback] loads: absent is sealed with nothing named; ports are checked', () => {
    const load = (t: string) => loadPolicyText(t, '/w/.gate.toml', { env: {}, resolvConf: () => '' });
    expect(load('[meta]\nversion = 1\n').policy?.loopback).toEqual({ sealed: true, connectPorts: [], acceptPorts: [] });
    expect(load('[loopback]\nconnect_ports = [5432]\naccept_ports = [3000]\nsealed = true\n').policy?.loopback).toEqual({ sealed: true, connectPorts: [5432], acceptPorts: [3000] });
    expect(load('[loopback]\nsealed = false\n').policy?.loopback?.sealed).toBe(false);
    expect(load('[loopback]\nconnect_ports = [0]\n').diagnostics.some((d) => d.severity === 'error')).toBe(true);
    expect(load('[loopback]\nconnect_ports = ["5432"]\n').diagnostics.some((d) => d.severity === 'error')).toBe(true);
  });
  it('decodes SOCKET requests and SOCKET_REFUSED reports', () => {
    const hex = (s: string): string => Buffer.from(s).toString('hex');
    expect(decodeSupervisorLine(`SOCKET id=7 tid=10 pid=9 op=connect family=unix type=stream abstract=0 name=${hex('./s.sock')} canon=${hex('/tmp/x/s.sock')}`)).toEqual({
      type: 'SOCKET',
      request: { requestId: 7, tid: 10, pid: 9, op: 'connect', type: 'stream', name: './s.sock', abstract: false, canonical: '/tmp/x/s.sock' },
    });
    expect(decodeSupervisorLine(`SOCKET id=8 tid=10 pid=9 op=connect family=unix type=stream abstract=1 name=${hex('\0x')}`)).toMatchObject({ request: { abstract: true, canonical: null, name: '\0x' } });
    expect(decodeSupervisorLine(`SOCKET_REFUSED tid=1 pid=2 op=connect family=inet addr=${hex('1.2.3.4')} port=80 reason=${hex('no')}`)).toEqual({
      type: 'SOCKET_REFUSED',
      refusal: { tid: 1, pid: 2, op: 'connect', family: 'inet', address: '1.2.3.4', port: 80, reason: 'no' },
    });
    expect(decodeSupervisorLine(`SOCKET_REFUSED tid=1 pid=2 op=listen family=inet reason=${hex('unbound')}`)).toMatchObject({ refusal: { address: null, port: null } });
    expect(() => decodeSupervisorLine('SOCKET tid=1')).toThrow();
  });
});
