// End to end: every image the kernel (or the dynamic loader) will run is the one judged and recorded. Three
// classes of issue 14:
//   1. programs that reach the kernel without a path in the execute set (memfd, O_TMPFILE, unlinked files; the
//      dynamic loader's program, which ld.so maps itself, past Landlock's execute check);
//   2. #! chains, followed as the kernel follows them (up to its limit of 5 scripts), and an ELF interpreter
//      (PT_INTERP) that is not the system's loader;
//   3. the dynamic loader recognised by what it is (a copy of ld.so with one byte changed), and its program
//      resolved as ld.so resolves it (a bare name through ld.so.cache, never the cwd), or refused.
// Real CLI, policy engine, supervisor and kernel. curl stands for "a program the policy denies"; a copy of curl
// with one byte appended has another hash, so only the gate's own checks can stop it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDirs, prepare, prog, PROGS, runCli, type CliRun } from './gate-progs/cli';

const CURL = '/usr/bin/curl';
const LDSO = '/lib64/ld-linux-x86-64.so.2';
const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';
const CURL_BANNER = /^curl \d+\.\d+/m;
let dirs: ReturnType<typeof makeDirs>;
let ws: string;
let n = 0;

/** curl denied by name (and identity); everything else allowed; writes sealed to the workspace. With
 *  `argvKey` the deny also looks at argv, so it is not one the kernel enforces (execute-set.ts): Landlock
 *  then handles no execute right at all. */
function policyText(execute: string[] | null, argvKey = false): string {
  return `[meta]
version = 1
default_action = "allow"

[filesystem]
read_globs = ["/**"]
write_globs = ["\${WORKSPACE}/**"]
${execute ? `execute_globs = [${execute.map((g) => JSON.stringify(g)).join(', ')}]\n` : ''}
[[rule]]
id = "no-curl"
action = "deny"
reason = "curl is not allowed in this test"
exe_basename = "curl"
${argvKey ? "argv_regex = '.'\n" : ''}`;
}

let withExecuteSet: string;
let withoutExecuteSet: string;
let noExecuteRight: string;

beforeAll(async () => {
  await prepare();
  if (!fs.existsSync(CURL) || !fs.existsSync(LDSO) || !fs.existsSync(LIBC)) throw new Error('curl and glibc are needed: apt-get install -y curl');
  dirs = makeDirs('images');
  ws = fs.realpathSync(dirs.ws);
  fs.mkdirSync(path.join(ws, 'bin'));
  // The execute set includes the workspace, which the agent can write: files it plants there run (its choice),
  // files with no name never do. The test programs are in it too; ../outside is not.
  withExecuteSet = path.join(ws, 'exec-set.toml');
  fs.writeFileSync(withExecuteSet, policyText(['${WORKSPACE}/**', `${PROGS}/**`]));
  withoutExecuteSet = path.join(ws, 'no-exec-set.toml');
  fs.writeFileSync(withoutExecuteSet, policyText(null));
  noExecuteRight = path.join(ws, 'no-exec-right.toml');
  fs.writeFileSync(noExecuteRight, policyText(null, true));
  // curl with one byte of a string changed: runs exactly like curl, but its content is no longer curl's. (A byte
  // appended instead is still recognised: the bytes up to the ELF's end are curl's; gate-copies below.)
  const mod = fs.readFileSync(CURL);
  const rd = mod.indexOf(Buffer.from('Release-Date'));
  mod[rd + 11] = '3'.charCodeAt(0);
  fs.writeFileSync(path.join(ws, 'curl-mod'), mod, { mode: 0o755 });
  // curl with bytes appended after its ELF end, and a copy padded by the shell (echo >> copy).
  fs.writeFileSync(path.join(ws, 'curl-padded'), Buffer.concat([fs.readFileSync(CURL), Buffer.alloc(4096, 0x41)]), { mode: 0o755 });
  fs.copyFileSync(path.join(ws, 'curl-mod'), path.join(ws, 'bin', 'curl-mod'));
  fs.mkdirSync(path.join(dirs.root, 'outside'));
  fs.copyFileSync(path.join(ws, 'curl-mod'), path.join(dirs.root, 'outside', 'curl-mod'));
  // A copy of ld.so with one byte changed in its string table: still the dynamic loader.
  const ld = fs.readFileSync(LDSO);
  const at = ld.indexOf(Buffer.from('GLIBC_PRIVATE'));
  ld[at + 12] = 'F'.charCodeAt(0);
  fs.writeFileSync(path.join(ws, 'myld'), ld, { mode: 0o755 });
  // A library named like libc in the cwd: ld.so never looks in the cwd for a bare name.
  fs.copyFileSync(CURL, path.join(ws, 'libc.so.6'));
  // An ELF whose PT_INTERP names curl: the kernel maps curl as its interpreter.
  const t = fs.readFileSync('/usr/bin/true');
  const interp = Buffer.from(`${LDSO}\0`);
  const i = t.indexOf(interp);
  Buffer.from(`${CURL}\0`.padEnd(interp.length, '\0')).copy(t, i);
  fs.writeFileSync(path.join(ws, 'interp-is-curl'), t, { mode: 0o755 });
  // #! chains: chainN is N scripts deep, the last one's interpreter is curl.
  for (const depth of [2, 3, 5, 6]) {
    let prev = `${CURL} --version`;
    for (let k = 1; k <= depth; k++) {
      const file = path.join(ws, `c${depth}-${k}`);
      fs.writeFileSync(file, `#!${prev}\n`, { mode: 0o755 });
      prev = file;
    }
  }
  // A relative interpreter: resolved against the cwd of the process that calls exec (the kernel's rule).
  fs.mkdirSync(path.join(ws, 'sub'));
  fs.writeFileSync(path.join(ws, 'sub', 'rel'), '#!./c2-2\n', { mode: 0o755 });
  fs.writeFileSync(path.join(ws, 'via-loader'), `#!${LDSO} ${CURL}\n`, { mode: 0o755 });
});
afterAll(() => dirs?.cleanup());

function gated(script: string, policy = withExecuteSet): Promise<CliRun> {
  return runCli(['bash', '-c', script], { policy, audit: dirs.audit(`img-${++n}`), cwd: ws });
}

const byRequest = (r: CliRun, requested: string) => r.decisions.filter((d) => d.exe_requested === requested);
const gateDenials = (r: CliRun) => r.decisions.filter((d) => d.layer === 'gate');

describe('gate: executables without a path in the execute set (issue 14, class 1)', () => {
  it('control: a modified copy of curl planted in the execute set runs (the policy does not know it)', async () => {
    const r = await gated('./bin/curl-mod --version');
    expect(r.stdout).toMatch(CURL_BANNER);
  });

  it('memfd_create + execveat(AT_EMPTY_PATH) of that copy: memfds are made non-executable, so the kernel refuses', async () => {
    const r = await gated(`${prog('memfd_mode')}; ${prog('memfd_exec')} ./curl-mod --version`);
    expect(r.start?.enforcement).toMatchObject({ memfd: 'noexec' });
    // The supervisor created the memfd with MFD_NOEXEC_SEAL: no x bit, and none can be added; MFD_EXEC is refused.
    expect(r.stdout).toContain('RESULT memfd mode=0666 fchmod=errno=EPERM exec_flag=errno=EACCES');
    expect(r.stdout).not.toMatch(CURL_BANNER);
    expect(r.stdout).toContain('RESULT execveat errno=EACCES');
    // A file without an x bit is answered as the kernel would answer it (EACCES), before any decision.
    expect(r.decisions.filter((d) => d.exe?.startsWith('/memfd:'))).toEqual([]);
  });

  it('when Landlock handles no execute right, memfds are left as the program asks', async () => {
    const r = await gated(`${prog('memfd_mode')}`, noExecuteRight);
    expect(r.start?.enforcement).toMatchObject({ memfd: 'any' });
    expect(r.stdout).toContain('RESULT memfd mode=0777 fchmod=ok exec_flag=ok');
  });

  it('an O_TMPFILE file inside the (writable) execute set: refused', async () => {
    const r = await gated(`${prog('tmpfile_exec')} ${ws}/bin ./curl-mod --version`);
    expect(r.stdout).not.toMatch(CURL_BANNER);
    expect(r.stdout).toContain('RESULT execveat errno=EACCES');
    expect(gateDenials(r)[0]?.reason).toContain('anonymous or deleted file');
  });

  it('a file unlinked while held open, run through /proc/self/fd: refused', async () => {
    const r = await gated('cp bin/curl-mod bin/gone && exec 3<bin/gone && rm bin/gone && /proc/self/fd/3 --version; echo "rc=$?"');
    expect(r.stdout).not.toMatch(CURL_BANNER);
    expect(r.stdout).toContain('rc=126');
    expect(gateDenials(r)[0]).toMatchObject({ exe_requested: '/proc/self/fd/3', exe: `${ws}/bin/gone (deleted)` });
  });

  it('ld.so <modified copy outside the execute set>: the loader maps it itself, so the gate holds it to the set', async () => {
    const r = await gated(`${LDSO} ../outside/curl-mod --version; echo "rc=$?"; ../outside/curl-mod --version; echo "direct-rc=$?"`);
    expect(r.stdout).not.toMatch(CURL_BANNER);
    expect(r.stdout).toContain('rc=126');
    expect(r.stdout).toContain('direct-rc=126');
    const [d, direct] = gateDenials(r);
    expect(d).toMatchObject({ loader_target: `${dirs.root}/outside/curl-mod`, layer: 'gate' });
    expect(d?.reason).toContain('the program the dynamic loader would map');
    expect(d?.reason).toContain('is outside the execute set (execute_globs)');
    // Run directly, Landlock refuses it; the record says so instead of "allow".
    expect(direct).toMatchObject({ exe: `${dirs.root}/outside/curl-mod`, verdict: 'deny' });
    expect(direct?.reason).toContain('the program');
  });

  it('without an execute set nothing is refused for having no name (the policy still judges the content)', async () => {
    const r = await gated(`${prog('memfd_exec')} ${CURL} --version; ${prog('memfd_exec')} ./curl-mod --version | head -c 4`, noExecuteRight);
    expect(r.decisions.find((d) => d.exe === '/memfd:payload (deleted)' && d.rule_id === 'no-curl')).toMatchObject({ verdict: 'deny' });
    expect(gateDenials(r)).toEqual([]);
  });
});

describe('gate: copies of a named program with bytes appended (red-team R34)', () => {
  it('curl with 4096 bytes appended, and a copy padded by the shell: recognised as curl (the bytes up to its ELF end), denied', async () => {
    const r = await gated(`./curl-padded --version; cp ${CURL} ./c2 && echo >> ./c2 && ./c2 --version; echo "rc=$?"`, noExecuteRight);
    expect(r.stdout).not.toMatch(CURL_BANNER);
    for (const name of ['./curl-padded', './c2']) expect(byRequest(r, name)[0]).toMatchObject({ verdict: 'deny', rule_id: 'no-curl' });
  });

  it('a #! interpreter that is a padded copy of curl: recognised too', async () => {
    fs.writeFileSync(path.join(ws, 'via-padded'), `#!${ws}/curl-padded --version\n`, { mode: 0o755 });
    const r = await gated('./via-padded; echo "rc=$?"', noExecuteRight);
    expect(r.stdout).not.toMatch(CURL_BANNER);
    expect(byRequest(r, './via-padded')[0]).toMatchObject({ verdict: 'deny', rule_id: 'no-curl', interpreter: `${ws}/curl-padded` });
  });

  it('control: curl with a byte changed inside is a program the agent built (the policy does not know it)', async () => {
    const r = await gated('./curl-mod --version', noExecuteRight);
    expect(r.stdout).toMatch(CURL_BANNER);
    expect(byRequest(r, './curl-mod')[0]).toMatchObject({ verdict: 'allow' });
  });
});

describe('gate: interpreter chains (issue 14, class 2)', () => {
  it('a script whose interpreter is a script whose interpreter is curl: denied, every level recorded', async () => {
    const r = await gated('./c2-2; echo "rc=$?"');
    expect(r.stdout).not.toMatch(CURL_BANNER);
    const [d] = byRequest(r, './c2-2');
    expect(d).toMatchObject({ verdict: 'deny', rule_id: 'no-curl', interpreter: `${ws}/c2-1`, interpreters: [`${ws}/c2-1`, CURL] });
    expect(d?.reason).toContain(`via interpreter ${CURL}`);
  });

  it('three and five levels deep (the kernel follows five): denied', async () => {
    const r = await gated('./c3-3; ./c5-5; echo done');
    expect(r.stdout).not.toMatch(CURL_BANNER);
    expect(byRequest(r, './c3-3')[0]).toMatchObject({ verdict: 'deny', rule_id: 'no-curl' });
    expect(byRequest(r, './c5-5')[0]?.interpreters).toEqual([4, 3, 2, 1].map((k) => `${ws}/c5-${k}`).concat(CURL));
    expect(byRequest(r, './c5-5')[0]).toMatchObject({ verdict: 'deny', rule_id: 'no-curl' });
  });

  it('six levels: the kernel refuses (ELOOP), and so does the supervisor, before anything is asked', async () => {
    const r = await gated('./c6-6; echo "rc=$?"');
    expect(r.stderr).toMatch(/c6-6: .*bad interpreter: Too many levels of symbolic links/);
    expect(byRequest(r, './c6-6')).toEqual([]);
  });

  it('a relative interpreter is resolved against the cwd of the caller, as the kernel does', async () => {
    const r = await gated('cd sub && ln -sf ../c2-2 c2-2 && ./rel; echo "rc=$?"');
    expect(r.stdout).not.toMatch(CURL_BANNER);
    const [d] = byRequest(r, './rel');
    expect(d).toMatchObject({ verdict: 'deny', rule_id: 'no-curl' });
    expect(d?.interpreters).toEqual([`${ws}/c2-2`, `${ws}/c2-1`, CURL]);
  });

  it('an ELF whose PT_INTERP is curl: the kernel would map curl; denied', async () => {
    const r = await gated('./interp-is-curl; echo "rc=$?"');
    expect(r.stdout).toContain('rc=126');
    const [d] = byRequest(r, './interp-is-curl');
    expect(d).toMatchObject({ verdict: 'deny', rule_id: 'no-curl', interpreter: CURL });
    expect(d?.reason).toContain(`via ELF interpreter ${CURL}`);
  });

  it('binfmt_misc handlers (registered in a user namespace of our own): their interpreter is judged', async () => {
    // Linux 6.7+ gives a user namespace its own binfmt_misc: the gate runs in one where files starting with
    // \x7fAGTEST, and files named *.agx, are run by curl.
    fs.writeFileSync(path.join(ws, 'magic'), '\x7fAGTEST\n', { mode: 0o755 });
    fs.writeFileSync(path.join(ws, 'plain.agx'), 'plain\n', { mode: 0o755 });
    const register = [
      'mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc',
      `echo ':agmagic:M::\\x7fAGTEST::${CURL}:' > /proc/sys/fs/binfmt_misc/register`,
      `echo ':agext:E::agx::${CURL}:' > /proc/sys/fs/binfmt_misc/register`,
      'exec "$@"',
    ].join(' && ');
    const wrap = ['unshare', '--user', '--map-root-user', '--mount', '--propagation', 'private', '--', 'sh', '-c', register, 'sh'];
    const r = await runCli(['bash', '-c', './magic --version; echo "rc=$?"; ./plain.agx --version; echo "rc=$?"'], { policy: withExecuteSet, audit: dirs.audit(`img-${++n}`), cwd: ws, wrap });
    expect(r.stdout).not.toMatch(CURL_BANNER);
    expect(r.stdout.match(/rc=126/g)).toHaveLength(2);
    for (const name of ['./magic', './plain.agx']) {
      const [d] = byRequest(r, name);
      expect(d).toMatchObject({ verdict: 'deny', rule_id: 'no-curl', interpreter: CURL });
      expect(d?.reason).toContain(`via binfmt_misc interpreter ${CURL}`);
    }
  });

  it('#!ld.so curl: the loader at the end of a chain is judged on its program', async () => {
    const r = await gated('./via-loader; echo "rc=$?"');
    expect(r.stdout).not.toMatch(CURL_BANNER);
    expect(byRequest(r, './via-loader')[0]).toMatchObject({ verdict: 'deny', rule_id: 'no-curl', loader_target: CURL });
  });
});

describe('gate: the dynamic loader, recognised and resolved (issue 14, class 3)', () => {
  it('a copy of ld.so with one byte changed is still the loader: <copy> /usr/bin/curl is denied as curl', async () => {
    const r = await gated(`./myld ${CURL} --version; echo "rc=$?"`, withoutExecuteSet);
    expect(r.stdout).not.toMatch(CURL_BANNER);
    expect(r.stdout).toContain('rc=126');
    const [d] = byRequest(r, './myld');
    expect(d).toMatchObject({ verdict: 'deny', rule_id: 'no-curl', loader_target: CURL });
    expect(d?.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a static-pie program (marked DF_1_PIE, as ripgrep and ldconfig are) is a program, not a loader', async () => {
    const r = await gated('/usr/sbin/ldconfig -p | head -1; echo "rc=$?"', withoutExecuteSet);
    expect(r.stdout).toMatch(/libs found in cache/);
    const [d] = byRequest(r, '/usr/sbin/ldconfig');
    expect(d).toMatchObject({ verdict: 'allow', layer: 'default' });
    expect(d?.loader_target).toBeUndefined();
  });

  it('ld.so libc.so.6 runs the system libc (from ld.so.cache), not ./libc.so.6: the record names the real one', async () => {
    const r = await gated(`${LDSO} libc.so.6 | head -1`, withoutExecuteSet);
    expect(r.stdout).toMatch(/GNU C Library/);
    const [d] = byRequest(r, LDSO);
    expect(d).toMatchObject({ verdict: 'allow', loader_target: LIBC });
  });

  it('a bare name the loader cannot resolve to one file is refused, and says why', async () => {
    const r = await gated(`cp ${CURL} ./fetch && ${LDSO} fetch --version; echo "rc=$?"`, withoutExecuteSet);
    expect(r.stdout).toContain('rc=126');
    const [d] = byRequest(r, LDSO);
    expect(d).toMatchObject({ verdict: 'deny', layer: 'gate' });
    expect(d?.reason).toContain('the dynamic loader would search for fetch and find nothing');
  });

  it('LD_LIBRARY_PATH and --library-path are searched too: a copy of curl found there is judged as curl', async () => {
    const r = await gated(`cp ${CURL} ./fetch && LD_LIBRARY_PATH=${ws} ${LDSO} fetch --version; ${LDSO} --library-path ${ws} fetch --version; echo "rc=$?"`, withoutExecuteSet);
    expect(r.stdout).not.toMatch(CURL_BANNER);
    const denied = byRequest(r, LDSO);
    expect(denied.map((d) => [d.verdict, d.rule_id, d.loader_target])).toEqual([
      ['deny', 'no-curl', `${ws}/fetch`],
      ['deny', 'no-curl', `${ws}/fetch`],
    ]);
  });

  it('ld.so options are skipped as ld.so skips them; an unknown option runs nothing', async () => {
    const r = await gated(`${LDSO} --inhibit-cache --argv0 x --preload '' ${CURL} --version; ${LDSO} --bogus ${CURL} --version; echo "rc=$?"`, withoutExecuteSet);
    expect(r.stdout).not.toMatch(CURL_BANNER);
    const [first, second] = byRequest(r, LDSO);
    expect(first).toMatchObject({ verdict: 'deny', rule_id: 'no-curl', loader_target: CURL });
    expect(second).toMatchObject({ verdict: 'allow' });
    expect(second?.loader_target).toBeUndefined();
    expect(r.stderr).toContain("unrecognized option '--bogus'");
  });
});
