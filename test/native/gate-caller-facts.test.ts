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

  it('a cwd deeper than PATH_MAX (the supervisor cannot read it): a cwd_glob deny still matches, and says why (R38)', async () => {
    const policy = path.join(dirs.ws, 'cwd-deny.toml');
    fs.writeFileSync(
      policy,
      `[meta]\nversion = 1\ndefault_action = "allow"\n\n[filesystem]\nread_globs = ["/**"]\nwrite_globs = ["\${WORKSPACE}/**"]\n\n` +
        `[[rule]]\nid = "deny-id-in-ws"\naction = "deny"\nexe_basename = "id"\ncwd_glob = "\${WORKSPACE}/**"\n`,
    );
    const deep = 'import os, subprocess\nfor i in range(45):\n    os.makedirs("x" * 100, exist_ok=True); os.chdir("x" * 100)\nprint("rc", subprocess.run(["/usr/bin/id", "-u"]).returncode)\n';
    const r = await runCli(['/usr/bin/python3', '-c', deep], { policy, audit: dirs.audit('deep-cwd'), cwd: dirs.ws });
    // rm(1) walks by descriptor; fs.rmSync would hit ENAMETOOLONG on this tree.
    spawnSync('rm', ['-rf', path.join(dirs.ws, 'x'.repeat(100))]);
    expect(r.stdout).not.toMatch(/^\d+$/m);
    const d = r.decisions.find((x) => x.exe === '/usr/bin/id');
    expect(d).toMatchObject({ verdict: 'deny', rule_id: 'deny-id-in-ws', cwd: '' });
    expect(d?.reason).toContain('the working directory could not be read');
  });
});
