import { describe, expect, it } from 'vitest';
import { TomlPositionIndex } from '../../../src/core/policy/toml-positions';

const SRC = [
  '# comment with [[rule]] and key = "x"', // 1
  '[meta]', // 2
  'version = 1  # trailing', // 3
  '', // 4
  '[[rule]]', // 5
  'id = "a"', // 6
  "argv_regex = '[a-z]+ = \"q\"'", // 7
  'text = """', // 8
  '[[rule]]', // 9  (inside a multi-line string: not a header)
  'fake = 1', // 10
  '"""', // 11
  'exe_basename = [', // 12
  '  "git", # a comment ] with a bracket', // 13
  "  'hg',", // 14
  '  ["nested", "array"],', // 15
  '  { inline = "table" },', // 16
  ']', // 17
  '', // 18
  '  [[ rule ]]  ', // 19
  '"quoted key" = 2', // 20
  'dotted . key = 3', // 21
  "lit = '''a", // 22
  "b = 1'''", // 23
  'after = true', // 24
  '[filesystem]', // 25
  'read_globs = ["/a", "/b"]', // 26
].join('\n');

describe('TomlPositionIndex', () => {
  const idx = new TomlPositionIndex(SRC);
  const keyAt = (path: (string | number)[]) => {
    const k = idx.key(path);
    return k ? `${k.key.line}:${k.key.column}` : 'missing';
  };

  it('finds table headers and counts arrays of tables, ignoring comments and strings', () => {
    expect(idx.table(['meta'])?.header).toMatchObject({ line: 2, column: 1 });
    expect(idx.table(['rule', 0])?.header).toMatchObject({ line: 5, column: 1 });
    expect(idx.table(['rule', 1])?.header).toMatchObject({ line: 19, column: 3 });
    expect(idx.table(['rule', 2])).toBeUndefined();
    expect(idx.table(['filesystem'])?.header.line).toBe(25);
  });

  it('finds keys inside tables', () => {
    expect(keyAt(['meta', 'version'])).toBe('3:1');
    expect(keyAt(['rule', 0, 'id'])).toBe('6:1');
    expect(keyAt(['rule', 0, 'argv_regex'])).toBe('7:1');
    expect(keyAt(['rule', 0, 'text'])).toBe('8:1');
    expect(keyAt(['rule', 0, 'fake'])).toBe('missing');
    expect(keyAt(['rule', 0, 'exe_basename'])).toBe('12:1');
    expect(keyAt(['rule', 1, 'quoted key'])).toBe('20:1');
    expect(keyAt(['rule', 1, 'dotted', 'key'])).toBe('21:1');
    expect(keyAt(['rule', 1, 'dotted'])).toBe('21:1');
    expect(keyAt(['rule', 1, 'lit'])).toBe('22:1');
    expect(keyAt(['rule', 1, 'b'])).toBe('missing');
    expect(keyAt(['rule', 1, 'after'])).toBe('24:1');
  });

  it('gives value spans and array element spans across lines', () => {
    const k = idx.key(['rule', 0, 'exe_basename']);
    expect(k?.value).toMatchObject({ line: 12, column: 16, endLine: 17, endColumn: 2 });
    expect(k?.elements.map((e) => `${e.line}:${e.column}-${e.endColumn}`)).toEqual(['13:3-8', '14:3-7', '15:3-22', '16:3-23']);
    expect(idx.key(['meta', 'version'])?.value).toMatchObject({ line: 3, column: 11, endColumn: 12 });
    expect(idx.key(['rule', 0, 'argv_regex'])?.value).toMatchObject({ line: 7, column: 14, endColumn: 28 });
    const globs = idx.key(['filesystem', 'read_globs']);
    expect(globs?.elements.map((e) => e.column)).toEqual([15, 21]);
  });

  it('locate falls back to the nearest known parent', () => {
    expect(idx.locate(['rule', 1, 'missing'])).toMatchObject({ line: 19, column: 3 });
    expect(idx.locate(['rule', 0, 'exe_basename'], 'value', 1)).toMatchObject({ line: 14, column: 3 });
    expect(idx.locate(['nothing'])).toMatchObject({ line: 1, column: 1 });
  });

  it('handles CRLF line endings', () => {
    const crlf = new TomlPositionIndex('[meta]\r\nversion = 1\r\n[[rule]]\r\nid = "x"\r\n');
    expect(crlf.key(['rule', 0, 'id'])?.key).toMatchObject({ line: 4, column: 1 });
    expect(crlf.key(['meta', 'version'])?.value).toMatchObject({ line: 2, column: 11, endColumn: 12 });
  });

  it('handles escaped quotes in basic strings', () => {
    const esc = new TomlPositionIndex('a = "x\\" [[rule]] y = 1"\nb = 2\n');
    expect(esc.key(['b'])?.key).toMatchObject({ line: 2, column: 1 });
    expect(esc.key(['y'])).toBeUndefined();
  });
});
