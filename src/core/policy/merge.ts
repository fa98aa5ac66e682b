// Merging an agent profile (policies/agents/*.toml, itself a policy document with an [agent] section) into
// the policy in force. A profile can add what its agent needs and narrow what the policy decides, never
// loosen it:
//   • rules: the profile's deny and ask rules come before the policy's rules (so they win), its allow rules
//     after them (so they only decide what the policy leaves to its default), then the default;
//   • the agent's own executables, found when the session starts, are allowed by identity (a rule of the
//     same kind, after the policy's rules);
//   • [filesystem]: the profile's grants and create_dirs are added when the policy seals the filesystem (a
//     policy without [filesystem] seals nothing, and a profile does not start sealing); a profile never adds
//     execute sealing the policy does not have;
//   • [env]: the profile's `remove` patterns are added; its `set` values apply, the policy's own `set` wins
//     for the same name; `pass` (keeping a channel out of the gate) is the policy's alone;
//   • [meta], [network], [approval], [session]: the policy's.
import type { AgentSection, Diagnostic, Policy } from './types';
import { policyInternals, registerPolicy, type RuleSpec } from './load';
import { compileFilesystemSpec, isUnder, type CliGrants, type FilesystemSpec } from './landlock';
import type { EnvPolicy } from './env';

export interface MergeOptions {
  /** Command-line grants (-r/-w/-a), compiled in with the rest. */
  cliGrants?: CliGrants;
  /** The agent's own executables found on disk when the session starts (canonical paths): allowed by
   *  identity (path, file, content). */
  executables?: readonly string[];
  /** For tests: whether a bootstrap path exists. */
  exists?: (path: string) => boolean;
}

export interface MergedPolicy {
  /** Null when the two cannot be merged (a rule id used by both): the diagnostics say why. */
  policy: Policy | null;
  diagnostics: Diagnostic[];
}

/** The id of the rule that allows the agent's own executables. */
export function agentRuleId(agent: AgentSection): string {
  return `agent-${agent.id}`;
}

export function mergeAgentProfile(base: Policy, profile: Policy, options: MergeOptions = {}): MergedPolicy {
  const agent = profile.agent;
  if (!agent) throw new Error(`${profile.file} is not an agent profile (it has no [agent] section)`);
  const b = policyInternals(base);
  const p = policyInternals(profile);
  const diagnostics: Diagnostic[] = [];

  const fromProfile = (r: RuleSpec): RuleSpec => ({ ...r, file: r.file ?? profile.file });
  const own: RuleSpec[] = [];
  if (options.executables && options.executables.length > 0) {
    own.push({
      id: agentRuleId(agent),
      action: 'allow',
      reason: `${agent.name} itself (its files found when the session started; a changed copy is not this)`,
      index: -1,
      keys: [{ keyName: 'exe', name: 'exe', negated: false, strings: [...options.executables], numbers: [], regexes: [], matchers: [] }],
      examplesMatch: [],
      examplesNoMatch: [],
      header: { line: 1, column: 1, endLine: 1, endColumn: 1 },
      file: profile.file,
      broken: false,
    });
  }
  const rules = [
    ...p.rules.filter((r) => r.action !== 'allow').map(fromProfile),
    ...b.rules,
    ...own,
    ...p.rules.filter((r) => r.action === 'allow').map(fromProfile),
  ];
  const seen = new Map<string, RuleSpec>();
  for (const r of rules) {
    const first = seen.get(r.id);
    if (first) {
      diagnostics.push({
        severity: 'error',
        code: 'duplicate-id',
        message: `rule id '${r.id}' is used by both ${first.file ?? base.file} and ${r.file ?? base.file}; rename one (rule ids name rules in the audit log)`,
        file: r.file ?? base.file,
        line: r.header.line,
        column: r.header.column,
      });
    }
    seen.set(r.id, r);
  }

  const fsSpec: FilesystemSpec = b.fsSpec.present && p.fsSpec.present
    ? {
        ...b.fsSpec,
        read: [...b.fsSpec.read, ...p.fsSpec.read],
        write: [...b.fsSpec.write, ...p.fsSpec.write],
        allow: [...b.fsSpec.allow, ...p.fsSpec.allow],
        execute: b.fsSpec.executePresent ? [...b.fsSpec.execute, ...p.fsSpec.execute] : b.fsSpec.execute,
        createDirs: [...(b.fsSpec.createDirs ?? []), ...(p.fsSpec.createDirs ?? [])],
      }
    : b.fsSpec;
  const compiled = compileFilesystemSpec(fsSpec, options.cliGrants ?? {}, { env: b.env, ...(options.exists ? { exists: options.exists } : {}) });
  diagnostics.push(...compiled.diagnostics.filter((d) => d.severity === 'error'));
  const filesystem = compiled.filesystem;

  // What the agent must never be able to write: say so when a grant covers one of those places.
  const sealed = filesystem.enabled && filesystem.handled.includes('w');
  for (const place of agent.neverWrite) {
    const grant = sealed ? filesystem.grants.find((g) => g.rights.includes('w') && isUnder(place, g.path)) : undefined;
    if (!sealed || grant) {
      diagnostics.push({
        severity: 'warning',
        code: 'agent-never-write',
        message: `${agent.name} can write ${place} (${grant ? `write grant ${grant.path}, from ${grant.source}` : 'the policy does not seal writes'}); its profile says it must never: what is written there runs, or is trusted, outside the gate later`,
        file: base.file,
        line: 1,
        column: 1,
      });
    }
  }

  const env = mergeEnv(base.env, profile.env);
  const policy: Policy = {
    ...base,
    filesystem,
    ruleIds: rules.map((r) => r.id),
    ...(env ? { env } : {}),
    agent,
  };
  if (diagnostics.some((d) => d.severity === 'error')) return { policy: null, diagnostics };
  registerPolicy(policy, { ...b, rules, fsSpec });
  return { policy, diagnostics };
}

function mergeEnv(base: EnvPolicy | undefined, profile: EnvPolicy | undefined): EnvPolicy | undefined {
  if (!profile) return base;
  const own = base ?? { remove: [], pass: [], set: [] };
  const baseNames = new Set(own.set.map(([k]) => k));
  return {
    remove: [...own.remove, ...profile.remove.filter((r) => !own.remove.includes(r))],
    pass: own.pass,
    set: [...profile.set.filter(([k]) => !baseNames.has(k)), ...own.set],
    ...(own.removeUrlCredentials || profile.removeUrlCredentials ? { removeUrlCredentials: true } : {}),
    ...(own.removeTokenValues || profile.removeTokenValues ? { removeTokenValues: true } : {}),
  };
}
