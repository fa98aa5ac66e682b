// Where "always allow / always deny" writes its rule (the CLI's hint and VS Code's edit use the same rule), the
// policy a running session decides by once its file changed (replanPolicy), and "Go to rule" (ruleLine).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { gatherLocalFacts } from '../../../src/core/exec/local-facts';
import { ruleLine } from '../../../src/core/policy/suggest-rule';
import { planLaunch, replanPolicy, ruleTarget, type LaunchPlan } from '../../../src/core/session/launch';

let dir: string;
let ws: string;
let supervisor: string;
const DEFAULT = path.join(__dirname, '..', '..', '..', 'policies', 'default.gate.toml');
const POLICY = '[meta]\nversion = 1\ndefault_action = "allow"\n\n# asks\n[[rule]]\nid = "ask-date"\naction = "ask"\nexe_basename = "date"\n';
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rule-target-'));
  ws = path.join(dir, 'ws');
  fs.mkdirSync(ws);
  supervisor = path.join(dir, 'agent-gate-supervisor');
  fs.writeFileSync(supervisor, '#!/bin/sh\n', { mode: 0o755 });
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function plan(o: { trusted?: boolean } = {}): LaunchPlan {
  const p = planLaunch({ argv: ['/bin/bash'], agent: null, workspace: ws, supervisorPath: supervisor, env: { PATH: '/usr/bin:/bin', HOME: dir }, auditDir: path.join(dir, 'state'), defaultPolicy: DEFAULT, ...o });
  if (!p.ok) throw new Error(p.error);
  return p;
}

describe('ruleTarget', () => {
  it('the workspace policy in force: that file, as it is on disk now', () => {
    fs.writeFileSync(path.join(ws, '.gate.toml'), POLICY);
    const p = plan();
    fs.appendFileSync(path.join(ws, '.gate.toml'), '# edited since\n');
    expect(ruleTarget(p)).toEqual({ file: path.join(ws, '.gate.toml'), text: `${POLICY}# edited since\n`, fromDefault: false, refusal: null });
  });

  it('the built-in default in force: a new .gate.toml in the workspace, made from the default text', () => {
    const p = plan();
    expect(p.source.kind).toBe('default');
    expect(ruleTarget(p)).toEqual({ file: path.join(ws, '.gate.toml'), text: fs.readFileSync(DEFAULT, 'utf8'), fromDefault: true, refusal: null });
  });

  it("an untrusted workspace's own .gate.toml is not in force: no rule is written there, and it says why", () => {
    fs.writeFileSync(path.join(ws, '.gate.toml'), POLICY);
    const t = ruleTarget(plan({ trusted: false }));
    expect(t.fromDefault).toBe(true);
    expect(t.refusal).toBe(`${path.join(ws, '.gate.toml')} exists but is not in force (the workspace is not trusted, so its .gate.toml is not used): trust the workspace, or edit it by hand`);
  });
});

describe('replanPolicy', () => {
  it('the new text decides: a rule added before the asking one allows the same command', () => {
    fs.writeFileSync(path.join(ws, '.gate.toml'), POLICY);
    const p = plan();
    const facts = gatherLocalFacts(['date'], { cwd: ws, path: '/usr/bin:/bin' });
    expect(p.evaluator.evaluate(facts)).toMatchObject({ action: 'ask', ruleId: 'ask-date' });
    const text = POLICY.replace('# asks\n', `[[rule]]\nid = "allow-date-exact"\naction = "allow"\nexe = "${facts.exe!.path}"\nargv_regex = "^date$"\n\n# asks\n`);
    const next = replanPolicy(p, text);
    expect(next.ok).toBe(true);
    if (!next.ok) return;
    expect(next.text).toBe(text);
    expect(next.evaluator.evaluate(facts)).toMatchObject({ action: 'allow', ruleId: 'allow-date-exact' });
    expect(next.evaluator.evaluate(gatherLocalFacts(['date', '-u'], { cwd: ws, path: '/usr/bin:/bin' }))).toMatchObject({ action: 'ask', ruleId: 'ask-date' });
  });

  it('a text with errors is refused, with the first error in words', () => {
    fs.writeFileSync(path.join(ws, '.gate.toml'), POLICY);
    const next = replanPolicy(plan(), `${POLICY}[[rule]]\nid = "x"\naction = "sometimes"\n`);
    expect(next.ok).toBe(false);
    if (next.ok) return;
    expect(next.error).toMatch(/has 1 error \(first: line \d+: .*sometimes/);
  });
});

describe('ruleLine', () => {
  it('the line of the rule header; null for a rule the text does not have or a text that does not parse', () => {
    expect(ruleLine(POLICY, 'ask-date')).toBe(6);
    expect(ruleLine(POLICY, 'from-a-profile')).toBeNull();
    expect(ruleLine('[[rule', 'ask-date')).toBeNull();
  });
});
