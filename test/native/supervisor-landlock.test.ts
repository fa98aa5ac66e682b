// Landlock under the real kernel: filesystem read/write/execute grants, TCP ports, REQUIRE.
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SupervisorConfig } from '../../src/core/session/types';
import type { ChildProcess } from 'node:child_process';
import { childProcessSpawner, SupervisorLink } from '../../src/core/session/supervisor-link';
import { buildNative, OPEN_CONFIG, prog, ROOT, runGated, SUPERVISOR } from './helpers/gate';

let dir = '';
beforeAll(() => {
  buildNative();
  dir = mkdtempSync(join(tmpdir(), 'gate-ll-'));
  mkdirSync(join(dir, 'rw'));
  mkdirSync(join(dir, 'ro'));
  mkdirSync(join(dir, 'noexec'));
  copyFileSync('/usr/bin/true', join(dir, 'noexec', 'true'));
  copyFileSync('/usr/bin/true', join(dir, 'rw', 'true'));
  chmodSync(join(dir, 'noexec', 'true'), 0o755);
  chmodSync(join(dir, 'rw', 'true'), 0o755);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const grant = (path: string, rights: string): { path: string; rights: string; source: string; widened: boolean } => ({
  path,
  rights,
  source: 'test',
  widened: false,
});

function fsConfig(): SupervisorConfig {
  return {
    ...OPEN_CONFIG,
    fs: {
      handled: 'rwx',
      grants: [
        // Grants add up along a path (a grant on / would cover everything): grant the system dirs only.
        ...['/usr', '/lib', '/lib64', '/bin', '/etc', '/proc'].map((p) => grant(p, 'rx')),
        grant(join(dir, 'rw'), 'rwx'),
        grant(join(dir, 'ro'), 'r'),
        grant(join(dir, 'noexec'), 'r'),
        grant('/dev/null', 'rw'), // a file: only file rights may be granted (else EINVAL)
        grant(join(dir, 'does-not-exist'), 'rw'),
      ],
    },
    require: { fs: true, net: false },
  };
}

describe('supervisor: Landlock filesystem', () => {
  it('enforces write, read and execute grants and reports them', async () => {
    const r = await runGated({
      argv: ['bash', '-c', [
        `echo a > ${dir}/rw/f && echo write-rw=ok`,
        `echo b > ${dir}/ro/f 2>/dev/null || echo write-ro=denied`,
        `echo c > /dev/null && echo devnull=ok`,
        `cat ${dir}/rw/f`,
        `cat ${ROOT}/package.json >/dev/null 2>&1 || echo read-outside=denied`,
        `${dir}/rw/true && echo exec-rw=ok`,
        `${dir}/noexec/true 2>/dev/null; echo exec-noexec=$?`,
      ].join('; ')],
      config: fsConfig(),
    });
    expect(r.link.report.fs).toBe('enforced');
    expect(r.stdout).toContain('write-rw=ok');
    expect(r.stdout).toContain('write-ro=denied');
    expect(r.stdout).toContain('devnull=ok');
    expect(r.stdout).toContain('a\n');
    expect(r.stdout).toContain('read-outside=denied');
    expect(r.stdout).toContain('exec-rw=ok');
    expect(r.stdout).toContain('exec-noexec=126');
    expect(existsSync(join(dir, 'ro', 'f'))).toBe(false);
    // The gate saw the exec (and allowed it); Landlock refused it in the kernel.
    expect(r.events.some((e) => e.facts.exe?.path === join(dir, 'noexec', 'true'))).toBe(true);
    expect(r.link.warnings.join('\n')).toMatch(/does-not-exist.*skipped/);
  });
});

describe('supervisor: Landlock TCP', () => {
  const servers: net.Server[] = [];
  afterAll(() => servers.forEach((s) => s.close()));
  async function listen(): Promise<number> {
    const s = net.createServer((c) => c.destroy());
    servers.push(s);
    await new Promise<void>((res) => s.listen(0, '127.0.0.1', res));
    return (s.address() as net.AddressInfo).port;
  }
  async function freePort(): Promise<number> {
    const s = net.createServer();
    await new Promise<void>((res) => s.listen(0, '127.0.0.1', res));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise((res) => s.close(res));
    return port;
  }

  it('allows connect/bind only on listed ports (loopback)', async () => {
    const listed = await listen();
    const unlisted = await listen();
    const bindOk = await freePort();
    const bindNo = await freePort();
    const r = await runGated({
      argv: ['bash', '-c', [
        `${prog('tcp')} connect ${listed}`,
        `${prog('tcp')} connect ${unlisted}`,
        `${prog('tcp')} bind ${bindOk}`,
        `${prog('tcp')} bind ${bindNo}`,
      ].join('; ')],
      config: {
        ...OPEN_CONFIG,
        net: {
          connect: true,
          bind: true,
          ports: [
            { port: listed, connect: true, bind: false },
            { port: bindOk, connect: false, bind: true },
          ],
        },
        require: { fs: false, net: true },
      },
    });
    expect(r.link.report.net).toBe('enforced');
    const lines = r.stdout.trim().split('\n');
    expect(lines).toEqual([
      'RESULT connect ok',
      'RESULT connect errno=EACCES',
      'RESULT bind ok',
      'RESULT bind errno=EACCES',
    ]);
  });
});

describe('supervisor: REQUIRE', () => {
  // AGENT_GATE_LANDLOCK_ABI_MAX caps the ABI the supervisor uses: it simulates an older kernel here.
  it('a kernel without Landlock TCP rules is fatal when the policy requires network enforcement', async () => {
    const start = runGated({
      argv: ['true'],
      env: { ...process.env, AGENT_GATE_LANDLOCK_ABI_MAX: '3' },
      config: { ...OPEN_CONFIG, net: { connect: true, bind: false, ports: [] }, require: { fs: false, net: true } },
    });
    await expect(start).rejects.toThrow(/requires network enforcement.*Landlock ABI 4/);
  });

  it('the supervisor says what is missing on stderr and exits 126', async () => {
    let child: ChildProcess | null = null;
    let stderr = '';
    const start = SupervisorLink.start({
      supervisorPath: SUPERVISOR,
      argv: ['true'],
      config: { ...OPEN_CONFIG, net: { connect: true, bind: false, ports: [] }, require: { fs: false, net: true } },
      hashUnder: [],
      env: { ...process.env, AGENT_GATE_LANDLOCK_ABI_MAX: '3' },
      spawn: childProcessSpawner({
        stdio: 'pipe',
        onSpawn: (c) => {
          child = c;
          c.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        },
      }),
      handlers: { exec: () => undefined, timeout: () => undefined, warn: () => undefined, exit: () => undefined, failed: () => undefined },
    });
    await expect(start).rejects.toThrow(/Landlock ABI 4/);
    const c = child as unknown as ChildProcess;
    const code = c.exitCode ?? (await new Promise<number | null>((res) => c.once('exit', (n) => res(n))));
    expect(code).toBe(126);
    expect(stderr).toMatch(/^agent-gate: the policy requires network enforcement but the kernel lacks Landlock ABI 4 TCP port rules/m);
  });

  it('a kernel without Landlock is fatal when the policy requires filesystem enforcement', async () => {
    const start = runGated({
      argv: ['true'],
      env: { ...process.env, AGENT_GATE_LANDLOCK_ABI_MAX: '0' },
      config: fsConfig(),
    });
    await expect(start).rejects.toThrow(/requires filesystem enforcement.*Landlock/);
  });

  it('without REQUIRE the gap is reported, not fatal', async () => {
    const r = await runGated({
      argv: ['true'],
      env: { ...process.env, AGENT_GATE_LANDLOCK_ABI_MAX: '2' },
      config: { ...fsConfig(), require: { fs: false, net: false } },
    });
    expect(r.link.report.fs).toBe('partial');
    expect(r.link.report.landlock_abi).toBe('2');
    expect(r.link.report.scope_signal).toBe('unsupported');
    expect(r.status.code).toBe(0);
  });
});
