// "Always allow / Always deny": the rule offered, where it goes, and that the policy with it decides the next
// identical exec by that rule (real engine, real files on this machine: /usr/bin/git, curl, bash).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gatherLocalFacts } from '../../../src/core/exec/local-facts';
import { createEvaluator, loadPolicyText } from '../../../src/core/policy/index';
import { broadAllowRefusal, regexEscape, suggestRules, tomlString } from '../../../src/core/policy/suggest-rule';

const DEFAULT_TEXT = fs.readFileSync(path.join(__dirname, '..', '..', '..', 'policies', 'default.gate.toml'), 'utf8');
const PATH = '/usr/local/bin:/usr/bin:/bin';

function decide(text: string, argv: string[]) {
  const loaded = loadPolicyText(text, '/w/.gate.toml', { workspace: '/w', env: { PATH, HOME: '/root' } });
  expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const ev = createEvaluator(loaded.policy!, { path: PATH });
  return ev.evaluate(gatherLocalFacts(argv, { cwd: '/', path: PATH }));
}

function apply(text: string, s: { insert: { offset: number; text: string } }): string {
  return text.slice(0, s.insert.offset) + s.insert.text + text.slice(s.insert.offset);
}

describe('suggestRules', () => {
  it('narrowest first: this exact command, then program + subcommand; inserted before the deciding rule and its comments', () => {
    const argv = ['git', 'push', 'origin', 'main'];
    const before = decide(DEFAULT_TEXT, argv);
    expect(before).toMatchObject({ action: 'ask', ruleId: 'ask-git-push' });
    const exe = gatherLocalFacts(argv, { path: PATH }).exe!.path;
    const { suggestions, note } = suggestRules({ action: 'allow', argv, exe, decidingRuleId: 'ask-git-push', policyText: DEFAULT_TEXT, now: new Date('2026-01-02T00:00:00Z') });
    expect(note).toBe(null);
    expect(suggestions.map((s) => s.scope)).toEqual(['exact', 'subcommand']);
    const [exact, sub] = suggestions;
    expect(exact!.id).toBe('allow-git-exact');
    expect(exact!.toml).toBe(`[[rule]]\nid = "allow-git-exact"\naction = "allow"\nreason = "always allowed by the user (Agent Gate, 2026-01-02)"\nexe = ${JSON.stringify(exe)}\nargv_regex = "^git push origin main$"\n`);
    expect(exact!.label).toBe('allow exactly: git push origin main');
    expect(sub!.label).toBe('allow git push …');
    // The header of ask-git-push is on this line; the rule goes right before it.
    const lines = DEFAULT_TEXT.split('\n');
    expect(lines[exact!.insert.line - 1]).toBe('[[rule]]');
    expect(lines[exact!.insert.line]).toBe('id = "ask-git-push"');
    expect(exact!.insert.beforeRuleId).toBe('ask-git-push');

    const withExact = apply(DEFAULT_TEXT, exact!);
    expect(decide(withExact, argv)).toMatchObject({ action: 'allow', ruleId: 'allow-git-exact' });
    // Exactly: other arguments are still asked.
    expect(decide(withExact, ['git', 'push', 'origin', 'other'])).toMatchObject({ action: 'ask', ruleId: 'ask-git-push' });
    const withSub = apply(DEFAULT_TEXT, sub!);
    expect(decide(withSub, ['git', 'push', 'origin', 'other'])).toMatchObject({ action: 'allow', ruleId: sub!.id });
    expect(decide(withSub, ['git', 'pushx'])).not.toMatchObject({ ruleId: sub!.id });
  });

  it('never a broad allow for shells, interpreters, wrappers or network tools: only the exact command, and says why', () => {
    for (const [argv, why] of [
      [['bash', '-c', 'curl x'], /shell/],
      [['python3', 'build.py'], /interpreter/],
      [['env', 'FOO=1', 'make'], /runs other programs/],
      [['xargs', 'rm'], /runs other programs/],
      [['sudo', 'apt', 'install', 'x'], /runs other programs/],
      [['curl', 'https://example.com'], /network tool/],
      [['ssh', 'host'], /network tool/],
    ] as [string[], RegExp][]) {
      const r = suggestRules({ action: 'allow', argv, exe: `/usr/bin/${argv[0]}`, decidingRuleId: null, policyText: '' });
      expect(r.suggestions.map((s) => s.scope)).toEqual(['exact']);
      expect(r.note).toMatch(why);
    }
    expect(broadAllowRefusal('python3.11')).toMatch(/interpreter/);
    expect(broadAllowRefusal('git')).toBe(null);
    // Deny may be broad: program-wide by name when there is no subcommand.
    const d = suggestRules({ action: 'deny', argv: ['curl', 'https://x'], exe: '/usr/bin/curl', decidingRuleId: null, policyText: '' });
    expect(d.suggestions.map((s) => s.scope)).toEqual(['exact', 'program']);
    expect(d.suggestions[1]!.toml).toContain('exe_basename = "curl"');
  });

  it('a program without a subcommand: the broader allow is the program with any arguments', () => {
    const r = suggestRules({ action: 'allow', argv: ['ls', '-la'], exe: '/usr/bin/ls', decidingRuleId: null, policyText: '[meta]\nversion = 1\n' });
    expect(r.suggestions.map((s) => [s.scope, s.label])).toEqual([
      ['exact', 'allow exactly: ls -la'],
      ['program', 'allow ls (any arguments)'],
    ]);
    // With no deciding rule (the default decided), at the end, after a blank line.
    expect(r.suggestions[0]!.insert.text.startsWith('\n[[rule]]')).toBe(true);
    expect(r.suggestions[0]!.insert.offset).toBe('[meta]\nversion = 1\n'.length);
  });

  it('ids are unique in the file; a redacted argv gets no exact rule', () => {
    const text = '[[rule]]\nid = "allow-git-exact"\naction = "ask"\nexe_basename = "git"\n';
    const r = suggestRules({ action: 'allow', argv: ['git', 'status'], exe: '/usr/bin/git', decidingRuleId: 'allow-git-exact', policyText: text });
    expect(r.suggestions[0]!.id).toBe('allow-git-exact-2');
    const red = suggestRules({ action: 'allow', argv: ['git', 'clone', 'https://«redacted:url-userinfo»@h/x'], exe: '/usr/bin/git', decidingRuleId: null, policyText: '' });
    expect(red.suggestions.map((s) => s.scope)).toEqual(['subcommand']);
    expect(red.note).toMatch(/redacted/);
  });

  it('control characters, bidi overrides and non-UTF-8 bytes: the rule shows them as escapes and matches exactly those bytes', () => {
    const argv = ['echo', 'a\u202eb', 'x\x1b[2Ky', 'caf\udce9', "it's \"q\" \\ (x)"];
    const [exact] = suggestRules({ action: 'allow', argv, exe: '/usr/bin/echo', decidingRuleId: null, policyText: '' }).suggestions;
    // Nothing invisible or raw in the file.
    // eslint-disable-next-line no-control-regex -- the point: no raw control characters in the rule text
    expect(exact!.toml).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f\u202e]/);
    expect(exact!.toml).toContain('\\\\u202e');
    expect(exact!.toml).toContain('\\\\udce9');
    const text = apply('[meta]\nversion = 1\ndefault_action = "deny"\n', exact!);
    const loaded = loadPolicyText(text, '/w/.gate.toml', { workspace: '/w' });
    expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const ev = createEvaluator(loaded.policy!, { path: PATH });
    const facts = gatherLocalFacts(['/usr/bin/echo'], { path: PATH });
    expect(ev.evaluate({ ...facts, argv })).toMatchObject({ action: 'allow', ruleId: 'allow-echo-exact' });
    expect(ev.evaluate({ ...facts, argv: ['echo', 'ab', 'x\x1b[2Ky', 'caf\udce9', "it's \"q\" \\ (x)"] })).toMatchObject({ action: 'deny' });
    expect(new RegExp(`^${regexEscape('a.b*(c)')}$`).test('a.b*(c)')).toBe(true);
    expect(new RegExp(`^${regexEscape('a.b*(c)')}$`).test('aXbbb(c)')).toBe(false);
    expect(tomlString('a"b\\c\u0007')).toBe('"a\\"b\\\\c\\u0007"');
  });

  it('warns when the program sits where the agent can write', () => {
    const [exact] = suggestRules({ action: 'allow', argv: ['./build/tool'], exe: '/w/build/tool', decidingRuleId: null, policyText: '', writableRoots: ['/w', '/tmp'] }).suggestions;
    expect(exact!.warning).toMatch(/the agent can write/);
  });
});
