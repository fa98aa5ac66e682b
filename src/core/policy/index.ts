// The policy engine's public API. The broker, the CLI and the extension use only this module and ./types.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export type * from './types';
export { loadPolicyFile, loadPolicyText, type LoadOptions } from './load';
export { createEvaluator, PolicyEvaluator, defaultEvaluationContext, type EvaluatorOptions } from './evaluator';
export type { EvaluationContext, ProgramIdentity } from './matcher';
export { extractUrlHosts } from './matcher';
export { explainDecision, quoteWord } from './explain';
export { verifyExamples, shellSplit } from './examples';
export { writableRoots, type CliGrants } from './landlock';
export { broadAllowRefusal, suggestRules } from './suggest-rule';
export type { RuleScope, RuleSuggestion, RuleSuggestionInput, RuleSuggestions } from './suggest-rule';
export { compileFilesystem, hashUnderPaths } from './grants';
export { checkPolicyText, checkPolicyFile, formatDiagnostic, formatDiagnostics, diagnosticsJson, type CheckOptions, type PolicyCheck } from './check';
export { explainCommand, explanationJson, type ExplainOptions, type Explanation } from './explain';
export { DIAGNOSTIC_CODES } from './diagnostic-codes';
export { completionsAt, hoverAt, ruleLocations, keyMarkdown, type CompletionEntry, type CompletionKind, type HoverInfo, type RuleLocation } from './assist';
export { readOutline, placeAt, type PolicyOutline, type OutlineTable, type OutlineKey, type CursorPlace } from './tolerant';
export { tomlString, tomlBasicString, tomlKey, escapeRegExp } from './toml-text';

/**
 * policies/default.gate.toml, the policy for a workspace without `.gate.toml`. Bundles live in dist/, so
 * it is `../policies` from there; vitest runs this file from src/core/policy, three levels below the root.
 */
export function defaultPolicyPath(): string {
  // dist/cli.js → ../policies; dist/run/x.cjs → ../../policies; src/core/policy → ../../../policies.
  const candidates = [1, 2, 3].map((up) => join(__dirname, ...Array<string>(up).fill('..'), 'policies', 'default.gate.toml'));
  return candidates.find((c) => existsSync(c)) ?? (candidates[0] as string);
}
