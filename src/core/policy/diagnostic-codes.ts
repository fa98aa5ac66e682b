// Every diagnostic code `agent-gate check` and the editor report, with what it means. Codes are stable:
// scripts read them from `check --json`, and the editor picks quick fixes by them (never by message text).
// To add a check, add its code here first (the type below then accepts it).

export const DIAGNOSTIC_CODES = {
  unreadable: 'The policy file cannot be read.',
  syntax: 'The file is not valid TOML.',
  'unsafe-key': '__proto__, constructor or prototype used as a key.',
  'unknown-key': 'A key or section the format does not have (with the closest known one, if any).',
  'wrong-type': 'A value of the wrong type, e.g. a string where a list is expected.',
  'bad-value': 'A value of the right type that is not allowed (enum, range, path form, host name).',
  'missing-key': 'A required key is missing (a rule without id or action).',
  'duplicate-id': 'Two rules share an id.',
  'bad-regex': 'A regular expression JavaScript cannot compile.',
  'catastrophic-regex': 'A regular expression with nested repetition, which can take exponential time.',
  'not-absolute': 'A path or glob that is not absolute.',
  'dotdot-glob': "A glob with a '..' segment.",
  'unset-variable': 'A ${VAR} that is not set in the environment.',
  'unsupported-version': 'A [meta] version this Agent Gate does not read.',
  'empty-list': 'A match key with an empty list, which matches nothing (warning).',
  'exe-not-found': 'An exe path that does not exist here, so it matches only literally (warning).',
  'shadowed-rule': 'A rule an earlier rule always wins over, so it never decides (warning).',
  'widened-glob': 'A filesystem glob Landlock grants as a whole directory (warning).',
  'allow-glob-writable': 'An allow rule whose exe_glob covers a place the agent can write (warning).',
  'caller-controlled-allow': 'An allow rule that names no program and rests only on facts the caller sets (warning).',
  'no-dns': '[network] lets TCP out but dns is not set, so names resolve only from /etc/hosts (warning).',
  'agent-never-write': "A write grant covers a place the agent profile says the agent must never write (its hooks, shell start-up files, other tools' credentials) (warning).",
  'agent-profile-unused': 'The agent profile detected for the program could not be used (e.g. a variable it needs is unset); the run goes on without it (warning).',
  'example-mismatch': "A rule's inline example that does not match (or does) as it says.",
} as const;

export type DiagnosticCode = keyof typeof DIAGNOSTIC_CODES;
