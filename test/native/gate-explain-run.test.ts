// `agent-gate explain` must answer what `agent-gate run` decides (red-team R96). pyenv's shims are one script
// under every name (python3, pip, pytest…): a program recognised by its content would be every one of them.
// The supervisor hashes only files where the agent can write (HASH_UNDER) — elsewhere a file's name is honest —
// and explain identifies the program by the same rule. Each argv here is explained, then run through the real
// supervisor, and the two verdicts must be the same (and the expected one), for allow and for deny, over a fake
// shim directory outside the write grants and a copy of a shim inside them (known there by content only).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, makeDirs, prepare, runCli } from './gate-progs/cli';

let dirs: ReturnType<typeof makeDirs>;
let shims: string;
let policy: string;
let env: NodeJS.ProcessEnv;
const SHIM = '#!/bin/sh\necho "SHIM-RAN $0 $*"\n';
const NAMES = ['python3', 'pip', 'pytest', 'tool'];

beforeAll(async () => {
  await prepare();
  dirs = makeDirs('explain-run');
  shims = path.join(dirs.root, 'shims');
  fs.mkdirSync(shims);
  for (const n of NAMES) fs.writeFileSync(path.join(shims, n), SHIM, { mode: 0o755 });
  fs.mkdirSync(path.join(dirs.ws, 'bin'));
  fs.writeFileSync(path.join(dirs.ws, 'bin', 'pip'), SHIM, { mode: 0o755 });
  policy = path.join(dirs.state, 'policy.gate.toml');
  fs.writeFileSync(
    policy,
    `[meta]
version = 1
default_action = "deny"

[filesystem]
read_globs = ["/**"]
write_globs = ["\${WORKSPACE}/**"]
require_enforced = true

[[rule]]
id = "allow-python-scripts"
action = "allow"
exe_basename = "python3"
argv_regex_not = '(^|\\s)-c(\\s|$)'

[[rule]]
id = "allow-tests"
action = "allow"
exe_basename = "pytest"

# The shims' interpreter: a script runs only when it and its interpreter are allowed.
[[rule]]
id = "allow-shell"
action = "allow"
exe_basename = ["sh", "dash"]
`,
  );
  // The same PATH for both: it finds the program and the programs the rules name.
  env = { PATH: `${shims}:/usr/bin:/bin` };
});
afterAll(() => dirs?.cleanup());

function explain(argv: string[], file = policy): { action: string; rule_id: string | null; exe: string | null } {
  const r = spawnSync(process.execPath, [CLI, 'explain', '--policy', file, '--json', '--', ...argv], { cwd: dirs.ws, env: { ...process.env, ...env }, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { action: string; rule_id: string | null; exe: string | null };
}

let k = 0;
async function run(argv: string[], file = policy): Promise<{ verdict: string; rule_id: string | null; exe: string | null; stdout: string }> {
  const r = await runCli(argv, { policy: file, audit: dirs.audit(`run-${++k}`), cwd: dirs.ws, env });
  const first = r.decisions[0];
  expect(first, r.stderr).toBeDefined();
  return { verdict: first!.verdict, rule_id: first!.rule_id, exe: first!.exe ?? null, stdout: r.stdout };
}

describe('gate: explain answers what run decides, over programs with the same content under different names (red-team R96)', () => {
  it('control: the shims are one script (same bytes, different files), and the copy in the workspace too', () => {
    const sums = new Set([...NAMES.map((n) => path.join(shims, n)), path.join(dirs.ws, 'bin', 'pip')].map((f) => createHash('sha256').update(fs.readFileSync(f)).digest('hex')));
    expect(sums.size).toBe(1);
    expect(new Set(NAMES.map((n) => fs.statSync(path.join(shims, n)).ino)).size).toBe(NAMES.length);
  });

  const cases: [string, string[], 'allow' | 'deny', string | null][] = [
    ['python3 running a script: its own name, in a place the agent cannot write', ['python3', 'x.py'], 'allow', 'allow-python-scripts'],
    ['pytest: its own name', ['pytest', '-q'], 'allow', 'allow-tests'],
    ['pip (the python3 shim\'s bytes): no rule names pip', ['pip', 'install', 'x'], 'deny', null],
    ['python3 -c (the pytest shim\'s bytes): not a script, and not pytest', ['python3', '-c', '1'], 'deny', null],
    ['a shim named by no rule', ['tool'], 'deny', null],
    ['a copy of the shim in the workspace, where only content counts: the python3 program', ['bin/pip', 'install', 'x'], 'allow', 'allow-python-scripts'],
  ];
  it.each(cases)('%s', async (_what, argv, verdict, rule) => {
    const e = explain(argv);
    const r = await run(argv);
    expect({ exe: e.exe, verdict: e.action, rule: e.rule_id }).toEqual({ exe: r.exe, verdict: r.verdict, rule: r.rule_id });
    expect([r.verdict, r.rule_id]).toEqual([verdict, rule]);
    if (verdict === 'allow') expect(r.stdout).toContain('SHIM-RAN');
  });

  it('the program is searched in the agent\'s PATH, as the supervisor\'s execvp searches it ([env] set PATH)', async () => {
    const alt = path.join(dirs.root, 'alt');
    fs.mkdirSync(alt);
    fs.writeFileSync(path.join(alt, 'python3'), '#!/bin/sh\necho "ALT-RAN $*"\n', { mode: 0o755 });
    const withEnv = path.join(dirs.state, 'env.gate.toml');
    fs.writeFileSync(withEnv, `${fs.readFileSync(policy, 'utf8')}\n[env]\nset = { PATH = ${JSON.stringify(`${alt}:/usr/bin:/bin`)} }\n`);
    const e = explain(['python3', 'x.py'], withEnv);
    const r = await run(['python3', 'x.py'], withEnv);
    expect(r.stdout).toContain('ALT-RAN');
    expect({ exe: e.exe, verdict: e.action, rule: e.rule_id }).toEqual({ exe: path.join(alt, 'python3'), verdict: r.verdict, rule: r.rule_id });
    expect(r.exe).toBe(path.join(alt, 'python3'));
  });
});
