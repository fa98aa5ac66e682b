import { describe, expect, it } from 'vitest';
import { findCatastrophicRegex } from '../../../src/core/policy/regex-safety';

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

  it('reports the offset of the risky group', () => {
    expect(findCatastrophicRegex('abc(d+)+')?.offset).toBe(3);
  });
});
