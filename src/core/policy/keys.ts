// The `.gate.toml` vocabulary: every table and key the loader accepts, with its type. The JSON Schema in
// policies/gate.schema.json describes the same format for editors; test/unit/policy/schema.test.ts keeps
// the two in agreement.

export type ValueType =
  | 'string'
  | 'int'
  | 'bool'
  | 'string-list'
  | 'int-list'
  | 'string-or-list'
  | 'int-or-list';

export interface KeySpec {
  type: ValueType;
  enum?: readonly string[];
  min?: number;
  max?: number;
}

export const ACTIONS = ['allow', 'deny', 'ask'] as const;
export const BINARY_ACTIONS = ['allow', 'deny'] as const;

export const TOP_LEVEL_KEYS = ['meta', 'rule', 'filesystem', 'network', 'approval'] as const;

export const META_KEYS: Record<string, KeySpec> = {
  version: { type: 'int' },
  default_action: { type: 'string', enum: ACTIONS },
  on_policy_error: { type: 'string', enum: BINARY_ACTIONS },
  on_supervisor_timeout_ms: { type: 'int', min: 1, max: 600_000 },
};

export const FILESYSTEM_KEYS: Record<string, KeySpec> = {
  read_globs: { type: 'string-list' },
  write_globs: { type: 'string-list' },
  allow_globs: { type: 'string-list' },
  execute_globs: { type: 'string-list' },
  require_enforced: { type: 'bool' },
  no_bootstrap_reads: { type: 'bool' },
};

export const NETWORK_KEYS: Record<string, KeySpec> = {
  connect_tcp_ports: { type: 'int-list', min: 0, max: 65535 },
  bind_tcp_ports: { type: 'int-list', min: 0, max: 65535 },
  require_enforced: { type: 'bool' },
};

export const APPROVAL_KEYS: Record<string, KeySpec> = {
  timeout_ms: { type: 'int', min: 1, max: 86_400_000 },
  on_timeout: { type: 'string', enum: BINARY_ACTIONS },
  max_pending: { type: 'int', min: 1, max: 10_000 },
  max_per_minute: { type: 'int', min: 1, max: 100_000 },
};

/** Keys that identify the program: the "exe-part" of a rule (see Decision.cacheable). */
export const EXE_MATCH_KEYS = ['exe', 'exe_basename', 'exe_glob'] as const;
/** Keys over argv, which a truncated argv cannot satisfy for an allow rule. */
export const ARGV_MATCH_KEYS = ['argv_regex', 'argv_contains', 'argv_host_in'] as const;
export const CONTEXT_MATCH_KEYS = ['cwd_glob', 'uid', 'parent_exe', 'parent_argv'] as const;
export const MATCH_KEYS = [...EXE_MATCH_KEYS, ...ARGV_MATCH_KEYS, ...CONTEXT_MATCH_KEYS] as const;
export type MatchKey = (typeof MATCH_KEYS)[number];

const MATCH_KEY_SPECS: Record<MatchKey, KeySpec> = {
  exe: { type: 'string-or-list' },
  exe_basename: { type: 'string-or-list' },
  exe_glob: { type: 'string-or-list' },
  argv_regex: { type: 'string-or-list' },
  argv_contains: { type: 'string-or-list' },
  argv_host_in: { type: 'string-or-list' },
  cwd_glob: { type: 'string-or-list' },
  uid: { type: 'int-or-list', min: 0, max: 4294967295 },
  parent_exe: { type: 'string-or-list' },
  parent_argv: { type: 'string-or-list' },
};

export const RULE_KEYS: Record<string, KeySpec> = {
  id: { type: 'string' },
  action: { type: 'string', enum: ACTIONS },
  reason: { type: 'string' },
  examples_match: { type: 'string-list' },
  examples_no_match: { type: 'string-list' },
  ...Object.fromEntries(
    MATCH_KEYS.flatMap((k) => [
      [k, MATCH_KEY_SPECS[k]],
      [`${k}_not`, MATCH_KEY_SPECS[k]],
    ]),
  ),
};

export function isMatchKey(name: string): boolean {
  return (MATCH_KEYS as readonly string[]).includes(name.replace(/_not$/, ''));
}

/** Keys that must never appear in a parsed TOML object (prototype pollution in consumers). */
export const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Suggest the closest known key for a typo, or undefined when nothing is close. */
export function didYouMean(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(name.toLowerCase(), k);
    if (d < bestDistance) {
      bestDistance = d;
      best = k;
    }
  }
  const limit = Math.max(2, Math.floor(name.length / 3));
  return bestDistance <= limit ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j] as number;
      prev[j] = Math.min(
        (prev[j] as number) + 1,
        (prev[j - 1] as number) + 1,
        diag + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      diag = tmp;
    }
  }
  return prev[b.length] as number;
}
