// Completion, hover and rule locations from the vocabulary, at cursor positions (`|`) in whole and
// half-typed policies.
import { describe, expect, it } from 'vitest';
import { completionsAt, hoverAt, ruleLocations, type CompletionEntry } from '../../../src/core/policy/assist';
import { RULE_KEYS } from '../../../src/core/policy/vocabulary';

function cursor(textWithCursor: string): [string, number, number] {
  const offset = textWithCursor.indexOf('|');
  const text = textWithCursor.slice(0, offset) + textWithCursor.slice(offset + 1);
  const before = text.slice(0, offset).split('\n');
  return [text, before.length, (before[before.length - 1] as string).length + 1];
}
const complete = (t: string): CompletionEntry[] => completionsAt(...cursor(t));
const labels = (t: string): string[] => complete(t).map((c) => c.label);
const hover = (t: string) => hoverAt(...cursor(t));

describe('completion', () => {
  it('section names in a header, only those not written yet ([[…]] always)', () => {
    expect(labels('[meta]\nversion = 1\n[|]')).toEqual(['filesystem', 'network', 'unix_sockets', 'loopback', 'env', 'env.set', 'approval', 'session', 'agent']);
    expect(labels('[[|]]')).toEqual(['rule']);
    const unclosed = complete('[[ru|');
    expect(unclosed.map((c) => [c.label, c.insertText])).toEqual([['rule', 'rule]]']]);
    expect(unclosed[0]?.range).toEqual({ line: 1, column: 3, endLine: 1, endColumn: 5 });
  });

  it('at the top of an empty file: snippets for new sections, [[rule]] and [filesystem] among them', () => {
    const items = complete('|');
    expect(items.every((c) => c.kind === 'snippet')).toBe(true);
    expect(items.map((c) => c.label)).toEqual(['[meta]', '[[rule]]', '[filesystem]', '[network]', '[unix_sockets]', '[loopback]', '[env]', '[approval]', '[session]', '[agent]']);
    const rule = items.find((c) => c.label === '[[rule]]')!;
    expect(rule.insertText).toBe('[[rule]]\nid = "${1:rule-id}"\naction = "${2|allow,deny,ask|}"\nreason = "${3:why this rule exists}"\nexe_basename = "${4:program}"\n$0');
    expect(items.find((c) => c.label === '[filesystem]')?.insertText).toContain('"\\${WORKSPACE}/**"');
  });

  it('keys of the table the cursor is in, with docs, minus those already there', () => {
    const items = complete('[[rule]]\nid = "a"\n|');
    const names = items.filter((c) => c.kind === 'key').map((c) => c.label);
    expect(names).toEqual(Object.keys(RULE_KEYS).filter((k) => k !== 'id'));
    const action = items.find((c) => c.label === 'action')!;
    expect(action.insertText).toBe('action = "${1|allow,deny,ask|}"');
    expect(action.documentation).toContain('What happens to an exec this rule matches.');
    expect(action.documentation).toContain('`"deny"` — The exec fails with EACCES');
    expect(items.find((c) => c.label === 'exe_basename_not')?.detail).toBe('negation of exe_basename');
    // New sections can start here too, after the keys.
    expect(items.filter((c) => c.kind === 'snippet').map((c) => c.label)).toContain('[[rule]]');
  });

  it('a half-typed key: replaces the word, and only the key name when "=" follows', () => {
    const items = complete('[meta]\nversion = 1\ndefault_ac|\n');
    const item = items.find((c) => c.label === 'default_action')!;
    expect(item.range).toEqual({ line: 3, column: 1, endLine: 3, endColumn: 11 });
    expect(item.insertText).toBe('default_action = "${1|allow,deny,ask|}"');
    expect(complete('[meta]\ndefault_ac| = "deny"\n').find((c) => c.label === 'default_action')?.insertText).toBe('default_action');
    expect(complete('[approval]\ntim|').find((c) => c.label === 'timeout_ms')?.insertText).toBe('timeout_ms = ${1:120000}');
    expect(complete('[filesystem]\nrequire|').find((c) => c.label === 'require_enforced')?.insertText).toBe('require_enforced = ${1|true,false|}');
    expect(complete('[filesystem]\nread|').find((c) => c.label === 'read_globs')?.insertText).toBe('read_globs = [${1:"/**"}]');
  });

  it('enum values after =, inside quotes, and unquoted', () => {
    expect(complete('[[rule]]\naction = |').map((c) => [c.label, c.insertText])).toEqual([
      ['allow', '"allow"'],
      ['deny', '"deny"'],
      ['ask', '"ask"'],
    ]);
    const inQuotes = complete('[meta]\ndefault_action = "a|"\n');
    expect(inQuotes.map((c) => c.insertText)).toEqual(['allow', 'deny', 'ask']);
    expect(inQuotes[0]?.range).toEqual({ line: 2, column: 19, endLine: 2, endColumn: 20 });
    expect(inQuotes.find((c) => c.preselect)?.label).toBe('deny');
    expect(labels('[approval]\non_timeout = "|')).toEqual(['allow', 'deny']);
    expect(labels('[network]\nrequire_enforced = |')).toEqual(['true', 'false']);
    expect(labels('[meta]\nversion = |')).toEqual(['1']);
  });

  it('works below broken lines', () => {
    const text = '[meta]\ndefault_action = "deny\n\n[[rule]]\nid = "a"\nexe_basename = [\n  "git",\n\n[[rule]]\nid = "b"\nact|';
    expect(labels(text)).toContain('action');
    expect(labels(text)).not.toContain('id');
  });

  it('nothing in comments or free strings', () => {
    expect(complete('[meta]\n# default_a|')).toEqual([]);
    expect(complete('[[rule]]\nreason = "some|"')).toEqual([]);
  });
});

describe('hover', () => {
  it('on a key: its documentation, type and default', () => {
    const h = hover('[approval]\nmax_pe|nding = 5\n')!;
    expect(h.markdown).toContain('**max_pending** — an integer · 1–10000 · default `5`');
    expect(h.markdown).toContain('Requests waiting at once');
    expect(h.range).toEqual({ line: 2, column: 1, endLine: 2, endColumn: 12 });
    expect(hover('[[rule]]\nexe_glob_n|ot = "/x/*"\n')?.markdown).toContain('Negation of exe_glob');
    expect(hover('[[rule]]\nargv_re|gex = "x"\n')?.markdown).toContain('match key (argv); `argv_regex_not` negates it');
  });

  it('on a section header, an enum value and a rule id', () => {
    expect(hover('[filesy|stem]\n')?.markdown).toContain('**[filesystem]**');
    expect(hover('[[rule]]\naction = "de|ny"\n')?.markdown).toBe('`deny` — The exec fails with EACCES: the agent sees "Permission denied".');
    expect(hover('[[rule]]\nid = "no-c|url"\n')).toMatchObject({ ruleId: 'no-curl' });
  });

  it('nothing on unknown keys or plain values', () => {
    expect(hover('[meta]\nvers|ionx = 1\n')).toBeNull();
    expect(hover('[[rule]]\nreason = "wh|y"\n')).toBeNull();
  });
});

describe('rule locations', () => {
  it('every [[rule]] with its header and id, even when the file does not parse', () => {
    const text = '[meta]\nversion = 1\n\n[[rule]]\nid = "a"\naction = "deny\n\n[[rule]]\naction = "allow"\n';
    expect(ruleLocations(text)).toEqual([
      { index: 0, id: 'a', header: { line: 4, column: 1, endLine: 4, endColumn: 9 }, idRange: { line: 5, column: 6, endLine: 5, endColumn: 9 } },
      { index: 1, id: null, header: { line: 8, column: 1, endLine: 8, endColumn: 9 }, idRange: null },
    ]);
  });
});
