// End to end: the CONTINUE race against a deny (issue 14, class 6). `execrace` forks children whose second
// thread keeps swapping the path of an exec between an allowed program and a denied one: the supervisor reads
// one, and when it allows and CONTINUEs, the kernel re-reads the path and may find the other. A deny that
// depends only on the program is made the kernel's (Landlock's execute set leaves the file out,
// src/core/policy/execute-set.ts), so the swap finds a file the kernel refuses. A deny that looks at argv
// cannot be made the kernel's: the control shows the race is real, and wins there.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDirs, prepare, prog, runCli, type CliRun } from './gate-progs/cli';

const CURL = '/usr/bin/curl';
const TRUE = '/usr/bin/true';
const TRIES = 300;
let dirs: ReturnType<typeof makeDirs>;
let n = 0;

function policy(name: string, denyKeys: string, extra = ''): string {
  const file = path.join(dirs.ws, `${name}.toml`);
  fs.writeFileSync(
    file,
    `[meta]\nversion = 1\ndefault_action = "allow"\n\n[filesystem]\nread_globs = ["/**"]\nwrite_globs = ["\${WORKSPACE}/**"]\n${extra}\n` +
      `[[rule]]\nid = "denied"\naction = "deny"\nreason = "denied in this test"\n${denyKeys}\n`,
  );
  return file;
}

interface Race {
  run: CliRun;
  tries: number;
  ranDenied: number;
}

/** Race ALLOWED against DENIED TRIES times; DENIED is curl (or a copy of it), which prints MARKER. */
async function race(policyFile: string, allowed: string, denied: string, extra: { wrap?: string[] } = {}): Promise<Race> {
  const run = await runCli([prog('execrace'), String(TRIES), allowed, denied, 'curl ', '--version'], {
    policy: policyFile,
    audit: dirs.audit(`race-${++n}`),
    cwd: dirs.ws,
    ...extra,
  });
  const m = /RESULT tries=(\d+) ran_denied=(\d+)/.exec(run.stdout);
  expect(m, run.stdout + run.stderr).not.toBeNull();
  return { run, tries: Number(m![1]), ranDenied: Number(m![2]) };
}

beforeAll(async () => {
  await prepare();
  if (!fs.existsSync(CURL)) throw new Error(`${CURL} is missing: apt-get install -y curl`);
  dirs = makeDirs('race');
});
afterAll(() => dirs?.cleanup());

describe('gate: a deny the CONTINUE race cannot undo', () => {
  it('control: a deny that looks at argv is raced (the documented limit), so the racer works', async () => {
    const r = await race(policy('argv-deny', 'exe_basename = "curl"\nargv_regex = "."'), TRUE, CURL);
    expect(r.run.start?.kernel_denies).toBeUndefined();
    expect(r.ranDenied).toBeGreaterThan(0);
  });

  it('a program-only deny: curl never runs, however the path is swapped', async () => {
    const r = await race(policy('program-deny', 'exe_basename = "curl"'), TRUE, CURL);
    expect(r.tries).toBe(TRIES);
    expect(r.ranDenied).toBe(0);
    expect(r.run.start?.kernel_denies?.programs).toEqual([CURL]);
    expect(r.run.start?.kernel_denies?.landlock_rules).toBeGreaterThan(10);
    // Every exec the supervisor saw as curl was denied by the rule; the rest were allowed as true.
    expect(r.run.decisions.filter((d) => d.exe === CURL).every((d) => d.verdict === 'deny' && d.rule_id === 'denied')).toBe(true);
    expect(r.run.decisions.some((d) => d.exe === TRUE && d.verdict === 'allow')).toBe(true);
  });

  it('the same with an execute set (execute_globs): the deny is carved out of it', async () => {
    const r = await race(policy('program-deny-x', 'exe_basename = "curl"', `execute_globs = ["${path.dirname(prog('execrace'))}/**"]\n`), TRUE, CURL);
    expect(r.ranDenied).toBe(0);
    expect(r.run.start?.kernel_denies?.programs).toEqual([CURL]);
  });

  it('a hard link and a bind mount of the denied file are refused too', async () => {
    // A "system" directory outside the agent's write grants, with a copy of curl (denied by path), a hard link
    // of it, and a bind mount of the directory, made in a private mount namespace the gate runs in.
    const sys = path.join(dirs.root, 'sys');
    fs.mkdirSync(path.join(sys, 'bin'), { recursive: true });
    fs.copyFileSync(CURL, path.join(sys, 'bin', 'nono'));
    fs.linkSync(path.join(sys, 'bin', 'nono'), path.join(sys, 'bin', 'nolk'));
    fs.copyFileSync(TRUE, path.join(sys, 'bin', 'okok'));
    fs.mkdirSync(path.join(dirs.root, 'als'));
    const p = policy('by-path', `exe = "${sys}/bin/nono"`);
    const wrap = ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', `mount --bind "$1" "$2" && shift 2 && exec "$@"`, 'sh', sys, path.join(dirs.root, 'als')];
    const linked = await race(p, path.join(sys, 'bin', 'okok'), path.join(sys, 'bin', 'nolk'), { wrap });
    expect(linked.ranDenied).toBe(0);
    const programs = linked.run.start?.kernel_denies?.programs ?? [];
    expect(programs).toEqual(expect.arrayContaining([`${sys}/bin/nono`, `${sys}/bin/nolk`, `${dirs.root}/als/bin/nono`, `${dirs.root}/als/bin/nolk`]));
    const bound = await race(p, path.join(sys, 'bin', 'okok'), path.join(dirs.root, 'als', 'bin', 'nono'), { wrap });
    expect(bound.ranDenied).toBe(0);
    expect(bound.run.decisions.some((d) => d.exe === `${dirs.root}/als/bin/nono` && d.verdict === 'deny')).toBe(true);
  });
});
