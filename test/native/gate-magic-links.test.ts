// End to end: a path that is, or passes through, a /proc "magic link" (red-team R5). /proc/self, /proc/thread-self
// and /dev/fd name whoever resolves them, and /proc/<pid>/{exe,cwd,root,fd/N} jump to an object instead of naming a
// path. The kernel resolves the agent's exec in the agent's context; the supervisor must reach the same file, or the
// facts the policy judges (and the record) are not what ran. Every variant here runs curl (the policy's denied
// program) while the path names something else: a symlink to /proc/self/fd/N, /proc/thread-self, /dev/fd, relative
// chains, non-canonical spellings, execveat with a dirfd, a #! line, the loader's program, a thread with a
// descriptor table of its own, a memfd, /proc/<pid>/root, and a cached path re-pointed through /proc/self/cwd.
// Real CLI, policy engine, supervisor and kernel.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDirs, prepare, prog, runCli, type CliRun } from './gate-progs/cli';

const CURL = '/usr/bin/curl';
const TRUE = '/usr/bin/true';
const BASH = fs.realpathSync('/bin/bash');
const LDSO = '/lib64/ld-linux-x86-64.so.2';
const CURL_BANNER = /^curl \d+\.\d+/m;
let dirs: ReturnType<typeof makeDirs>;
let ws: string;
let n = 0;
/** curl denied, by a rule that also looks at argv: Landlock handles no execute right, so the supervisor's facts are
 *  all that stand between the agent and curl. */
let factsOnly: string;
/** curl denied by program alone: Landlock's execute set leaves it out as well (the kernel's wall). */
let kernelWall: string;

function policyText(argvKey: boolean): string {
  return `[meta]
version = 1
default_action = "allow"

[filesystem]
read_globs = ["/**"]
write_globs = ["\${WORKSPACE}/**"]

[[rule]]
id = "no-curl"
action = "deny"
reason = "curl is not allowed in this test"
exe_basename = "curl"
${argvKey ? "argv_regex = '.'\n" : ''}`;
}

beforeAll(async () => {
  await prepare();
  if (!fs.existsSync(CURL) || !fs.existsSync(LDSO)) throw new Error('curl and glibc are needed: apt-get install -y curl');
  dirs = makeDirs('magic');
  ws = fs.realpathSync(dirs.ws);
  factsOnly = path.join(dirs.root, 'facts-only.toml');
  fs.writeFileSync(factsOnly, policyText(true));
  kernelWall = path.join(dirs.root, 'kernel-wall.toml');
  fs.writeFileSync(kernelWall, policyText(false));
  fs.mkdirSync(path.join(ws, 'a', 'b'), { recursive: true });
  const up = '../'.repeat(16);
  // Symlinks (made before the session: the agent could make every one of them itself, in its workspace).
  const links: Record<string, string> = {
    'l-self-fd': '/proc/self/fd/3',
    'l-thread-self': '/proc/thread-self/fd/3',
    'l-dev-fd': '/dev/fd/3',
    'l-stdin': '/dev/stdin',
    'a/b/l-up': `${up}proc/self/fd/3`,
    'l-rel-chain': 'a/b/l-up',
    'l-self-dir': '/proc/self',
    'l-fd-dir': '/proc/self/fd',
    'l-net-up': '/proc/net/../fd/3',
    'l-self-exe': '/proc/self/exe',
    'l-cwd-x': '/proc/self/cwd/x',
  };
  for (const [name, target] of Object.entries(links)) fs.symlinkSync(target, path.join(ws, name));
  // A #! line whose interpreter is a symlink to the caller's fd 3.
  fs.writeFileSync(path.join(ws, 'via-shebang'), `#!${ws}/l-self-fd --version\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(ws, 'via-shebang-dots'), '#!/proc/./self/fd/3 --version\n', { mode: 0o755 });
});
afterAll(() => dirs?.cleanup());

function gated(script: string, policy = factsOnly): Promise<CliRun> {
  return runCli(['bash', '-c', script], { policy, audit: dirs.audit(`magic-${++n}`), cwd: ws });
}

/** Decisions for a requested path ('*suffix': any path ending so, for a pid or a directory the shell filled in). */
const byRequest = (r: CliRun, requested: string) =>
  r.decisions.filter((d) => (requested.startsWith('*') ? d.exe_requested?.endsWith(requested.slice(1)) : d.exe_requested === requested));
const show = (r: CliRun) => `${r.stdout}\n${r.stderr}\n${JSON.stringify(r.decisions, null, 1)}`;

/** [name, script run by bash in the workspace with curl open on fd 3, the path the exec asked for] */
const variants: [string, string, string][] = [
  ['a symlink to /proc/self/fd/3', './l-self-fd --version', './l-self-fd'],
  ['a symlink to /proc/thread-self/fd/3', './l-thread-self --version', './l-thread-self'],
  ['a symlink to /dev/fd/3', './l-dev-fd --version', './l-dev-fd'],
  ['a symlink to /dev/stdin (curl on fd 0)', './l-stdin --version 0<&3', './l-stdin'],
  ['a relative chain of symlinks climbing to /proc/self/fd/3', './l-rel-chain --version', './l-rel-chain'],
  ['a symlink to /proc/self, then fd/3', './l-self-dir/fd/3 --version', './l-self-dir/fd/3'],
  ['a symlink to /proc/self/fd, then 3', './l-fd-dir/3 --version', './l-fd-dir/3'],
  ['/proc/net (a link to self/net), then ../fd/3', './l-net-up --version', './l-net-up'],
  ['/proc/self/fd/10 where the supervisor has no fd 10', 'exec 10<&3; /proc/self/fd/10 --version', '/proc/self/fd/10'],
  ['a symlink to /proc/self/task/<tid>/fd/3 (a task the supervisor does not have)', 'shopt -s execfail; ln -sf /proc/self/task/$$/fd/3 l-task; exec ./l-task --version', '*/l-task'],
  ['/proc/./self/fd/3', '/proc/./self/fd/3 --version', '/proc/./self/fd/3'],
  ['//proc/self/fd/3', '//proc/self/fd/3 --version', '//proc/self/fd/3'],
  ['/proc/self/../self/fd/3', '/proc/self/../self/fd/3 --version', '/proc/self/../self/fd/3'],
  ['/proc/<pid>/root/usr/bin/curl', `/proc/$$/root${CURL} --version`, `*/root${CURL}`],
  ['execveat(open("/proc"), "self/fd/3")', `${prog('magicexec')} at-open /proc self/fd/3 --version`, 'self/fd/3'],
  ['execveat(open("/dev"), "fd/3")', `${prog('magicexec')} at-open /dev fd/3 --version`, 'fd/3'],
  ['execveat(open("/proc/self"), "fd/3") (an explicit dirfd is the caller\'s already)', `${prog('magicexec')} at-open /proc/self fd/3 --version`, 'fd/3'],
  ['a #! interpreter that is a symlink to /proc/self/fd/3', './via-shebang', './via-shebang'],
  ['a #! interpreter spelled /proc/./self/fd/3', './via-shebang-dots', './via-shebang-dots'],
];

describe('gate: exec through /proc magic links resolves in the agent\'s context (R5)', () => {
  it.each(variants)('%s: curl is judged as curl and does not run', async (_name, script, requested) => {
    const r = await gated(`exec 3<${CURL}; ${script}; echo "rc=$?"`);
    expect(r.stdout, show(r)).not.toMatch(CURL_BANNER);
    const want = byRequest(r, requested);
    expect(want[0], show(r)).toMatchObject({ verdict: 'deny', rule_id: 'no-curl' });
    // The record names what the kernel would have run (curl, or for a #! line the interpreter curl).
    const d = want[0]!;
    expect([d.exe, d.interpreter], show(r)).toContain(CURL);
  });

  it('a thread with a descriptor table of its own execs /proc/self/fd/10: the kernel goes through /proc/<tgid>, the leader\'s table', async () => {
    const r = await gated(`${prog('magicexec')} thread-files ${CURL} ${TRUE} --version; echo "rc=$?"`);
    expect(r.stdout, show(r)).not.toMatch(CURL_BANNER);
    expect(byRequest(r, '/proc/self/fd/10')[0], show(r)).toMatchObject({ verdict: 'deny', rule_id: 'no-curl', exe: CURL });
  });

  it('a memfd holding curl, run through a symlink to /proc/self/fd/N: judged by its content', async () => {
    const r = await gated(`${prog('magicexec')} memfd-link ${CURL} ${ws}/l-memfd --version; echo "rc=$?"`);
    expect(r.stdout, show(r)).not.toMatch(CURL_BANNER);
    const [d] = byRequest(r, `${ws}/l-memfd`);
    expect(d, show(r)).toMatchObject({ verdict: 'deny', rule_id: 'no-curl' });
    expect(d?.exe, show(r)).toMatch(/^\/memfd:payload/);
  });

  it('a symlink to /proc/self/exe names the caller\'s program (bash), not the supervisor', async () => {
    const r = await gated('./l-self-exe -c "echo from-bash"');
    expect(r.stdout).toContain('from-bash');
    expect(byRequest(r, './l-self-exe')[0], show(r)).toMatchObject({ verdict: 'allow', exe: BASH });
  });

  it('the dynamic loader\'s program through /proc/self/fd (resolved by ld.so after the exec): refused, and says why', async () => {
    const r = await gated(`exec 3<${CURL}; ${LDSO} /proc/self/fd/3 --version; ${LDSO} ./l-self-fd --version; echo "rc=$?"`);
    expect(r.stdout, show(r)).not.toMatch(CURL_BANNER);
    const [direct, link] = byRequest(r, LDSO);
    for (const d of [direct, link]) {
      expect(d, show(r)).toMatchObject({ verdict: 'deny' });
      expect(d?.reason, show(r)).toMatch(/magic link|no-curl|curl/);
    }
  });

  it('a cached path re-pointed through /proc/self/cwd: the cache is checked in the agent\'s context, not the supervisor\'s', async () => {
    // The supervisor's own cwd is the workspace too: ${ws}/l-cwd-x names ${ws}/x (true) for it, and sub/x (curl)
    // for an agent that changed directory. The first exec caches the path; the second must not reuse it.
    const r = await gated(`ln -sf ${TRUE} x && mkdir -p sub && ln -sf ${CURL} sub/x && ${ws}/l-cwd-x; cd sub && ${ws}/l-cwd-x --version; echo "rc=$?"`);
    expect(r.stdout, show(r)).not.toMatch(CURL_BANNER);
    const [first, second] = byRequest(r, `${ws}/l-cwd-x`);
    expect(first, show(r)).toMatchObject({ verdict: 'allow', exe: TRUE });
    expect(second, show(r)).toMatchObject({ verdict: 'deny', rule_id: 'no-curl', exe: CURL });
  });

  it('truncate(2) through a symlink to /proc/self/fd/N acts on the agent\'s file, checked against the write grants', async () => {
    const outside = path.join(dirs.root, 'keep.txt');
    fs.writeFileSync(outside, 'keep me\n');
    fs.writeFileSync(path.join(ws, 'mine.txt'), 'cut me\n');
    fs.symlinkSync('/proc/self/fd/3', path.join(ws, 'l-trunc'));
    const r = await gated(`exec 3<${outside}; ${prog('truncs')} truncate ./l-trunc 0; exec 3<mine.txt; ${prog('truncs')} truncate ./l-trunc 0`);
    const results = r.stdout.split('\n').filter((l) => l.startsWith('RESULT'));
    expect(results[0], show(r)).toMatch(/errno=EACCES/);
    expect(results[1], show(r)).toMatch(/RESULT truncate ok/);
    expect(fs.readFileSync(outside, 'utf8')).toBe('keep me\n');
    expect(fs.readFileSync(path.join(ws, 'mine.txt'), 'utf8')).toBe('');
  });

  it('with the kernel wall as well (curl left out of the execute set), every variant is refused and recorded as curl', async () => {
    const script = ['exec 3<' + CURL, ...variants.map(([, s]) => s), `${prog('magicexec')} thread-files ${CURL} ${TRUE} --version`, 'echo done'].join('; ');
    const r = await gated(script, kernelWall);
    expect(r.stdout, show(r)).not.toMatch(CURL_BANNER);
    expect(r.stdout).toContain('done');
    for (const [name, , requested] of variants) {
      const [d] = byRequest(r, requested);
      expect(d, `${name}\n${show(r)}`).toMatchObject({ verdict: 'deny' });
      expect([d?.exe, d?.interpreter], `${name}\n${show(r)}`).toContain(CURL);
    }
  });
});
