// Policies the schema and the loader must agree on: hand-written GOOD/BAD structures and, generated from
// the vocabulary, one good document per key and two bad ones (a value of another type, a misspelt key).
// Used by schema.test.ts (ajv) and toml-extensions.test.ts (taplo and tombi, the engines of Even Better TOML
// and Tombi).
import { POLICY_FORMAT, exampleValue, tableKeys, type KeySpec, type TableSpec } from '../../../src/core/policy/vocabulary';

export const GOOD: string[] = [
  '',
  '[meta]\nversion = 1\ndefault_action = "ask"\non_policy_error = "allow"\non_supervisor_timeout_ms = 250\n',
  '[[rule]]\nid = "a"\naction = "deny"\n',
  '[[rule]]\nid = "a"\naction = "allow"\nreason = "r"\nexe = "/usr/bin/git"\nexe_basename = ["git", "hg"]\nexe_glob = "/usr/bin/*"\n',
  '[[rule]]\nid = "a"\naction = "ask"\nargv_regex = ["^x", "y"]\nargv_contains = "-f"\nargv_host_in = ["github.com", "*.example.com"]\n',
  '[[rule]]\nid = "a"\naction = "deny"\ncwd_glob = "${HOME}/**"\nuid = [0, 1000]\nparent_exe = "/usr/bin/bash"\nparent_argv = "^bash"\n',
  '[[rule]]\nid = "a"\naction = "deny"\nexe_not = "/x"\nexe_basename_not = "x"\nexe_glob_not = "/x/*"\nargv_regex_not = "x"\nargv_contains_not = ["x"]\nargv_host_in_not = "x.org"\ncwd_glob_not = "/x"\nuid_not = 0\nparent_exe_not = "/x"\nparent_argv_not = "x"\n',
  '[[rule]]\nid = "a"\naction = "allow"\nexe_basename = "git"\nexamples_match = ["git status"]\nexamples_no_match = ["git push"]\n',
  '[filesystem]\nread_globs = ["/a/**"]\nwrite_globs = ["/tmp/**"]\nallow_globs = []\nexecute_globs = ["/opt/**"]\nrequire_enforced = false\nno_bootstrap_reads = true\n',
  '[network]\nconnect_tcp_ports = [443, 80]\nbind_tcp_ports = []\nrequire_enforced = true\n',
  '[approval]\ntimeout_ms = 1000\non_timeout = "allow"\nmax_pending = 3\nmax_per_minute = 60\n',
];

export const BAD: string[] = [
  '[metaa]\n',
  'version = 1\n',
  '[meta]\nversion = 2\n',
  '[meta]\nversion = "1"\n',
  '[meta]\ndefault_action = "maybe"\n',
  '[meta]\non_policy_error = "ask"\n',
  '[meta]\non_supervisor_timeout_ms = 0\n',
  '[meta]\nextra = 1\n',
  '[[rule]]\naction = "deny"\n',
  '[[rule]]\nid = "a"\n',
  '[[rule]]\nid = ""\naction = "deny"\n',
  '[[rule]]\nid = 1\naction = "deny"\n',
  '[[rule]]\nid = "a"\naction = "block"\n',
  '[[rule]]\nid = "a"\naction = "deny"\nexe_basenam = "x"\n',
  '[[rule]]\nid = "a"\naction = "deny"\nexe_basename = "a/b"\n',
  '[[rule]]\nid = "a"\naction = "deny"\nexe = "relative"\n',
  '[[rule]]\nid = "a"\naction = "deny"\nexe_glob = ["/ok/*", "rel/*"]\n',
  '[[rule]]\nid = "a"\naction = "deny"\nuid = "0"\n',
  '[[rule]]\nid = "a"\naction = "deny"\nuid = -1\n',
  '[[rule]]\nid = "a"\naction = "deny"\nargv_regex = 5\n',
  '[[rule]]\nid = "a"\naction = "deny"\nargv_contains = [1]\n',
  '[[rule]]\nid = "a"\naction = "deny"\nargv_host_in = "https://x.org/"\n',
  '[[rule]]\nid = "a"\naction = "deny"\nexamples_match = "git"\n',
  '[[rule]]\nid = "a"\naction = "deny"\nreason = 1\n',
  'rule = 1\n',
  'rule = ["x"]\n',
  '[filesystem]\nread_globs = "/a"\n',
  '[filesystem]\nrequire_enforced = "yes"\n',
  '[filesystem]\nexecute_glob = ["/a"]\n',
  '[network]\nconnect_tcp_ports = [70000]\n',
  '[network]\nbind_tcp_ports = 80\n',
  '[approval]\non_timeout = "ask"\n',
  '[approval]\nmax_pending = 0\n',
  '[approval]\ntimeout_ms = 1.5\n',
];

export interface Case {
  where: string;
  good: string;
  wrongType: string;
  /** '' where unknown keys are allowed (a free-form map). */
  typo: string;
}

export function vocabularyCases(): Case[] {
  const wrongValue = (spec: KeySpec): string => {
    if (spec.type === 'bool') return '"yes"';
    if (spec.type === 'string' || spec.type === 'string-list' || spec.type === 'string-or-list') return spec.type === 'string-list' ? '"x"' : '[true]';
    if (spec.type === 'table' || spec.type === 'table-array') return '7';
    return '"7"';
  };
  /** Lines that make a table valid on its own: its required keys. */
  const requiredLines = (table: TableSpec, except?: string): string[] =>
    Object.entries(tableKeys(table)).filter(([k, s]) => s.required && k !== except).map(([k, s]) => `${k} = ${exampleValue(s)}`);
  const cases: Case[] = [];
  /** Cases for every key of a table written under `header`, recursing into sub-tables ([a.b]). */
  const addCases = (names: string[], spec: KeySpec): void => {
    const header = spec.type === 'table-array' ? `[[${names.join('.')}]]` : `[${names.join('.')}]`;
    const table = spec.table!;
    const entries: [string, KeySpec][] = Object.entries(tableKeys(table));
    if (table.otherKeys) entries.push(['ANY_NAME', table.otherKeys]);
    for (const [key, kspec] of entries) {
      if (kspec.type === 'table' || kspec.type === 'table-array') {
        addCases([...names, key], kspec);
        continue;
      }
      const doc = (line: string): string => [header, ...requiredLines(table, key), line, ''].join('\n');
      cases.push({
        where: [...names, key].join('.'),
        good: doc(`${key} = ${exampleValue(kspec)}`),
        wrongType: doc(`${key} = ${wrongValue(kspec)}`),
        // A misspelt key is an error only where unknown keys are (not in a free-form map).
        typo: table.otherKeys ? '' : doc(`${key}x = ${exampleValue(kspec)}`),
      });
    }
  };
  for (const [section, sspec] of Object.entries(POLICY_FORMAT.keys) as [string, KeySpec][]) addCases([section], sspec);
  return cases;
}
