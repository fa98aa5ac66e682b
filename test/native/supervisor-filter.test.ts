// The seccomp table (native/src/seccomp.c) and the program generated from it: every kind of session builds a
// program the kernel takes, within the kernel's length limit, and the session reports its length.
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildNative, runGated, SUPERVISOR } from './helpers/gate';

beforeAll(() => buildNative());

/** BPF_MAXINSNS (include/uapi/linux/bpf_common.h). */
const BPF_MAXINSNS = 4096;

function printFilter(): { rows: string[]; lengths: Map<string, { len: number; max: number }> } {
  const r = spawnSync(SUPERVISOR, ['--print-filter'], { encoding: 'utf8' });
  // The generator aborts on an inconsistent table (entries of one syscall apart, an unreachable entry, a
  // value outside its mask): that is a failure here, whatever the sessions below do.
  expect(r.status, r.stderr).toBe(0);
  const lines = r.stdout.trim().split('\n');
  const lengths = new Map<string, { len: number; max: number }>();
  for (const l of lines) {
    const m = /^program: (\d+) instructions \((.*); at most (\d+)\)$/.exec(l);
    if (m) lengths.set(m[2]!, { len: Number(m[1]), max: Number(m[3]) });
  }
  return { rows: lines.filter((l) => !l.startsWith('program:')), lengths };
}

describe('supervisor: the seccomp table', () => {
  it('builds a program within the kernel limit for every kind of session', () => {
    const { rows, lengths } = printFilter();
    expect(rows.length).toBeGreaterThan(10);
    expect([...lengths.keys()]).toEqual(['nothing sealed', 'writes sealed', 'execution sealed', 'everything on']);
    for (const { len, max } of lengths.values()) {
      expect(len).toBeGreaterThan(6);
      expect(len).toBeLessThanOrEqual(max);
      expect(max).toBeLessThanOrEqual(BPF_MAXINSNS);
    }
    // Optional entries add to the program only when their session asks for them.
    expect(lengths.get('writes sealed')!.len).toBeGreaterThan(lengths.get('nothing sealed')!.len);
    expect(lengths.get('execution sealed')!.len).toBeGreaterThan(lengths.get('nothing sealed')!.len);
    expect(rows.some((r) => /^memfd_create\s+319 notify\s+when=0x2/.test(r))).toBe(true);
    expect(rows.some((r) => /^execve\s+59 notify/.test(r))).toBe(true);
  });

  it('the program the kernel was given is the one the table makes (REPORT filter_insns)', async () => {
    const { lengths } = printFilter();
    const open = await runGated({ argv: ['true'] });
    expect(open.link.report.filter_insns).toBe(String(lengths.get('nothing sealed')!.len));
    const sealed = await runGated({
      argv: ['true'],
      config: { fs: { handled: 'rw', grants: [{ path: '/', rights: 'r', source: 'test', widened: false }] }, net: null, require: { fs: true, net: false }, timeout: { ms: 0, action: 'deny' } },
    });
    expect(sealed.link.report.truncate).toBe('sealed');
    expect(sealed.link.report.filter_insns).toBe(String(lengths.get('writes sealed')!.len));
  });
});
