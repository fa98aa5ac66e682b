// Helpers shared by the corpus tests: a diagnostic as one comparable line, and applying a fix to a text.
import type { Diagnostic, Fix } from '../../../src/core/policy/index';

/** "line:col-endLine:endCol severity code", the form test/fixtures/policies/expected.json stores. */
export function corpusEntry(d: Diagnostic): string {
  return `${d.line}:${d.column}-${d.endLine ?? d.line}:${d.endColumn ?? d.column} ${d.severity} ${d.code}`;
}

function offsetOf(text: string, line: number, column: number): number {
  let offset = 0;
  for (let l = 1; l < line; l++) offset = text.indexOf('\n', offset) + 1;
  return offset + column - 1;
}

export function applyFix(text: string, fix: Fix): string {
  const start = offsetOf(text, fix.range.line, fix.range.column);
  const end = offsetOf(text, fix.range.endLine, fix.range.endColumn);
  return text.slice(0, start) + fix.newText + text.slice(end);
}
