// The JSON Schema of `.gate.toml`, generated from the vocabulary (vocabulary.ts). policies/gate.schema.json
// is this function's output (`npm run schema` writes it; test/unit/policy/schema.test.ts fails when the
// committed file differs). Draft 4, because Even Better TOML (taplo) reads no later draft; Tombi reads it too.
// `x-taplo` carries what taplo shows beyond the standard keywords (enum value docs, keys to insert).
import { POLICY_FORMAT, tableKeys, type KeySpec, type TableSpec } from './vocabulary';

export type JsonSchema = Record<string, unknown>;

export function policyJsonSchema(): JsonSchema {
  return {
    $schema: 'http://json-schema.org/draft-04/schema#',
    title: 'Agent Gate policy (.gate.toml)',
    description: 'Which programs an AI agent may run (rules, first match wins), and what Landlock lets it read, write, execute and connect to.',
    ...tableSchema(POLICY_FORMAT),
  };
}

/** The schema text as committed: two-space JSON and a final newline. */
export function policyJsonSchemaText(): string {
  return JSON.stringify(policyJsonSchema(), null, 2) + '\n';
}

function tableSchema(table: TableSpec): JsonSchema {
  const keys = tableKeys(table);
  const required = Object.entries(keys).filter(([, s]) => s.required).map(([k]) => k);
  return {
    type: 'object',
    additionalProperties: table.otherKeys ? keySchema(table.otherKeys) : false,
    ...(required.length ? { required, 'x-taplo': { initKeys: required } } : {}),
    properties: Object.fromEntries(Object.entries(keys).map(([k, s]) => [k, keySchema(s)])),
  };
}

function keySchema(spec: KeySpec): JsonSchema {
  const description = spec.default !== undefined && !Array.isArray(spec.default) ? `${spec.doc} Default: ${JSON.stringify(spec.default)}.` : spec.doc;
  const common: JsonSchema = { description };
  if (spec.default !== undefined) common.default = spec.default;
  if (spec.enumDocs && spec.enum) {
    common['x-taplo'] = { docs: { enumValues: (spec.enum as readonly (string | number)[]).map((v) => spec.enumDocs?.[String(v)] ?? '') } };
  }
  switch (spec.type) {
    case 'table':
      return { ...common, ...tableSchema(spec.table ?? { keys: {} }) };
    case 'table-array':
      return { ...common, type: 'array', items: tableSchema(spec.table ?? { keys: {} }) };
    case 'string-list':
    case 'int-list':
      return { ...common, type: 'array', items: scalarSchema(spec) };
    case 'string-or-list':
    case 'int-or-list':
      return { ...common, oneOf: [scalarSchema(spec), { type: 'array', items: scalarSchema(spec) }] };
    default:
      return { ...common, ...scalarSchema(spec) };
  }
}

function scalarSchema(spec: KeySpec): JsonSchema {
  const isInt = spec.type === 'int' || spec.type === 'int-list' || spec.type === 'int-or-list';
  const s: JsonSchema = { type: isInt ? 'integer' : spec.type === 'bool' ? 'boolean' : 'string' };
  if (spec.enum) s.enum = [...spec.enum];
  if (spec.min !== undefined) s.minimum = spec.min;
  if (spec.max !== undefined) s.maximum = spec.max;
  if (spec.pattern !== undefined) s.pattern = spec.pattern;
  if (spec.minLength !== undefined) s.minLength = spec.minLength;
  return s;
}
