// The hot path's mechanisms: SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP on the listener (Linux 6.6+), and the
// batched reads of argv (one process_vm_readv for many strings, the one-by-one reads for what did not fit).
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

describe('supervisor: synchronous wake-up', () => {
  it('REPORT says whether the kernel took SYNC_WAKE_UP, and execs are decided with it', async () => {
    const r = await runGated({
      argv: [prog('forkexec'), '50', '/bin/true'],
      decide: (f) => ({ action: 'allow', cache: f.exe?.path === '/usr/bin/true' }),
    });
    expect(r.link.report.sync_wakeup).toBe(kernelAtLeast(6, 6) ? '1' : '0');
    expect(r.stdout).toContain('RESULT forkexec ok');
    // Every exec has its record: the first asked, the others from the identity cache.
    const trues = r.events.filter((e) => e.facts.exe?.path === '/usr/bin/true');
    expect(trues).toHaveLength(50);
    expect(trues.filter((e) => e.cached === null)).toHaveLength(1);
  });

  it('AGENT_GATE_NO_SYNC_WAKEUP=1 leaves the listener as before 6.6, and execs are still decided', async () => {
    const r = await runGated({
      argv: [prog('forkexec'), '20', '/bin/true'],
      env: { ...process.env, AGENT_GATE_NO_SYNC_WAKEUP: '1' },
      decide: () => 'allow',
    });
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
