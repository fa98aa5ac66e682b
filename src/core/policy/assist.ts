// Editor assistance computed from the vocabulary and the tolerant reader: what to complete at a position,
// what to show on hover, and where the rules are. Pure (no `vscode`): src/extension/policy only converts
// these to VS Code objects, and the unit tests drive them directly.
import type { SourceRange } from './types';
import { placeAt, readOutline, type CursorPlace, type OutlineTable } from './tolerant';
import { POLICY_FORMAT, describeType, exampleValue, keyAt, tableAt, tableKeys, type KeySpec, type TableSpec } from './vocabulary';

export type CompletionKind = 'section' | 'key' | 'value' | 'snippet';

export interface CompletionEntry {
  label: string;
  kind: CompletionKind;
  /** Text to insert, in VS Code / LSP snippet syntax. */
  insertText: string;
  /** What it replaces (the word being typed), or undefined for the cursor position. */
  range?: SourceRange;
  /** One line shown beside the label. */
  detail: string;
  /** Markdown documentation. */
  documentation: string;
  /** Sorts before other entries when smaller. */
  sortText: string;
  /** Pre-selected (the first best entry). */
  preselect?: boolean;
}

export interface HoverInfo {
  markdown: string;
  range: SourceRange;
  /** Set when the hover is on a rule's id value: the editor adds that rule's hit counts. */
  ruleId?: string;
}

export interface RuleLocation {
  index: number;
  /** Null while the rule has no (string) id yet. */
  id: string | null;
  header: SourceRange;
  idRange: SourceRange | null;
}

/** Completion entries at a 1-based line and column, in any text (it need not parse). */
export function completionsAt(text: string, line: number, column: number): CompletionEntry[] {
  const { outline, place } = placeAt(text, line, column);
  switch (place.kind) {
    case 'header':
      return headerCompletions(place, outline.tables);
    case 'key':
      return keyCompletions(place, outline.tables);
    case 'value':
      return valueCompletions(place);
    default:
      return [];
  }
}

/** Hover at a 1-based line and column: a key's documentation, a section's, an enum value's, a rule id. */
export function hoverAt(text: string, line: number, column: number): HoverInfo | null {
  const { place } = placeAt(text, line, column);
  if (place.kind === 'header') {
    const names = place.name.split('.').map((n) => n.trim().replace(/^["']|["']$/g, ''));
    const spec = keyAt(names);
    return spec ? { markdown: keyMarkdown(place.name, spec, place.array ? `[[${place.name}]]` : `[${place.name}]`), range: place.range } : null;
  }
  if (place.kind === 'key') {
    if (!place.word) return null;
    const path = [...place.table.names, ...place.inline, place.word];
    const spec = keyAt(path);
    return spec ? { markdown: keyMarkdown(place.word, spec), range: place.range } : null;
  }
  if (place.kind === 'value') {
    const path = [...place.table.names, ...place.key];
    const spec = keyAt(path);
    if (!spec) return null;
    if (path.length === 2 && path[0] === 'rule' && path[1] === 'id' && place.quote) {
      return { markdown: `**rule** \`${place.word}\``, range: place.range, ruleId: place.word };
    }
    const value = place.word;
    const doc = spec.enumDocs?.[value];
    if (doc) return { markdown: `\`${value}\` — ${doc}`, range: place.range };
    return null;
  }
  return null;
}

/** Every [[rule]] of the text with its header and id, for code lenses and links (any text, parsed or not). */
export function ruleLocations(text: string): RuleLocation[] {
  return readOutline(text)
    .tables.filter((t) => t.array && t.names.length === 1 && t.names[0] === 'rule' && t.headerRange)
    .map((t) => {
      const id = t.keys.find((k) => k.parts.length === 1 && k.parts[0] === 'id');
      return { index: t.index, id: id?.stringValue ?? null, header: t.headerRange as SourceRange, idRange: id?.valueRange ?? null };
    });
}

/** The markdown documentation of a key (or section): its doc, type, values and default. */
export function keyMarkdown(name: string, spec: KeySpec, title = name): string {
  const facts: string[] = [];
  if (spec.type !== 'table' && spec.type !== 'table-array') facts.push(describeType(spec));
  if (spec.min !== undefined || spec.max !== undefined) facts.push(`${spec.min ?? '…'}–${spec.max ?? '…'}`);
  if (spec.required) facts.push('required');
  if (spec.default !== undefined) facts.push(`default \`${JSON.stringify(spec.default)}\``);
  if (spec.match) facts.push(`match key (${spec.match})${spec.negates ? '' : `; \`${name}_not\` negates it`}`);
  const lines = [`**${title}**${facts.length ? ` — ${facts.join(' · ')}` : ''}`, '', spec.doc];
  if (spec.enum) {
    lines.push('', ...(spec.enum as readonly (string | number)[]).map((v) => `- \`${JSON.stringify(v)}\`${spec.enumDocs?.[String(v)] ? ` — ${spec.enumDocs[String(v)]}` : ''}`));
  }
  return lines.join('\n');
}

// ---- completion

/** Every table the format has, as header names: `meta`, `rule` (array), nested ones as `a.b`. */
function sectionNames(table: TableSpec = POLICY_FORMAT, prefix: string[] = []): { names: string[]; spec: KeySpec }[] {
  const out: { names: string[]; spec: KeySpec }[] = [];
  for (const [name, spec] of Object.entries(table.keys)) {
    if (spec.type !== 'table' && spec.type !== 'table-array') continue;
    out.push({ names: [...prefix, name], spec });
    if (spec.table) out.push(...sectionNames(spec.table, [...prefix, name]));
  }
  return out;
}

function written(tables: OutlineTable[], names: string[]): boolean {
  return tables.some((t) => t.headerRange && t.names.join('.') === names.join('.'));
}

function headerCompletions(place: Extract<CursorPlace, { kind: 'header' }>, tables: OutlineTable[]): CompletionEntry[] {
  return sectionNames()
    .filter(({ names, spec }) => (spec.type === 'table-array') === place.array && (place.array || !written(tables, names)))
    .map(({ names, spec }, i) => {
      const name = names.join('.');
      const close = place.array ? ']]' : ']';
      return {
        label: name,
        kind: 'section',
        insertText: place.closed ? name : `${name}${close}`,
        range: place.range,
        detail: place.array ? `[[${name}]]` : `[${name}]`,
        documentation: keyMarkdown(name, spec, place.array ? `[[${name}]]` : `[${name}]`),
        sortText: String(i).padStart(3, '0'),
      };
    });
}

function sectionSnippets(tables: OutlineTable[], order: string): CompletionEntry[] {
  return sectionNames()
    .filter(({ names, spec }) => spec.snippet && (spec.type === 'table-array' || !written(tables, names)))
    .map(({ names, spec }, i) => {
      const header = spec.type === 'table-array' ? `[[${names.join('.')}]]` : `[${names.join('.')}]`;
      return {
        label: header,
        kind: 'snippet',
        insertText: spec.snippet as string,
        detail: spec.type === 'table-array' ? `new ${names.join('.')}` : `${names.join('.')} section`,
        documentation: keyMarkdown(names.join('.'), spec, header),
        sortText: `${order}${String(i).padStart(3, '0')}`,
      };
    });
}

function keyCompletions(place: Extract<CursorPlace, { kind: 'key' }>, tables: OutlineTable[]): CompletionEntry[] {
  const names = [...place.table.names, ...place.inline];
  const table = tableAt(names);
  const atLineStart = place.inline.length === 0;
  const snippets = atLineStart ? sectionSnippets(tables, names.length === 0 ? '0' : '9') : [];
  if (!table || names.length === 0) return snippets;
  const present = new Set(place.table.keys.filter((k) => k.parts.length > place.inline.length).map((k) => k.parts[place.inline.length]));
  present.delete(place.word); // the key being typed may be a complete, misspelt or partial one
  const keys = Object.entries(tableKeys(table)).filter(([k]) => !present.has(k));
  const entries = keys.map(([key, spec], i): CompletionEntry => ({
    label: key,
    kind: 'key',
    insertText: place.assigned ? key : `${key} = ${valueSnippet(spec)}`,
    ...(place.prefix || place.word ? { range: place.range } : {}),
    detail: spec.negates ? `negation of ${spec.negates}` : describeType(spec),
    documentation: keyMarkdown(key, spec),
    // Required keys first, then the table's own order; _not forms after the others.
    sortText: `${spec.required ? '0' : spec.negates ? '2' : '1'}${String(i).padStart(3, '0')}`,
    ...(i === 0 && spec.required ? { preselect: true } : {}),
  }));
  return [...entries, ...snippets];
}

/** The value part of `key = …` as a snippet: a choice for enums and booleans, a placeholder otherwise. */
function valueSnippet(spec: KeySpec): string {
  const esc = (s: string): string => s.replace(/[$}\\]/g, '\\$&');
  const choice = (vs: readonly string[]): string => `\${1|${vs.map((v) => v.replace(/[,|\\]/g, '\\$&')).join(',')}|}`;
  if (spec.enum) {
    const values = (spec.enum as readonly (string | number)[]).map(String);
    return spec.type === 'string' ? `"${choice(values)}"` : choice(values);
  }
  switch (spec.type) {
    case 'bool':
      return choice(spec.default === false ? ['false', 'true'] : ['true', 'false']);
    case 'string':
    case 'string-or-list': {
      const ex = exampleValue(spec);
      const inner = ex.startsWith('"') || ex.startsWith("'") ? ex.slice(1, -1) : '';
      return `"\${1:${esc(inner)}}"`;
    }
    case 'string-list':
    case 'int-list': {
      const ex = exampleValue(spec);
      return `[\${1:${esc(ex.replace(/^\[|\]$/g, ''))}}]`;
    }
    case 'table':
      return '{ $1 }';
    default:
      return `\${1:${esc(exampleValue(spec))}}`;
  }
}

function valueCompletions(place: Extract<CursorPlace, { kind: 'value' }>): CompletionEntry[] {
  const spec = keyAt([...place.table.names, ...place.key]);
  if (!spec) return [];
  const values: { value: string; doc: string }[] = [];
  if (spec.enum) {
    for (const v of spec.enum as readonly (string | number)[]) values.push({ value: typeof v === 'string' ? v : String(v), doc: spec.enumDocs?.[String(v)] ?? '' });
  } else if (spec.type === 'bool' && !place.quote) {
    values.push({ value: 'true', doc: '' }, { value: 'false', doc: '' });
  }
  const quoted = spec.type === 'string' || spec.type === 'string-list' || spec.type === 'string-or-list';
  return values.map(({ value, doc }, i) => ({
    label: value,
    kind: 'value',
    insertText: place.quote || !quoted ? value : `"${value}"`,
    range: place.range,
    detail: spec.default !== undefined && JSON.stringify(spec.default) === JSON.stringify(value) ? 'default' : place.key.join('.'),
    documentation: doc,
    sortText: String(i).padStart(3, '0'),
    ...(spec.default === value ? { preselect: true } : {}),
  }));
}
