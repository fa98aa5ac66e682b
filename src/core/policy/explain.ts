// Human-readable account of a Decision, shared by `agent-gate explain`, the extension and the audit view.
import type { ExecFacts } from '../exec/facts';
import type { Decision } from './types';

export function explainDecision(decision: Decision, facts?: ExecFacts): string {
  const lines: string[] = [];
  const verdict = decision.action.toUpperCase();
  if (facts) {
    lines.push(`command: ${facts.argv.map(quoteWord).join(' ')}`);
    lines.push(`program: ${facts.exe ? facts.exe.path : `${facts.requestedPath} (not found)`}`);
    if (facts.interpreter) lines.push(`interpreter: ${facts.interpreter.path}${facts.interpreter.arg ? ` ${facts.interpreter.arg}` : ''}`);
    if (facts.loaderTarget) lines.push(`loaded program: ${facts.loaderTarget.path}`);
  }
  lines.push(`verdict: ${verdict}`);
  if (decision.ruleId === null) {
    lines.push(`decided by: default (no rule matched)`);
  } else {
    lines.push(`decided by: rule '${decision.ruleId}'`);
    lines.push(`matched keys: ${decision.matched.length ? decision.matched.join(', ') : '(none: the rule matches every exec)'}`);
  }
  if (decision.reason) lines.push(`reason: ${decision.reason}`);
  lines.push(`cacheable: ${decision.cacheable ? 'yes (depends only on the program)' : 'no'}`);
  return lines.join('\n');
}

/** Quote a word for display so the user sees exactly the argv (spaces, quotes, control characters). */
export function quoteWord(w: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w)) return w;
  // JSON escaping makes control characters, ANSI escapes and bidi overrides visible.
  return JSON.stringify(w).replace(/[\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
