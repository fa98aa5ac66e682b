// checkPolicyText on the corpus of broken policies in test/fixtures/policies/ (the same corpus the editor's
// extension-host test opens): every diagnostic with its range, and every fix applied and re-checked.
// test/fixtures/policies/expected.json holds the expected diagnostics as "line:col-endLine:endCol severity
// code"; regenerate it with UPDATE_CORPUS=1 after an intended change, and review the diff.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkPolicyFile, checkPolicyText, formatDiagnostic, formatDiagnostics, type Diagnostic, type Fix } from '../../../src/core/policy/index';
import { applyFix, corpusEntry } from './corpus';

const CORPUS = join(__dirname, '..', '..', 'fixtures', 'policies');
const files = readdirSync(CORPUS).filter((f) => f.endsWith('.gate.toml')).sort();
const expectedFile = join(CORPUS, 'expected.json');
const PATH = '/usr/local/bin:/usr/bin:/bin';
const check = (file: string) => checkPolicyFile(join(CORPUS, file), { path: PATH });

describe('the policy corpus', () => {
  it('has a file per kind of problem', () => {
    expect(files.length).toBeGreaterThanOrEqual(14);
  });

  it('gives the expected diagnostics, with ranges', () => {
    const actual = Object.fromEntries(files.map((f) => [f, check(f).diagnostics.map(corpusEntry)]));
    if (process.env.UPDATE_CORPUS === '1') writeFileSync(expectedFile, JSON.stringify(actual, null, 2) + '\n');
    expect(actual).toEqual(JSON.parse(readFileSync(expectedFile, 'utf8')));
  });

  it('covers every diagnostic code but "unreadable" and "unsafe-key"', () => {
    const codes = new Set(files.flatMap((f) => check(f).diagnostics.map((d) => d.code)));
    expect([...codes].sort()).toEqual([
      'allow-glob-writable', 'bad-regex', 'bad-value', 'caller-controlled-allow', 'catastrophic-regex', 'duplicate-id', 'empty-list', 'example-mismatch',
      'missing-key', 'no-dns', 'not-absolute', 'shadowed-rule', 'syntax', 'unknown-key', 'unset-variable', 'widened-glob', 'wrong-type',
    ]);
  });

  it('reports a clean file as clean, and the shipped policies too', () => {
    expect(check('clean.gate.toml').diagnostics).toEqual([]);
    expect(check('clean.gate.toml').policy).not.toBeNull();
  });

  it('widened globs name the subtree Landlock will grant', () => {
    const messages = check('widened.gate.toml').diagnostics.filter((d) => d.code === 'widened-glob').map((d) => d.message);
    expect(messages[0]).toContain("'/etc/*.conf' is granted as all of /etc");
    expect(messages[1]).toContain("'/tmp/build-*/out/**' is granted as all of /tmp");
  });

  it('a string left open says so, underlined from its quote', () => {
    const [d] = check('syntax.gate.toml').diagnostics;
    expect(d).toMatchObject({ code: 'syntax', line: 3, column: 18, endLine: 3, endColumn: 23 });
    expect(d?.message).toContain('string not closed on this line');
  });
});

describe('fixes', () => {
  const fixFiles = files.filter((f) => f.startsWith('fix-'));
  const fixCases = fixFiles.flatMap((f) => {
    const text = readFileSync(join(CORPUS, f), 'utf8');
    return check(f).diagnostics.flatMap((d) => (d.fixes ?? []).map((fix) => ({ file: f, text, d, fix })));
  });

  it('every fix-* file has exactly one diagnostic, with at least one fix', () => {
    for (const f of fixFiles) {
      const ds = check(f).diagnostics;
      expect(ds, f).toHaveLength(1);
      expect(ds[0]?.fixes?.length, f).toBeGreaterThan(0);
    }
  });

  it.each(fixCases.map((c) => [`${c.file}: ${c.fix.title}`, c] as const))('%s leaves a clean policy', (_name, c) => {
    const fixed = applyFix(c.text, c.fix);
    const after = checkPolicyText(fixed, join(CORPUS, c.file), { path: PATH });
    expect(after.diagnostics, fixed).toEqual([]);
  });

  it('did-you-mean replaces only the misspelt name', () => {
    const text = readFileSync(join(CORPUS, 'fix-unknown-key.gate.toml'), 'utf8');
    const [d] = checkPolicyText(text, 'p.toml').diagnostics as [Diagnostic];
    expect(d.fixes).toEqual([{ title: "Change to 'default_action'", range: { line: 3, column: 1, endLine: 3, endColumn: 14 }, newText: 'default_action', preferred: true }]);
    // A dotted key: only its last part.
    const dotted = checkPolicyText('meta.default_acton = "ask"\n', 'p.toml').diagnostics[0]!;
    expect(applyFix('meta.default_acton = "ask"\n', dotted.fixes![0]!)).toBe('meta.default_action = "ask"\n');
    // An array-of-tables header: the name inside the brackets.
    const header = checkPolicyText('[[rules]]\nid = "a"\n', 'p.toml').diagnostics[0]!;
    expect(header).toMatchObject({ code: 'unknown-key', line: 1, column: 1 });
    expect(applyFix('[[rules]]\nid = "a"\n', header.fixes![0]!)).toBe('[[rule]]\nid = "a"\n');
  });

  it('an invalid regex: the JavaScript spelling of a Python group, or the text matched literally', () => {
    const text = readFileSync(join(CORPUS, 'fix-bad-regex.gate.toml'), 'utf8');
    const [d] = checkPolicyText(text, 'p.toml').diagnostics as [Diagnostic];
    expect(d.fixes?.map((f) => [f.title, f.newText, f.preferred])).toEqual([
      ['Use JavaScript named groups: (?<name>…)', '"(?<verb>push|fetch) --force"', true],
      ['Match the text literally (escape the regex characters)', '"\\\\(\\\\?P<verb>push\\\\|fetch\\\\) --force"', false],
    ]);
    const literal = applyFix(text, d.fixes![1]!);
    const loaded = checkPolicyText(literal, 'p.toml');
    expect(loaded.diagnostics).toEqual([]);
    // A literal string keeps its quotes; a backslash needs none there.
    const single = checkPolicyText("[[rule]]\nid = \"a\"\naction = \"deny\"\nargv_regex = '[a-z'\n", 'p.toml').diagnostics[0]!;
    expect(single.fixes?.map((f) => f.newText)).toEqual(["'\\[a-z'"]);
  });

  it('a duplicate id: renamed to a free id, or the later rule removed with its comment', () => {
    const text = readFileSync(join(CORPUS, 'duplicate-ids.gate.toml'), 'utf8');
    const d = checkPolicyText(text, 'p.toml').diagnostics.find((x) => x.code === 'duplicate-id')!;
    expect(d.fixes?.map((f) => f.title)).toEqual(["Rename this rule's id to 'git-2'", "Remove this duplicate rule 'git' (rule #2)"]);
    expect(applyFix(text, d.fixes![0]!)).toContain('id = "git-2"');
    const removed = applyFix(text, d.fixes![1]!);
    expect(removed).not.toContain('The same id again');
    expect(removed.match(/\[\[rule\]\]/g)).toHaveLength(1);
  });

  it('a shadowed rule: moved above the rule that hides it (with its comment), or removed', () => {
    const text = readFileSync(join(CORPUS, 'fix-shadowed.gate.toml'), 'utf8');
    const d = checkPolicyText(text, 'p.toml').diagnostics[0]!;
    expect(d.fixes?.map((f) => f.title)).toEqual(["Move rule 'git-status' above rule 'no-git'", "Remove the unreachable rule 'git-status'"]);
    const moved = applyFix(text, d.fixes![0]!);
    expect(moved.indexOf('id = "git-status"')).toBeLessThan(moved.indexOf('id = "no-git"'));
    expect(moved.indexOf('# ...so this rule never decides.')).toBeLessThan(moved.indexOf('id = "git-status"'));
    expect(moved.indexOf('# Deny the whole of git first')).toBeLessThan(moved.indexOf('id = "no-git"'));
    expect(moved.indexOf('# Deny the whole of git first')).toBeGreaterThan(moved.indexOf('id = "git-status"'));
  });

  it('a shadowed rule that would hide the other in turn is only offered removal', () => {
    const text = '[[rule]]\nid = "a"\naction = "deny"\nexe_basename = "git"\n\n[[rule]]\nid = "b"\naction = "deny"\nexe_basename = "git"\n';
    const d = checkPolicyText(text, 'p.toml').diagnostics[0]!;
    expect(d.fixes?.map((f) => f.title)).toEqual(["Remove the unreachable rule 'b'"]);
  });

  it('check --json carries the fixes', () => {
    const d = check('fix-unknown-key.gate.toml').diagnostics[0] as Diagnostic & { fixes: Fix[] };
    expect((JSON.parse(JSON.stringify(d)) as { fixes: Fix[] }).fixes[0]?.newText).toBe('default_action');
  });
});

describe('checking reads, never runs', () => {
  it('examples naming devices and descriptors are not read (only regular files are hashed)', () => {
    const text = '[[rule]]\nid = "a"\naction = "deny"\nexe_basename = "zero"\nexamples_match = ["/dev/zero", "/proc/self/fd/0", "/dev/stdin"]\n';
    const ds = checkPolicyText(text, 'p.toml', { path: PATH }).diagnostics;
    expect(ds.map((d) => d.code)).toEqual(['example-mismatch', 'example-mismatch']);
    expect(ds[0]?.message).toContain("'/proc/self/fd/0' is not installed here");
  });
});

describe('formatter', () => {
  it('prints FILE:LINE:COL: severity: message [code], one per line', () => {
    const ds = checkPolicyText('[meta]\ndefault_acton = 1\n', 'x.gate.toml').diagnostics;
    expect(formatDiagnostic(ds[0]!)).toBe("x.gate.toml:2:1: error: unknown key 'default_acton' in [meta]; did you mean 'default_action'? [unknown-key]");
    expect(formatDiagnostics(ds)).toBe(formatDiagnostic(ds[0]!) + '\n');
    expect(formatDiagnostics([])).toBe('');
  });
});
