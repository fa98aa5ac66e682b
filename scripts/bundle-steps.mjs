// What the build does to the bundles beyond esbuild's options, shared with the tests that build one (issue 12:
// start-up). The shipped policies and agent profiles parsed now, for the bundles (src/core/policy/shipped-toml.ts):
// esbuild `define` for AGENT_GATE_SHIPPED_TOML, `{ [sha256 of the text]: [text length, document as JSON] }`.
// Parsed with the smol-toml the bundles are built with; a file whose document JSON would not carry exactly
// (a date, an integer beyond 2^53, a non-finite float) is left out and parsed at run time as any other.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parse } from 'smol-toml';

const nullPrototype = (_key, value) => (value !== null && typeof value === 'object' && !Array.isArray(value) ? Object.assign(Object.create(null), value) : value);

export function shippedTomlTable(root) {
  const table = {};
  const left = [];
  for (const dir of [join(root, 'policies'), join(root, 'policies', 'agents')]) {
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.toml')).sort()) {
      const text = readFileSync(join(dir, name), 'utf8');
      let doc;
      try {
        doc = parse(text);
      } catch {
        left.push(name); // a broken shipped file is reported by the loader, with its place
        continue;
      }
      const json = JSON.stringify(doc);
      if (!isDeepStrictEqual(JSON.parse(json, nullPrototype), doc)) {
        left.push(name);
        continue;
      }
      table[createHash('sha256').update(text, 'utf8').digest('hex')] = [text.length, json];
    }
  }
  return { table, left };
}

/** esbuild's `define` for a bundle that loads policies. */
export function shippedTomlDefine(root) {
  const { table, left } = shippedTomlTable(root);
  if (left.length) console.warn(`build: parsed at run time, not at build time: ${left.join(', ')}`);
  return { AGENT_GATE_SHIPPED_TOML: JSON.stringify(JSON.stringify(table)) };
}

// esbuild turns each `import * as fs from 'node:fs'` into its own copy of the module's properties
// (`__toESM`: a getter defined per property, ~100 for fs, at each of ~40 imports: most of the CLI bundle's
// top-level time). One copy per module is enough (an ES module namespace is one object for all importers):
// the helper is kept under another name and called once per module and mode. Edited on its own line and on
// the first, so the source map's lines stay true.
export function shareToESM(file) {
  const text = readFileSync(file, 'utf8');
  const helper = 'var __toESM = (mod, isNodeMode, target) => (';
  if (!text.startsWith('"use strict";\n') || text.split(helper).length !== 2) throw new Error(`${file}: esbuild's __toESM helper is not where the build expects it (esbuild upgraded?)`);
  const shared =
    'var __toESMShared = new WeakMap(), __toESM = (mod, isNodeMode) => { if (mod == null || (typeof mod !== "object" && typeof mod !== "function")) return __toESMCopy(mod, isNodeMode); ' +
    'let c = __toESMShared.get(mod); if (!c) __toESMShared.set(mod, (c = [])); const k = isNodeMode ? 1 : 0; return (c[k] ??= __toESMCopy(mod, isNodeMode)); };';
  writeFileSync(file, '"use strict"; ' + shared + text.slice('"use strict";'.length).replace(helper, 'var __toESMCopy = (mod, isNodeMode, target) => ('));
}
