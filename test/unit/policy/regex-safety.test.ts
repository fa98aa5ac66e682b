import { describe, expect, it } from 'vitest';
import { enableRegexBacktrackLimit, findCatastrophicRegex, linearCapable } from '../../../src/core/policy/regex-safety';

describe('findCatastrophicRegex', () => {
  it.each([
    '(a+)+',
    '^(a+)+$',
    '(a*)*',
    '(.*)*',
    '(.*)+x',
    '(\\w+\\s?)*$',
    '((ab)+)+',
    '(?:a+)+',
    '(a|a)*',
    '(a|aa)+',
    '(?<n>x+)*',
    '(a{1,}){2,}',
  ])('rejects %s', (p) => {
    expect(findCatastrophicRegex(p)).not.toBeNull();
  });

  it.each([
    '^git (status|log|diff)( |$)',
    '(^|\\s)-[a-zA-Z]*[rRf][a-zA-Z]*\\s+/(\\s|$)',
    'a+b+c*',
    '(ab)+',
    '(a|b)*',
    '[(a+)+]',
    '\\(a+\\)+',
    '^\\S+( -C \\S+| -c \\S+| --[^ ]+){0,4} push( |$)',
    '(x+){2}',
    '(?=a+)b',
  ])('accepts %s', (p) => {
    expect(findCatastrophicRegex(p)).toBeNull();
  });

  // Patterns V8's linear-time engine cannot run (lookaround, backreference) keep backtracking: the stricter
  // shapes apply to them (red-team R19).
  it.each([
    '(?=x)(\\d|\\w)*!',
    '(?!-)([ab]|a)*c',
    '(?<=x)(.|x)+y',
    '(?=x)(.*a){12}',
    '(a)\\1(\\S|\\w)*$',
    '(?!-)(\\w|_)*!',
    '(?!-)(a?b|b)*c',
  ])('rejects %s (backtracking only)', (p) => {
    expect(findCatastrophicRegex(p)).not.toBeNull();
  });

  it.each(['(?=x)(\\d|[a-z])*!', '(?!-)(ab|b)*c', '(?=x)(.*a){1}', '(?!-)(x+){0,1}y'])('accepts %s (backtracking only, no overlap)', (p) => {
    expect(findCatastrophicRegex(p)).toBeNull();
  });

  // The linear-time fallback makes these safe: V8 re-runs them in linear time past 50 000 backtracks.
  it.each([
    ['^\\S+ (\\d|\\w)*!$', 'x ' + '1'.repeat(5000)],
    ['([ab]|a)*c', 'a'.repeat(5000)],
    ['(.*a){12}', 'a'.repeat(11) + 'b'.repeat(3000)],
    ['.*a.*a.*a.*a.*a.*a.*a.*a.*a.*a', 'a'.repeat(9) + 'b'.repeat(3000)],
  ])('lets V8 run %s in linear time on a hostile argv', (p, argv) => {
    expect(linearCapable(p)).toBe(true);
    expect(findCatastrophicRegex(p)).toBeNull();
    enableRegexBacktrackLimit();
    // Without the fallback each of these runs for minutes to hours; the test's own timeout is the bound.
    expect(new RegExp(p).test(argv)).toBe(false);
  });

  it('reports the offset of the risky group', () => {
    expect(findCatastrophicRegex('abc(d+)+')?.offset).toBe(3);
  });
});
