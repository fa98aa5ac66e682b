// Machine-readable fixes for diagnostics (Diagnostic.fixes): each replaces one range of the policy text.
// Built by the loader from the position index, so a fix never depends on message text. Every fix leaves a
// policy that loads without that diagnostic (test/unit/policy/check.test.ts applies each and re-checks).
import type { Fix, SourceRange } from './types';
import type { TomlPositionIndex } from './toml-positions';
import { escapeRegExp, tomlBasicString, tomlString } from './toml-text';
import { findCatastrophicRegex } from './regex-safety';

interface RuleRef {
  id: string;
  index: number;
}

export class FixBuilder {
  constructor(private readonly positions: TomlPositionIndex) {}

  /** Where the last name of a key or table path is written (what a rename replaces). */
  nameRange(path: (string | number)[]): SourceRange | undefined {
    const key = this.positions.key(path);
    if (key) return key.lastKey;
    return (this.positions.table(path) ?? this.positions.table([...path, 0]))?.name;
  }

  /** An invalid regex: match its text literally, or (for Python's syntax) the JavaScript spelling. */
  badRegex(path: (string | number)[], element: number | undefined, pattern: string): Fix[] {
    const range = this.positions.locate(path, 'value', element);
    const written = this.text(range);
    const fixes: Fix[] = [];
    if (/\(\?P[<=]/.test(pattern)) {
      const js = pattern.replace(/\(\?P</g, '(?<').replace(/\(\?P=(\w+)\)/g, '\\k<$1>');
      if (compiles(js) && !findCatastrophicRegex(js)) {
        fixes.push({ title: 'Use JavaScript named groups: (?<name>…)', range, newText: sameQuotes(written, js), preferred: true });
      }
    }
    fixes.push({ title: 'Match the text literally (escape the regex characters)', range, newText: sameQuotes(written, escapeRegExp(pattern)), preferred: fixes.length === 0 });
    return fixes;
  }

  /** A duplicate rule id: rename it to a free one, or remove this (later) rule. */
  duplicateId(index: number, id: string, used: Set<string>): Fix[] {
    const fixes: Fix[] = [];
    let n = 2;
    while (used.has(`${id}-${n}`)) n++;
    const range = this.positions.key(['rule', index, 'id'])?.value;
    if (range) {
      fixes.push({ title: `Rename this rule's id to '${id}-${n}'`, range, newText: sameQuotes(this.text(range), `${id}-${n}`), preferred: true });
    }
    const block = this.ruleBlock(index);
    if (block) fixes.push({ title: `Remove this duplicate rule '${id}' (rule #${index + 1})`, range: this.positions.span(block.start, block.end), newText: '' });
    return fixes;
  }

  /** A shadowed rule: move it just above the rule that hides it (when that helps), or remove it. */
  shadowedRule(later: RuleRef, earlier: RuleRef, movable: boolean): Fix[] {
    const fixes: Fix[] = [];
    const l = this.ruleBlock(later.index);
    const e = this.ruleBlock(earlier.index);
    if (!l) return fixes;
    if (movable && e) {
      let moved = this.positions.text.slice(l.start, l.end);
      if (!moved.endsWith('\n')) moved += '\n';
      if (!/\n[ \t]*\n$/.test(moved)) moved += '\n';
      const between = this.positions.text.slice(e.start, l.start);
      fixes.push({
        title: `Move rule '${later.id}' above rule '${earlier.id}'`,
        range: this.positions.span(e.start, l.end),
        newText: moved + between,
        preferred: true,
      });
    }
    fixes.push({ title: `Remove the unreachable rule '${later.id}'`, range: this.positions.span(l.start, l.end), newText: '' });
    return fixes;
  }

  /** The text block of the index-th [[rule]] (undefined for rules written inline, rule = [{…}]). */
  private ruleBlock(index: number): { start: number; end: number } | undefined {
    return this.positions.blocks().find((b) => b.table.path.length === 2 && b.table.path[0] === 'rule' && b.table.path[1] === index);
  }

  private text(range: SourceRange): string {
    return this.positions.text.slice(this.positions.offsetAt(range.line, range.column), this.positions.offsetAt(range.endLine, range.endColumn));
  }
}

/** `value` as a TOML string in the quote style of `written` where the value allows it. */
function sameQuotes(written: string, value: string): string {
  if (written.startsWith('"')) return tomlBasicString(value);
  return tomlString(value);
}

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}
