// What the agent must not be able to do to the gate: escape the filter, reach or signal the supervisor,
// or keep running programs once the supervisor is gone.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildNative, prog, runGated, SUPERVISOR } from './helpers/gate';

let dir = '';
beforeAll(() => {
  buildNative();
  dir = mkdtempSync(join(tmpdir(), 'gate-hard-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function waitForFile(path: string, ms = 10_000): Promise<string> {
  for (let waited = 0; waited < ms; waited += 25) {
    if (existsSync(path)) {
      const text = readFileSync(path, 'utf8');
      if (text.endsWith('\n')) return text;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${path} never appeared`);
}

describe('supervisor: seccomp table', () => {
  it('denies io_uring_setup with EPERM', async () => {
    const r = await runGated({ argv: [prog('iouring')] });
    expect(r.stdout).toContain('RESULT io_uring_setup errno=EPERM');
  });

  it('denies ptrace of the supervisor and process_vm_readv with EPERM', async () => {
    // $PPID of the agent's bash is the supervisor.
    const r = await runGated({ argv: ['bash', '-c', `${prog('ptrace')} $PPID; ${prog('vmread')} $PPID; ${prog('vmread')} $$`] });
    expect(r.stdout).toContain('RESULT ptrace errno=EPERM');
    expect(r.stdout.match(/RESULT process_vm_readv errno=EPERM/g)).toHaveLength(2);
  });

  it('kills a process that makes a 32-bit int 0x80 syscall (SIGSYS)', async () => {
    const r = await runGated({ argv: [prog('int80')] });
    expect(r.stdout).toContain('RESULT int80 trying');
    expect(r.stdout).not.toContain('returned');
    expect(r.exit).toEqual({ code: 0, signal: 31 });
    expect(r.status.code).toBe(128 + 31);
  });

  it('answers x32 syscalls with ENOSYS', async () => {
    const r = await runGated({ argv: [prog('x32')] });
    expect(r.stdout).toContain('RESULT x32 errno=ENOSYS');
  });
});

describe('supervisor: isolation from the agent', () => {
  it('the agent cannot signal the supervisor (Landlock signal scope) and its broker socket is gone', async () => {
    // (/proc shared, as for a non-root agent: a root agent's own /proc does not show the supervisor at all.)
    const r = await runGated({
      argv: ['bash', '-c', `${prog('killpid')} $PPID 0; ${prog('killpid')} $PPID 10; ${prog('unixconnect')} "$(tr '\\0' '\\n' < /proc/$PPID/cmdline | sed -n 3p)"`],
      env: { ...process.env, AGENT_GATE_NO_MOUNTNS: '1' },
    });
    expect(r.stdout).toContain('RESULT kill errno=EPERM');
    expect(r.stdout.match(/RESULT kill errno=EPERM/g)).toHaveLength(2);
    expect(r.stdout).toContain('RESULT connect errno=ENOENT');
  });

  it('an abstract unix socket outside the sandbox is unreachable (Landlock scope)', async () => {
    const name = `agent-gate-test-${process.pid}`;
    const server = spawn(prog('unixconnect'), ['--listen', `@${name}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((res) => server.stdout.once('data', () => res()));
      const outside = spawnSync(prog('unixconnect'), [`@${name}`], { encoding: 'utf8' });
      expect(outside.stdout).toContain('RESULT connect ok');
      const r = await runGated({ argv: [prog('unixconnect'), `@${name}`] });
      expect(r.stdout).toContain('RESULT connect errno=EPERM');
    } finally {
      server.kill('SIGKILL');
    }
  });
});

describe('supervisor: fail closed', () => {
  it('when the broker closes the link the agent and everything it started (a setsid\'d process too) are killed, and the supervisor exits 126', async () => {
    const out = join(dir, 'broker-gone.txt');
    const marker = `broker-gone-${process.pid}-${Date.now()}`;
    const r = await runGated({
      argv: ['bash', '-c', `setsid bash -c 'sleep 1.5; /bin/true; echo rc=$? > ${out}; : ${marker}' & sleep 30`],
      onEvent: (e, link) => {
        if (e.facts.argv[0] === 'sleep' && e.facts.argv[1] === '30') setTimeout(() => link.close(), 50);
      },
    });
    expect(r.status.code).toBe(126);
    expect(r.stderr).toContain('agent-gate: the broker closed the connection');
    // Killed before it could try its exec: it never writes (the supervisor is its subreaper).
    await new Promise((res) => setTimeout(res, 2000));
    expect(existsSync(out)).toBe(false);
    const alive = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'latin1').includes(marker);
      } catch {
        return false;
      }
    });
    expect(alive).toEqual([]);
  });

  it('SIGKILL of the supervisor and its keeper together leaves the agent unable to exec anything', async () => {
    // The supervisor alone killed, the keeper ends the agent (gate-supervisor-killed.test.ts); both killed, the
    // agent lives on under init, and the filter still stands: its exec fails. The keeper is held still (SIGSTOP)
    // so that it cannot end the agent between the two kills.
    const out = join(dir, 'killed.txt');
    const r = await runGated({
      argv: ['bash', '-c', `sleep 0.4; /bin/true; echo rc=$? > ${out}`],
      onEvent: (e, link) => {
        if (e.facts.argv[0] !== 'sleep') return;
        setTimeout(() => {
          const keeper = link.process.pid;
          const sup = Number(readFileSync(`/proc/${keeper}/task/${keeper}/children`, 'utf8').trim().split(' ')[0]);
          process.kill(keeper, 'SIGSTOP');
          process.kill(sup, 'SIGKILL');
          link.process.kill('SIGKILL');
        }, 50);
      },
    });
    expect(r.status.signal).toBe(9);
    expect(r.failures.length).toBe(1);
    const text = await waitForFile(out);
    expect(text).toBe('rc=126\n');
  });

  it('refuses to run a gate inside a gate (EBUSY) with a clear message and exit 126', async () => {
    // A minimal broker for the inner supervisor: its handshake must end in FATAL.
    const sock = join(dir, 'inner.sock');
    const lines: string[] = [];
    const server = net.createServer((c) => {
      let buf = '';
      c.on('data', (d) => {
        buf += d.toString('latin1');
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          lines.push(line);
          if (line.startsWith('HELLO')) c.write('CONFIG 1\nSTART\n');
        }
      });
    });
    await new Promise<void>((res) => server.listen(sock, res));
    try {
      const r = await runGated({ argv: [SUPERVISOR, '--socket', sock, '--', 'true'] });
      expect(r.status.code).toBe(126);
      expect(r.stderr).toMatch(/agent-gate: .*EBUSY.*refusing to run ungated/);
      expect(lines.find((l) => l.startsWith('HELLO'))).toMatch(/notif=0/);
      expect(lines.find((l) => l.startsWith('REPORT'))).toContain('notif=ebusy');
      const fatal = lines.find((l) => l.startsWith('FATAL'));
      expect(Buffer.from(fatal?.split('msg=')[1] ?? '', 'hex').toString()).toContain('EBUSY');
    } finally {
      server.close();
    }
  });
});
