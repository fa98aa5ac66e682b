// A tolerant reader of `.gate.toml` for the editor: an outline (tables, their keys and values, with ranges)
// and, for a cursor position, what is being typed there (a section header, a key, or the value of a key).
// Unlike smol-toml it never fails: half-typed text (`act`, `action = "`, `[[ru`, an unclosed array) still
// yields the table the cursor is in and the word under it, so completion and hover work while the file does
// not parse. It is not a validator (that is load.ts); on well-formed TOML it agrees with smol-toml about
// which table each key belongs to (test/unit/policy/tolerant.test.ts).
import type { SourceRange } from './types';

export interface OutlineKey {
  /** The key's dotted parts as written, unquoted, relative to its table (inline tables included). */
  parts: string[];
  /** The whole key as written. */
  keyRange: SourceRange;
  /** The last dotted part. */
  nameRange: SourceRange;
  /** The value as written (may be broken); null when there is no `=`. */
  valueRange: SourceRange | null;
  valueText: string;
  /** The value, when it is one complete single-line string. */
  stringValue?: string;
}

export interface OutlineTable {
  /** The header's dotted names ([] for keys before any header). */
  names: string[];
  /** Written [[names]]. */
  array: boolean;
  /** For [[names]]: its index among the tables of that name (0-based). */
  index: number;
  /** The header ([…] or [[…]]), null for the root. */
  headerRange: SourceRange | null;
  /** The whole table: header to the last character before the next header. */
  range: SourceRange;
  keys: OutlineKey[];
}

export interface PolicyOutline {
  tables: OutlineTable[];
}

/** What is under or being typed at the cursor. `range` is what a completion would replace. */
export type CursorPlace =
  /** In a table header: `name` is all of it, `closed` whether its closing bracket is written. */
  | { kind: 'header'; array: boolean; prefix: string; name: string; closed: boolean; range: SourceRange }
  /** At a key: `word` is the whole key part under the cursor, `assigned` whether `=` follows on the line. */
  | { kind: 'key'; table: OutlineTable; inline: string[]; prefix: string; word: string; range: SourceRange; lineIsEmpty: boolean; assigned: boolean }
  | { kind: 'value'; table: OutlineTable; key: string[]; prefix: string; word: string; range: SourceRange; quote: '"' | "'" | null; inArray: boolean }
  | { kind: 'comment' }
  | { kind: 'none' };

export function readOutline(text: string): PolicyOutline {
  return new TolerantReader(text, -1).read().outline;
}

/** The place at a 1-based line and column (UTF-16), with the outline of the whole text. */
export function placeAt(text: string, line: number, column: number): { outline: PolicyOutline; place: CursorPlace } {
  return new TolerantReader(text, offsetOf(text, line, column)).read();
}

function offsetOf(text: string, line: number, column: number): number {
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf('\n', offset);
    if (nl < 0) return text.length;
    offset = nl + 1;
  }
  return Math.min(offset + column - 1, text.length);
}

const BARE = /[A-Za-z0-9_-]/;
/** A line that can only be a table header (used to end an unclosed array while the user types). */
const HEADER_LINE = /^[ \t]*\[\[?[ \t]*[A-Za-z0-9_.\-"' \t]+\]\]?[ \t]*(#.*)?\r?$/;
/** A line that can only be a key assignment. */
const KEY_LINE = /^[ \t]*[A-Za-z0-9_-]+[ \t]*(\.[ \t]*[A-Za-z0-9_-]+[ \t]*)*=/;

class TolerantReader {
  private i = 0;
  private readonly lineStarts: number[] = [0];
  private readonly tables: OutlineTable[] = [];
  private current: OutlineTable;
  private place: CursorPlace | undefined;
  private readonly arrayCounts = new Map<string, number>();

  constructor(
    private readonly s: string,
    private readonly cursor: number,
  ) {
    for (let k = 0; k < s.length; k++) if (s.charCodeAt(k) === 10) this.lineStarts.push(k + 1);
    this.current = this.newTable([], false, null, 0);
  }

  read(): { outline: PolicyOutline; place: CursorPlace } {
    const s = this.s;
    while (this.i < s.length) {
      const wsStart = this.i;
      while (this.i < s.length && ' \t\r\n'.includes(s[this.i] as string)) this.i++;
      const next = s[this.i];
      // The cursor in blank space: a new key (or section) can start here.
      if (this.place === undefined && this.cursor >= wsStart && (this.cursor < this.i || (this.cursor === this.i && (next === undefined || next === '#')))) {
        this.keyPlace([], '', '', this.cursor, this.cursor, this.lineIsBlank(this.cursor));
      }
      if (this.i >= s.length) break;
      if (next === '#') this.comment();
      else if (next === '[' && this.atLineStart(this.i)) this.header();
      else this.statement(this.current, []);
    }
    if (this.place === undefined && this.cursor === s.length && this.lineIsBlank(this.cursor)) this.keyPlace([], '', '', this.cursor, this.cursor, true);
    this.closeTable(s.length);
    return { outline: { tables: this.tables }, place: this.place ?? { kind: 'none' } };
  }

  // ---- tables

  private newTable(names: string[], array: boolean, headerRange: SourceRange | null, start: number): OutlineTable {
    let index = 0;
    if (array) {
      const k = JSON.stringify(names);
      index = this.arrayCounts.get(k) ?? 0;
      this.arrayCounts.set(k, index + 1);
    }
    const t: OutlineTable = { names, array, index, headerRange, range: this.range(start, start), keys: [] };
    this.tables.push(t);
    return t;
  }

  private closeTable(end: number): void {
    let e = end;
    while (e > 0 && ' \t\r\n'.includes(this.s[e - 1] as string)) e--;
    const start = this.offsetAt(this.current.range);
    this.current.range = this.range(start, Math.max(start, e));
  }

  private header(): void {
    const s = this.s;
    const start = this.i;
    const lineEnd = this.lineEnd(this.i);
    const array = s.startsWith('[[', this.i);
    this.i += array ? 2 : 1;
    const nameStart = this.i;
    const names: string[] = [];
    let closed = false;
    for (;;) {
      while (this.i < lineEnd && (s[this.i] === ' ' || s[this.i] === '\t')) this.i++;
      const partStart = this.i;
      const part = this.keyPart(lineEnd);
      if (part !== null) names.push(part);
      while (this.i < lineEnd && (s[this.i] === ' ' || s[this.i] === '\t')) this.i++;
      if (s[this.i] === '.') {
        this.i++;
        continue;
      }
      if (s[this.i] === ']') {
        closed = true;
        this.i += array && s[this.i + 1] === ']' ? 2 : 1;
      }
      if (part === null && this.i === partStart && !closed) this.i = lineEnd;
      break;
    }
    const nameEnd = closed ? s.lastIndexOf(']', this.i - 1) - (array ? 1 : 0) : lineEnd;
    if (this.place === undefined && this.cursor >= nameStart && this.cursor <= Math.max(nameStart, nameEnd)) {
      const typed = s.slice(nameStart, this.cursor);
      const lead = typed.length - typed.trimStart().length;
      const end = Math.max(nameStart + lead, nameEnd);
      this.place = { kind: 'header', array, prefix: typed.trimStart(), name: s.slice(nameStart + lead, end).trim(), closed, range: this.range(nameStart + lead, end) };
    }
    this.closeTable(start);
    this.current = this.newTable(names, array, this.range(start, this.i), start);
    this.skipToLineEnd();
  }

  // ---- key = value

  private statement(table: OutlineTable, inline: string[]): void {
    const s = this.s;
    const lineEnd = this.lineEnd(this.i);
    const keyStart = this.i;
    const parts: string[] = [];
    let partStart = this.i;
    let nameRange = this.range(this.i, this.i);
    for (;;) {
      while (this.i < lineEnd && (s[this.i] === ' ' || s[this.i] === '\t')) this.i++;
      partStart = this.i;
      const part = this.keyPart(lineEnd);
      nameRange = this.range(partStart, this.i);
      if (part !== null) parts.push(part);
      const afterPart = this.i;
      while (this.i < lineEnd && (s[this.i] === ' ' || s[this.i] === '\t')) this.i++;
      if (s[this.i] === '.' && part !== null) {
        this.i++;
        continue;
      }
      // The cursor in the key (or right after it): complete the part being typed.
      if (this.place === undefined && this.cursor >= partStart && this.cursor <= afterPart) {
        const word = s.slice(partStart, afterPart);
        this.keyPlace(inline, s.slice(partStart, this.cursor), word, partStart, afterPart, false, table, parts.slice(0, -1));
      }
      break;
    }
    const keyEnd = this.i;
    if (s[this.i] !== '=') {
      // Not an assignment (yet): the rest of the line is being typed.
      if (this.place === undefined && this.cursor > keyEnd && this.cursor <= lineEnd) {
        const typed = s.slice(partStart, this.cursor);
        this.keyPlace(inline, typed.trim(), typed.trim(), this.cursor - typed.trimStart().length, this.cursor, false, table, []);
      }
      if (parts.length) {
        table.keys.push({ parts: [...inline, ...parts], keyRange: this.range(keyStart, keyEnd), nameRange, valueRange: null, valueText: '' });
      }
      if (this.i === keyStart) this.i++; // never loop on an unexpected character
      if (!inline.length) this.skipToLineEnd();
      return;
    }
    this.i++; // =
    while (this.i < lineEnd && (s[this.i] === ' ' || s[this.i] === '\t')) this.i++;
    const valueStart = this.i;
    const keyPath = [...inline, ...parts];
    if (this.place === undefined && this.cursor > keyEnd && this.cursor <= valueStart) {
      this.valuePlace(table, keyPath, this.cursor, this.cursor, null, false);
    }
    const stringValue = this.value(table, keyPath, false);
    let valueEnd = this.i;
    while (valueEnd > valueStart && ' \t\r'.includes(s[valueEnd - 1] as string)) valueEnd--;
    table.keys.push({
      parts: keyPath,
      keyRange: this.range(keyStart, keyEnd),
      nameRange,
      valueRange: this.range(valueStart, valueEnd),
      valueText: s.slice(valueStart, valueEnd),
      ...(stringValue !== undefined ? { stringValue } : {}),
    });
    if (!inline.length) this.skipToLineEnd();
  }

  /** One value at this.i; returns it when it is a complete single-line string. */
  private value(table: OutlineTable, key: string[], inArray: boolean): string | undefined {
    const s = this.s;
    const c = s[this.i];
    if (c === '"' || c === "'") return this.string(table, key, inArray);
    if (c === '[') {
      this.array(table, key);
      return undefined;
    }
    if (c === '{') {
      this.inlineTable(table, key);
      return undefined;
    }
    const start = this.i;
    while (this.i < s.length && !',]}#\r\n'.includes(s[this.i] as string)) this.i++;
    let end = this.i;
    while (end > start && (s[end - 1] === ' ' || s[end - 1] === '\t')) end--;
    if (this.place === undefined && this.cursor >= start && this.cursor <= end) {
      this.valuePlace(table, key, start, end, null, inArray);
    }
    return undefined;
  }

  private string(table: OutlineTable, key: string[], inArray: boolean): string | undefined {
    const s = this.s;
    const q = s[this.i] as '"' | "'";
    const start = this.i;
    if (s.startsWith(q.repeat(3), this.i)) {
      this.i += 3;
      const close = s.indexOf(q.repeat(3), this.i);
      this.i = close < 0 ? s.length : close + 3;
      while (s[this.i] === q) this.i++;
      if (this.place === undefined && this.cursor > start && this.cursor < this.i) this.place = { kind: 'none' };
      return undefined;
    }
    this.i++;
    const lineEnd = this.lineEnd(this.i);
    let closed = false;
    while (this.i < lineEnd) {
      if (q === '"' && s[this.i] === '\\') {
        this.i += 2;
        continue;
      }
      if (s[this.i] === q) {
        closed = true;
        break;
      }
      this.i++;
    }
    const contentEnd = Math.min(this.i, lineEnd);
    if (closed) this.i++;
    else this.i = lineEnd;
    if (this.place === undefined && this.cursor > start && (this.cursor <= contentEnd || (!closed && this.cursor <= lineEnd))) {
      this.valuePlace(table, key, start + 1, contentEnd, q, inArray);
    }
    if (!closed) return undefined;
    const raw = s.slice(start + 1, contentEnd);
    if (q === "'") return raw;
    try {
      return JSON.parse(`"${raw}"`) as string;
    } catch {
      return raw;
    }
  }

  private array(table: OutlineTable, key: string[]): void {
    const s = this.s;
    this.i++; // [
    for (;;) {
      const wsStart = this.i;
      while (this.i < s.length && ' \t\r\n,'.includes(s[this.i] as string)) {
        // Recover from an unclosed array: a line that can only be a header or a key ends it.
        if (s[this.i] === '\n') {
          const rest = s.slice(this.i + 1, this.lineEnd(this.i + 1));
          if (HEADER_LINE.test(rest) || KEY_LINE.test(rest)) {
            // Stop at the newline: the main loop reads that line.
            this.cursorInArrayGap(table, key, wsStart);
            return;
          }
        }
        this.i++;
      }
      this.cursorInArrayGap(table, key, wsStart);
      if (this.i >= s.length) return;
      const c = s[this.i];
      if (c === ']') {
        this.i++;
        return;
      }
      if (c === '#') {
        this.comment();
        continue;
      }
      const before = this.i;
      this.value(table, key, true);
      if (this.i === before) this.i++;
    }
  }

  /** The cursor between elements of an array (after `[` or a comma): a new element starts there. */
  private cursorInArrayGap(table: OutlineTable, key: string[], gapStart: number): void {
    if (this.place === undefined && this.cursor >= gapStart && this.cursor <= this.i) {
      this.valuePlace(table, key, this.cursor, this.cursor, null, true);
    }
  }

  private inlineTable(table: OutlineTable, key: string[]): void {
    const s = this.s;
    this.i++; // {
    const lineEnd = this.lineEnd(this.i);
    for (;;) {
      const gapStart = this.i;
      while (this.i < lineEnd && ' \t,'.includes(s[this.i] as string)) this.i++;
      if (this.place === undefined && this.cursor >= gapStart && this.cursor < this.i) {
        this.keyPlace(key, '', '', this.cursor, this.cursor, false, table);
      }
      if (this.i >= lineEnd) return;
      if (s[this.i] === '}') {
        this.i++;
        return;
      }
      const before = this.i;
      this.statement(table, key);
      if (this.i === before) this.i++;
    }
  }

  // ---- pieces

  /** A bare or quoted key part at this.i (on this line), or null when there is none. */
  private keyPart(lineEnd: number): string | null {
    const s = this.s;
    const c = s[this.i];
    if (c === '"' || c === "'") {
      const start = this.i;
      this.i++;
      while (this.i < lineEnd && s[this.i] !== c) {
        if (c === '"' && s[this.i] === '\\') this.i++;
        this.i++;
      }
      const raw = s.slice(start + 1, Math.min(this.i, lineEnd));
      if (this.i < lineEnd) this.i++;
      return raw;
    }
    const start = this.i;
    while (this.i < lineEnd && BARE.test(s[this.i] as string)) this.i++;
    return this.i > start ? s.slice(start, this.i) : null;
  }

  private keyPlace(inline: string[], prefix: string, word: string, start: number, end: number, lineIsEmpty: boolean, table = this.current, dotted: string[] = []): void {
    const rest = this.s.slice(end, this.lineEnd(end));
    const assigned = /^[ \t]*(\.[^=]*)?=/.test(rest);
    this.place = { kind: 'key', table, inline: [...inline, ...dotted], prefix, word, range: this.range(start, end), lineIsEmpty, assigned };
  }

  private valuePlace(table: OutlineTable, key: string[], start: number, end: number, quote: '"' | "'" | null, inArray: boolean): void {
    const s = this.s;
    let wordStart = this.cursor;
    while (wordStart > start && /[A-Za-z0-9_\-.*/$]/.test(s[wordStart - 1] as string)) wordStart--;
    this.place = {
      kind: 'value',
      table,
      key,
      prefix: s.slice(quote ? start : wordStart, this.cursor),
      word: s.slice(start, end),
      range: this.range(start, end),
      quote,
      inArray,
    };
  }

  private comment(): void {
    const start = this.i;
    while (this.i < this.s.length && this.s[this.i] !== '\n') this.i++;
    if (this.place === undefined && this.cursor > start && this.cursor <= this.i) this.place = { kind: 'comment' };
  }

  private skipToLineEnd(): void {
    const s = this.s;
    // Past a trailing comment or junk, to the newline.
    while (this.i < s.length && s[this.i] !== '\n') {
      if (s[this.i] === '#') {
        this.comment();
        return;
      }
      this.i++;
    }
  }

  private lineEnd(offset: number): number {
    const nl = this.s.indexOf('\n', offset);
    const end = nl < 0 ? this.s.length : nl;
    return end > offset && this.s[end - 1] === '\r' ? end - 1 : end;
  }

  private atLineStart(offset: number): boolean {
    let k = offset - 1;
    while (k >= 0 && (this.s[k] === ' ' || this.s[k] === '\t')) k--;
    return k < 0 || this.s[k] === '\n';
  }

  private lineIsBlank(offset: number): boolean {
    const line = this.positionAt(offset).line;
    const start = this.lineStarts[line - 1] as number;
    return this.s.slice(start, this.lineEnd(start)).trim() === '';
  }

  private positionAt(offset: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.lineStarts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (this.lineStarts[lo] as number) + 1 };
  }

  private range(start: number, end: number): SourceRange {
    const a = this.positionAt(start);
    const b = this.positionAt(end);
    return { line: a.line, column: a.column, endLine: b.line, endColumn: b.column };
  }

  private offsetAt(r: SourceRange): number {
    return (this.lineStarts[r.line - 1] as number) + r.column - 1;
  }
}
