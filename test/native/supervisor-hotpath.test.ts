// The hot path's mechanisms: SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP on the listener (Linux 6.6+, opt-in), and the
// batched reads of argv (one process_vm_readv for many strings, the one-by-one reads for what did not fit).
import { readdirSync } from 'node:fs';
import { release } from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildNative, prog, runGated } from './helpers/gate';

beforeAll(() => buildNative());

function kernelAtLeast(major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release());
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a > major || (a === major && b >= minor);
}

describe('supervisor: synchronous wake-up (opt-in)', () => {
  it('AGENT_GATE_SYNC_WAKEUP=1 sets SYNC_WAKE_UP where the kernel takes it (REPORT), and execs are decided with it', async () => {
    const r = await runGated({
      argv: [prog('forkexec'), '50', '/bin/true'],
      env: { ...process.env, AGENT_GATE_SYNC_WAKEUP: '1' },
      decide: (f) => ({ action: 'allow', cache: f.exe?.path === '/usr/bin/true' }),
    });
    expect(r.link.report.sync_wakeup).toBe(kernelAtLeast(6, 6) ? '1' : '0');
    expect(r.stdout).toContain('RESULT forkexec ok');
    // Every exec has its record: the first asked, the others from the identity cache.
    const trues = r.events.filter((e) => e.facts.exe?.path === '/usr/bin/true');
    expect(trues).toHaveLength(50);
    expect(trues.filter((e) => e.cached === null)).toHaveLength(1);
  });

  it('by default the listener is left as it is (REPORT sync_wakeup=0)', async () => {
    const env = { ...process.env };
    delete env.AGENT_GATE_SYNC_WAKEUP;
    const r = await runGated({ argv: [prog('forkexec'), '20', '/bin/true'], env, decide: () => 'allow' });
    expect(r.link.report.sync_wakeup).toBe('0');
    expect(r.stdout).toContain('RESULT forkexec ok');
    expect(r.events.filter((e) => e.facts.exe?.path === '/usr/bin/true')).toHaveLength(20);
  });
});

describe('supervisor: argv reads', () => {
  it('many arguments, short and long (over the prefetch size and across pages), arrive intact and in order', async () => {
    const args: string[] = [];
    for (let i = 0; i < 150; i++) args.push(i % 7 === 0 ? `long-${i}-` + 'x'.repeat(300 + i * 37) : `a${i}`);
    args.push('');
    args.push('y'.repeat(9000));
    const r = await runGated({
      argv: ['/bin/true', ...args],
      decide: () => 'allow',
    });
    const ev = r.events.find((e) => e.facts.exe?.path === '/usr/bin/true');
    expect(ev?.facts.argv).toEqual(['/bin/true', ...args]);
    expect(ev?.facts.argvTruncated).toBe(false);
  });
});

describe('supervisor: pid, ppid and uid (PIDFD_GET_INFO, or /proc/<tid>/status before Linux 6.13)', () => {
  for (const env of [{}, { AGENT_GATE_NO_PIDFD_INFO: '1' }]) {
    it(`threads of one process report its pid, their own tid, its parent and uid${'AGENT_GATE_NO_PIDFD_INFO' in env ? ' (status path)' : ''}`, async () => {
      const r = await runGated({
        argv: ['bash', '-c', `${prog('threads_exec')} 4 /usr/bin/true; /usr/bin/true`],
        env: { ...process.env, ...env },
        decide: () => 'allow',
      });
      const proc = r.events.find((e) => e.facts.exe?.path === prog('threads_exec'));
      const bash = r.events.find((e) => e.facts.argv[0] === 'bash');
      expect(proc && bash).toBeTruthy();
      // The threads' execs: one of them wins, the others may be notified too; all carry the process's pid.
      const threads = r.events.filter((e) => e.facts.exe?.path === '/usr/bin/true' && e.facts.pid === proc?.facts.pid);
      expect(threads.length).toBeGreaterThanOrEqual(1);
      for (const e of threads) {
        expect(e.facts.ppid).toBe(bash?.facts.pid);
        expect(e.facts.uid).toBe(process.getuid?.());
      }
      expect(threads.some((e) => e.facts.tid !== e.facts.pid)).toBe(true);
      expect(proc?.facts.ppid).toBe(bash?.facts.pid);
    });
  }
});

describe('supervisor: descriptors', () => {
  it('holds none per exec: its open descriptors after 300 cached execs are those it had before (each pidfd is closed after its answer)', async () => {
    let supervisorPid = 0;
    const fds: Record<string, number> = {};
    const count = (): number => readdirSync(`/proc/${supervisorPid}/fd`).length;
    const r = await runGated({
      argv: ['bash', '-c', '/bin/echo first; for i in $(seq 300); do /bin/true; done; /bin/echo last'],
      onStarted: (_link, child) => (supervisorPid = child.pid ?? 0),
      // Count while an asked exec waits for its verdict: the supervisor has sent its line and waits too.
      onEvent: (ev) => {
        const mark = ev.facts.argv[0]?.endsWith('echo') ? ev.facts.argv[1] : undefined;
        if (mark && !ev.cached && supervisorPid) fds[mark] = count();
      },
      decide: (f) => ({ action: 'allow', cache: f.exe?.path === '/usr/bin/true' }),
    });
    expect(r.stdout).toContain('last');
    expect(r.events.filter((e) => e.facts.exe?.path === '/usr/bin/true' && e.cached)).toHaveLength(299);
    expect(fds.first).toBeGreaterThan(0);
    // The asked exec's own pidfd may still be open at either count (it is closed just after its EXEC line is
    // sent); one per exec kept would be 300 more.
    expect(Math.abs((fds.last ?? 0) - (fds.first ?? 0))).toBeLessThanOrEqual(1);
  });
});
