// End to end: an argv the supervisor had to cut (4096 arguments or 1 MiB, docs/protocol.md) cannot hide what
// a deny or ask rule looks for after the cut, and an allow rule on argv cannot rest on the part it saw. Real
// CLI, the shipped default policy's `deny-rm-rf-root`, real supervisor and kernel.
//
// The "rm" here is a copy of /usr/bin/echo named rm in the workspace: the shipped rule matches it by the name
// it is run by (deny rules match the requested name, matcher.ts), and if the rule failed to match, the copy —
// which the default policy allows as echo, by its content — would print its arguments instead of deleting
// anything. Never a real rm -rf /.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDirs, prepare, ROOT, runCli, type CliRun } from './gate-progs/cli';

const DEFAULT_POLICY = path.join(ROOT, 'policies', 'default.gate.toml');
let dirs: ReturnType<typeof makeDirs>;
/** The shipped policy lets the agent write /tmp, so the audit logs live outside it. */
let state: string;
let n = 0;

beforeAll(async () => {
  await prepare();
  dirs = makeDirs('argvcut');
  fs.mkdirSync(path.join(os.homedir(), '.local', 'state'), { recursive: true });
  state = fs.mkdtempSync(path.join(os.homedir(), '.local', 'state', 'gate-e2e-argvcut-'));
  fs.copyFileSync('/usr/bin/echo', path.join(dirs.ws, 'rm'));
  fs.chmodSync(path.join(dirs.ws, 'rm'), 0o755);
});
afterAll(() => {
  dirs?.cleanup();
  if (state) fs.rmSync(state, { recursive: true, force: true });
});

function gated(script: string, policy = DEFAULT_POLICY): Promise<CliRun> {
  return runCli(['bash', '-c', script], { policy, audit: path.join(state, `cut-${++n}.jsonl`), cwd: dirs.ws, extra: ['--workspace', dirs.ws, '--on-ask', 'deny', '--allow-root-without-filesystem'] });
}

function rmRecords(r: CliRun) {
  return r.decisions.filter((d) => d.exe_requested === './rm');
}

describe('gate: a cut argv fails closed (deny-rm-rf-root)', () => {
  it('control: ./rm -rf / is denied by the shipped rule, argv not cut', async () => {
    const r = await gated('./rm -rf /; echo "rc=$?"');
    expect(r.stdout).toContain('rc=126');
    expect(r.stdout).not.toContain('-rf /');
    const [d] = rmRecords(r);
    expect(d).toMatchObject({ verdict: 'deny', rule_id: 'deny-rm-rf-root', layer: 'rule' });
    expect(d?.argv_truncated).toBeUndefined();
    expect(d?.reason).not.toContain('cut');
  });

  it('5000 padding arguments in front of -rf /: still denied, and the record says argv was cut', async () => {
    const r = await gated('./rm $(printf "pad %.0s" $(seq 5000)) -rf /; echo "rc=$?"');
    expect(r.stdout).toContain('rc=126');
    expect(r.stdout).not.toContain('pad pad');
    const [d] = rmRecords(r);
    expect(d).toMatchObject({ verdict: 'deny', rule_id: 'deny-rm-rf-root', argv_truncated: true });
    expect(d?.argv).toHaveLength(4096);
    expect(d?.reason).toContain("argv was cut at the gate's bound (4096 arguments or 1 MiB), so this rule's argv keys were taken as matching (fail closed)");
  });

  it('nine 131 000-byte arguments in front of -rf / (over 1 MiB): still denied', async () => {
    const r = await gated('big=$(head -c 131000 /dev/zero | tr "\\0" a); ./rm $big $big $big $big $big $big $big $big $big -rf /; echo "rc=$?"');
    expect(r.stdout).toContain('rc=126');
    expect(r.stdout).not.toContain('aaaa');
    const [d] = rmRecords(r);
    expect(d).toMatchObject({ verdict: 'deny', rule_id: 'deny-rm-rf-root', argv_truncated: true });
    expect(d?.argv.length).toBeLessThan(11);
    expect(d?.reason).toContain('argv was cut');
  });

  it('an allow rule on argv does not match a cut argv; a short argv still runs', async () => {
    const policy = path.join(dirs.root, 'allow-echo-ok.toml');
    fs.writeFileSync(
      policy,
      '[meta]\nversion = 1\ndefault_action = "deny"\n\n[[rule]]\nid = "shells"\naction = "allow"\nexe_basename = ["bash", "seq", "printf"]\n\n' +
        '[[rule]]\nid = "echo-ok"\naction = "allow"\nexe_basename = "echo"\nargv_contains = "ok"\n',
    );
    const r = await gated('/usr/bin/echo ok short; /usr/bin/echo ok $(printf "pad %.0s" $(seq 5000)); echo "rc=$?"', policy);
    expect(r.stdout).toContain('ok short');
    expect(r.stdout).toContain('rc=126');
    const echoes = r.decisions.filter((d) => d.exe === '/usr/bin/echo');
    expect(echoes.map((d) => [d.verdict, d.rule_id, d.argv_truncated ?? false])).toEqual([
      ['allow', 'echo-ok', false],
      ['deny', null, true],
    ]);
  });
});
