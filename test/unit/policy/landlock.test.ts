import { describe, expect, it } from 'vitest';
import { compileFilesystem, hashUnderPaths, loadPolicyText, writableRoots } from '../../../src/core/policy/index';

const ENV = { HOME: '/home/me', WORKSPACE_ROOT: '/work/ws' };
const everything = () => true;
const ROOT_DIRS = ['bin', 'dev', 'etc', 'home', 'proc', 'tmp', 'usr'];
const load = (text: string, cli = {}) => {
  const r = loadPolicyText(text, '/work/ws/.gate.toml', { env: ENV, exists: everything, readdir: () => ROOT_DIRS, cliGrants: cli });
  if (!r.policy) throw new Error(JSON.stringify(r.diagnostics));
  return r;
};
const grant = (r: ReturnType<typeof load>, path: string) => r.policy!.filesystem.grants.find((g) => g.path === path);

describe('Landlock compile', () => {
  it('is off without [filesystem] and CLI grants', () => {
    const r = load('[meta]\nversion = 1\n');
    expect(r.policy!.filesystem).toMatchObject({ enabled: false, grants: [], handled: '' });
    expect(r.policy!.network.enabled).toBe(false);
  });

  it('compiles Faraday\'s widening table', () => {
    const r = load('[filesystem]\nread_globs = ["/tmp/**", "${HOME}/repo/**", "/etc/ssl/cert.pem", "${HOME}/src/**/*.py", "/etc/*.conf"]\nno_bootstrap_reads = true\n');
    const fs = r.policy!.filesystem;
    expect(fs.grants.map((g) => [g.path, g.rights, g.widened])).toEqual([
      ['/tmp', 'r', false],
      ['/home/me/repo', 'r', false],
      ['/etc/ssl/cert.pem', 'r', false],
      ['/home/me/src', 'r', true],
      ['/etc', 'r', true],
    ]);
    expect(r.diagnostics.filter((d) => d.code === 'widened-glob').map((d) => d.message.split(' is granted')[0])).toEqual(["'${HOME}/src/**/*.py'", "'/etc/*.conf'"]);
  });

  it('gives rights per key, merges paths and handles rw (+x with execute_globs)', () => {
    const r = load('[filesystem]\nread_globs = ["/data/**"]\nwrite_globs = ["/data/**", "/out/**"]\nallow_globs = ["/both/**"]\nno_bootstrap_reads = true\n');
    expect(r.policy!.filesystem.handled).toBe('rw');
    expect(grant(r, '/data')).toMatchObject({ rights: 'rw', source: 'read_globs /data/**, write_globs /data/**' });
    expect(grant(r, '/out')?.rights).toBe('w');
    expect(grant(r, '/both')?.rights).toBe('rw');
    const x = load('[filesystem]\nexecute_globs = ["/work/ws/bin/**"]\n');
    expect(x.policy!.filesystem.handled).toBe('rwx');
    expect(grant(x, '/work/ws/bin')?.rights).toBe('x');
    expect(grant(x, '/usr')?.rights).toBe('rx');
    expect(grant(x, '/proc')?.rights).toBe('r');
  });

  it('does not handle a right granted on / (same sealing, no Landlock check on each access), but reads stop at /dev', () => {
    const r = load('[filesystem]\nread_globs = ["/**"]\nwrite_globs = ["/work/ws/**", "/tmp/**"]\n');
    const fs = r.policy!.filesystem;
    // Reads on / are split: every entry of / but /dev, and the everyday devices of /dev (not the user's
    // other terminals, consoles, input devices or disks).
    expect(fs.handled).toBe('rw');
    expect(grant(r, '/')?.rights).toBe('l'); // directories can still be listed everywhere
    for (const d of ['/bin', '/etc', '/home', '/proc', '/usr']) expect(grant(r, d)?.rights).toBe('r');
    expect(grant(r, '/tmp')?.rights).toBe('rw');
    expect(grant(r, '/dev')).toBeUndefined();
    expect(grant(r, '/dev/pts')).toBeUndefined();
    expect(grant(r, '/dev/null')?.rights).toBe('rw');
    expect(grant(r, '/dev/urandom')?.rights).toBe('r');
    expect(grant(r, '/dev/tty')?.rights).toBe('rw');
    expect(grant(r, '/work/ws')?.rights).toBe('w');
    expect(writableRoots(fs)).toEqual(expect.arrayContaining(['/work/ws', '/tmp']));
    expect(writableRoots(fs)).not.toContain('/');
    // Writes granted on / stay unhandled (writes are not sealed; a root agent is refused for that).
    const w = load('[filesystem]\nread_globs = ["/usr/**"]\nwrite_globs = ["/**"]\nno_bootstrap_reads = true\n');
    expect(w.policy!.filesystem.handled).toBe('r');
    // Execute granted everywhere: x is not handled, but reads stay sealed to their grants.
    const x = load('[filesystem]\nread_globs = ["/data/**"]\nexecute_globs = ["/**"]\nno_bootstrap_reads = true\n');
    expect(x.policy!.filesystem.handled).toBe('rw');
    expect(grant(x, '/data')?.rights).toBe('r');
    expect(grant(x, '/')).toBeUndefined();
    // A read grant on /dev keeps only the everyday devices; a grant that names a device is honoured.
    const d = load('[filesystem]\nread_globs = ["/dev/**", "/dev/kvm"]\nno_bootstrap_reads = true\n');
    expect(grant(d, '/dev')?.rights).toBe('l');
    expect(grant(d, '/dev/zero')?.rights).toBe('r');
    expect(grant(d, '/dev/kvm')?.rights).toBe('r');
  });

  it('adds bootstrap grants unless no_bootstrap_reads, only for paths that exist', () => {
    const r = load('[filesystem]\nwrite_globs = ["/tmp/**"]\n');
    expect(grant(r, '/usr')).toMatchObject({ rights: 'r', source: 'bootstrap' });
    expect(grant(r, '/etc/ld.so.cache')?.rights).toBe('r');
    expect(grant(r, '/dev/null')?.rights).toBe('rw');
    expect(grant(r, '/proc')?.rights).toBe('r');
    expect(grant(r, '/proc/self')).toBeUndefined();
    const some = loadPolicyText('[filesystem]\n', 'p', { env: ENV, exists: (p) => p !== '/lib32' });
    expect(some.policy!.filesystem.grants.find((g) => g.path === '/lib32')).toBeUndefined();
    expect(some.policy!.filesystem.grants.find((g) => g.path === '/lib64')).toBeDefined();
    const none = load('[filesystem]\nno_bootstrap_reads = true\n');
    expect(none.policy!.filesystem.grants).toEqual([]);
    expect(none.policy!.filesystem.enabled).toBe(true);
  });

  it('require_enforced defaults to true', () => {
    expect(load('[filesystem]\n').policy!.filesystem.requireEnforced).toBe(true);
    expect(load('[filesystem]\nrequire_enforced = false\n').policy!.filesystem.requireEnforced).toBe(false);
  });

  it('merges CLI -r/-w/-a grants, which alone enable sealing', () => {
    const r = load('[meta]\nversion = 1\n', { read: ['/opt/data/**'], write: ['/scratch/**'], allow: ['/both'] });
    expect(r.policy!.filesystem.enabled).toBe(true);
    expect(grant(r, '/opt/data')).toMatchObject({ rights: 'r', source: '--read /opt/data/**' });
    expect(grant(r, '/scratch')?.rights).toBe('w');
    expect(grant(r, '/both')?.rights).toBe('rw');
    const later = compileFilesystem(load('[filesystem]\nwrite_globs = ["/tmp/**"]\n').policy!, { write: ['/x/*.log'] }, { exists: everything });
    expect(later.filesystem.grants.find((g) => g.path === '/x')).toMatchObject({ rights: 'w', widened: true });
    expect(later.diagnostics).toMatchObject([{ code: 'widened-glob', file: '(--write)' }]);
  });

  it('writable roots: the write grants when writes are sealed, else everything', () => {
    const sealed = load('[filesystem]\nwrite_globs = ["/tmp/**", "/work/ws/**"]\nno_bootstrap_reads = true\n').policy!.filesystem;
    expect(writableRoots(sealed)).toEqual(['/tmp', '/work/ws']);
    expect(hashUnderPaths(sealed)).toEqual(['/tmp', '/work/ws']);
    expect(writableRoots(load('').policy!.filesystem)).toEqual(['/']);
  });

  it('compiles [network] ports, deduplicated and sorted', () => {
    const n = load('[network]\nconnect_tcp_ports = [443, 80, 443]\nbind_tcp_ports = [8080]\nrequire_enforced = false\n').policy!.network;
    expect(n).toEqual({ enabled: true, connectTcpPorts: [80, 443], bindTcpPorts: [8080], requireEnforced: false, dns: false, dnsServers: [] });
  });

  it('fills meta and approval defaults', () => {
    const p = load('').policy!;
    expect(p.meta).toEqual({ version: 1, defaultAction: 'deny', onPolicyError: 'deny', onSupervisorTimeoutMs: 1000 });
    expect(p.approval).toEqual({ timeoutMs: 120000, onTimeout: 'deny', maxPending: 5, maxPerMinute: 30 });
    const q = load('[approval]\ntimeout_ms = 5000\non_timeout = "allow"\nmax_pending = 1\nmax_per_minute = 2\n').policy!;
    expect(q.approval).toEqual({ timeoutMs: 5000, onTimeout: 'allow', maxPending: 1, maxPerMinute: 2 });
  });

  it('expands ${WORKSPACE} to the policy directory unless given', () => {
    const r = load('[filesystem]\nwrite_globs = ["${WORKSPACE}/**"]\nno_bootstrap_reads = true\n');
    expect(r.policy!.filesystem.grants[0]?.path).toBe('/work/ws');
    const w = loadPolicyText('[filesystem]\nwrite_globs = ["${WORKSPACE}/**"]\nno_bootstrap_reads = true\n', '/p/default.gate.toml', { env: {}, workspace: '/home/me/proj' });
    expect(w.policy!.filesystem.grants[0]?.path).toBe('/home/me/proj');
  });
});
