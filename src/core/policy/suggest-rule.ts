// "Always allow / Always deny": the rule an answer would add to .gate.toml, and where. One pure function for
// the CLI's terminal prompt and VS Code's notification, so both offer the same rules.
//
// What is offered, narrowest first:
//   exact       this program (`exe`, its canonical path) with exactly this argv (`argv_regex` anchored on both
//               ends) — the default choice;
//   subcommand  this program with this first word (`git status …`), any further arguments;
//   program     this program with any arguments — only when there is no subcommand word.
// A broader *allow* is never offered for programs that run arbitrary code or other programs given as
// arguments (shells, interpreters, sudo, env, xargs and other wrappers) or that move data off the machine
// (network tools): for them "always allow" means exactly this command. Deny rules may be broad.
//
// Where: first match wins, so the new rule goes directly before the rule that decided (and before the comment
// lines that belong to that rule); when the default action decided, after the last line of the file.
import * as path from 'node:path';
import { escapeForDisplay, escapeText } from '../audit/display';
import { parseToml } from './load';
import { TomlPositionIndex } from './toml-positions';
import { isUnder } from './landlock';

export type RuleScope = 'exact' | 'subcommand' | 'program';

export interface RuleSuggestionInput {
  action: 'allow' | 'deny';
  /** The exec's argv as it ran (not redacted: a redacted argv cannot be matched exactly). */
  argv: readonly string[];
  /** Canonical path of the program, or null when it did not resolve (then the requested path is used). */
  exe: string | null;
  requestedPath?: string;
  /** The rule that decided (or asked), or null when the policy's default action did. */
  decidingRuleId: string | null;
  /** The policy text the rule goes into (the workspace's .gate.toml as it is now, or the default's). */
  policyText: string;
  /** Places the agent can write (the session's write grants), to warn that a path there proves nothing. */
  writableRoots?: readonly string[];
  /** For the reason line; default now. */
  now?: Date;
}

export interface RuleSuggestion {
  scope: RuleScope;
  action: 'allow' | 'deny';
  id: string;
  /** The `[[rule]]` block, ending with a newline. */
  toml: string;
  /** One line for a picker, escaped for display: "allow exactly: git status --short". */
  label: string;
  /** A sentence on what it matches (escaped). */
  detail: string;
  /** Set when the rule deserves a second look (e.g. the program sits where the agent can write). */
  warning?: string;
  /** Where it goes: the text to insert at `offset` (UTF-16 index into policyText), on `line` (1-based). */
  insert: { offset: number; line: number; text: string; beforeRuleId: string | null };
}

export interface RuleSuggestions {
  suggestions: RuleSuggestion[];
  /** Why no (or only the exact) rule is offered, in words; null when nothing was held back. */
  note: string | null;
}

/** Programs that run code or programs given to them, or talk to the network: never a broad allow. */
const SHELLS = ['sh', 'bash', 'dash', 'zsh', 'fish', 'ksh', 'mksh', 'csh', 'tcsh', 'busybox', 'pwsh', 'powershell'];
const INTERPRETERS = /^(python|pypy|ruby|perl|php|lua|luajit|node|nodejs|deno|bun|tclsh|wish|rscript|osascript|awk|gawk|mawk|nawk|java|jshell|groovy|scala|julia|ghci|runghc|guile|racket|sbcl|npx|bunx|pnpx|uvx|pipx)([0-9.]*)$/i;
const WRAPPERS = ['sudo', 'su', 'doas', 'pkexec', 'runuser', 'env', 'xargs', 'nice', 'nohup', 'timeout', 'time', 'stdbuf', 'setsid', 'chroot', 'nsenter', 'unshare', 'flock', 'watch', 'strace', 'ltrace', 'gdb', 'parallel', 'exec', 'command', 'builtin', 'script', 'expect', 'ionice', 'chrt', 'taskset', 'setpriv', 'firejail', 'bwrap', 'systemd-run', 'eval', 'find', 'make', 'ssh-agent'];
const NETWORK = ['curl', 'wget', 'nc', 'ncat', 'netcat', 'socat', 'telnet', 'ftp', 'lftp', 'ssh', 'scp', 'sftp', 'rsync', 'aria2c', 'http', 'https', 'xh', 'httpie', 'ping', 'dig', 'nslookup', 'host', 'openssl', 'gnutls-cli', 'tftp', 'rclone', 's3cmd', 'aws', 'gcloud', 'az'];

/** Why a program-wide or subcommand allow is refused for `program` (its basename), or null when it is fine. */
export function broadAllowRefusal(program: string): string | null {
  const p = program.toLowerCase();
  if (SHELLS.includes(p)) return `${program} is a shell: it runs whatever command it is given`;
  if (INTERPRETERS.test(p)) return `${program} runs code it is given (an interpreter)`;
  if (WRAPPERS.includes(p)) return `${program} runs other programs given as arguments`;
  if (NETWORK.includes(p)) return `${program} is a network tool: it can send data off the machine`;
  return null;
}

const SUBCOMMAND = /^[A-Za-z][A-Za-z0-9._:+-]*$/;

export function suggestRules(input: RuleSuggestionInput): RuleSuggestions {
  const program = input.exe ?? input.requestedPath ?? input.argv[0] ?? '';
  const base = path.basename(program) || 'program';
  const sub = input.argv.length > 1 && SUBCOMMAND.test(input.argv[1] as string) ? (input.argv[1] as string) : null;
  const existing = ruleIds(input.policyText);
  const insert = insertionPoint(input.policyText, input.decidingRuleId);
  const date = (input.now ?? new Date()).toISOString().slice(0, 10);
  const verb = input.action === 'allow' ? 'allowed' : 'denied';
  const reason = `always ${verb} by the user (Agent Gate, ${date})`;
  const writable = input.exe !== null && (input.writableRoots ?? []).some((r) => isUnder(input.exe as string, r));
  const warning = writable && input.action === 'allow'
    ? `${escapeText(input.exe as string)} is in a place the agent can write: the rule matches whatever file is at that path then`
    : undefined;
  const programKey = input.exe !== null ? `exe = ${tomlString(input.exe)}` : `exe_basename = ${tomlString(base)}`;
  const shown = escapeForDisplay(input.argv);
  const redacted = input.argv.some((a) => a.includes('«redacted:'));

  const out: RuleSuggestion[] = [];
  const make = (scope: RuleScope, keys: string[], label: string, detail: string): void => {
    const id = uniqueId(`${input.action}-${slug(base)}${scope === 'subcommand' && sub ? `-${slug(sub)}` : ''}${scope === 'exact' ? '-exact' : ''}`, existing);
    existing.add(id);
    const toml = ['[[rule]]', `id = ${tomlString(id)}`, `action = "${input.action}"`, `reason = ${tomlString(reason)}`, ...keys].join('\n') + '\n';
    out.push({
      scope,
      action: input.action,
      id,
      toml,
      label,
      detail,
      ...(warning ? { warning } : {}),
      insert: { ...insert, text: insert.atEnd ? `${insert.separator}${toml}` : `${toml}\n` },
    });
  };

  let note: string | null = null;
  if (!redacted) {
    make('exact', [programKey, `argv_regex = ${tomlString(`^${regexEscape(input.argv.join(' '))}$`)}`], `${input.action} exactly: ${shown}`, `${escapeText(program)} with exactly these arguments`);
  } else {
    note = 'the command holds a redacted secret, so no rule can match it exactly';
  }
  const refusal = input.action === 'allow' ? broadAllowRefusal(base) : null;
  if (refusal) {
    note = `only this exact command can be always allowed: ${refusal}`;
  } else if (sub) {
    make('subcommand', [programKey, `argv_regex = ${tomlString(`^\\S+ ${regexEscape(sub)}( |$)`)}`], `${input.action} ${escapeText(base)} ${escapeText(sub)} …`, `${escapeText(program)} ${escapeText(sub)} with any further arguments`);
  } else {
    const key = input.action === 'deny' ? `exe_basename = ${tomlString(base)}` : programKey;
    make('program', [key], `${input.action} ${escapeText(base)} (any arguments)`, input.action === 'deny' ? `any program named ${escapeText(base)}, with any arguments` : `${escapeText(program)} with any arguments`);
  }
  return { suggestions: out, note };
}

interface InsertionPoint {
  offset: number;
  line: number;
  beforeRuleId: string | null;
  atEnd: boolean;
  /** What to put between the old end of the file and the rule. */
  separator: string;
}

/** Before the deciding rule's header and the comment lines directly above it; else at the end. */
function insertionPoint(text: string, decidingRuleId: string | null): InsertionPoint {
  const atEnd = (): InsertionPoint => {
    const separator = text.length === 0 ? '' : text.endsWith('\n\n') ? '' : text.endsWith('\n') ? '\n' : '\n\n';
    return { offset: text.length, line: text.split('\n').length, beforeRuleId: null, atEnd: true, separator };
  };
  if (decidingRuleId === null) return atEnd();
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text);
  } catch {
    return atEnd();
  }
  const rules = Array.isArray(doc.rule) ? (doc.rule as Record<string, unknown>[]) : [];
  const index = rules.findIndex((r) => r && r.id === decidingRuleId);
  if (index < 0) return atEnd();
  const header = new TomlPositionIndex(text).table(['rule', index])?.header;
  if (!header) return atEnd();
  const lines = text.split('\n');
  let line = header.line; // 1-based
  while (line > 1 && /^\s*#/.test(lines[line - 2] as string)) line--;
  let offset = 0;
  for (let i = 0; i < line - 1; i++) offset += (lines[i] as string).length + 1;
  return { offset, line, beforeRuleId: decidingRuleId, atEnd: false, separator: '' };
}

function ruleIds(text: string): Set<string> {
  try {
    const doc = parseToml(text);
    const rules = Array.isArray(doc.rule) ? (doc.rule as Record<string, unknown>[]) : [];
    return new Set(rules.map((r) => r?.id).filter((id): id is string => typeof id === 'string'));
  } catch {
    return new Set();
  }
}

function uniqueId(id: string, taken: Set<string>): string {
  if (!taken.has(id)) return id;
  for (let n = 2; ; n++) if (!taken.has(`${id}-${n}`)) return `${id}-${n}`;
}

function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'x';
}

/**
 * Escape text for a JS regex (no flags, as the policy compiles argv_regex): metacharacters with a backslash,
 * and every character a reader could not see (controls, bidi, zero-width, non-UTF-8 bytes carried as lone
 * surrogates) as \uXXXX, so the rule in the file shows exactly what it matches.
 */
export function regexEscape(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    const c = text.charCodeAt(i);
    if (/[\\^$.*+?()[\]{}|]/.test(ch)) {
      out += `\\${ch}`;
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const pair = text.slice(i, i + 2);
      if (escapeText(pair) === pair) {
        out += pair;
        i++;
        continue;
      }
    }
    out += escapeText(ch) === ch ? ch : `\\u${c.toString(16).padStart(4, '0')}`;
  }
  return out;
}

/** A TOML basic string: `"` and `\` escaped, and every character a reader could not see (controls, bidi
 *  overrides, zero-width) as \uXXXX, so the rule reads as what it matches. */
export function tomlString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] as string;
    const c = s.charCodeAt(i);
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (c < 0x20 || c === 0x7f || (c >= 0x80 && c <= 0x9f)) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else if (c < 0xd800 || c > 0xdfff ? escapeText(ch) !== ch : false) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else if (c >= 0xd800 && c <= 0xdfff) {
      const d = s.charCodeAt(i + 1);
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        const pair = s.slice(i, i + 2);
        out += escapeText(pair) === pair ? pair : `\\U${(s.codePointAt(i) as number).toString(16).padStart(8, '0')}`;
        i++;
      } else {
        // A lone surrogate (a non-UTF-8 byte of a path) has no TOML spelling: U+FFFD keeps the file valid,
        // and the rule then does not match that path (it never claims a file it does not name).
        out += '\\uFFFD';
      }
    } else out += ch;
  }
  return out + '"';
}

/** 1-based line of the `[[rule]]` header with id `ruleId` in `text` ("Go to rule"); null when the text has no
 *  such rule (it came from an agent profile, or the text does not parse). */
export function ruleLine(text: string, ruleId: string): number | null {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text);
  } catch {
    return null;
  }
  const rules = Array.isArray(doc.rule) ? (doc.rule as Record<string, unknown>[]) : [];
  const index = rules.findIndex((r) => r && r.id === ruleId);
  if (index < 0) return null;
  return new TomlPositionIndex(text).table(['rule', index])?.header.line ?? null;
}
