// End to end: facts the calling process sets itself. `exec -a make python3 …` makes the caller's argv read
// `make …`, so an allow rule resting on parent_argv (or on argv, cwd or parent_exe alone) allows whatever that
// caller runs — documented in SECURITY.md ("Rule keys"), warned about by `check` and at `run` start
// (caller-controlled-allow). A rule that names the program does not have the hole. Real CLI, kernel.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, makeDirs, prepare, runCli } from './gate-progs/cli';

const CURL = '/usr/bin/curl';
let dirs: ReturnType<typeof makeDirs>;

beforeAll(async () => {
  await prepare();
  if (!fs.existsSync(CURL) || !fs.existsSync('/usr/bin/python3')) throw new Error('curl and python3 are needed: apt-get install -y curl python3');
  dirs = makeDirs('callerfacts');
});
afterAll(() => dirs?.cleanup());

const HEAD = `[meta]
version = 1
default_action = "deny"

[filesystem]
read_globs = ["/**"]
write_globs = ["\${WORKSPACE}/**"]

[[rule]]
id = "tools"
action = "allow"
exe_basename = ["bash", "python3"]
`;

function writePolicy(name: string, rule: string): string {
  const file = path.join(dirs.ws, `${name}.toml`);
  fs.writeFileSync(file, HEAD + rule);
  return file;
}

const EXEC_A = `exec -a make /usr/bin/python3 -c 'import os; os.execv("${CURL}", ["curl", "--version"])'`;

describe('gate: caller-controlled facts', () => {
  it('check warns about an allow rule that rests only on parent_argv (exit 0: a warning)', () => {
    const policy = writePolicy('under-make', '\n[[rule]]\nid = "under-make"\naction = "allow"\nparent_argv = \'^make( |$)\'\n');
    const r = spawnSync(process.execPath, [CLI, 'check', '--policy', policy], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/warning: allow rule 'under-make' names no program and rests only on parent_argv: the caller sets these itself \(exec -a NAME.*\[caller-controlled-allow\]/);
  });

  it('exec -a make satisfies such a rule: curl runs (the documented limit), and run warned at start', async () => {
    const policy = writePolicy('under-make-run', '\n[[rule]]\nid = "under-make"\naction = "allow"\nparent_argv = \'^make( |$)\'\n');
    const r = await runCli(['bash', '-c', EXEC_A], { policy, audit: dirs.audit('exec-a'), cwd: dirs.ws });
    expect(r.stderr).toContain('[caller-controlled-allow]');
    expect(r.stdout).toMatch(/^curl \d+\.\d+/m);
    expect(r.decisions.find((d) => d.exe === CURL)).toMatchObject({ verdict: 'allow', rule_id: 'under-make' });
  });

  it('a rule that names the program (exe_basename = "make") is not fooled by exec -a, and check is quiet', async () => {
    const policy = writePolicy('make-itself', '\n[[rule]]\nid = "make-children"\naction = "allow"\nexe_basename = ["cc", "gcc"]\nparent_exe = "/usr/bin/make"\n');
    const check = spawnSync(process.execPath, [CLI, 'check', '--policy', policy], { encoding: 'utf8' });
    expect(check.stdout + check.stderr).not.toContain('caller-controlled-allow');
    const r = await runCli(['bash', '-c', EXEC_A], { policy, audit: dirs.audit('exec-a-named'), cwd: dirs.ws });
    expect(r.stdout).not.toMatch(/^curl \d+\.\d+/m);
    expect(r.decisions.find((d) => d.exe === CURL)).toMatchObject({ verdict: 'deny', rule_id: null, layer: 'default' });
  });
});
