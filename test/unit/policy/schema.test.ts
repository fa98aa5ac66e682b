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
import { RULE_KEYS, META_KEYS, FILESYSTEM_KEYS, NETWORK_KEYS, APPROVAL_KEYS } from '../../../src/core/policy/keys';

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

const GOOD: string[] = [
  '',
  '[meta]\nversion = 1\ndefault_action = "ask"\non_policy_error = "allow"\non_supervisor_timeout_ms = 250\n',
  '[[rule]]\nid = "a"\naction = "deny"\n',
  '[[rule]]\nid = "a"\naction = "allow"\nreason = "r"\nexe = "/usr/bin/git"\nexe_basename = ["git", "hg"]\nexe_glob = "/usr/bin/*"\n',
  '[[rule]]\nid = "a"\naction = "ask"\nargv_regex = ["^x", "y"]\nargv_contains = "-f"\nargv_host_in = ["github.com", "*.example.com"]\n',
  '[[rule]]\nid = "a"\naction = "deny"\ncwd_glob = "${HOME}/**"\nuid = [0, 1000]\nparent_exe = "/usr/bin/bash"\nparent_argv = "^bash"\n',
  '[[rule]]\nid = "a"\naction = "deny"\nexe_not = "/x"\nexe_basename_not = "x"\nexe_glob_not = "/x/*"\nargv_regex_not = "x"\nargv_contains_not = ["x"]\nargv_host_in_not = "x.org"\ncwd_glob_not = "/x"\nuid_not = 0\nparent_exe_not = "/x"\nparent_argv_not = "x"\n',
  '[[rule]]\nid = "a"\naction = "allow"\nexe_basename = "git"\nexamples_match = ["git status"]\nexamples_no_match = ["git push"]\n',
  '[filesystem]\nread_globs = ["/a/**"]\nwrite_globs = ["/tmp/**"]\nallow_globs = []\nexecute_globs = ["/opt/**"]\nrequire_enforced = false\nno_bootstrap_reads = true\n',
  '[network]\nconnect_tcp_ports = [443, 80]\nbind_tcp_ports = []\nrequire_enforced = true\n',
  '[approval]\ntimeout_ms = 1000\non_timeout = "allow"\nmax_pending = 3\nmax_per_minute = 60\n',
];

const BAD: string[] = [
  '[metaa]\n',
  'version = 1\n',
  '[meta]\nversion = 2\n',
  '[meta]\nversion = "1"\n',
  '[meta]\ndefault_action = "maybe"\n',
  '[meta]\non_policy_error = "ask"\n',
  '[meta]\non_supervisor_timeout_ms = 0\n',
  '[meta]\nextra = 1\n',
  '[[rule]]\naction = "deny"\n',
  '[[rule]]\nid = "a"\n',
  '[[rule]]\nid = ""\naction = "deny"\n',
  '[[rule]]\nid = 1\naction = "deny"\n',
  '[[rule]]\nid = "a"\naction = "block"\n',
  '[[rule]]\nid = "a"\naction = "deny"\nexe_basenam = "x"\n',
  '[[rule]]\nid = "a"\naction = "deny"\nexe_basename = "a/b"\n',
  '[[rule]]\nid = "a"\naction = "deny"\nexe = "relative"\n',
  '[[rule]]\nid = "a"\naction = "deny"\nexe_glob = ["/ok/*", "rel/*"]\n',
  '[[rule]]\nid = "a"\naction = "deny"\nuid = "0"\n',
  '[[rule]]\nid = "a"\naction = "deny"\nuid = -1\n',
  '[[rule]]\nid = "a"\naction = "deny"\nargv_regex = 5\n',
  '[[rule]]\nid = "a"\naction = "deny"\nargv_contains = [1]\n',
  '[[rule]]\nid = "a"\naction = "deny"\nargv_host_in = "https://x.org/"\n',
  '[[rule]]\nid = "a"\naction = "deny"\nexamples_match = "git"\n',
  '[[rule]]\nid = "a"\naction = "deny"\nreason = 1\n',
  'rule = 1\n',
  'rule = ["x"]\n',
  '[filesystem]\nread_globs = "/a"\n',
  '[filesystem]\nrequire_enforced = "yes"\n',
  '[filesystem]\nexecute_glob = ["/a"]\n',
  '[network]\nconnect_tcp_ports = [70000]\n',
  '[network]\nbind_tcp_ports = 80\n',
  '[approval]\non_timeout = "ask"\n',
  '[approval]\nmax_pending = 0\n',
  '[approval]\ntimeout_ms = 1.5\n',
];

function loaderAccepts(text: string): boolean {
  const r = loadPolicyText(text, 'p.toml', { env: { HOME: '/home/me' }, exists: () => true, realpath: () => '/x' });
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

  it('describes every key the loader knows, with hover text, and no other', () => {
    const tables: [string, Record<string, unknown>, JsonSchemaNode | undefined][] = [
      ['meta', META_KEYS, schema.properties?.meta],
      ['rule', RULE_KEYS, schema.properties?.rule?.items],
      ['filesystem', FILESYSTEM_KEYS, schema.properties?.filesystem],
      ['network', NETWORK_KEYS, schema.properties?.network],
      ['approval', APPROVAL_KEYS, schema.properties?.approval],
    ];
    for (const [name, keys, node] of tables) {
      expect(Object.keys(node?.properties ?? {}).sort(), name).toEqual(Object.keys(keys).sort());
      for (const [k, v] of Object.entries(node?.properties ?? {})) expect(v.description, `${name}.${k}`).toMatch(/\w{3}/);
    }
    expect(Object.keys(schema.properties ?? {}).sort()).toEqual(['approval', 'filesystem', 'meta', 'network', 'rule']);
  });
});
