// End to end: an argv the agent crafts against a policy's own regex cannot stall the policy engine (red-team
// R19). The agent can read the policy, so it knows the patterns; JavaScript regexes cannot be interrupted once
// they run. Real CLI, real supervisor and kernel: each exec below is decided, and the session ends, instead of
// backtracking for hours. The patterns the linear-time fallback cannot run are refused by `check` and `run`.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, makeDirs, prepare, ROOT, runCli } from './gate-progs/cli';

let dirs: ReturnType<typeof makeDirs>;

beforeAll(async () => {
  await prepare();
  dirs = makeDirs('regex');
});
afterAll(() => dirs?.cleanup());

function policy(name: string, regex: string): string {
  const file = path.join(dirs.ws, `${name}.gate.toml`);
  fs.writeFileSync(
    file,
    `[meta]\nversion = 1\ndefault_action = "allow"\n\n[filesystem]\nread_globs = ["/**"]\nwrite_globs = ["\${WORKSPACE}/**"]\n\n` +
      `[[rule]]\nid = "no-bang"\naction = "deny"\nexe_basename = "echo"\nargv_regex = '${regex}'\nreason = "test pattern"\n`,
  );
  return file;
}

describe('gate: an argv crafted against the policy regexes is still decided', () => {
  async function echoed(regex: string, arg: string) {
    const file = policy(`p${regex.length}`, regex);
    // echo with the hostile argument, then a marker: both execs decided, the session ends normally.
    const r = await runCli(['bash', '-c', `/bin/echo ${arg} >/dev/null; echo decided`], { policy: file, audit: dirs.audit(`r${regex.length}`), cwd: dirs.ws, extra: ['--on-ask', 'deny'] });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('decided');
    expect(r.stderr).not.toMatch(/no verdict in time/);
    return r.decisions.find((d) => d.exe === '/usr/bin/echo' && d.argv.length === 2);
  }

  it('overlapping classes under a repeat, on 30 000 characters: V8 falls back to its linear engine and answers', async () => {
    expect(await echoed('^\\S+ (\\d|\\w)*!$', `x${'1'.repeat(30_000)}`)).toMatchObject({ verdict: 'allow', layer: 'default' });
  });

  it.each([
    ['a counted repeat of an unbounded group', '(.*a){12}', `${'a'.repeat(11)}${'b'.repeat(100_000)}`],
    ['a chain of ten .*', '.*a.*a.*a.*a.*a.*a.*a.*a.*a.*a', `${'a'.repeat(9)}${'b'.repeat(100_000)}`],
  ])('%s (%s) on 100 000 characters: not examinable in time, so the deny rule matches (fail closed)', async (_what, regex, arg) => {
    const echo = await echoed(regex, arg);
    expect(echo).toMatchObject({ verdict: 'deny', rule_id: 'no-bang', layer: 'rule' });
    expect(echo?.reason).toMatch(/could not examine this argv within \d+ ms, so it was taken as matching \(fail closed\)/);
  });

  it("the shipped default policy: `rm -rrrr…` (O(n²) for deny-rm-rf-root) is denied in time, and a long git commit message is examined and allowed", async () => {
    const DEFAULT_POLICY = path.join(ROOT, 'policies', 'default.gate.toml');
    fs.copyFileSync('/usr/bin/echo', path.join(dirs.ws, 'rm'));
    fs.chmodSync(path.join(dirs.ws, 'rm'), 0o755);
    fs.mkdirSync(path.join(dirs.ws, 'repo'));
    const script = `./rm -${'r'.repeat(100_000)} >/dev/null; cd repo && git init -q && git -c user.email=a@b -c user.name=a commit -q --allow-empty -m "${'fix '.repeat(25_000)}" && echo committed`;
    fs.writeFileSync(path.join(dirs.ws, 'long.sh'), script);
    // The shipped policy lets the agent write /tmp: its audit log lives under ~/.local/state.
    fs.mkdirSync(path.join(os.homedir(), '.local', 'state'), { recursive: true });
    const state = fs.mkdtempSync(path.join(os.homedir(), '.local', 'state', 'gate-e2e-regex-'));
    const r = await runCli(['bash', 'long.sh'], { policy: DEFAULT_POLICY, audit: path.join(state, 'default-rm.jsonl'), cwd: dirs.ws, extra: ['--workspace', dirs.ws, '--on-ask', 'deny'] });
    expect(r.stdout, r.stderr).toContain('committed');
    expect(r.stderr).not.toMatch(/no verdict in time/);
    const rm = r.decisions.find((d) => d.exe_requested === './rm');
    expect(rm).toMatchObject({ verdict: 'deny', rule_id: 'deny-rm-rf-root' });
    const commit = r.decisions.find((d) => d.argv[0] === 'git' && d.argv.includes('commit'));
    expect(commit).toMatchObject({ verdict: 'allow' });
    expect(commit?.reason ?? '').not.toMatch(/could not examine/);
    fs.rmSync(state, { recursive: true, force: true });
  });

  it('refuses, in check and run, a risky pattern V8 cannot run in linear time (it uses lookaround)', async () => {
    const file = policy('lookaround', '(?!-)(\\d|\\w)*!');
    const check = spawnSync(process.execPath, [CLI, 'check', '--policy', file], { encoding: 'utf8' });
    expect(check.status).toBe(2);
    expect(check.stderr).toMatch(/:13:14: error: .*repeated alternation with overlapping branches .*\[catastrophic-regex\]/);
    const r = await runCli(['/bin/true'], { policy: file, audit: dirs.audit('lookaround'), cwd: dirs.ws });
    expect(r.code).toBe(126);
    expect(r.stderr).toContain('[catastrophic-regex]');
    expect(r.decisions).toEqual([]);
  });
});
