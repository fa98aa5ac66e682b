// A position index over TOML source text, so semantic diagnostics (unknown key, bad regex, shadowed rule…)
// can point at file:line:column. smol-toml gives positions only for syntax errors. This is not a TOML
// parser: it runs only on text smol-toml already accepted, and it only has to find table headers, key
// assignments and the elements of array values without being confused by strings, comments, dotted or
// quoted keys, inline tables and multi-line arrays or strings.

export interface SourceSpan {
  line: number; // 1-based
  column: number; // 1-based
  endLine: number;
  endColumn: number; // exclusive
}

export interface KeyEntry {
  /** Full key path, e.g. ['rule', 2, 'argv_regex'] (array-of-tables index included). */
  path: (string | number)[];
  /** The whole key as written (all dotted parts). */
  key: SourceSpan;
  /** The last dotted part only (what a rename replaces). */
  lastKey: SourceSpan;
  value: SourceSpan;
  /** Spans of the top-level elements when the value is an array. */
  elements: SourceSpan[];
}

export interface TablePositionEntry {
  path: (string | number)[];
  header: SourceSpan;
  /** The last dotted part of the header's name, e.g. `rule` in `[[rule]]`. */
  name: SourceSpan;
  /** Offset of the header's first character (`[`) in the text. */
  offset: number;
}

export class TomlPositionIndex {
  private readonly keys = new Map<string, KeyEntry>();
  private readonly tables = new Map<string, TablePositionEntry>();
  /** Table headers in source order. */
  readonly headers: TablePositionEntry[] = [];
  private readonly lineStarts: number[] = [0];

  constructor(readonly text: string) {
    for (let k = 0; k < text.length; k++) if (text.charCodeAt(k) === 10) this.lineStarts.push(k + 1);
    new Scanner(text, this).scan();
  }

  /**
   * The source block of each table header: from the comment lines right above the header (no blank line
   * between) to the start of the next block, or the end of the text. Moving or deleting a whole block keeps
   * a rule together with the comment that describes it.
   */
  blocks(): { table: TablePositionEntry; start: number; end: number }[] {
    const starts = this.headers.map((h) => this.commentStart(h.offset));
    return this.headers.map((table, i) => ({ table, start: starts[i] as number, end: starts[i + 1] ?? this.text.length }));
  }

  private commentStart(offset: number): number {
    let start = offset - this.positionAt(offset).column + 1; // the header's line start
    for (;;) {
      const line = this.positionAt(start).line;
      if (line === 1) return start;
      const prevStart = this.lineStarts[line - 2] as number;
      if (!/^[ \t]*#/.test(this.text.slice(prevStart, start))) return start;
      start = prevStart;
    }
  }

  /** 1-based line and column (UTF-16 code units, as editors count) of an offset. */
  positionAt(offset: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.lineStarts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (this.lineStarts[lo] as number) + 1 };
  }

  /** Offset of a 1-based line and column (clamped to the text). */
  offsetAt(line: number, column: number): number {
    const start = this.lineStarts[Math.min(Math.max(line, 1), this.lineStarts.length) - 1] as number;
    return Math.min(start + column - 1, this.text.length);
  }

  /** The span between two offsets. */
  span(start: number, end: number): SourceSpan {
    const a = this.positionAt(start);
    const b = this.positionAt(end);
    return { line: a.line, column: a.column, endLine: b.line, endColumn: b.column };
  }

  /** Internal: called by the scanner. */
  addKey(entry: KeyEntry): void {
    this.keys.set(pathKey(entry.path), entry);
  }

  addTable(entry: TablePositionEntry): void {
    this.tables.set(pathKey(entry.path), entry);
    this.headers.push(entry);
  }

  key(path: (string | number)[]): KeyEntry | undefined {
    return this.keys.get(pathKey(path));
  }

  table(path: (string | number)[]): TablePositionEntry | undefined {
    return this.tables.get(pathKey(path));
  }

  /** Best position for a path: the key, else its table header, else a parent's. */
  locate(path: (string | number)[], part: 'key' | 'value' = 'key', element?: number): SourceSpan {
    for (let n = path.length; n > 0; n--) {
      const sub = path.slice(0, n);
      const k = this.keys.get(pathKey(sub));
      if (k) {
        if (n === path.length && element !== undefined && k.elements[element]) return k.elements[element];
        return n === path.length && part === 'value' ? k.value : k.key;
      }
      // [[name]] is indexed as name/0, name/1…: a path to the array itself points at its first table.
      const t = this.tables.get(pathKey(sub)) ?? this.tables.get(pathKey([...sub, 0]));
      if (t) return t.header;
    }
    return { line: 1, column: 1, endLine: 1, endColumn: 1 };
  }
}

function pathKey(path: (string | number)[]): string {
  return JSON.stringify(path);
}

const BARE_KEY = /[A-Za-z0-9_-]/;

class Scanner {
  private i = 0;
  private currentTable: (string | number)[] = [];
  private readonly arrayTableCounts = new Map<string, number>();

  constructor(
    private readonly s: string,
    private readonly out: TomlPositionIndex,
  ) {}

  scan(): void {
    const s = this.s;
    while (this.i < s.length) {
      this.skipWsAndNewlines();
      if (this.i >= s.length) break;
      const c = s[this.i];
      if (c === '#') this.skipComment();
      else if (c === '[') this.header();
      else this.keyValue(this.currentTable);
    }
  }

  private span(start: number, end: number): SourceSpan {
    return this.out.span(start, end);
  }

  private skipWs(): void {
    while (this.i < this.s.length && (this.s[this.i] === ' ' || this.s[this.i] === '\t')) this.i++;
  }

  private skipWsAndNewlines(): void {
    while (this.i < this.s.length && /[ \t\r\n]/.test(this.s[this.i] as string)) this.i++;
  }

  /** Whitespace, newlines and comments (inside arrays). */
  private skipTrivia(): void {
    for (;;) {
      this.skipWsAndNewlines();
      if (this.s[this.i] === '#') this.skipComment();
      else return;
    }
  }

  private skipComment(): void {
    while (this.i < this.s.length && this.s[this.i] !== '\n') this.i++;
  }

  private header(): void {
    const start = this.i;
    const isArray = this.s.startsWith('[[', this.i);
    this.i += isArray ? 2 : 1;
    const { parts: path, last } = this.keyPath();
    this.skipWs();
    this.i += isArray ? 2 : 1;
    const span = this.span(start, this.i);
    if (isArray) {
      const name = pathKey(path);
      const n = this.arrayTableCounts.get(name) ?? 0;
      this.arrayTableCounts.set(name, n + 1);
      this.currentTable = [...path, n];
    } else {
      this.currentTable = path;
    }
    this.out.addTable({ path: this.currentTable, header: span, name: last, offset: start });
    this.skipRestOfLine();
  }

  private skipRestOfLine(): void {
    while (this.i < this.s.length && this.s[this.i] !== '\n') this.i++;
  }

  private keyPath(): { parts: string[]; spans: SourceSpan[]; last: SourceSpan } {
    const parts: string[] = [];
    const spans: SourceSpan[] = [];
    for (;;) {
      this.skipWs();
      const start = this.i;
      parts.push(this.keyPart());
      spans.push(this.span(start, this.i));
      this.skipWs();
      if (this.s[this.i] === '.') {
        this.i++;
        continue;
      }
      return { parts, spans, last: spans[spans.length - 1] as SourceSpan };
    }
  }

  private keyPart(): string {
    const c = this.s[this.i];
    if (c === '"' || c === "'") {
      const start = this.i;
      this.skipString();
      const raw = this.s.slice(start, this.i);
      if (c === "'") return raw.slice(1, -1);
      try {
        return JSON.parse(raw) as string;
      } catch {
        return raw.slice(1, -1);
      }
    }
    const start = this.i;
    while (this.i < this.s.length && BARE_KEY.test(this.s[this.i] as string)) this.i++;
    if (this.i === start) this.i++; // never loop on unexpected input
    return this.s.slice(start, this.i);
  }

  private keyValue(table: (string | number)[]): void {
    const keyStart = this.i;
    const { parts: keys, spans, last } = this.keyPath();
    let keyEnd = this.i;
    while (keyEnd > keyStart && (this.s[keyEnd - 1] === ' ' || this.s[keyEnd - 1] === '\t')) keyEnd--;
    this.skipWs();
    if (this.s[this.i] !== '=') {
      this.skipRestOfLine();
      return;
    }
    this.i++;
    this.skipWs();
    const valueStart = this.i;
    const elements: SourceSpan[] = [];
    const path = [...table, ...keys];
    this.value(path, elements);
    const keySpan = this.span(keyStart, keyEnd);
    // A dotted key `a.b = 1` also defines table `a`: index the prefix so it can be pointed at too.
    for (let n = 1; n < keys.length; n++) {
      const prefix = [...table, ...keys.slice(0, n)];
      if (!this.out.key(prefix)) this.out.addKey({ path: prefix, key: keySpan, lastKey: spans[n - 1] as SourceSpan, value: keySpan, elements: [] });
    }
    this.out.addKey({ path, key: keySpan, lastKey: last, value: this.span(valueStart, this.i), elements });
  }

  private value(path: (string | number)[], elements: SourceSpan[] | null): void {
    const c = this.s[this.i];
    if (c === '"' || c === "'") this.skipString();
    else if (c === '[') this.array(path, elements);
    else if (c === '{') this.inlineTable(path);
    else {
      while (this.i < this.s.length && !/[,\]}\r\n#]/.test(this.s[this.i] as string)) this.i++;
      // Trim trailing spaces of a scalar.
      while (this.i > 0 && (this.s[this.i - 1] === ' ' || this.s[this.i - 1] === '\t')) this.i--;
    }
  }

  private array(path: (string | number)[], elements: SourceSpan[] | null): void {
    this.i++; // [
    let n = 0;
    for (;;) {
      this.skipTrivia();
      if (this.i >= this.s.length) return;
      if (this.s[this.i] === ']') {
        this.i++;
        return;
      }
      if (this.s[this.i] === ',') {
        this.i++;
        continue;
      }
      const start = this.i;
      this.value([...path, n], null);
      if (this.i === start) this.i++;
      elements?.push(this.span(start, this.i));
      n++;
    }
  }

  private inlineTable(path: (string | number)[]): void {
    this.i++; // {
    for (;;) {
      this.skipWs();
      if (this.i >= this.s.length) return;
      const c = this.s[this.i];
      if (c === '}') {
        this.i++;
        return;
      }
      if (c === ',' || c === '\n' || c === '\r') {
        this.i++;
        continue;
      }
      const before = this.i;
      this.keyValue(path);
      if (this.i === before) this.i++;
    }
  }

  private skipString(): void {
    const s = this.s;
    const q = s[this.i] as string;
    const triple = s.startsWith(q.repeat(3), this.i);
    if (triple) {
      this.i += 3;
      for (;;) {
        if (this.i >= s.length) return;
        if (q === '"' && s[this.i] === '\\') {
          this.i += 2;
          continue;
        }
        if (s.startsWith(q.repeat(3), this.i)) {
          this.i += 3;
          // A closing delimiter may be followed by up to two more quotes that belong to the content.
          while (s[this.i] === q) this.i++;
          return;
        }
        this.i++;
      }
    }
    this.i++;
    while (this.i < s.length && s[this.i] !== q && s[this.i] !== '\n') {
      if (q === '"' && s[this.i] === '\\') this.i++;
      this.i++;
    }
    this.i++;
  }
}
