// End to end: truncation stays sealed to the write grants. Landlock's TRUNCATE right is not handled (it costs a
// path walk on every open, native/src/landlock.c); the seccomp filter takes its place: truncate(2) is done by
// the supervisor inside the write grants only, open/openat with O_TRUNC but without write access are refused,
// openat2 answers ENOSYS. Each way is tried for real, by raw syscall (test/native/progs/truncs.c), on a file
// inside the write grants and on one outside them (which must keep its content).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { denyCurlPolicy, makeDirs, prepare, prog, runCli, type CliRun } from './gate-progs/cli';

let dirs: ReturnType<typeof makeDirs>;
let n = 0;
const CONTENT = 'precious content\n';

beforeAll(async () => {
  await prepare();
  dirs = makeDirs('truncate');
});
afterAll(() => dirs?.cleanup());

/** A workspace whose `w/` is the only writable place; `outside.txt` (readable, not writable) next to it. */
function workspace(filesystem = true): { ws: string; policy: string; inside: string; outside: string } {
  const ws = path.join(dirs.root, `ws-${++n}`);
  fs.mkdirSync(path.join(ws, 'w'), { recursive: true });
  const policy = path.join(ws, '.gate.toml');
  fs.writeFileSync(policy, denyCurlPolicy({ writeGlobs: ['${WORKSPACE}/w/**'], filesystem }));
  const inside = path.join(ws, 'w', 'inside.txt');
  const outside = path.join(ws, 'outside.txt');
  fs.writeFileSync(inside, CONTENT);
  fs.writeFileSync(outside, CONTENT);
  return { ws, policy, inside, outside };
}

/** Run `truncs OP PATH [LEN]` for each step in one session; the RESULT of each, in order. */
async function steps(w: { ws: string; policy: string }, list: [op: string, file: string, len?: number][]): Promise<{ run: CliRun; results: string[] }> {
  const script = list.map(([op, file, len]) => `${prog('truncs')} ${op} '${file}' ${len ?? ''}; echo`).join('\n');
  // As root, a policy without [filesystem] runs only when the user says so.
  const run = await runCli(['bash', '-c', script], { policy: w.policy, audit: dirs.audit(`t-${++n}`), cwd: w.ws, extra: ['--allow-root-without-filesystem'] });
  const results = [...run.stdout.matchAll(/^RESULT (\S+) (.*)$/gm)].map((m) => `${m[1]} ${m[2]}`);
  return { run, results };
}

describe('gate: truncation outside the write grants is refused, in every form', () => {
  it('truncate(2), open/openat with O_TRUNC and O_RDONLY or access mode 3, open for writing: all refused, the file keeps its content', async () => {
    const w = workspace();
    const { run, results } = await steps(w, [
      ['truncate', w.outside, 0],
      ['open-rdonly-trunc', w.outside],
      ['open-acc3-trunc', w.outside],
      ['openat-rdonly-trunc', w.outside],
      ['openat-acc3-trunc', w.outside],
      ['open-wronly-trunc', w.outside],
      ['openat-wronly-trunc', w.outside],
      ['ftruncate', w.outside, 0],
    ]);
    expect(results).toEqual([
      'truncate errno=EACCES',
      'open-rdonly-trunc errno=EACCES',
      'open-acc3-trunc errno=EACCES',
      'openat-rdonly-trunc errno=EACCES',
      'openat-acc3-trunc errno=EACCES',
      'open-wronly-trunc errno=EACCES',
      'openat-wronly-trunc errno=EACCES',
      'ftruncate errno=EACCES',
    ]);
    expect(fs.readFileSync(w.outside, 'utf8')).toBe(CONTENT);
    expect(run.start?.enforcement).toMatchObject({ fs: 'enforced', truncate: 'sealed' });
  });

  it('through a symlink inside the write grants that points outside: refused (the file is checked, not the name)', async () => {
    const w = workspace();
    const link = path.join(w.ws, 'w', 'link');
    fs.symlinkSync(w.outside, link);
    const { results } = await steps(w, [
      ['truncate', link, 0],
      ['openat-wronly-trunc', link],
    ]);
    expect(results).toEqual(['truncate errno=EACCES', 'openat-wronly-trunc errno=EACCES']);
    expect(fs.readFileSync(w.outside, 'utf8')).toBe(CONTENT);
  });

  it('open_by_handle_at with O_TRUNC: refused (the filter refuses open_by_handle_at whole, and root no longer has CAP_DAC_READ_SEARCH)', async () => {
    const w = workspace();
    const { results } = await steps(w, [
      ['handle-rdonly-trunc', w.outside],
      ['handle-wronly-trunc', w.outside],
    ]);
    expect(results).toEqual(['handle-rdonly-trunc errno=EPERM', 'handle-wronly-trunc errno=EPERM']);
    expect(fs.readFileSync(w.outside, 'utf8')).toBe(CONTENT);
  });

  it('openat2 answers ENOSYS (its flags are behind a pointer the filter cannot read), so callers fall back to openat', async () => {
    const w = workspace();
    const { results } = await steps(w, [['openat2-rdonly', w.outside]]);
    expect(results).toEqual(['openat2-rdonly errno=ENOSYS']);
  });
});

describe('gate: truncate(2) done by the supervisor is checked as the agent (R46)', () => {
  it.runIf(process.getuid?.() === 0)('an agent running as uid 65534 under a root CLI: root\'s file in its write grants is refused, its own is truncated', async () => {
    const w = workspace();
    fs.chmodSync(path.join(w.ws, 'w'), 0o777);
    const mine = path.join(w.ws, 'w', 'mine.txt');
    fs.writeFileSync(mine, CONTENT);
    fs.chownSync(mine, 65534, 65534);
    fs.chmodSync(w.inside, 0o644); // root's, world-readable: the kernel would refuse uid 65534 to write it
    const nobody = ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups'];
    const script = [`${prog('truncs')} truncate '${w.inside}' 0`, `${prog('truncs')} truncate '${mine}' 0`].join('; ');
    const run = await runCli([...nobody, 'bash', '-c', script], { policy: w.policy, audit: dirs.audit(`t-${++n}`), cwd: w.ws });
    const results = [...run.stdout.matchAll(/^RESULT (\S+) (.*)$/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(results, run.stdout + run.stderr).toEqual(['truncate errno=EACCES', 'truncate ok']);
    expect(fs.readFileSync(w.inside, 'utf8')).toBe(CONTENT);
    expect(fs.readFileSync(mine, 'utf8')).toBe('');
  });
});

describe('gate: truncation inside the write grants works as without the gate', () => {
  it('truncate(2) (done by the supervisor), relative to the cwd too; ftruncate, O_WRONLY|O_TRUNC and creat', async () => {
    const w = workspace();
    const { results } = await steps(w, [
      ['truncate', w.inside, 7],
      ['truncate', 'w/inside.txt', 3],
      ['ftruncate', w.inside, 2],
      ['openat-wronly-trunc', w.inside],
      ['creat', path.join(w.ws, 'w', 'new.txt')],
    ]);
    expect(results).toEqual(['truncate ok', 'truncate ok', 'ftruncate ok', 'openat-wronly-trunc ok', 'creat ok']);
    expect(fs.statSync(w.inside).size).toBe(0);
    expect(fs.existsSync(path.join(w.ws, 'w', 'new.txt'))).toBe(true);
  });

  it('truncate(2) errors are the kernel\'s: a directory EISDIR, a missing file ENOENT, a negative length EINVAL', async () => {
    const w = workspace();
    const { results } = await steps(w, [
      ['truncate', path.join(w.ws, 'w'), 0],
      ['truncate', path.join(w.ws, 'w', 'missing'), 0],
      ['truncate', w.inside, -1],
    ]);
    expect(results).toEqual(['truncate errno=EISDIR', 'truncate errno=ENOENT', 'truncate errno=EINVAL']);
    expect(fs.readFileSync(w.inside, 'utf8')).toBe(CONTENT);
  });

  it('without [filesystem] nothing is sealed: truncate(2) and O_RDONLY|O_TRUNC reach the kernel as usual', async () => {
    const w = workspace(false);
    const { run, results } = await steps(w, [
      ['truncate', w.outside, 4],
      ['openat-rdonly-trunc', w.inside],
    ]);
    expect(results).toEqual(['truncate ok', 'openat-rdonly-trunc ok']);
    expect(fs.statSync(w.outside).size).toBe(4);
    expect(fs.statSync(w.inside).size).toBe(0);
    expect(run.start?.enforcement).toMatchObject({ truncate: 'off' });
  });
});
