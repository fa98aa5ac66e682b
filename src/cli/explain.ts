// `agent-gate explain --policy FILE [--cwd DIR] [--json] -- PROGRAM [ARGS…]`: resolve PROGRAM like execvp,
// evaluate it and say which rule decides and why. Exit 0 whatever the verdict; 2 on a bad policy or usage.
import { explainCommand, explainDecision, explanationJson, loadPolicyFile } from '../core/policy/index';
import { resolveWorkspace, type PolicySource } from '../core/session/launch';
import { applyAgentProfile } from '../core/agents/profiles';
import type { Grant, Policy } from '../core/policy/index';
import { describeSource, formatDiagnostic, parseCommonOptions, policySourceFrom, UsageError, type CommonOptions } from './check';
import { acceptanceNote } from './policy';

export const EXPLAIN_USAGE = `Usage: agent-gate explain [--policy FILE] [--cwd DIR] [--json] [-r|-w|-a GLOB]… -- PROGRAM [ARGS…]

Show the verdict the policy gives to running PROGRAM ARGS…, the rule that decides it (or the default),
its reason and the keys that matched. PROGRAM is found like execvp does (PATH, then its canonical path).

  --policy FILE      the policy (default: as 'run' finds it: WORKSPACE/.gate.toml, else the shipped default)
  --cwd DIR          working directory of the exec (default: the current directory)
  --json             print one JSON object: action, rule_id, reason, exe, matched, cacheable, …
  --workspace DIR    the agent's directory: \${WORKSPACE}, and where .gate.toml is looked for (default: the
                     current directory)
  --agent NAME       merge an agent profile as 'run' would (claude, codex, gemini, aider, shell, or a file);
                     none: no profile. Default: the profile of the agent PROGRAM is, when it is one
  -r/-w/-a GLOB      extra grants, as 'run' would add (they change which places count as agent-writable)
`;

export function runExplain(args: string[]): number {
  let o: CommonOptions;
  let source: PolicySource;
  try {
    o = parseCommonOptions(args, true);
    if (o.help) {
      process.stdout.write(EXPLAIN_USAGE);
      return 0;
    }
    if (o.rest.length === 0) throw new UsageError('no program given; put it after --, e.g. explain -- git push');
    source = policySourceFrom(o);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`agent-gate explain: ${e.message}\n\n${EXPLAIN_USAGE}`);
      return 2;
    }
    throw e;
  }
  const file = source.file;
  const loaded = loadPolicyFile(file, { workspace: resolveWorkspace(o.workspace), cliGrants: o.grants });
  for (const d of loaded.diagnostics) {
    if (d.severity === 'error' || !o.json) process.stderr.write(formatDiagnostic(d) + '\n');
  }
  if (!loaded.policy) {
    process.stderr.write(`agent-gate explain: the policy has errors; fix them (agent-gate check --policy ${file})\n`);
    return 2;
  }
  // explain runs nothing, so it needs no acceptance; it says when run would not use the file as it is.
  const note = acceptanceNote(source);
  if (note) process.stderr.write(`agent-gate explain: ${note}\n`);
  // The policy as `run` would have it: with the agent profile merged in (given, or detected from PROGRAM).
  const workspace = resolveWorkspace(o.workspace);
  const cwd = o.cwd ?? process.cwd();
  const applied = applyAgentProfile(loaded.policy, { ...(o.agent !== undefined ? { agent: o.agent } : {}), argv: o.rest, cwd, workspace, env: process.env, cliGrants: o.grants });
  for (const d of applied.diagnostics) if (d.severity === 'error' || !o.json) process.stderr.write(formatDiagnostic(d) + '\n');
  if (!applied.ok) {
    process.stderr.write(`agent-gate explain: ${applied.error}\n`);
    return 2;
  }
  const explained = explainCommand(applied.policy, o.rest, { cwd, cliGrants: o.grants });
  const writable = writableGrants(applied.policy);
  if (o.json) {
    process.stdout.write(
      JSON.stringify({ ...explanationJson(explained, file), policy_source: source.kind, agent_profile: applied.agent?.id ?? null, writable: writable.map((g) => g.path) }) + '\n',
    );
  } else {
    const profile = applied.agent ? `agent profile: ${applied.agent.name} (${applied.why})\n` : '';
    const where = writable.length === 0 ? 'writable: everywhere (writes are not sealed)' : `writable: ${writable.map((g) => g.path).join(', ')} (Landlock refuses a write anywhere else: EACCES, "Permission denied"; run -v lists where each comes from)`;
    process.stdout.write(`policy: ${describeSource(source)}\n${profile}${explainDecision(explained.decision, explained.facts, explained.notes)}\n${where}\n`);
  }
  return 0;
}

/** The write grants the agent has (none listed: writes are not sealed). */
function writableGrants(policy: Policy): Grant[] {
  const f = policy.filesystem;
  if (!f.enabled || !f.handled.includes('w')) return [];
  return f.grants.filter((g) => g.rights.includes('w') && !g.source.startsWith('bootstrap'));
}
