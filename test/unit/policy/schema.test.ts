// policies/gate.schema.json (for editors) and the loader (for the gate) must accept and reject the same
// structures. The corpus below covers every table and key; semantic checks the schema cannot express
// (regex validity, duplicate ids, shadowing, ${VAR}) are tested in diagnostics.test.ts.
//
// ajv is not a direct dependency: it comes with eslint (devDependency), and ajv 8 validates the draft-4
// keywords the schema uses (type, enum, properties, additionalProperties, required, items, oneOf, pattern,
// minimum/maximum, minLength); its draft-4 meta-schema is not bundled, so schema validation is turned off.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { describe, expect, it } from 'vitest';
import { loadPolicyText } from '../../../src/core/policy/index';
import { parseToml } from '../../../src/core/policy/load';
import { policyJsonSchemaText } from '../../../src/core/policy/schema';
import { MATCH_KEYS, POLICY_FORMAT, keyAt, tableKeys, type TableSpec } from '../../../src/core/policy/vocabulary';
import { BAD, GOOD, vocabularyCases } from './schema-corpus';

interface JsonSchemaNode {
  $schema?: string;
  properties?: Record<string, JsonSchemaNode>;
  items?: JsonSchemaNode;
  description?: string;
}

const POLICIES = join(__dirname, '..', '..', '..', 'policies');
const schema = JSON.parse(readFileSync(join(POLICIES, 'gate.schema.json'), 'utf8')) as JsonSchemaNode;
const validate = new Ajv({ strict: false, validateSchema: false, allErrors: true }).compile(schema);

const STRUCTURAL_CODES = new Set(['unknown-key', 'wrong-type', 'bad-value', 'missing-key', 'unsupported-version', 'unsafe-key', 'not-absolute']);


function loaderAccepts(text: string): boolean {
  const r = loadPolicyText(text, 'p.toml', { env: { HOME: '/home/me' }, workspace: '/work/ws', exists: () => true, realpath: () => '/x' });
  const structural = r.diagnostics.filter((d) => d.severity === 'error' && STRUCTURAL_CODES.has(d.code));
  const other = r.diagnostics.filter((d) => d.severity === 'error' && !STRUCTURAL_CODES.has(d.code));
  expect(other, 'corpus entries must only have structural problems').toEqual([]);
  return structural.length === 0;
}

function schemaAccepts(text: string): boolean {
  return validate(parseToml(text)) === true;
}

describe('gate.schema.json agrees with the loader', () => {
  it('is a draft-4 schema', () => {
    expect(schema.$schema).toBe('http://json-schema.org/draft-04/schema#');
  });

  it.each(GOOD)('both accept %j', (text) => {
    expect(loaderAccepts(text)).toBe(true);
    expect(schemaAccepts(text)).toBe(true);
  });

  it.each(BAD)('both reject %j', (text) => {
    expect(loaderAccepts(text)).toBe(false);
    expect(schemaAccepts(text)).toBe(false);
  });

  it.each(['default.gate.toml', 'strict.gate.toml', 'permissive.gate.toml', 'faraday/claude-combined-policy.toml'])('accepts shipped %s', (f) => {
    expect(schemaAccepts(readFileSync(join(POLICIES, f), 'utf8'))).toBe(true);
  });

  it('describes every key of the vocabulary, with hover text, and no other', () => {
    const walk = (table: TableSpec, node: JsonSchemaNode | undefined, where: string): void => {
      const keys = tableKeys(table);
      expect(Object.keys(node?.properties ?? {}).sort(), where).toEqual(Object.keys(keys).sort());
      for (const [k, spec] of Object.entries(keys)) {
        const child = node?.properties?.[k];
        expect(child?.description, `${where}.${k}`).toMatch(/\w{3}/);
        if (spec.type === 'table') walk(spec.table!, child, `${where}.${k}`);
        if (spec.type === 'table-array') walk(spec.table!, child?.items, `${where}.${k}`);
      }
    };
    walk(POLICY_FORMAT, schema, 'root');
  });
});

describe('policies/gate.schema.json is generated from the vocabulary', () => {
  it('equals the generated schema (run `npm run schema` after changing vocabulary.ts)', () => {
    expect(readFileSync(join(POLICIES, 'gate.schema.json'), 'utf8')).toBe(policyJsonSchemaText());
  });
});

// Every key of the vocabulary, generated: a document with its example value loads and validates; the same
// key with a value of the wrong type, or a misspelt, is rejected by both. A key added to vocabulary.ts is
// covered here without writing a test.
describe('the loader validates against the vocabulary, key by key', () => {
  const cases = vocabularyCases();

  it('covers every section', () => {
    expect(new Set(cases.map((c) => c.where.split('.')[0]))).toEqual(new Set(Object.keys(POLICY_FORMAT.keys)));
  });
  it.each(cases)('$where: its example is accepted by both', (c) => {
    expect(loaderAccepts(c.good), c.good).toBe(true);
    expect(schemaAccepts(c.good), c.good).toBe(true);
  });
  it.each(cases)('$where: a value of another type is rejected by both', (c) => {
    expect(loaderAccepts(c.wrongType), c.wrongType).toBe(false);
    expect(schemaAccepts(c.wrongType), c.wrongType).toBe(false);
  });
  it.each(cases.filter((c) => c.typo))('$where: a misspelt key is rejected by both', (c) => {
    expect(loaderAccepts(c.typo), c.typo).toBe(false);
    expect(schemaAccepts(c.typo), c.typo).toBe(false);
  });
  it('defaults in the vocabulary are what a policy without the key gets', () => {
    const p = loadPolicyText('[filesystem]\n[network]\n', 'p.toml', { env: {}, exists: () => false }).policy!;
    expect(p.meta).toEqual({ version: 1, defaultAction: 'deny', onPolicyError: 'deny', onSupervisorTimeoutMs: 1000 });
    expect(p.approval).toEqual({ timeoutMs: 120000, onTimeout: 'deny', maxPending: 5, maxPerMinute: 30 });
    expect([p.filesystem.requireEnforced, p.network.requireEnforced]).toEqual([true, true]);
    expect([keyAt(['meta', 'default_action'])?.default, keyAt(['approval', 'max_pending'])?.default]).toEqual(['deny', 5]);
  });
  it('gives every match key a _not form with the same type', () => {
    for (const k of MATCH_KEYS) {
      expect(keyAt(['rule', `${k}_not`])).toMatchObject({ type: keyAt(['rule', k])?.type, negates: k });
    }
    expect(keyAt(['rule', 'id_not'])).toBeUndefined();
  });
});
