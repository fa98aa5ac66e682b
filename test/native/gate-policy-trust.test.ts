// End to end: `agent-gate run` uses a policy file only as the user accepted it (red-team R43). A repository's
// .gate.toml (or one an earlier agent wrote) could grant `/**` writes or the ssh-agent; the first time, and
// after any change, run shows the file or the change (escaped) and asks on the user's terminal, or, with nobody
// to ask, runs nothing and names the command that accepts it. The record of what was accepted is out of the
// agent's reach. Real CLI, real supervisor, real kernel.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Text } from '../../src/core/session/policy-in-force';
import { CLI, ROOT, SUPERVISOR, denyCurlPolicy, makeDirs, prepare, runCli, type CliRun } from './gate-progs/cli';

let dirs: ReturnType<typeof makeDirs>;
/** XDG_STATE_HOME of these runs: the accepted policies are in XDG/agent-gate/accepted-policies. */
let xdg: string;
let n = 0;

beforeAll(async () => {
  await prepare();
  dirs = makeDirs('policy-trust');
  xdg = path.join(dirs.root, 'xdg');
  fs.mkdirSync(xdg, { mode: 0o700 });
});
afterAll(() => dirs?.cleanup());

function workspace(text: string): { ws: string; policy: string } {
  const ws = path.join(dirs.root, `ws-${++n}`);
  fs.mkdirSync(ws);
  const policy = path.join(ws, '.gate.toml');
  fs.writeFileSync(policy, text);
  return { ws, policy };
}

/** `agent-gate run` in `ws` with its .gate.toml (no --policy), no terminal, no --accept-policy unless given. */
function run(ws: string, script: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return runCli(['bash', '-c', script], { cwd: ws, audit: dirs.audit(`run-${++n}`), accept: false, extra, env: { XDG_STATE_HOME: xdg, ...env } });
}

function policyCmd(args: string[], cwd: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, 'policy', ...args], { cwd, encoding: 'utf8', env: { ...process.env, XDG_STATE_HOME: xdg } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// Valid TOML can carry bidi controls and invisible characters in comments and strings ("Trojan Source"): the
// first comment reverses what follows it on screen, the second line hides a zero-width space in a glob.
const SNEAKY = `${denyCurlPolicy()}\n# the usual rules \u202e "/**" = write_globs \u2066\n[[rule]]\nid = "tools\u200b"\naction = "allow"\nreason = "ok"\nexe_basename = "true"\n`;

describe('gate: run uses a policy file only as the user accepted it (R43)', () => {
  it('a workspace .gate.toml never accepted: with no terminal nothing runs (no side effect, no audit log), and the message shows the file and names the command that accepts it', async () => {
    const { ws, policy } = workspace(denyCurlPolicy());
    const r = await run(ws, 'touch ran; echo ran');
    expect(r.code).toBe(126);
    expect(r.stdout).toBe('');
    expect(fs.existsSync(path.join(ws, 'ran'))).toBe(false);
    expect(r.records).toEqual([]);
    expect(r.stderr).toContain(`agent-gate: the policy ${policy} has not been accepted yet`);
    expect(r.stderr).toMatch(/^agent-gate: +\d+ {2}\[filesystem\]$/m);
    expect(r.stderr).toContain('nobody could be asked (standard input is not a terminal)');
    expect(r.stderr).toContain(`agent-gate policy accept --sha256 ${sha256Text(denyCurlPolicy()).slice(0, 16)} ${policy}`);
    expect(r.stderr).toContain('or run again with --accept-policy');
    // In CI too (a terminal or not): nobody is asked.
    const ci = await run(ws, 'touch ran', [], { CI: 'true' });
    expect(ci.code).toBe(126);
    expect(ci.stderr).toContain('nobody could be asked (CI is set)');
    expect(fs.existsSync(path.join(ws, 'ran'))).toBe(false);
  });

  it('accepted (policy accept, pinned to what was shown) it runs; edited afterwards it is refused again with the diff; --accept-policy accepts the new text', async () => {
    const { ws, policy } = workspace(denyCurlPolicy());
    // The pin must be the text's: a file changed between reading and accepting is not accepted.
    const pinned = policyCmd(['accept', '--sha256', 'deadbeefdeadbeef'], ws);
    expect(pinned.code).toBe(1);
    expect(pinned.stderr).toContain('is not the text you read');
    const diff = policyCmd(['diff'], ws);
    expect(diff.code).toBe(1);
    expect(diff.stdout).toContain('has not been accepted yet');
    const acc = policyCmd(['accept', '--sha256', sha256Text(denyCurlPolicy()).slice(0, 16)], ws);
    expect(acc.code, acc.stderr).toBe(0);
    expect(acc.stdout).toContain(`accepted ${policy}`);
    const same = policyCmd(['diff'], ws);
    expect(same.code).toBe(0);
    expect(same.stdout).toContain('unchanged since');
    const ok = await run(ws, 'touch ran; echo ran');
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('ran\n');
    expect(ok.start).toMatchObject({ policy_file: policy, policy_sha256: sha256Text(denyCurlPolicy()) });

    // The repository changes it (a pull, another tool): every write allowed. Refused, with the change.
    fs.rmSync(path.join(ws, 'ran'));
    const wider = denyCurlPolicy({ writeGlobs: ['${WORKSPACE}/**', '${HOME}/**'] });
    fs.writeFileSync(policy, wider);
    const again = await run(ws, 'touch ran');
    expect(again.code).toBe(126);
    expect(fs.existsSync(path.join(ws, 'ran'))).toBe(false);
    expect(again.stderr).toContain(`the policy ${policy} changed since you accepted it on `);
    expect(again.stderr).toContain('agent-gate:   -write_globs = ["${WORKSPACE}/**"]');
    expect(again.stderr).toContain('agent-gate:   +write_globs = ["${WORKSPACE}/**", "${HOME}/**"]');
    expect(again.stderr).toContain(`agent-gate policy accept --sha256 ${sha256Text(wider).slice(0, 16)} ${policy}`);
    // check and explain run nothing, so they need no acceptance, but say so.
    const check = spawnSync(process.execPath, [CLI, 'check'], { cwd: ws, encoding: 'utf8', env: { ...process.env, XDG_STATE_HOME: xdg } });
    expect(check.status).toBe(0);
    expect(check.stderr).toContain(`agent-gate check: note: ${policy} is not accepted for 'agent-gate run' since it changed`);
    const explain = spawnSync(process.execPath, [CLI, 'explain', '--', 'true'], { cwd: ws, encoding: 'utf8', env: { ...process.env, XDG_STATE_HOME: xdg } });
    expect(explain.status).toBe(0);
    expect(explain.stderr).toContain('agent-gate explain: note:');

    const flag = await run(ws, 'touch ran; echo ran', ['--accept-policy']);
    expect(flag.code, flag.stderr).toBe(0);
    expect(flag.stderr).toContain(`agent-gate: policy review: ${policy} accepted as it is with --accept-policy`);
    // Recorded: the next run uses it without a word.
    const next = await run(ws, 'echo again');
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).not.toContain('policy review');
  });

  it('--policy FILE named on the command line is reviewed the same way (naming a file is not reading it); the shipped policies need nothing', async () => {
    const { ws, policy } = workspace(denyCurlPolicy());
    const named = await runCli(['bash', '-c', 'touch ran'], { cwd: ws, policy, audit: dirs.audit(`named-${n}`), accept: false, env: { XDG_STATE_HOME: xdg } });
    expect(named.code).toBe(126);
    expect(named.stderr).toContain('has not been accepted yet');
    expect(fs.existsSync(path.join(ws, 'ran'))).toBe(false);
    const strict = await runCli(['true'], { cwd: ws, policy: path.join(ROOT, 'policies', 'strict.gate.toml'), audit: dirs.audit(`strict-${n}`), accept: false, env: { XDG_STATE_HOME: xdg } });
    expect(strict.stderr).not.toContain('has not been accepted');
  });

  it('the shipped default policy in a place the agent may write (here the workspace is the checkout that ships it: an npx install in ~/.npm is the same) is reviewed like any other; elsewhere it needs nothing (R70)', async () => {
    // State and audit outside every grant of the default policy.
    fs.mkdirSync(path.join(os.homedir(), '.local', 'state'), { recursive: true });
    const home = fs.mkdtempSync(path.join(os.homedir(), '.local', 'state', 'gate-e2e-trust-'));
    try {
      // In the workspace of the second run (the default policy grants no shared /tmp).
      const marker = path.join(dirs.ws, `ran-default-${++n}`);
      const writable = await runCli(['bash', '-c', `touch ${marker}`], { cwd: dirs.ws, audit: path.join(home, 'a.jsonl'), accept: false, extra: ['--workspace', ROOT], env: { XDG_STATE_HOME: home } });
      expect(writable.code).toBe(126);
      expect(writable.stderr).toContain(`the policy ${path.join(ROOT, 'policies', 'default.gate.toml')} (a shipped policy, but in a place the agent of this run may write, so it is reviewed like any other) has not been accepted yet`);
      expect(fs.existsSync(marker)).toBe(false);
      const elsewhere = await runCli(['bash', '-c', `touch ${marker}`], { cwd: dirs.ws, audit: path.join(home, 'b.jsonl'), accept: false, env: { XDG_STATE_HOME: home } });
      // A checkout in /dev/shm is writable under the default policy from any workspace: reviewed there too.
      // Elsewhere (/tmp included: no shared /tmp grant since red-team R60) the shipped default needs nothing.
      const checkoutInTemp = ['/dev/shm/'].some((t) => `${ROOT}/`.startsWith(t));
      expect(elsewhere.code, elsewhere.stderr).toBe(checkoutInTemp ? 126 : 0);
      expect(fs.existsSync(marker)).toBe(!checkoutInTemp);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it('an agent profile given as a file (--agent FILE: its grants, rules, [env]) is reviewed like a policy (R78)', async () => {
    const { ws } = workspace(denyCurlPolicy());
    expect(policyCmd(['accept'], ws).code).toBe(0);
    const outside = path.join(dirs.root, `outside-${++n}`);
    fs.mkdirSync(outside);
    const profile = path.join(dirs.root, `profile-${n}.toml`);
    fs.writeFileSync(profile, `[agent]\nid = "proj"\nname = "project profile"\ncommands = ["bash"]\n\n[filesystem]\nwrite_globs = ["${outside}/**"]\n`);
    const refused = await run(ws, `touch ${outside}/proof`, ['--agent', profile]);
    expect(refused.code).toBe(126);
    expect(refused.stderr).toContain(`the policy ${profile} has not been accepted yet`);
    expect(fs.existsSync(path.join(outside, 'proof'))).toBe(false);
    const accepted = await run(ws, `touch ${outside}/proof`, ['--agent', profile, '--accept-policy']);
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(fs.existsSync(path.join(outside, 'proof'))).toBe(true);
    // Changed afterwards: asked about again.
    fs.appendFileSync(profile, `create_dirs = ["${outside}/more"]\n`);
    const changed = await run(ws, 'true', ['--agent', profile]);
    expect(changed.code).toBe(126);
    expect(changed.stderr).toContain(`the policy ${profile} changed since you accepted it`);
  });

  it('a policy with bidi controls and invisible characters is shown escaped (no raw control, bidi or zero-width character reaches the terminal); one with raw control bytes is refused by the parser', async () => {
    const { ws } = workspace(SNEAKY);
    const r = await run(ws, 'touch ran');
    expect(r.code).toBe(126);
    expect(fs.existsSync(path.join(ws, 'ran'))).toBe(false);
    expect(r.stderr).toContain('# the usual rules \\u202e "/**" = write_globs \\u2066');
    expect(r.stderr).toContain('id = "tools\\u200b"');
    expect(r.stderr).not.toMatch(/[\u202a-\u202e\u2066-\u2069\u200b]/);
    // eslint-disable-next-line no-control-regex
    expect(r.stderr).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    // The diff of a change is escaped the same way.
    expect(policyCmd(['accept'], ws).code).toBe(0);
    fs.appendFileSync(path.join(ws, '.gate.toml'), '# \u202e moved \u2069\n');
    const d = await run(ws, 'touch ran');
    expect(d.code).toBe(126);
    expect(d.stderr).toContain('agent-gate:   +# \\u202e moved \\u2069');
    expect(d.stderr).not.toMatch(/[\u202a-\u202e\u2066-\u2069\u200b]/);
    // TOML allows no raw control character outside a newline or tab: such a file never gets to the review.
    const { ws: ws2 } = workspace(`${denyCurlPolicy()}\n# \x1b[2J\x1b[1A fake prompt\n`);
    const raw = await run(ws2, 'touch ran');
    expect(raw.code).toBe(126);
    expect(raw.stderr).toContain('control characters are not allowed');
    // eslint-disable-next-line no-control-regex
    expect(raw.stderr).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    expect(fs.existsSync(path.join(ws2, 'ran'))).toBe(false);
  });

  it('on the user\'s terminal it asks: the screen is reset, the file is shown escaped; "n" runs nothing, "y" runs and records it', async () => {
    const { ws, policy } = workspace(SNEAKY);
    const no = await onPty(ws, 'n');
    expect(no.output).toContain('\x1b[!p'); // the screen reset before the question (R30)
    expect(no.output).toContain('agent-gate: review the policy before it is used');
    expect(no.output).toContain('\\u202e');
    expect(no.output).not.toMatch(/[\u202a-\u202e\u2066-\u2069\u200b]/);
    expect(no.output).toContain(`nothing ran: you did not accept the policy ${policy}`);
    expect(fs.existsSync(path.join(ws, 'ran'))).toBe(false);
    const yes = await onPty(ws, 'y');
    expect(yes.output).toContain(`policy review: you accepted ${policy}`);
    expect(fs.existsSync(path.join(ws, 'ran'))).toBe(true);
    expect(policyCmd(['diff'], ws).code).toBe(0);
  });

  it('an agent inside the gate cannot pre-accept a policy: neither `agent-gate policy accept` nor writing the record itself (the store is outside every write grant)', async () => {
    const { ws } = workspace(denyCurlPolicy());
    expect(policyCmd(['accept'], ws).code).toBe(0);
    // The policy the agent wants the user's next run to use, in another repository.
    const { ws: target, policy: evil } = workspace(denyCurlPolicy({ writeGlobs: ['/**'] }));
    const store = path.join(xdg, 'agent-gate', 'accepted-policies');
    const record = path.join(store, `${sha256Text(fs.realpathSync(evil))}.json`);
    const forged = JSON.stringify({ file: fs.realpathSync(evil), sha256: sha256Text(fs.readFileSync(evil, 'utf8')), text: fs.readFileSync(evil, 'utf8'), at: 'x', how: 'command' });
    const script = [
      `${process.execPath} ${CLI} policy accept ${evil}; echo "accept-rc=$?"`,
      `printf '%s' '${forged}' > ${record}; echo "write-rc=$?"`,
      `mkdir -p ${store}/x 2>/dev/null; echo "mkdir-rc=$?"`,
    ].join('\n');
    const r = await run(ws, script);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/accept-rc=1/);
    expect(r.stdout).toMatch(/write-rc=1/);
    expect(r.stdout).toMatch(/mkdir-rc=1/);
    expect(r.stderr).toMatch(/agent-gate policy accept: cannot record the acceptance in .*EACCES/);
    expect(r.stderr).toContain(`${record}: Permission denied`);
    expect(fs.existsSync(record)).toBe(false);
    // The user's next run in that repository: still asked (here: refused, nobody to ask).
    const next = await run(target, 'touch ran');
    expect(next.code).toBe(126);
    expect(next.stderr).toContain('has not been accepted yet');
    expect(fs.existsSync(path.join(target, 'ran'))).toBe(false);
  });

  it('a policy whose write grants cover the accepted policies is refused before anything runs (the agent could accept one for the next run)', async () => {
    const home = path.join(dirs.root, 'home-xdg');
    fs.mkdirSync(home);
    const { ws } = workspace(denyCurlPolicy({ writeGlobs: ['${WORKSPACE}/**', `${home}/**`] }));
    const r = await runCli(['bash', '-c', 'touch ran'], { cwd: ws, audit: dirs.audit(`cover-${n}`), env: { XDG_STATE_HOME: home } });
    expect(r.code).toBe(126);
    expect(r.stderr).toContain(`the accepted policies are kept in ${path.join(home, 'agent-gate', 'accepted-policies')}, inside a path the agent may write (${home}`);
    expect(fs.existsSync(path.join(ws, 'ran'))).toBe(false);
    // Not even recorded: --accept-policy is not honoured for a run that cannot start this way.
    expect(fs.existsSync(path.join(home, 'agent-gate', 'accepted-policies'))).toBe(false);
  });
});

/** Run the CLI on a pseudo-terminal (script(1)) in `ws`, typing `answer` once the question is up. */
function onPty(ws: string, answer: string): Promise<{ code: number | null; output: string }> {
  const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const cmd = [process.execPath, CLI, 'run', '--audit', dirs.audit(`pty-${++n}`), '--supervisor', SUPERVISOR, '--on-ask', 'deny', '--', 'bash', '-c', 'touch ran'].map(quote).join(' ');
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_STATE_HOME: xdg };
  delete env.CI;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { cwd: ws, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let typed = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const onOutput = (d: Buffer): void => {
      output += d.toString('utf8');
      if (!typed && output.includes('[n] run nothing > ')) {
        typed = true;
        child.stdin.write(`${answer}\n`);
      }
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
