// The tolerant reader: on well-formed policies it finds the same tables and keys as smol-toml; on half-typed
// text it still says where the cursor is. A `|` in the texts below marks the cursor.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseToml } from '../../../src/core/policy/load';
import { placeAt, readOutline, type CursorPlace } from '../../../src/core/policy/tolerant';

const POLICIES = join(__dirname, '..', '..', '..', 'policies');
const CORPUS = join(__dirname, '..', '..', 'fixtures', 'policies');

function at(textWithCursor: string): CursorPlace {
  const offset = textWithCursor.indexOf('|');
  const text = textWithCursor.slice(0, offset) + textWithCursor.slice(offset + 1);
  const before = text.slice(0, offset).split('\n');
  return placeAt(text, before.length, (before[before.length - 1] as string).length + 1).place;
}

/** The full dotted path of every leaf key smol-toml sees (arrays of tables flattened by index). */
function parsedKeys(doc: Record<string, unknown>): string[] {
  const out: string[] = [];
  const walk = (v: unknown, tablePath: string[], keyPath: string[]): void => {
    if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'object' && x !== null && !Array.isArray(x))) {
      v.forEach((t, i) => walk(t, [...tablePath, ...keyPath, String(i)], []));
    } else if (typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date)) {
      for (const [k, x] of Object.entries(v)) walk(x, tablePath, [...keyPath, k]);
    } else {
      out.push([...tablePath, ...keyPath].join('.'));
    }
  };
  walk(doc, [], []);
  return out.sort();
}

function outlineKeys(text: string): string[] {
  return readOutline(text)
    .tables.flatMap((t) => t.keys.map((k) => [...t.names, ...(t.array ? [String(t.index)] : []), ...k.parts].join('.')))
    .sort();
}

describe('outline of well-formed policies agrees with smol-toml', () => {
  const files = [
    ...readdirSync(POLICIES).filter((f) => f.endsWith('.toml')).map((f) => join(POLICIES, f)),
    ...readdirSync(join(POLICIES, 'faraday')).map((f) => join(POLICIES, 'faraday', f)),
    ...readdirSync(CORPUS).filter((f) => f.endsWith('.toml') && f !== 'syntax.gate.toml').map((f) => join(CORPUS, f)),
  ];
  it.each(files)('%s', (file) => {
    const text = readFileSync(file, 'utf8');
    expect(outlineKeys(text)).toEqual(parsedKeys(parseToml(text)));
  });

  it('gives each [[rule]] its index, header range and string values', () => {
    const text = '[meta]\nversion = 1\n\n[[rule]]\nid = "a"\naction = "deny"\n\n[[rule]]\nid = \'b\'\n';
    const rules = readOutline(text).tables.filter((t) => t.names[0] === 'rule');
    expect(rules.map((r) => [r.index, r.headerRange?.line, r.keys.find((k) => k.parts[0] === 'id')?.stringValue])).toEqual([
      [0, 4, 'a'],
      [1, 8, 'b'],
    ]);
    expect(rules[0]?.keys[0]?.nameRange).toEqual({ line: 5, column: 1, endLine: 5, endColumn: 3 });
  });
});

describe('the place under the cursor, in half-typed text', () => {
  it('a section header being typed', () => {
    expect(at('[meta]\nversion = 1\n[|')).toMatchObject({ kind: 'header', array: false, prefix: '' });
    expect(at('[[ru|')).toMatchObject({ kind: 'header', array: true, prefix: 'ru' });
    expect(at('[fil|]\n')).toMatchObject({ kind: 'header', array: false, prefix: 'fil', range: { line: 1, column: 2, endLine: 1, endColumn: 5 } });
    expect(at('[[|]]')).toMatchObject({ kind: 'header', array: true, prefix: '' });
  });

  it('a key being typed, in the table it belongs to', () => {
    const p = at('[meta]\nversion = 1\n\n[[rule]]\nid = "x"\nact|\n');
    expect(p).toMatchObject({ kind: 'key', prefix: 'act', word: 'act', range: { line: 6, column: 1, endLine: 6, endColumn: 4 } });
    expect(p.kind === 'key' && [p.table.names, p.table.index]).toEqual([['rule'], 0]);
    const q = at('[[rule]]\nid = "a"\n[[rule]]\n  exe_b|asename = "git"\n');
    expect(q).toMatchObject({ kind: 'key', prefix: 'exe_b', word: 'exe_basename' });
    expect(q.kind === 'key' && q.table.index).toBe(1);
  });

  it('an empty line in a table', () => {
    const p = at('[filesystem]\nread_globs = ["/**"]\n|\n[network]\n');
    expect(p).toMatchObject({ kind: 'key', prefix: '', lineIsEmpty: true });
    expect(p.kind === 'key' && p.table.names).toEqual(['filesystem']);
    expect(at('|')).toMatchObject({ kind: 'key', prefix: '', lineIsEmpty: true });
  });

  it('a value: after =, inside an unclosed string, inside a list', () => {
    expect(at('[[rule]]\naction = |')).toMatchObject({ kind: 'value', key: ['action'], quote: null, prefix: '' });
    expect(at('[[rule]]\naction = "de|')).toMatchObject({ kind: 'value', key: ['action'], quote: '"', prefix: 'de' });
    expect(at('[[rule]]\naction = "de|ny"\n')).toMatchObject({ kind: 'value', key: ['action'], quote: '"', prefix: 'de', word: 'deny' });
    expect(at('[meta]\ndefault_action = a|')).toMatchObject({ kind: 'value', key: ['default_action'], quote: null, prefix: 'a' });
    expect(at('[filesystem]\nread_globs = ["/usr/**", |]')).toMatchObject({ kind: 'value', key: ['read_globs'], inArray: true });
  });

  it('keeps its place after broken lines above', () => {
    const text = '[meta]\ndefault_action = "deny\nversion = \n\n[[rule]]\nid = "a"\nexe_basename = [\n  "git",\n\n[[rule]]\nid = "b"\nre|\n';
    const p = at(text);
    expect(p).toMatchObject({ kind: 'key', prefix: 're' });
    expect(p.kind === 'key' && [p.table.names, p.table.index]).toEqual([['rule'], 1]);
  });

  it('inside an inline table, and in comments', () => {
    const p = at('rule = [{ id = "a", act| }]\n');
    expect(p).toMatchObject({ kind: 'key', prefix: 'act', inline: ['rule'] });
    expect(at('[meta]\n# a comm|ent\n')).toEqual({ kind: 'comment' });
    expect(at('[meta]\nversion = 1 # a comm|ent\n')).toEqual({ kind: 'comment' });
  });

  it('never throws or loops on junk', () => {
    const junk = ['[', '[[', ']]]', '= = =', '"""', "'''\n[a]", 'a.b.c. = {', '[a.\n', '{{{', 'x = [[[[', '\\', 'a = "\\', '[[rule]]\n\t\r\n"k', 'a = 1\r\nb = 2\r\n'];
    for (const j of junk) {
      for (let c = 0; c <= j.length; c++) {
        const before = j.slice(0, c).split('\n');
        expect(() => placeAt(j, before.length, (before[before.length - 1] as string).length + 1)).not.toThrow();
      }
    }
  });
});
