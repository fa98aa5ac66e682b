// `agent-gate check --policy FILE [--json] [-r|-w|-a GLOB]…`: validate a policy and verify its inline
// examples. Exit 0 with `policy ok: FILE` (warnings may precede it), exit 2 on any error.
import { resolve } from 'node:path';
import {
  checkPolicyFile,
  diagnosticsJson,
  formatDiagnostic,
  formatDiagnostics,
  type CliGrants,
  type Diagnostic,
} from '../core/policy/index';
import { resolvePolicySource, resolveWorkspace, type PolicySource } from '../core/session/launch';
import { policyOption, scanOptions, UsageError } from './options';
import { acceptanceNote } from './policy';

export { UsageError, formatDiagnostic };

export const CHECK_USAGE = `Usage: agent-gate check [--policy FILE] [--json] [--workspace DIR] [-r GLOB] [-w GLOB] [-a GLOB]

Validate a .gate.toml policy: syntax, keys, types, regexes, shadowed rules, widened globs and the rules'
inline examples. The policy is found as 'run' finds it: --policy, else WORKSPACE/.gate.toml, else the
shipped default policy; the output says which file was checked.

  --policy FILE      the policy to check
  --json             print the diagnostics as JSON
  --workspace DIR    the agent's directory: \${WORKSPACE}, and where .gate.toml is looked for (default: the
                     current directory)
  -r, --read GLOB    extra read grant (as 'run' would add), repeatable
  -w, --write GLOB   extra write grant, repeatable
  -a, --allow GLOB   extra read+write grant, repeatable
`;

export interface CommonOptions {
  policy?: string;
  json: boolean;
  workspace?: string;
  cwd?: string;
  /** explain: --agent NAME (a profile merged as run would), none (null), or detected (undefined). */
  agent?: string | null;
  grants: Required<CliGrants>;
  help: boolean;
  rest: string[];
}

/** Parse the options shared by check and explain; everything after `--` goes to `rest`. */
export function parseCommonOptions(args: string[], allowCwd: boolean): CommonOptions {
  const o: Omit<CommonOptions, 'grants' | 'help' | 'rest'> = { json: false };
  const scanned = scanOptions(args, (name, value) => {
    if (policyOption(o, name, value, allowCwd)) return true;
    switch (name) {
      case '--json':
        o.json = true;
        return true;
      case '--cwd':
        if (!allowCwd) return false;
        o.cwd = resolve(value());
        return true;
      default:
        return false;
    }
  });
  if (o.workspace !== undefined) o.workspace = resolve(o.workspace);
  return { ...o, ...scanned };
}

/** The policy `check` and `explain` use: the same rule as `run` (src/core/session/launch.ts). */
export function policySourceFrom(o: CommonOptions): PolicySource {
  return resolvePolicySource({ ...(o.policy !== undefined ? { explicit: o.policy } : {}), workspace: resolveWorkspace(o.workspace) });
}

/** `FILE`, or `FILE (the built-in default: why)`: which policy was used, for the output. */
export function describeSource(source: PolicySource): string {
  return source.kind === 'default' ? `${source.file} (the built-in default: ${source.why})` : source.file;
}

/** Load, validate and verify examples: core's checkPolicyText, as the editor runs it. */
export function checkPolicy(file: string, o: Pick<CommonOptions, 'workspace' | 'grants'>): Diagnostic[] {
  return checkPolicyFile(file, { workspace: resolveWorkspace(o.workspace), cliGrants: o.grants }).diagnostics;
}

export function runCheck(args: string[]): number {
  let o: CommonOptions;
  let source: PolicySource;
  try {
    o = parseCommonOptions(args, false);
    if (o.help) {
      process.stdout.write(CHECK_USAGE);
      return 0;
    }
    if (o.rest.length) throw new UsageError(`unexpected argument '${o.rest[0]}'`);
    source = policySourceFrom(o);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`agent-gate check: ${e.message}\n\n${CHECK_USAGE}`);
      return 2;
    }
    throw e;
  }
  const file = source.file;
  const diagnostics = checkPolicy(file, o);
  const failed = diagnostics.some((d) => d.severity === 'error');
  // check runs nothing, so it needs no acceptance; a policy without errors is said not to be usable by run
  // as it is, when it is not (first use, or changed since it was accepted).
  const note = failed ? null : acceptanceNote(source);
  if (note) process.stderr.write(`agent-gate check: ${note}\n`);
  if (o.json) {
    process.stdout.write(JSON.stringify(diagnosticsJson(file, diagnostics), null, 2) + '\n');
  } else {
    process.stderr.write(formatDiagnostics(diagnostics));
    if (!failed) process.stdout.write(`policy ok: ${describeSource(source)}\n`);
  }
  return failed ? 2 : 0;
}
