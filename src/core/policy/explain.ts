// Human-readable account of a Decision, shared by `agent-gate explain`, the extension and the audit view.
import type { ExecFacts } from '../exec/facts';
import { DEFAULT_PATH, gatherLocalFacts, type HashRule } from '../exec/local-facts';
import { agentSearchPath } from './env';
import type { Decision, Policy } from './types';
import { compileFilesystem, hashUnderPaths } from './grants';
import { createEvaluator, type CompiledRule, type PolicyEvaluator } from './evaluator';
import { ExecView } from './matcher';
import { isUnder } from './landlock';
import { basename } from 'node:path';
import { policyInternals } from './load';
import type { CliGrants } from './landlock';

export function explainDecision(decision: Decision, facts?: ExecFacts, notes: readonly string[] = []): string {
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
  for (const n of notes) lines.push(`why: ${n}`);
  lines.push(`cacheable: ${decision.cacheable ? 'yes (depends only on the program)' : 'no'}`);
  return lines.join('\n');
}

/** Quote a word for display so the user sees exactly the argv (spaces, quotes, control characters). */
export function quoteWord(w: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w)) return w;
  // JSON escaping makes control characters, ANSI escapes and bidi overrides visible.
  return JSON.stringify(w).replace(/[\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export interface ExplainOptions {
  /** Working directory of the exec (relative program paths and cwd_glob). */
  cwd: string;
  /** Extra grants, as `run` would add (they change which places count as agent-writable). */
  cliGrants?: CliGrants;
  /** PATH to find the program in (default: this process's). */
  path?: string;
}

export interface Explanation {
  decision: Decision;
  /** What was found about the program on this machine, as the supervisor would report it. */
  facts: ExecFacts;
  /** Where the deciding rule is written (null when the default decided); `file` when it is not the policy's
   *  own (a rule an agent profile added). */
  rule: { id: string; index: number; line: number; column: number; file?: string } | null;
  /** Why the program's place mattered, in words (empty when it did not): a program in a place the agent can
   *  write is known by its content, never its name, and deny and ask rules also match the name it was run as. */
  notes: string[];
}

/**
 * The verdict the policy gives to running `argv` here, with the facts it rests on: the program found like
 * execvp (PATH, canonical path, identity, #! interpreter, dynamic loader), evaluated exactly as the gate
 * does. `agent-gate explain` and the editor's "Explain command" both use this.
 */
export function explainCommand(policy: Policy, argv: string[], options: ExplainOptions): Explanation {
  const { filesystem } = compileFilesystem(policy, options.cliGrants ?? {});
  const evaluator = createEvaluator(policy, options.path !== undefined ? { path: options.path } : undefined, { filesystem });
  // The program identified as the supervisor identifies it in a run of this policy (the same HASH_UNDER and
  // HASH_SIZES the session sends it): hashed only where the agent can write, so a file elsewhere is known by
  // its name, never as another program with the same bytes (red-team R96: pyenv's shims).
  const hash: HashRule = { under: hashUnderPaths(filesystem), sizes: evaluator.contentSizes() };
  // And found as the supervisor's execvp finds it: in the agent's PATH, after [env].
  const inherited = options.path !== undefined ? { ...process.env, PATH: options.path } : process.env;
  const facts = gatherLocalFacts(argv, { cwd: options.cwd, hash, path: agentSearchPath(inherited, policy.env) ?? DEFAULT_PATH });
  const decision = evaluator.evaluate(facts);
  const spec = decision.ruleId === null ? undefined : policyInternals(policy).rules.find((r) => r.id === decision.ruleId);
  return {
    decision,
    facts,
    rule: spec ? { id: spec.id, index: spec.index, line: spec.header.line, column: spec.header.column, ...(spec.file ? { file: spec.file } : {}) } : null,
    notes: placeNotes(evaluator, facts, decision),
  };
}

/**
 * When the verdict comes from where the program is: a file in a place the agent can write carries no honest
 * name, so a rule naming a program (exe_basename) matches it only when its content is that program's, and
 * deny and ask rules also match the name it was run as. Says which rules that changed, in words.
 */
export function placeNotes(evaluator: PolicyEvaluator, facts: ExecFacts, decision: Decision): string[] {
  const exe = facts.exe;
  if (!exe) return [];
  const ctx = evaluator.context;
  const writable = ctx.filesystemSealed ? ctx.writableGrants.find((g) => isUnder(exe.path, g)) : '/';
  const notes: string[] = [];
  const name = basename(exe.path);
  const asked = basename(facts.requestedPath || exe.path);
  if (writable !== undefined) {
    notes.push(
      `${exe.path} is in a place the agent can write (${writable === '/' ? 'writes are not sealed' : `write grant ${writable}`}): a file there may have been put there under any name, so rules that name a program match it only by content (the same bytes as the installed program), never by its name`,
    );
    const v = new ExecView(facts);
    for (const rule of evaluator.rules) {
      if (rule.spec.id === decision.ruleId || rule.spec.action === decision.action) continue;
      const named = rule.spec.keys.some((k) => k.name === 'exe_basename' && !k.negated && (k.strings.includes(name) || k.strings.includes(asked)));
      if (!named) continue;
      const m = evaluator.matchRule(rule, v, false);
      if (!m.exePartMatched) notes.push(`rule '${rule.spec.id}' (${rule.spec.action}) names ${namedAs(rule, name, asked)} but does not match this file: it is not the installed program of that name`);
    }
  }
  if (decision.ruleId !== null) {
    const rule = evaluator.ruleById(decision.ruleId);
    if (rule && evaluator.matchRule(rule, new ExecView(facts), false).usedRequestedName) {
      notes.push(`rule '${decision.ruleId}' matched by the name the program was run as (${asked}): for deny and ask rules that name counts whatever the file is (fail closed)`);
    }
  }
  return notes;
}

function namedAs(rule: CompiledRule, name: string, asked: string): string {
  const names = rule.spec.keys.filter((x) => x.name === 'exe_basename' && !x.negated).flatMap((x) => x.strings);
  return names.includes(name) ? name : asked;
}

/** What `explain --json` prints. */
export function explanationJson(e: Explanation, policyFile: string): object {
  const { decision, facts } = e;
  return {
    action: decision.action,
    rule_id: decision.ruleId,
    reason: decision.reason,
    layer: decision.layer,
    matched: decision.matched,
    cacheable: decision.cacheable,
    exe: facts.exe?.path ?? null,
    requested_path: facts.requestedPath,
    argv: facts.argv,
    cwd: facts.cwd,
    interpreter: facts.interpreter?.path ?? null,
    loader_target: facts.loaderTarget?.path ?? null,
    policy: policyFile,
    rule_line: e.rule?.line ?? null,
    ...(e.rule?.file ? { rule_file: e.rule.file } : {}),
    notes: e.notes,
  };
}
