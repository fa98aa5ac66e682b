// Inline rule examples (`examples_match`, `examples_no_match`) verified by `agent-gate check`: each example
// is split like a shell would, its program resolved through PATH, and tested against that one rule alone
// (cwd_glob, uid and parent_* are not part of an example and are skipped).
import type { Diagnostic, Policy } from './types';
import { policyInternals } from './load';
import type { PolicyEvaluator } from './evaluator';
import { ExecView } from './matcher';
import { gatherLocalFacts } from '../exec/local-facts';

/** Split a command line into words: single and double quotes and backslash escapes, no expansion. */
export function shellSplit(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i] as string;
    if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
      i++;
      continue;
    }
    inWord = true;
    if (c === '\\') {
      if (i + 1 < line.length) cur += line[i + 1];
      i += 2;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated ' quote in: ${line}`);
      cur += line.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1] as string)) i++;
        cur += line[i];
        i++;
      }
      if (i >= line.length) throw new Error(`unterminated " quote in: ${line}`);
      i++;
    } else {
      cur += c;
      i++;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

export interface ExampleOptions {
  cwd?: string;
  /** PATH for resolving each example's program (default: the evaluator's context PATH). */
  path?: string;
}

export function verifyExamples(policy: Policy, evaluator: PolicyEvaluator, options: ExampleOptions = {}): Diagnostic[] {
  const { positions } = policyInternals(policy);
  const out: Diagnostic[] = [];
  for (const rule of evaluator.rules) {
    const check = (key: 'examples_match' | 'examples_no_match', examples: string[], want: boolean): void => {
      examples.forEach((example, i) => {
        const span = positions.locate(['rule', rule.spec.index, key], 'value', i);
        const diag = (message: string): void => {
          out.push({ severity: 'error', code: 'example-mismatch', message, file: policy.file, line: span.line, column: span.column, endLine: span.endLine, endColumn: span.endColumn, ruleId: rule.spec.id });
        };
        let argv: string[];
        try {
          argv = shellSplit(example);
        } catch (e) {
          diag(`rule '${rule.spec.id}': example "${example}" cannot be split: ${(e as Error).message}`);
          return;
        }
        if (argv.length === 0) {
          diag(`rule '${rule.spec.id}': example is empty`);
          return;
        }
        const facts = gatherLocalFacts(argv, { cwd: options.cwd ?? process.cwd(), path: options.path ?? evaluator.context.path, hash: true });
        const view = new ExecView(facts);
        const m = evaluator.matchRule(rule, view, true);
        // A program not installed here is tested by name: its keys see only the requested name.
        let matched = m.matched;
        if (!facts.exe) {
          const byName = evaluator.matchRule({ ...rule, looseNames: true }, view, true);
          matched = byName.matched;
        }
        if (matched !== want) {
          const missing = facts.exe ? '' : ` ('${argv[0]}' is not installed here, so only its name was compared)`;
          diag(`rule '${rule.spec.id}': example "${example}" ${want ? 'should match this rule but does not' : 'should not match this rule but does'}${missing}`);
        }
      });
    };
    check('examples_match', rule.spec.examplesMatch, true);
    check('examples_no_match', rule.spec.examplesNoMatch, false);
  }
  return out;
}
