// `agent-gate explain --policy FILE [--cwd DIR] [--json] -- PROGRAM [ARGS…]`: resolve PROGRAM like execvp,
// evaluate it and say which rule decides and why. Exit 0 whatever the verdict; 2 on a bad policy or usage.
import { explainCommand, explainDecision, explanationJson, loadPolicyFile } from '../core/policy/index';
import { formatDiagnostic, parseCommonOptions, policyPathFrom, UsageError, type CommonOptions } from './check';

export const EXPLAIN_USAGE = `Usage: agent-gate explain [--policy FILE] [--cwd DIR] [--json] [-r|-w|-a GLOB]… -- PROGRAM [ARGS…]

Show the verdict the policy gives to running PROGRAM ARGS…, the rule that decides it (or the default),
its reason and the keys that matched. PROGRAM is found like execvp does (PATH, then its canonical path).

  --policy FILE      the policy (default ./.gate.toml)
  --cwd DIR          working directory of the exec (default: the current directory)
  --json             print one JSON object: action, rule_id, reason, exe, matched, cacheable, …
  --workspace DIR    value of \${WORKSPACE} (default: the policy file's directory)
  -r/-w/-a GLOB      extra grants, as 'run' would add (they change which places count as agent-writable)
`;

export function runExplain(args: string[]): number {
  let o: CommonOptions;
  let file: string;
  try {
    o = parseCommonOptions(args, true);
    if (o.help) {
      process.stdout.write(EXPLAIN_USAGE);
      return 0;
    }
    if (o.rest.length === 0) throw new UsageError('no program given; put it after --, e.g. explain -- git push');
    file = policyPathFrom(o);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`agent-gate explain: ${e.message}\n\n${EXPLAIN_USAGE}`);
      return 2;
    }
    throw e;
  }
  const loaded = loadPolicyFile(file, { ...(o.workspace ? { workspace: o.workspace } : {}), cliGrants: o.grants });
  for (const d of loaded.diagnostics) {
    if (d.severity === 'error' || !o.json) process.stderr.write(formatDiagnostic(d) + '\n');
  }
  if (!loaded.policy) {
    process.stderr.write(`agent-gate explain: the policy has errors; fix them (agent-gate check --policy ${file})\n`);
    return 2;
  }
  const explained = explainCommand(loaded.policy, o.rest, { cwd: o.cwd ?? process.cwd(), cliGrants: o.grants });
  if (o.json) {
    process.stdout.write(JSON.stringify(explanationJson(explained, file)) + '\n');
  } else {
    process.stdout.write(`policy: ${file}\n${explainDecision(explained.decision, explained.facts)}\n`);
  }
  return 0;
}
