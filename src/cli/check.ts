// `agent-gate check --policy FILE [--json] [-r|-w|-a GLOB]…`: validate a policy and verify its inline
// examples. Exit 0 with `policy ok: FILE` (warnings may precede it), exit 2 on any error.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  checkPolicyFile,
  diagnosticsJson,
  formatDiagnostic,
  formatDiagnostics,
  type CliGrants,
  type Diagnostic,
} from '../core/policy/index';
import { scanOptions, UsageError } from './options';

export { UsageError, formatDiagnostic };

export const CHECK_USAGE = `Usage: agent-gate check [--policy FILE] [--json] [--workspace DIR] [-r GLOB] [-w GLOB] [-a GLOB]

Validate a .gate.toml policy: syntax, keys, types, regexes, shadowed rules, widened globs and the rules'
inline examples. Without --policy, ./.gate.toml is checked.

  --policy FILE      the policy to check
  --json             print the diagnostics as JSON
  --workspace DIR    value of \${WORKSPACE} (default: the policy file's directory)
  -r, --read GLOB    extra read grant (as 'run' would add), repeatable
  -w, --write GLOB   extra write grant, repeatable
  -a, --allow GLOB   extra read+write grant, repeatable
`;

export interface CommonOptions {
  policy?: string;
  json: boolean;
  workspace?: string;
  cwd?: string;
  grants: Required<CliGrants>;
  help: boolean;
  rest: string[];
}

/** Parse the options shared by check and explain; everything after `--` goes to `rest`. */
export function parseCommonOptions(args: string[], allowCwd: boolean): CommonOptions {
  const o: Omit<CommonOptions, 'grants' | 'help' | 'rest'> = { json: false };
  const scanned = scanOptions(args, (name, value) => {
    switch (name) {
      case '--policy':
      case '-p':
        o.policy = value();
        return true;
      case '--json':
        o.json = true;
        return true;
      case '--workspace':
        o.workspace = resolve(value());
        return true;
      case '--cwd':
        if (!allowCwd) return false;
        o.cwd = resolve(value());
        return true;
      default:
        return false;
    }
  });
  return { ...o, ...scanned };
}

export function policyPathFrom(o: CommonOptions): string {
  if (o.policy !== undefined) return resolve(o.policy);
  const local = resolve(o.cwd ?? process.cwd(), '.gate.toml');
  if (existsSync(local)) return local;
  throw new UsageError('no policy given and no .gate.toml here; pass --policy FILE');
}

/** Load, validate and verify examples: core's checkPolicyText, as the editor runs it. */
export function checkPolicy(file: string, o: Pick<CommonOptions, 'workspace' | 'grants'>): Diagnostic[] {
  return checkPolicyFile(file, { ...(o.workspace ? { workspace: o.workspace } : {}), cliGrants: o.grants }).diagnostics;
}

export function runCheck(args: string[]): number {
  let o: CommonOptions;
  let file: string;
  try {
    o = parseCommonOptions(args, false);
    if (o.help) {
      process.stdout.write(CHECK_USAGE);
      return 0;
    }
    if (o.rest.length) throw new UsageError(`unexpected argument '${o.rest[0]}'`);
    file = policyPathFrom(o);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`agent-gate check: ${e.message}\n\n${CHECK_USAGE}`);
      return 2;
    }
    throw e;
  }
  const diagnostics = checkPolicy(file, o);
  const failed = diagnostics.some((d) => d.severity === 'error');
  if (o.json) {
    process.stdout.write(JSON.stringify(diagnosticsJson(file, diagnostics), null, 2) + '\n');
  } else {
    process.stderr.write(formatDiagnostics(diagnostics));
    if (!failed) process.stdout.write(`policy ok: ${file}\n`);
  }
  return failed ? 2 : 0;
}
