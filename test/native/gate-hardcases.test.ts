// End to end: a program the policy denies stays denied however the agent reaches it. Each case runs through
// the real CLI (`agent-gate run`), the real policy engine, the real supervisor and the real kernel, and
// checks both what the agent saw and what the audit log says.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curlAllowed, denyCurlPolicy, makeDirs, prepare, prog, runCli, type CliRun } from './gate-progs/cli';

const CURL = '/usr/bin/curl';
const PYTHON = '/usr/bin/python3';
let dirs: ReturnType<typeof makeDirs>;
let policy: string;
let curlNames: string[];
let n = 0;

beforeAll(async () => {
  if (!fs.existsSync(CURL)) throw new Error(`${CURL} is missing: install it (apt-get install -y curl); the tests only exec it, never use the network`);
  await prepare();
  dirs = makeDirs('hard');
  policy = path.join(dirs.ws, '.gate.toml');
  fs.writeFileSync(policy, denyCurlPolicy());
  // Names the agent could plant for curl in its writable workspace.
  fs.copyFileSync(CURL, path.join(dirs.ws, 'fetcher'));
  fs.chmodSync(path.join(dirs.ws, 'fetcher'), 0o755);
  fs.linkSync(CURL, path.join(dirs.ws, 'hardlink'));
  fs.symlinkSync(CURL, path.join(dirs.ws, 'notcurl'));
  fs.writeFileSync(path.join(dirs.ws, 'runs-curl.sh'), '#!/bin/sh\ncurl --version\n', { mode: 0o755 });
  fs.writeFileSync(path.join(dirs.ws, 'curl-interp'), `#!${CURL} --version\n`, { mode: 0o755 });
  curlNames = [CURL, path.join(dirs.ws, 'fetcher'), path.join(dirs.ws, 'hardlink')];
});
afterAll(() => dirs?.cleanup());

async function gated(script: string): Promise<CliRun> {
  return runCli(['bash', '-c', script], { policy, audit: dirs.audit(`case-${++n}`), cwd: dirs.ws });
}

/** The verdict and the audit record: curl was denied by the no-curl rule, never allowed, never ran. */
function expectCurlDenied(r: CliRun): void {
  expect(r.stdout).not.toMatch(/^curl \d+\.\d+/m);
  const denied = r.decisions.filter((d) => d.verdict === 'deny' && d.rule_id === 'no-curl');
  expect(denied.length).toBeGreaterThanOrEqual(1);
  expect(denied[0]).toMatchObject({ layer: 'rule', cached: false });
  expect(denied[0]?.reason).toContain('curl is not allowed in this test');
  expect(curlAllowed(r, curlNames)).toEqual([]);
  // The session itself worked: the agent's bash was allowed and the session ended normally.
  expect(r.decisions[0]).toMatchObject({ verdict: 'allow', exe: '/usr/bin/bash' });
  expect(r.end).toMatchObject({ event: 'end' });
  expect(r.end?.reason).toBeUndefined();
}

describe('gate: denied programs stay denied (curl)', () => {
  it('control: allowed programs run and are recorded', async () => {
    const r = await gated('ls / >/dev/null && echo ran-ok');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ran-ok');
    expect(r.decisions.map((d) => [d.exe, d.verdict])).toEqual([['/usr/bin/bash', 'allow'], ['/usr/bin/ls', 'allow']]);
  });

  it('direct path', async () => {
    const r = await gated(`${CURL} --version`);
    expectCurlDenied(r);
    expect(r.code).toBe(126);
    expect(r.stderr).toContain(`${CURL}: Permission denied`);
    expect(r.decisions.find((d) => d.rule_id === 'no-curl')).toMatchObject({ exe_requested: CURL, exe: CURL, argv: [CURL, '--version'] });
  });

  it('through PATH, bash -c and sh -c', async () => {
    const r = await gated(`curl --version; sh -c 'curl --version'; bash -c 'curl --version'`);
    expectCurlDenied(r);
    // A shell's PATH search may try curl in more than one directory (/usr/bin, /bin): each try is denied.
    expect(r.decisions.filter((d) => d.rule_id === 'no-curl').length).toBeGreaterThanOrEqual(3);
    expect(r.stderr.match(/Permission denied/g)?.length).toBe(3);
  });

  it('a shebang script that runs curl, and a script whose interpreter is curl', async () => {
    const r = await gated('./runs-curl.sh; ./curl-interp');
    expectCurlDenied(r);
    expect(r.decisions.find((d) => d.exe === path.join(dirs.ws, 'runs-curl.sh'))).toMatchObject({ verdict: 'allow', interpreter: '/usr/bin/dash' });
    expect(r.decisions.find((d) => d.exe === path.join(dirs.ws, 'curl-interp'))).toMatchObject({ verdict: 'deny', rule_id: 'no-curl', interpreter: CURL });
    expect(r.stderr).toContain('bad interpreter: Permission denied');
  });

  it('env, xargs and find -exec', async () => {
    const r = await gated(`env curl --version; echo --version | xargs curl; find ${CURL} -exec {} --version \\;`);
    expectCurlDenied(r);
    expect(r.decisions.filter((d) => d.rule_id === 'no-curl').length).toBeGreaterThanOrEqual(3);
    expect(r.stderr).toMatch(/env: .curl.: Permission denied/);
    expect(r.stderr).toMatch(/xargs: curl: Permission denied/);
    expect(r.stderr).toMatch(/find: .*Permission denied/);
  });

  it("python3 -c 'os.execv(…)'", async () => {
    if (!fs.existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: apt-get install -y python3`);
    const r = await gated(`${PYTHON} -c 'import os; os.execv("${CURL}", ["curl", "--version"])'`);
    expectCurlDenied(r);
    expect(r.stderr).toContain('PermissionError');
    expect(r.decisions.find((d) => d.rule_id === 'no-curl')?.argv).toEqual(['curl', '--version']);
  });

  it('execveat(fd, "", AT_EMPTY_PATH) (fexecve)', async () => {
    const r = await gated(`${prog('fexecve')} ${CURL} curl --version`);
    expectCurlDenied(r);
    expect(r.stdout).toContain('RESULT execveat errno=EACCES');
    expect(r.decisions.find((d) => d.rule_id === 'no-curl')).toMatchObject({ exe: CURL });
  });

  it('a symlink, a hard link and a renamed copy in a writable directory', async () => {
    const r = await gated('./notcurl --version; ./hardlink --version; ./fetcher --version');
    expectCurlDenied(r);
    const denied = r.decisions.filter((d) => d.rule_id === 'no-curl');
    expect(denied.map((d) => d.exe_requested)).toEqual(['./notcurl', './hardlink', './fetcher']);
    expect(denied[0]?.exe).toBe(CURL);
    // The copy is another file with curl's content: identified by its hash.
    expect(denied[2]?.exe).toBe(path.join(dirs.ws, 'fetcher'));
    expect(denied[2]?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(r.stderr.match(/Permission denied/g)?.length).toBe(3);
  });

  it('the dynamic loader (ld-linux-x86-64.so.2 /usr/bin/curl)', async () => {
    const r = await gated(`/lib64/ld-linux-x86-64.so.2 ${CURL} --version`);
    expectCurlDenied(r);
    expect(r.decisions.find((d) => d.rule_id === 'no-curl')).toMatchObject({ loader_target: CURL });
  });

  it('/proc/self/fd/N', async () => {
    const r = await gated(`exec 3<${CURL}; /proc/self/fd/3 --version`);
    expectCurlDenied(r);
    expect(r.decisions.find((d) => d.rule_id === 'no-curl')).toMatchObject({ exe_requested: '/proc/self/fd/3', exe: CURL });
  });

  it('a statically linked exec-er', async () => {
    const r = await gated(`${prog('static_exec')} ${CURL} --version`);
    expectCurlDenied(r);
    expect(r.stdout).toContain('RESULT execv errno=EACCES');
  });

  it('a multi-threaded parent: every thread is denied', async () => {
    const r = await gated(`${prog('threads_exec')} 4 ${CURL} --version`);
    expectCurlDenied(r);
    expect(r.stdout.match(/RESULT thread=\d errno=EACCES/g)).toHaveLength(4);
    expect(r.decisions.filter((d) => d.rule_id === 'no-curl').length).toBeGreaterThanOrEqual(4);
  });

  it('posix_spawn and vfork', async () => {
    const r = await gated(`${prog('spawn')} posix_spawn ${CURL} --version; ${prog('spawn')} vfork ${CURL} --version`);
    expectCurlDenied(r);
    expect(r.stdout).toContain('RESULT posix_spawn errno=EACCES');
    expect(r.stdout).toContain('RESULT vfork status=126');
  });
});
