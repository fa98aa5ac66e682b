// The policy engine's public API. The broker, the CLI and the extension use only this module and ./types.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Diagnostic, FilesystemPolicy, NetworkPolicy, Policy } from './types';
import { policyInternals } from './load';
import { compileFilesystemSpec, compileNetworkSpec, writableRoots, type CliGrants } from './landlock';

export type * from './types';
export { loadPolicyFile, loadPolicyText, type LoadOptions } from './load';
export { createEvaluator, PolicyEvaluator, defaultEvaluationContext, type EvaluatorOptions } from './evaluator';
export type { EvaluationContext, ProgramIdentity } from './matcher';
export { extractUrlHosts } from './matcher';
export { explainDecision, quoteWord } from './explain';
export { verifyExamples, shellSplit } from './examples';
export { writableRoots, type CliGrants } from './landlock';
export { broadAllowRefusal, regexEscape, suggestRules, tomlString } from './suggest-rule';
export type { RuleScope, RuleSuggestion, RuleSuggestionInput, RuleSuggestions } from './suggest-rule';

/**
 * The Landlock grants for a loaded policy plus command-line grants (-r/-w/-a), which add to the policy's.
 * Diagnostics (widened or bad CLI globs) point at '(--read)' etc. when they come from the command line.
 */
export function compileFilesystem(
  policy: Policy,
  cli: CliGrants = {},
  options: { exists?: (path: string) => boolean } = {},
): { filesystem: FilesystemPolicy; network: NetworkPolicy; diagnostics: Diagnostic[] } {
  const p = policyInternals(policy);
  const fs = compileFilesystemSpec(p.fsSpec, cli, { env: p.env, ...options });
  return { filesystem: fs.filesystem, network: compileNetworkSpec(p.netSpec), diagnostics: fs.diagnostics };
}

/** Directories under which the supervisor should hash executables (HASH_UNDER, docs/protocol.md). */
export function hashUnderPaths(filesystem: FilesystemPolicy): string[] {
  return writableRoots(filesystem);
}

/**
 * policies/default.gate.toml, the policy for a workspace without `.gate.toml`. Bundles live in dist/, so
 * it is `../policies` from there; vitest runs this file from src/core/policy, three levels below the root.
 */
export function defaultPolicyPath(): string {
  // dist/cli.js → ../policies; dist/run/x.cjs → ../../policies; src/core/policy → ../../../policies.
  const candidates = [1, 2, 3].map((up) => join(__dirname, ...Array<string>(up).fill('..'), 'policies', 'default.gate.toml'));
  return candidates.find((c) => existsSync(c)) ?? (candidates[0] as string);
}
