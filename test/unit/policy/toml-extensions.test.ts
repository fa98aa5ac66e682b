// The schema in the engines of the TOML extensions it is contributed to: taplo (Even Better TOML's, from
// @taplo/lib) and tombi (Tombi's, its Linux CLI from npm), each reading policies/gate.schema.json from a file
// as the extension's tomlValidation entry tells them. Where the user has one of them installed, their
// validation and ours must never contradict: every structure the loader accepts they accept, everything it
// rejects for its structure they reject, and on the corpus tombi flags exactly the lines our structural
// errors are on.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPolicyFile } from '../../../src/core/policy/index';
import { BAD, GOOD, vocabularyCases } from './schema-corpus';

interface LintResult {
  errors: { error: string }[];
}
interface TaploLib {
  Taplo: { initialize(env: object): Promise<{ lint(toml: string, options: object): Promise<LintResult> }> };
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Taplo } = require('@taplo/lib') as TaploLib;

const ROOT = join(__dirname, '..', '..', '..');
const SCHEMA = join(ROOT, 'policies', 'gate.schema.json');
const CORPUS = join(ROOT, 'test', 'fixtures', 'policies');
const TOMBI = join(ROOT, 'node_modules', '@tombi-toml', 'cli-linux-x64', 'tombi');
const STRUCTURAL = new Set(['unknown-key', 'wrong-type', 'bad-value', 'missing-key', 'not-absolute', 'unsupported-version']);

const dir = mkdtempSync(join(tmpdir(), 'gate-toml-ext-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let taplo: Awaited<ReturnType<TaploLib['Taplo']['initialize']>>;
beforeAll(async () => {
  // taplo's Node environment: files only (no network), as Even Better TOML reads a file:// schema.
  taplo = await Taplo.initialize({
    now: () => new Date(),
    envVar: (n: string) => process.env[n],
    envVars: () => Object.entries(process.env),
    stdErrAtty: () => false,
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    glob: () => [],
    readFile: (p: string) => Promise.resolve(readFileSync(p)),
    writeFile: () => Promise.reject(new Error('read-only')),
    urlToFilePath: (u: string) => fileURLToPath(u),
    isAbsolute: (p: string) => isAbsolute(p),
    cwd: () => process.cwd(),
    findConfigFile: () => undefined,
  });
}, 60_000);

async function taploErrors(text: string): Promise<string[]> {
  const r = await taplo.lint(text, { config: { schema: { url: pathToFileURL(SCHEMA).toString(), enabled: true } } });
  return r.errors.map((e) => e.error);
}

/** tombi lint of each file (one run per file: a run over many files interleaves their messages), in a
 *  directory whose tombi.toml associates the schema with *.gate.toml. */
function tombiErrors(files: Record<string, string>): Record<string, { line: number; message: string }[]> {
  const d = mkdtempSync(join(dir, 'tombi-'));
  writeFileSync(join(d, 'tombi.toml'), `toml-version = "v1.0.0"\n\n[[schemas]]\npath = ${JSON.stringify(SCHEMA)}\ninclude = ["*.gate.toml"]\n`);
  const out: Record<string, { line: number; message: string }[]> = {};
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(d, name), text);
    const r = spawnSync(TOMBI, ['lint', '--offline', name], { cwd: d, encoding: 'utf8' });
    expect(r.error, 'tombi did not run').toBeUndefined();
    // "  Error: MESSAGE\n    at FILE:LINE:COL", coloured.
    // eslint-disable-next-line no-control-regex
    const plain = (r.stdout + r.stderr).replace(/\x1b\[[0-9;]*m/g, '');
    out[name] = [...plain.matchAll(/(?:Error|Warning): (.*)\n\s+at \S+?:(\d+):\d+/g)].map((m) => ({ line: Number(m[2]), message: m[1] as string }));
  }
  return out;
}

const cases = vocabularyCases();
const good = [...GOOD, ...cases.map((c) => c.good)];
const bad = [...BAD, ...cases.flatMap((c) => [c.wrongType, ...(c.typo ? [c.typo] : [])])];

describe('taplo (Even Better TOML) with the contributed schema', () => {
  it(`accepts all ${good.length} documents the loader accepts`, async () => {
    for (const text of good) expect(await taploErrors(text), text).toEqual([]);
  }, 120_000);
  it(`rejects all ${bad.length} documents the loader rejects for their structure`, async () => {
    for (const text of bad) expect((await taploErrors(text)).length, text).toBeGreaterThan(0);
  }, 120_000);
  it('accepts the shipped policies', async () => {
    for (const f of ['default.gate.toml', 'strict.gate.toml', 'permissive.gate.toml']) expect(await taploErrors(readFileSync(join(ROOT, 'policies', f), 'utf8')), f).toEqual([]);
  });
});

describe('tombi (Tombi) with the contributed schema', () => {
  it(`accepts all ${good.length} documents the loader accepts, rejects all ${bad.length} it rejects`, () => {
    const files: Record<string, string> = Object.fromEntries([...good.map((t, i): [string, string] => [`good-${i}.gate.toml`, t]), ...bad.map((t, i): [string, string] => [`bad-${i}.gate.toml`, t])]);
    const errors = tombiErrors(files);
    for (const [name, text] of Object.entries(files)) {
      if (name.startsWith('good-')) expect(errors[name], text).toEqual([]);
      else expect(errors[name]?.length, text).toBeGreaterThan(0);
    }
  }, 120_000);

  it('on the corpus, flags exactly the lines of our structural errors', () => {
    const names = readdirSync(CORPUS).filter((f) => f.endsWith('.gate.toml') && f !== 'syntax.gate.toml');
    const errors = tombiErrors(Object.fromEntries(names.map((f) => [f, readFileSync(join(CORPUS, f), 'utf8')])));
    for (const f of names) {
      const ours = checkPolicyFile(join(CORPUS, f)).diagnostics.filter((x) => x.severity === 'error' && STRUCTURAL.has(x.code)).map((x) => x.line);
      expect([...new Set(errors[f]?.map((e) => e.line))].sort((a, b) => a - b), `${f}: ${JSON.stringify(errors[f])}`).toEqual([...new Set(ours)].sort((a, b) => a - b));
    }
  }, 60_000);
});
