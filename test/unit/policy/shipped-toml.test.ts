// The shipped policies and profiles parsed at build time (src/core/policy/shipped-toml.ts, the table made by
// scripts/bundle-steps.mjs): a text gets the build's document only when it is byte for byte a shipped file,
// the document is the parser's own, and each caller gets its own copy. Through a real `agent-gate run`:
// test/native/gate-shipped-policy.test.ts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseToml } from '../../../src/core/policy/load';
import { shippedDocument, shippedTomlTable, tomlTextHash } from '../../../src/core/policy/shipped-toml';

const ROOT = path.join(__dirname, '..', '..', '..');
let built: { table: Record<string, [number, string]>; left: string[] };
let table: ReturnType<typeof shippedTomlTable>;
beforeAll(async () => {
  // The table exactly as the build makes it.
  const steps = await import('../../../scripts/bundle-steps.mjs');
  built = steps.shippedTomlTable(ROOT);
  table = shippedTomlTable(JSON.stringify(built.table));
});
const shipped = [
  ...['default.gate.toml', 'strict.gate.toml', 'permissive.gate.toml'].map((f) => path.join(ROOT, 'policies', f)),
  ...fs.readdirSync(path.join(ROOT, 'policies', 'agents')).map((f) => path.join(ROOT, 'policies', 'agents', f)),
];

describe('shipped policies parsed at build time', () => {
  it('every shipped policy and profile is in the table, and its document is exactly what the parser makes', () => {
    expect(built.left).toEqual([]);
    expect(Object.keys(built.table).length).toBe(shipped.length);
    for (const file of shipped) {
      const text = fs.readFileSync(file, 'utf8');
      const doc = shippedDocument(text, table);
      expect(doc, file).toBeDefined();
      // Deep and strict: prototypes too (the parser's tables have none).
      expect(isDeepStrictEqual(doc, parseToml(text)), file).toBe(true);
      expect(Object.getPrototypeOf(doc)).toBeNull();
    }
  });

  it('an edited text, even of the same length, is not taken from the table', () => {
    const text = fs.readFileSync(path.join(ROOT, 'policies', 'default.gate.toml'), 'utf8');
    // One character of a value changed: same length, another policy.
    const i = text.indexOf('action = "deny"');
    expect(i).toBeGreaterThan(0);
    const edited = `${text.slice(0, i)}action = "allo"${text.slice(i + 'action = "deny"'.length)}`;
    expect(edited.length).toBe(text.length);
    expect(shippedDocument(edited, table)).toBeUndefined();
    expect(shippedDocument(`${text}\n`, table)).toBeUndefined();
    expect(shippedDocument('', table)).toBeUndefined();
  });

  it('the key is the text\'s hash, not its length: a planted entry for another text is never reached', () => {
    const text = fs.readFileSync(path.join(ROOT, 'policies', 'strict.gate.toml'), 'utf8');
    const planted = shippedTomlTable(JSON.stringify({ [tomlTextHash(`${text.slice(0, -1)}#`)]: [text.length, '{"planted":true}'] }));
    expect(shippedDocument(text, planted)).toBeUndefined();
    expect(shippedDocument(`${text.slice(0, -1)}#`, planted)).toEqual(Object.assign(Object.create(null), { planted: true }));
  });

  it('each caller gets a document of its own (the loader removes wrong values from the one it checks)', () => {
    const text = fs.readFileSync(path.join(ROOT, 'policies', 'default.gate.toml'), 'utf8');
    const a = shippedDocument(text, table) as Record<string, unknown>;
    delete a.rule;
    (a.meta as Record<string, unknown>).default_action = 'deny';
    const b = shippedDocument(text, table) as Record<string, unknown>;
    expect(isDeepStrictEqual(b, parseToml(text))).toBe(true);
  });

  it('without a table (under the test runner) every text is parsed', () => {
    const text = fs.readFileSync(path.join(ROOT, 'policies', 'default.gate.toml'), 'utf8');
    expect(shippedDocument(text, shippedTomlTable(undefined))).toBeUndefined();
    expect(shippedDocument(text)).toBeUndefined();
  });
});
