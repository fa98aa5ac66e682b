// `check`: every diagnostic of a policy text — the loader's (syntax, keys, types, values, regexes, ids,
// shadowed rules, widened globs…) and the rules' inline examples — and the one way they are printed.
// `agent-gate check` and the editor's diagnostics both come from checkPolicyText, so they cannot differ.
import { readFileSync } from 'node:fs';
import type { Diagnostic, Policy } from './types';
import { loadPolicyText, type LoadOptions } from './load';
import { compileFilesystem } from './grants';
import { createEvaluator } from './evaluator';
import { verifyExamples } from './examples';

export interface CheckOptions extends LoadOptions {
  /** Verify the rules' examples_match / examples_no_match (default true). */
  examples?: boolean;
  /** PATH for resolving the examples' programs (default: this process's PATH). */
  path?: string;
  /** Working directory for the examples (default: this process's). */
  cwd?: string;
}

export interface PolicyCheck {
  /** The loaded policy, or null when it has errors (the examples are then not verified). */
  policy: Policy | null;
  /** Every diagnostic, in file order. */
  diagnostics: Diagnostic[];
}

export function checkPolicyText(text: string, file: string, options: CheckOptions = {}): PolicyCheck {
  const loaded = loadPolicyText(text, file, options);
  const diagnostics = [...loaded.diagnostics];
  if (loaded.policy && options.examples !== false) {
    const grants = options.cliGrants ?? {};
    const { filesystem } = compileFilesystem(loaded.policy, grants, options.exists ? { exists: options.exists } : {});
    const evaluator = createEvaluator(loaded.policy, options.path !== undefined ? { path: options.path } : undefined, { filesystem });
    diagnostics.push(...verifyExamples(loaded.policy, evaluator, options.cwd !== undefined ? { cwd: options.cwd } : {}));
    diagnostics.sort((a, b) => a.line - b.line || a.column - b.column);
  }
  return { policy: loaded.policy, diagnostics };
}

/** checkPolicyText on a file; an unreadable file is one 'unreadable' diagnostic. */
export function checkPolicyFile(file: string, options: CheckOptions = {}): PolicyCheck {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const msg = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message;
    return { policy: null, diagnostics: [{ severity: 'error', code: 'unreadable', message: `cannot read policy: ${msg}`, file, line: 1, column: 1 }] };
  }
  return checkPolicyText(text, file, options);
}

/** `FILE:LINE:COL: severity: message [code]`, the form compilers use (editors and CI parse it). */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message} [${d.code}]`;
}

/** Every diagnostic, one per line, with a final newline (empty for none). */
export function formatDiagnostics(diagnostics: readonly Diagnostic[]): string {
  return diagnostics.map((d) => formatDiagnostic(d) + '\n').join('');
}

/** What `check --json` prints. Fixes are included: a script can apply them as editors do. */
export function diagnosticsJson(file: string, diagnostics: Diagnostic[]): object {
  return {
    file,
    ok: !diagnostics.some((d) => d.severity === 'error'),
    errors: diagnostics.filter((d) => d.severity === 'error').length,
    warnings: diagnostics.filter((d) => d.severity === 'warning').length,
    diagnostics,
  };
}
