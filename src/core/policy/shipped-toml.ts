// The shipped policies and agent profiles, parsed at build time (issue 12: start-up). Parsing the 20 KB
// default policy with smol-toml was about half of a policy load (~10 ms of CPU in a fresh process); the same
// document from JSON is ~1 ms. scripts/bundle-steps.mjs parses each shipped file with the parser this module
// stands in for and puts the result into the bundle (AGENT_GATE_SHIPPED_TOML: the sha256 of the text → the
// document as JSON), only for files whose document JSON carries exactly (checked there).
//
// Why this is sound where a cache of parsed policies was refused (docs/performance.md, third round): the
// table is part of the bundle, built from the same parser as the code that would parse — as trusted as the
// code itself, out of the agent's reach with it (SECURITY.md "The CLI's code cache") — and an entry is
// keyed by the sha256 of the very text being parsed, not by a path: a shipped file edited after the build,
// or any other text, has another hash and is parsed as before. A parse is a pure function of the text, so
// the table's answer is the parser's answer.
import { createHash } from 'node:crypto';

// Replaced by a string literal in the bundles (esbuild `define`: scripts/build.mjs, scripts/run-ts.mjs); absent
// under the test runner, which then parses every file.
declare const AGENT_GATE_SHIPPED_TOML: string | undefined;

/** sha256 (hex) of the text → its document as JSON; grouped by the text's length, so that a text of no
 *  shipped length is not hashed at all. */
type Table = Map<number, Map<string, string>>;

let builtIn: Table | undefined;

/** The table as the build wrote it: `{ [sha256]: [length, json] }`. */
export function shippedTomlTable(encoded: string | undefined): Table {
  const table: Table = new Map();
  if (encoded === undefined) return table;
  for (const [sha, [length, json]] of Object.entries(JSON.parse(encoded) as Record<string, [number, string]>)) {
    let byHash = table.get(length);
    if (!byHash) table.set(length, (byHash = new Map<string, string>()));
    byHash.set(sha, json);
  }
  return table;
}

function builtInTable(): Table {
  return (builtIn ??= shippedTomlTable(typeof AGENT_GATE_SHIPPED_TOML === 'string' ? AGENT_GATE_SHIPPED_TOML : undefined));
}

export function tomlTextHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** smol-toml's tables have no prototype (a key named `constructor` or `toString` is only data): so do these. */
function nullPrototype(_key: string, value: unknown): unknown {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? Object.assign(Object.create(null) as object, value) : value;
}

/**
 * The document the build parsed from exactly this text, as a fresh object (the loader removes wrong values
 * from the document it checks), or undefined when the text is not a shipped file's as built.
 */
export function shippedDocument(text: string, table: Table = builtInTable()): Record<string, unknown> | undefined {
  const byHash = table.get(text.length);
  if (!byHash) return undefined;
  const json = byHash.get(tomlTextHash(text));
  return json === undefined ? undefined : (JSON.parse(json, nullPrototype) as Record<string, unknown>);
}

/** How many shipped texts this bundle carries parsed (for `run -v` and the tests). */
export function shippedDocumentCount(): number {
  let n = 0;
  for (const byHash of builtInTable().values()) n += byHash.size;
  return n;
}
