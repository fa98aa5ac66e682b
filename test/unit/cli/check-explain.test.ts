// The bundled CLI, run as a user runs it: `node cli.js check|explain …`, asserting exit codes and output.
// The bundle is built here with the same esbuild options as scripts/build.mjs (into dist/test/, so a
// concurrent `npm run build` is not disturbed and node_modules still resolves).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPolicyFile, formatDiagnostics } from '../../../src/core/policy/index';

const ROOT = join(__dirname, '..', '..', '..');
const CLI = join(ROOT, 'dist', 'test', 'cli.js');
const POLICIES = join(ROOT, 'policies');
const dir = mkdtempSync(join(tmpdir(), 'gate-cli-'));

beforeAll(async () => {
  await build({ entryPoints: [join(ROOT, 'src/cli/main.ts')], outfile: CLI, bundle: true, platform: 'node', target: 'node20', format: 'cjs', external: ['node-pty'], logLevel: 'error', absWorkingDir: ROOT });
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The accepted policies (agent-gate policy accept) of these tests, apart from the user's.
const STATE = join(dir, 'state');

function cli(args: string[], cwd = dir) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, PATH: '/usr/local/bin:/usr/bin:/bin', XDG_STATE_HOME: STATE } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Accept `file` for run, so check prints only its diagnostics (no note that run would not use it yet). */
function accepted(file: string): string {
  expect(cli(['policy', 'accept', file]).code).toBe(0);
  return file;
}

function policyFile(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('agent-gate check', () => {
  it('exits 0 with "policy ok: FILE" for a good policy', () => {
    const file = join(POLICIES, 'default.gate.toml');
    const r = cli(['check', '--policy', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`policy ok: ${file}\n`);
  });

  it('prints warnings before "policy ok"', () => {
    const file = accepted(policyFile('warn.toml', '[filesystem]\nread_globs = ["/etc/*.conf"]\n'));
    const r = cli(['check', '--policy', file]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`${file}:2:15: warning: '/etc/*.conf' is granted as all of /etc (Landlock grants whole directories); split the glob or list literal paths for a narrower grant [widened-glob]\n`);
    expect(r.stdout).toBe(`policy ok: ${file}\n`);
  });

  it('exits 2 with FILE:LINE:COL: error: lines', () => {
    const file = policyFile('bad.toml', '[meta]\nversion = 1\ndefault_acton = "deny"\n\n[[rule]]\nid = "a"\naction = "deny"\nargv_regex = "(a+)+"\n');
    const r = cli(['check', '--policy', file]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe(`${file}:3:1: error: unknown key 'default_acton' in [meta]; did you mean 'default_action'? [unknown-key]`);
    expect(lines[1]).toMatch(new RegExp(`^${file.replace(/[.]/g, '\\.')}:8:14: error: .*\\[catastrophic-regex\\]$`));
  });

  it('verifies inline examples', () => {
    const file = policyFile('ex.toml', '[[rule]]\nid = "ro-git"\naction = "allow"\nexe_basename = "git"\nargv_regex = "^git status"\nexamples_match = ["git push"]\n');
    const r = cli(['check', '--policy', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:6:19: error: rule 'ro-git': example "git push" should match this rule but does not [example-mismatch]`);
  });

  it('--json prints the diagnostics as JSON, with the same exit codes', () => {
    const file = policyFile('json.toml', '[[rule]]\nid = "a"\naction = "nope"\n');
    const r = cli(['check', '--json', '--policy', file]);
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout) as { ok: boolean; errors: number; diagnostics: { code: string; line: number; column: number; file: string }[] };
    expect(out).toMatchObject({ ok: false, errors: 1 });
    expect(out.diagnostics).toMatchObject([{ code: 'bad-value', line: 3, column: 10, file }]);
    const good = cli(['check', '--json', '--policy', join(POLICIES, 'strict.gate.toml')]);
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ ok: true, errors: 0, diagnostics: [] });
  });

  it('finds the policy as run does: ./.gate.toml, else the shipped default, and says which it used', () => {
    const ws = mkdtempSync(join(dir, 'ws-'));
    const none = cli(['check'], ws);
    expect(none).toMatchObject({ code: 0, stdout: `policy ok: ${join(POLICIES, 'default.gate.toml')} (the built-in default: no .gate.toml in ${ws})\n` });
    const explained = cli(['explain', '--', 'ls'], ws);
    expect(explained.code).toBe(0);
    expect(explained.stdout).toContain(`policy: ${join(POLICIES, 'default.gate.toml')} (the built-in default: no .gate.toml in ${ws})`);
    expect(explained.stdout).toContain('decided by: default (no rule matched)');
    expect(explained.stdout).toContain('verdict: ALLOW');
    writeFileSync(join(ws, '.gate.toml'), '[meta]\nversion = 1\n');
    expect(cli(['check'], ws)).toMatchObject({ code: 0, stdout: `policy ok: ${join(ws, '.gate.toml')}\n` });
    // --workspace names where .gate.toml is looked for (and ${WORKSPACE}), from anywhere.
    expect(cli(['check', '--workspace', ws], dir)).toMatchObject({ code: 0, stdout: `policy ok: ${join(ws, '.gate.toml')}\n` });
  });

  it('${WORKSPACE} is the workspace (the current directory), not the directory of a --policy elsewhere', () => {
    const ws = mkdtempSync(join(dir, 'ws-'));
    const elsewhere = mkdtempSync(join(dir, 'elsewhere-'));
    const file = join(elsewhere, 'p.toml');
    writeFileSync(file, '[meta]\nversion = 1\ndefault_action = "deny"\n\n[[rule]]\nid = "ws-tools"\naction = "allow"\nexe_glob = "${WORKSPACE}/bin/*"\n');
    mkdirSync(join(ws, 'bin'));
    copyFileSync('/bin/true', join(ws, 'bin', 'tool'));
    const run = (cwd: string, extra: string[] = []): { action: string; rule_id: string | null } =>
      JSON.parse(cli(['explain', '--json', '--policy', file, ...extra, '--', join(ws, 'bin', 'tool')], cwd).stdout) as { action: string; rule_id: string | null };
    expect(run(ws)).toMatchObject({ action: 'allow', rule_id: 'ws-tools' });
    expect(run(elsewhere)).toMatchObject({ action: 'deny', rule_id: null });
    expect(run(elsewhere, ['--workspace', ws])).toMatchObject({ action: 'allow', rule_id: 'ws-tools' });
  });

  it('warns when an allow exe_glob covers a write grant given on the command line', () => {
    const file = accepted(policyFile('glob.toml', '[[rule]]\nid = "tmp-tools"\naction = "allow"\nexe_glob = "/scratch/**"\n'));
    expect(cli(['check', '--policy', file]).stderr).toBe('');
    const r = cli(['check', '--policy', file, '-w', '/scratch/out/**']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${file}:4:12: warning: allow rule 'tmp-tools': exe_glob "/scratch/**" covers /scratch/out, which the agent can write`);
  });

  it('a missing file is an error at 1:1', () => {
    const r = cli(['check', '--policy', join(dir, 'nope.toml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`${join(dir, 'nope.toml')}:1:1: error: cannot read policy: file not found [unreadable]\n`);
  });

  it('prints exactly what core checkPolicyFile finds, on the whole policy corpus (the editor shows the same)', () => {
    const corpus = join(ROOT, 'test', 'fixtures', 'policies');
    for (const f of readdirSync(corpus).filter((n) => n.endsWith('.gate.toml'))) {
      const file = accepted(join(corpus, f));
      const r = cli(['check', '--json', '--policy', file]);
      // ${WORKSPACE} is the directory check runs in (as for run), here `dir`.
      const expected = checkPolicyFile(file, { path: '/usr/local/bin:/usr/bin:/bin', workspace: dir }).diagnostics;
      expect(JSON.parse(r.stdout), f).toMatchObject({ file, diagnostics: JSON.parse(JSON.stringify(expected)) as unknown });
      expect(r.code, f).toBe(expected.some((d) => d.severity === 'error') ? 2 : 0);
      const text = cli(['check', '--policy', file]);
      expect(text.stderr, f).toBe(formatDiagnostics(expected));
    }
  }, 60_000);

  it('rejects unknown options', () => {
    const r = cli(['check', '--polcy', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--polcy'");
  });
});

describe('agent-gate explain', () => {
  const defaultPolicy = join(POLICIES, 'default.gate.toml');

  it('prints the verdict, deciding rule, reason and matched keys', () => {
    const r = cli(['explain', '--policy', defaultPolicy, '--', 'git', 'push', 'origin']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('program: /usr/bin/git\n');
    expect(r.stdout).toContain('verdict: ASK\n');
    expect(r.stdout).toContain("decided by: rule 'ask-git-push'\n");
    expect(r.stdout).toContain('matched keys: exe_basename, argv_regex\n');
    expect(r.stdout).toContain('reason: publishes commits to a remote\n');
    const json = JSON.parse(cli(['explain', '--json', '--policy', defaultPolicy, '--', 'git', 'push', 'origin']).stdout) as { rule_line: number };
    expect(readFileSync(defaultPolicy, 'utf8').split('\n').slice(json.rule_line - 1, json.rule_line + 1).join('\n')).toMatch(/^\[\[rule\]\]\nid = "ask-git-push"/);
  });

  it('--json gives action, rule_id, reason and the canonical exe', () => {
    const r = cli(['explain', '--json', '--policy', defaultPolicy, '--', 'curl', 'https://evil.example/x']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ action: 'ask', rule_id: 'ask-network-tools', reason: 'network tool: may send workspace data off the machine', exe: '/usr/bin/curl', matched: ['exe_basename'], cacheable: false });
    const sh = cli(['explain', '--json', '--policy', defaultPolicy, '--', 'sh', '-c', 'true']);
    expect(JSON.parse(sh.stdout)).toMatchObject({ action: 'allow', rule_id: null, exe: '/usr/bin/dash', cacheable: true });
  });

  it('reports the default with rule_id null, and exits 0 for a deny', () => {
    const r = cli(['explain', '--json', '--policy', join(POLICIES, 'strict.gate.toml'), '--', 'xxd', '/etc/hostname']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({ action: 'deny', rule_id: null, exe: '/usr/bin/xxd' });
    expect(out.reason).toContain('no rule matched');
    const text = cli(['explain', '--policy', join(POLICIES, 'strict.gate.toml'), '--', 'xxd']);
    expect(text.stdout).toContain('decided by: default (no rule matched)');
  });

  it('resolves relative programs against --cwd', () => {
    const ws = mkdtempSync(join(dir, 'cwd-'));
    writeFileSync(join(ws, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
    const r = cli(['explain', '--json', '--policy', defaultPolicy, '--cwd', ws, '--', './run.sh']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ exe: join(ws, 'run.sh'), interpreter: '/usr/bin/dash', action: 'allow', rule_id: null, cwd: ws });
  });

  it('a program that is not installed has exe null', () => {
    const r = cli(['explain', '--json', '--policy', defaultPolicy, '--', 'sudo', 'id']);
    expect(JSON.parse(r.stdout)).toMatchObject({ action: 'deny', rule_id: 'deny-privilege-change', exe: null });
  });

  it('exits 2 on a bad policy, with the errors', () => {
    const file = policyFile('broken.toml', '[[rule]]\nid = "a"\n');
    const r = cli(['explain', '--policy', file, '--', 'ls']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:1:1: error: rule 'a' has no 'action'`);
    expect(r.stdout).toBe('');
  });

  it('needs a program after --', () => {
    const r = cli(['explain', '--policy', defaultPolicy]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no program given');
  });
});

describe('agent-gate explain: why the place of a program mattered, and what may be written', () => {
  it('a program named like an allowed one, in a place the agent can write, is not that program: explain says so', () => {
    const ws = mkdtempSync(join(dir, 'place-'));
    mkdirSync(join(ws, 'node_modules', '.bin'), { recursive: true });
    copyFileSync('/usr/bin/env', join(ws, 'node_modules', '.bin', 'tsc'));
    const policy = policyFile(
      'tsc.toml',
      '[meta]\nversion = 1\ndefault_action = "ask"\n[filesystem]\nread_globs = ["/**"]\nwrite_globs = ["${WORKSPACE}/**"]\n[[rule]]\nid = "allow-tsc"\naction = "allow"\nexe_basename = "tsc"\n',
    );
    const r = cli(['explain', '--policy', policy, '--workspace', ws, '--cwd', ws, '--', 'node_modules/.bin/tsc', '--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('verdict: ASK\ndecided by: default (no rule matched)\n');
    expect(r.stdout).toContain(`why: ${join(ws, 'node_modules', '.bin', 'tsc')} is in a place the agent can write (write grant ${ws}): a file there may have been put there under any name, so rules that name a program match it only by content`);
    expect(r.stdout).toContain("why: rule 'allow-tsc' (allow) names tsc but does not match this file: it is not the installed program of that name");
    expect(r.stdout).toMatch(new RegExp(`\\nwritable: ${ws} \\(Landlock refuses a write anywhere else: EACCES, "Permission denied"; run -v lists where each comes from\\)\\n$`));
    const json = JSON.parse(cli(['explain', '--json', '--policy', policy, '--workspace', ws, '--cwd', ws, '--', 'node_modules/.bin/tsc']).stdout) as { notes: string[]; writable: string[] };
    expect(json.notes).toHaveLength(2);
    expect(json.writable).toEqual([ws]);
  });

  it('a deny or ask rule matched by the name the program was run as says so', () => {
    const ws = mkdtempSync(join(dir, 'name-'));
    copyFileSync('/usr/bin/true', join(ws, 'curl'));
    const r = cli(['explain', '--workspace', ws, '--cwd', ws, '--', './curl']);
    expect(r.stdout).toContain("decided by: rule 'ask-network-tools'");
    expect(r.stdout).toContain("why: rule 'ask-network-tools' matched by the name the program was run as (curl): for deny and ask rules that name counts whatever the file is (fail closed)");
  });

  it('the agent profile is merged as run would: given with --agent, or picked from the program', () => {
    const ws = mkdtempSync(join(dir, 'agent-'));
    const shell = cli(['explain', '--workspace', ws, '--cwd', ws, '--', 'bash', '-c', 'true']);
    expect(shell.stdout).toContain('agent profile: shell (detected: the command is bash)\n');
    const none = cli(['explain', '--agent', 'none', '--workspace', ws, '--cwd', ws, '--', 'bash']);
    expect(none.stdout).not.toContain('agent profile');
    const json = JSON.parse(cli(['explain', '--json', '--agent', 'gemini', '--workspace', ws, '--cwd', ws, '--', 'git', 'status']).stdout) as { agent_profile: string; writable: string[] };
    expect(json.agent_profile).toBe('gemini');
    expect(json.writable.some((p) => p.endsWith('/.gemini'))).toBe(true);
  });
});
