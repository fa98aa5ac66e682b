// Files that a protected file makes a tool outside the gate read (issue 13 item 8, red-team R64 R79 R80): the
// targets of a git config's includes and hooksPath, the files a direnv `.envrc` loads, and what makes a change
// to a paused rebase's plan or a `.env` harmless. Pure readers: they decide nothing about the agent, the guard
// (guard.ts) protects what they name. Every parser fails closed: what it cannot read is not harmless.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** How deep includes (a config including one that includes…) and `source_env` chains are followed. */
const MAX_DEPTH = 8;

export interface GitConfigRefs {
  /** Every file an include of the config names (include.path, includeIf.*.path — any condition: it may hold
   *  later), followed recursively, resolved as git does (relative to the including file's directory, `~/`). */
  includes: string[];
  /** core.hooksPath, as written (resolved by the caller: relative to the worktree git runs hooks in). */
  hooksPath: string | null;
}

function expandHome(v: string): string {
  return v === '~' ? (process.env.HOME ?? '/') : v.startsWith('~/') ? path.join(process.env.HOME ?? '/', v.slice(2)) : v;
}

/** A git config value: quotes removed, escapes read, an unquoted comment cut. */
function configValue(raw: string): string {
  let out = '';
  let quoted = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '"') quoted = !quoted;
    else if (c === '\\' && i + 1 < raw.length) out += { n: '\n', t: '\t', b: '\b' }[raw[++i]!] ?? raw[i]!;
    else if (!quoted && (c === '#' || c === ';')) break;
    else out += c;
  }
  return out.trim();
}

/**
 * The includes and core.hooksPath of a git config file and of the files it includes (the last hooksPath wins,
 * as in git). Read as text, never by running git (which would obey the config).
 */
export function gitConfigRefs(file: string, depth = 0, seen = new Set<string>()): GitConfigRefs {
  const out: GitConfigRefs = { includes: [], hooksPath: null };
  if (depth > MAX_DEPTH || seen.has(file)) return out;
  seen.add(file);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return out;
  }
  let section = '';
  for (const raw of text.split('\n')) {
    let line = raw.trim();
    const h = /^\[\s*([A-Za-z0-9.-]+)(\s+"(?:[^"\\]|\\.)*")?\s*\]/.exec(line);
    if (h) {
      section = h[1]!.toLowerCase();
      line = line.slice(h[0].length).trim();
    }
    const kv = /^([A-Za-z][A-Za-z0-9-]*)\s*=\s*(.*)$/.exec(line);
    if (!kv) continue;
    const key = kv[1]!.toLowerCase();
    const value = configValue(kv[2]!);
    if (!value) continue;
    if ((section === 'include' || section === 'includeif') && key === 'path') {
      const target = path.resolve(path.dirname(file), expandHome(value));
      out.includes.push(target);
      const inner = gitConfigRefs(target, depth + 1, seen);
      out.includes.push(...inner.includes);
      if (inner.hooksPath !== null) out.hooksPath = inner.hooksPath;
    } else if (section === 'core' && key === 'hookspath') {
      out.hooksPath = value;
    }
  }
  return out;
}

/** The user's global and system git configs, as git finds them (GIT_CONFIG_GLOBAL/SYSTEM, XDG, ~). */
export function userGitConfigs(env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  if (env.GIT_CONFIG_NOSYSTEM !== '1' && env.GIT_CONFIG_NOSYSTEM !== 'true') out.push(env.GIT_CONFIG_SYSTEM ?? '/etc/gitconfig');
  if (env.GIT_CONFIG_GLOBAL !== undefined) out.push(env.GIT_CONFIG_GLOBAL);
  else {
    out.push(path.join(env.XDG_CONFIG_HOME || path.join(env.HOME ?? '/', '.config'), 'git', 'config'));
    if (env.HOME) out.push(path.join(env.HOME, '.gitconfig'));
  }
  return out.filter((f) => f && f !== '/dev/null');
}

/** The hooks directory a hooksPath value names for a worktree (git: relative to where hooks run, the top). */
export function resolveHooksPath(value: string, worktree: string): string {
  return path.resolve(worktree, expandHome(value));
}

// ---- direnv

/** A shell line's words (quotes removed; `$…` left as written, so a word with it is not a plain path). */
function shellWords(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|([^\s;&|#]+)|(#.*$)|[;&|]/g;
  let m: RegExpExecArray | null;
  let cur: string | null = null;
  let last = -1;
  while ((m = re.exec(line))) {
    if (m[4] !== undefined) break;
    const word = m[1] ?? m[2] ?? m[3];
    if (word === undefined) {
      if (cur !== null) out.push(cur);
      cur = null;
      out.push(';');
      last = re.lastIndex;
      continue;
    }
    // Adjacent pieces ("a"b) are one word.
    cur = cur !== null && m.index === last ? cur + word : (cur !== null && out.push(cur), word);
    last = re.lastIndex;
  }
  if (cur !== null) out.push(cur);
  return out;
}

/**
 * The files a direnv `.envrc` makes direnv read into the user's shell — `dotenv`/`dotenv_if_exists` (`.env` by
 * default), `source_env`/`source_env_if_exists` (a directory: its `.envrc`; followed), `source_up`/
 * `source_up_if_exists` (the nearest one above), `watch_file` (re-evaluated on change: what a nix shell reads),
 * `use flake`/`use nix` (their shellHook runs in the shell) — absolute paths. direnv's `allow` covers only the
 * `.envrc`'s own content: these change what the shell gets without asking (red-team R80). Words with `$` are
 * not followed (their value is the shell's).
 */
export function envrcLoads(envrc: string, depth = 0, seen = new Set<string>()): string[] {
  if (depth > MAX_DEPTH || seen.has(envrc)) return [];
  seen.add(envrc);
  let text: string;
  try {
    text = fs.readFileSync(envrc, 'utf8');
  } catch {
    return [];
  }
  const dir = path.dirname(envrc);
  const out: string[] = [];
  const file = (w: string): string | null => (w.includes('$') || w.includes('`') ? null : path.resolve(dir, expandHome(w)));
  for (const raw of text.split('\n')) {
    const words = shellWords(raw);
    for (let i = 0; i < words.length; i++) {
      const cmd = words[i]!;
      const args: string[] = [];
      for (let j = i + 1; j < words.length && words[j] !== ';'; j++) args.push(words[j]!);
      const plain = args.filter((a) => !a.startsWith('-'));
      if (cmd === 'dotenv' || cmd === 'dotenv_if_exists') {
        const f = file(plain[0] ?? '.env');
        if (f) out.push(f);
      } else if (cmd === 'source_env' || cmd === 'source_env_if_exists') {
        const f = plain[0] !== undefined ? file(plain[0]) : null;
        if (f) {
          const rc = isDir(f) ? path.join(f, '.envrc') : f;
          out.push(rc, ...envrcLoads(rc, depth + 1, seen));
        }
      } else if (cmd === 'source_up' || cmd === 'source_up_if_exists') {
        const name = plain[0] ?? '.envrc';
        if (!name.includes('$')) {
          for (let d = path.dirname(dir); ; d = path.dirname(d)) {
            const rc = path.join(d, name);
            if (fs.existsSync(rc)) {
              out.push(rc, ...envrcLoads(rc, depth + 1, seen));
              break;
            }
            if (d === path.dirname(d)) break;
          }
        }
      } else if (cmd === 'watch_file') {
        for (const a of plain) {
          const f = file(a);
          if (f) out.push(f);
        }
      } else if (cmd === 'use' && (plain[0] === 'flake' || plain[0] === 'nix')) {
        const target = plain[1] && !plain[1].includes('#') ? file(plain[1]) : null;
        if (plain[0] === 'flake') out.push(path.join(target && isDir(target) ? target : dir, 'flake.nix'), path.join(target && isDir(target) ? target : dir, 'flake.lock'));
        else out.push(...(target ? [target] : [path.join(dir, 'shell.nix'), path.join(dir, 'default.nix')]));
      }
      while (i < words.length && words[i] !== ';') i++;
    }
  }
  return [...new Set(out)];
}

/** `.env` files at a directory's root that direnv's `dotenv` and friends are pointed at by convention (an
 *  example or template is read by no tool). */
export const DOTENV_NAME = /^\.env(\.[^/]*)?$/;
export const DOTENV_EXAMPLE = /\.(example|sample|template|dist|defaults?|schema)$/i;

// ---- .env read by an agent outside the gate (aider), and sourced by shells

/**
 * Variables that make a program reading a `.env` into its environment run something else, or send the user's
 * keys elsewhere: aider loads the git root's `.env` (AIDER_LINT_CMD, AIDER_TEST_CMD with AIDER_AUTO_LINT:
 * run after every edit), and the process environment it passes on (PATH, loader and interpreter start-up
 * variables, git's, the gate's own). A shell that sources the file (oh-my-zsh's dotenv plugin, autoenv,
 * `set -a; . ./.env`: red-team R101) takes them too: zsh's function and module paths, prompts (bash decodes
 * `\044` into a `$` before it substitutes), the history file, and the programs other tools run (pagers,
 * editors, askpass, kubectl's credential plugins, gpg's pinentry, the AWS CLI's credential_process, fzf's
 * commands). Names are matched case-insensitively (as prefixes where they end in `_`; zsh's `path`/`fpath`
 * are its PATH/FPATH).
 */
const DOTENV_DANGEROUS = [
  'AIDER_', 'PATH', 'LD_', 'DYLD_', 'GCONV_PATH', 'HOSTALIASES', 'BASH_ENV', 'ENV', 'ZDOTDIR', 'PROMPT_COMMAND', 'PS0', 'PS1', 'PS2', 'PS3', 'PS4', 'SHELL', 'SHELLOPTS', 'BASHOPTS', 'IFS', 'HOME', 'XDG_',
  'GIT_', 'SSH_', 'EDITOR', 'VISUAL', 'PAGER', 'MANPAGER', 'LESSOPEN', 'LESSCLOSE', 'BROWSER', 'TERMINAL', 'PYTHON', 'VIRTUAL_ENV', 'CONDA_', 'NODE_OPTIONS', 'NODE_PATH', 'NPM_CONFIG_', 'YARN_', 'COREPACK_', 'PERL5', 'PERLLIB', 'RUBY', 'GEM_', 'BUNDLE_',
  'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'JDK_JAVA_OPTIONS', 'CLASSPATH', 'DOTNET_', 'CARGO_', 'RUSTC', 'RUSTUP_', 'GOFLAGS', 'GOROOT', 'GOPATH', 'GOTOOLCHAIN', 'CC', 'CXX', 'MAKEFLAGS', 'MISE_', 'DIRENV_', 'TMPDIR', 'AGENT_GATE_',
  'OPENAI_API_BASE', 'OPENAI_BASE_URL', 'ANTHROPIC_BASE_URL', 'GEMINI_BASE_URL', 'OLLAMA_API_BASE', 'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY', 'SSL_CERT_', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'NODE_EXTRA_CA_CERTS',
  'LITELLM_',
  'FPATH', 'MODULE_PATH', 'BASH_LOADABLES_PATH', 'PROMPT', 'RPROMPT', 'RPS1', 'RPS2', 'SPROMPT', 'HISTFILE', 'FCEDIT', 'LESSKEY', 'FZF_', 'KUBECONFIG', 'GNUPGHOME', 'DOCKER_HOST', 'DOCKER_CONFIG', 'AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE', 'CLOUDSDK_CONFIG',
];
/** Name endings of the same kind: every tool's pager, editor, askpass and browser (GIT_PAGER, SUDO_ASKPASS…). */
const DOTENV_DANGEROUS_END = ['PAGER', 'EDITOR', 'ASKPASS', 'BROWSER'];

function dangerousName(name: string): boolean {
  const n = name.toUpperCase();
  return DOTENV_DANGEROUS.some((d) => (d.endsWith('_') ? n.startsWith(d) : n === d || (d.length > 3 && n.startsWith(d)))) || DOTENV_DANGEROUS_END.some((d) => n.endsWith(d));
}

/** One statement of a `.env` as a shell reads it: its text, and whether it is plain data. */
export interface DotenvStatement {
  text: string;
  /** `[export ]NAME=value` whose value a shell takes as it is: unquoted characters that mean nothing to a
   *  shell, single quotes, double quotes — and no `$` or backtick anywhere (a shell's expansions, make's
   *  `$(shell …)`, a prompt's or an `eval`'s later substitution). */
  plain: boolean;
}

/** Unquoted characters a shell (bash, zsh, dash) takes literally in an assignment's value. */
const PLAIN_CHAR = /[A-Za-z0-9_@%+=:,./~^!?*[\]{}#\u0080-\uffff-]/;

/**
 * The statements of a `.env` as a shell sourcing it splits them (comments and blank lines dropped). A
 * statement that is not plain data ends at the end of its line (its text is compared, never run).
 */
export function dotenvStatements(text: string): DotenvStatement[] {
  const out: DotenvStatement[] = [];
  const s = text.replace(/^\uFEFF/, '');
  const assign = /(?:export[ \t]+)?[A-Za-z_][A-Za-z0-9_]*=/y;
  const lineEnd = (at: number): number => {
    const e = s.indexOf('\n', at);
    return e < 0 ? s.length : e;
  };
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || (c === '\r' && (s[i + 1] === '\n' || i + 1 === s.length))) {
      i++;
      continue;
    }
    if (c === '#') {
      i = lineEnd(i);
      continue;
    }
    const start = i;
    assign.lastIndex = i;
    let plain = assign.test(s);
    let j = plain ? assign.lastIndex : i;
    // The value: pieces up to a blank (then only a comment may follow) or the end of the line.
    while (plain && j < s.length) {
      const v = s[j]!;
      if (v === '\n' || (v === '\r' && (s[j + 1] === '\n' || j + 1 === s.length))) break;
      if (v === ' ' || v === '\t') {
        while (s[j] === ' ' || s[j] === '\t') j++;
        if (s[j] === '#') j = lineEnd(j);
        else if (!(j >= s.length || s[j] === '\n' || (s[j] === '\r' && (s[j + 1] === '\n' || j + 1 === s.length)))) plain = false;
        break;
      }
      if (v === "'") {
        const close = s.indexOf("'", j + 1);
        if (close < 0) plain = false;
        else j = close + 1;
      } else if (v === '"') {
        let k = j + 1;
        while (k < s.length && s[k] !== '"') k += s[k] === '\\' ? 2 : 1;
        if (k >= s.length) plain = false;
        else j = k + 1;
      } else if (PLAIN_CHAR.test(v)) j++;
      else plain = false;
    }
    if (!plain) j = lineEnd(start);
    const stmt = s.slice(start, j).trim();
    out.push({ text: stmt, plain: plain && !/[$`]/.test(stmt) });
    i = j;
  }
  return out;
}

/** Every line anywhere in the file (inside a quoted value too: another reader may split it by lines) that
 *  assigns one of the names, as written. */
function assignmentsOf(text: string, names: (n: string) => boolean): string[] {
  const out: string[] = [];
  for (const raw of text.replace(/^\uFEFF/, '').split(/\r?\n/)) {
    const line = raw.trim();
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*[=:]/.exec(line);
    if (m && names(m[1]!)) out.push(line);
  }
  return out;
}

/** Whether `sub`'s items appear in `all` in the same order. */
function subsequence(sub: readonly string[], all: readonly string[]): boolean {
  let k = 0;
  for (const x of sub) {
    while (k < all.length && all[k] !== x) k++;
    if (k++ >= all.length) return false;
  }
  return true;
}

/**
 * Whether the agent's version of a `.env` is data a shell sourcing it and a program loading it both take
 * as data, with the variables that run something as they were (before/now: the file's content; null:
 * absent):
 * - every statement that is not plain (dotenvStatements: a command, a `$(…)`, a backtick, `;`/`&&`/`|`, a
 *   `${…:-$(…)}`, an unquoted blank, any `$` at all) was in the original, in the same order (the user's own
 *   `PATH=$PATH:…` stays; a new one is reviewed);
 * - the assignments of DOTENV_DANGEROUS and of every variable the file itself expands (`$NAME`, `${NAME…}`:
 *   its own code may run it) are the same, in order.
 * Text that is not UTF-8, or holds a NUL, is not harmless (unless unchanged).
 */
export function dotenvHarmless(before: Buffer | null, now: Buffer | null): boolean {
  if (now === null) return true;
  if (before?.equals(now)) return true;
  let nowText: string;
  try {
    nowText = new TextDecoder('utf-8', { fatal: true }).decode(now);
  } catch {
    return false;
  }
  if (nowText.includes('\0')) return false;
  const beforeText = before?.toString('utf8') ?? '';
  const code = (t: string): string[] => dotenvStatements(t).filter((x) => !x.plain).map((x) => x.text);
  if (!subsequence(code(nowText), code(beforeText))) return false;
  const expanded = new Set<string>();
  for (const m of `${beforeText}\n${nowText}`.matchAll(/\$\{?#?([A-Za-z_][A-Za-z0-9_]*)/g)) expanded.add(m[1]!.toUpperCase());
  const names = (n: string): boolean => dangerousName(n) || expanded.has(n.toUpperCase());
  return assignmentsOf(beforeText, names).join('\n') === assignmentsOf(nowText, names).join('\n');
}

// ---- hook managers (red-team R104)

/** lefthook's config names (its loader: main, then `-local` merged over it; at the repository's root and in
 *  `.config/`; each extension it parses). Any of them is read when the hook lefthook installed runs. */
const LEFTHOOK_CONFIGS = ['lefthook', '.lefthook', '.config/lefthook', 'lefthook-local', '.lefthook-local', '.config/lefthook-local'].flatMap((s) => ['.yml', '.yaml', '.json', '.jsonc', '.toml'].map((e) => s + e));

/** lint-staged's config names (its search places, package.json's key aside); read in every directory with
 *  staged files (monorepos), and `.js`/`.ts` ones are code it imports. */
export const LINT_STAGED_CONFIGS = new Set(['.lintstagedrc', ...['json', 'yaml', 'yml', 'mjs', 'js', 'cjs', 'ts', 'mts', 'cts'].flatMap((e) => [`.lintstagedrc.${e}`, ...(['json', 'yaml', 'yml'].includes(e) ? [] : [`lint-staged.config.${e}`])])]);

/**
 * What each git hook manager reads at the repository's root when its installed hook runs (on the user's next
 * commit, push, checkout), relative to the root — a new one is read as soon as it exists:
 * - lefthook: LEFTHOOK_CONFIGS, and its script directories (`source_dir`/`source_dir_local`, by default
 *   `.lefthook/` and `.lefthook-local/`: `scripts:` run from there);
 * - pre-commit: `.pre-commit-config.yaml` (another name is baked into the hook: hookManagerRefs);
 * - husky: `.husky/` (v9 runs `.husky/<hook>`); husky 4's cosmiconfig names (its hook reads them at commit);
 * - simple-git-hooks: its config names (the commands are copied into `.git/hooks` by its install, which
 *   `postinstall`/`prepare` run on the user's next `npm install`);
 * - overcommit: `.overcommit.yml`, `.local-overcommit.yml`, and its plugin directory `.git-hooks/` (Ruby it loads);
 * - lint-staged (run by those hooks): LINT_STAGED_CONFIGS.
 * package.json's `husky`, `lint-staged`, `simple-git-hooks`, `gitHooks` (yorkie) keys are not guarded (SECURITY.md).
 */
export const HOOK_MANAGER_FILES: readonly { rel: string; kind: 'file' | 'dir' }[] = [
  ...LEFTHOOK_CONFIGS.map((rel) => ({ rel, kind: 'file' as const })),
  { rel: '.lefthook', kind: 'dir' },
  { rel: '.lefthook-local', kind: 'dir' },
  { rel: '.pre-commit-config.yaml', kind: 'file' },
  { rel: '.husky', kind: 'dir' },
  ...['.huskyrc', '.huskyrc.json', '.huskyrc.yaml', '.huskyrc.yml', '.huskyrc.js', '.huskyrc.cjs', 'husky.config.js', 'husky.config.cjs'].map((rel) => ({ rel, kind: 'file' as const })),
  ...['.simple-git-hooks', 'simple-git-hooks'].flatMap((b) => ['cjs', 'js', 'mjs', 'json'].map((e) => ({ rel: `${b}.${e}`, kind: 'file' as const }))),
  { rel: '.overcommit.yml', kind: 'file' },
  { rel: '.local-overcommit.yml', kind: 'file' },
  { rel: '.git-hooks', kind: 'dir' },
  ...[...LINT_STAGED_CONFIGS].map((rel) => ({ rel, kind: 'file' as const })),
];

function unquote(v: string): string {
  const t = v.trim();
  return /^(["']).*\1$/s.test(t) ? t.slice(1, -1) : t;
}

/**
 * The values a config gives `key`, read as text whatever its format (YAML, TOML, JSON, JSONC): a scalar
 * (`key: v`, `key = "v"`, `"key": "v"`), an inline list (`[a, "b"]`, over several lines too) or a YAML block
 * list (`key:` then `- a` lines). Tolerant on purpose: a nested key of that name counts too (more is guarded).
 */
export function configValues(text: string, key: string): string[] {
  const out: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const re = new RegExp(`^\\s*["']?${key}["']?\\s*[:=]\\s*(.*)$`);
  const cut = (v: string): string => v.replace(/\s+(#|\/\/).*$/, '').trim();
  for (let i = 0; i < lines.length; i++) {
    const m = re.exec(lines[i]!);
    if (!m) continue;
    const rest = cut(m[1]!);
    if (rest.startsWith('[')) {
      let buf = rest;
      while (!buf.includes(']') && i + 1 < lines.length) buf += `,${cut(lines[++i]!)}`;
      out.push(...buf.slice(1, buf.includes(']') ? buf.indexOf(']') : undefined).split(',').map(unquote).filter(Boolean));
    } else if (rest === '' || rest === '|' || rest === '>') {
      while (i + 1 < lines.length && /^\s*(-(\s|$)|#|$)/.test(lines[i + 1]!)) {
        const l = lines[++i]!.trim();
        if (l.startsWith('-')) out.push(unquote(cut(l.slice(1))));
      }
    } else out.push(unquote(rest.replace(/,$/, '')));
  }
  return out.filter(Boolean);
}

const GLOB = /[*?[{]/;

/** A path or glob a config names, relative to `root`: the files it matches now (a glob in its last part) and,
 *  for a glob, its fixed directory below the root (where a new match would appear) as a directory. */
function pathOrGlob(root: string, value: string): { path: string; kind: 'file' | 'dir' }[] {
  const full = path.resolve(root, expandHome(value));
  if (!GLOB.test(full)) return [{ path: full, kind: 'file' }];
  const parts = full.split('/');
  const fixed = parts.slice(0, parts.findIndex((p) => GLOB.test(p))).join('/') || '/';
  const out: { path: string; kind: 'file' | 'dir' }[] = [];
  if (fixed !== root && fixed.startsWith(root + '/')) out.push({ path: fixed, kind: 'dir' });
  const last = parts[parts.length - 1]!;
  if (path.dirname(full) === fixed) {
    const re = new RegExp(`^${last.replace(/[.+^$()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`);
    for (const name of safeReaddir(fixed)) if (re.test(name)) out.push({ path: path.join(fixed, name), kind: 'file' });
  }
  return out;
}

/**
 * The files and directories a repository's hook-manager configs make the manager read or run, beyond
 * HOOK_MANAGER_FILES (red-team R104, like a git config's includes, R64): lefthook's `extends` (paths and
 * globs, followed: an extended file's own `extends`) and `source_dir`/`source_dir_local`; overcommit's
 * `plugin_directory`; the `--config` a pre-commit hook in `hooksDirs` was installed with. Remote configs
 * (lefthook's `remotes`) are fetched into `.git/info/`, guarded with it.
 */
export function hookManagerRefs(root: string, hooksDirs: readonly string[]): { path: string; kind: 'file' | 'dir' }[] {
  const out: { path: string; kind: 'file' | 'dir' }[] = [];
  const read = (f: string): string | null => {
    try {
      return fs.readFileSync(f, 'utf8');
    } catch {
      return null;
    }
  };
  const seen = new Set<string>();
  const lefthook = (file: string, depth: number): void => {
    const text = depth <= MAX_DEPTH && !seen.has(file) ? read(file) : null;
    seen.add(file);
    if (text === null) return;
    for (const v of configValues(text, 'extends')) {
      for (const t of pathOrGlob(root, v)) {
        out.push(t);
        if (t.kind === 'file') lefthook(t.path, depth + 1);
      }
    }
    for (const k of ['source_dir', 'source_dir_local']) for (const v of configValues(text, k)) out.push({ path: path.resolve(root, v), kind: 'dir' });
  };
  for (const f of LEFTHOOK_CONFIGS) lefthook(path.join(root, f), 0);
  for (const f of ['.overcommit.yml', '.local-overcommit.yml']) {
    const text = read(path.join(root, f));
    if (text !== null) for (const v of configValues(text, 'plugin_directory')) out.push({ path: path.resolve(root, v), kind: 'dir' });
  }
  for (const dir of hooksDirs) {
    for (const name of safeReaddir(dir)) {
      const text = read(path.join(dir, name));
      if (text === null || text.length > 1 << 16) continue;
      for (const m of text.matchAll(/--config[= ]\s*(["']?)([^\s"')]+)\1/g)) out.push({ path: path.resolve(root, m[2]!), kind: 'file' });
    }
  }
  // A directory that is the root or above it would be the whole workspace: its files are guarded one by one.
  const uniq = new Map(out.filter((o) => o.kind === 'file' || !(root === o.path || root.startsWith(o.path + '/'))).map((o) => [o.path, o]));
  return [...uniq.values()];
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

// ---- a paused rebase, cherry-pick or revert

/** The files of a rebase/sequencer state directory that hold commands git runs (`exec`/`x` lines). */
export const TODO_FILES = new Set(['git-rebase-todo', 'todo']);
/** The files that name programs or options git runs them with (a merge strategy is a `git-merge-<name>`
 *  program; a signing option runs gpg.program): never the agent's to change. */
export const FIXED_FILES = new Set(['strategy', 'strategy_opts', 'gpg_sign_opt', 'opts', 'allow_rerere_autoupdate']);

/** The `exec` lines of a todo list (git's abbreviation `x` too), trimmed. */
export function execLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^(exec|x)(\s|$)/.test(l));
}

/** Whether every exec line of `now` was already in `before` (as many times): the agent resolved conflicts,
 *  continued, skipped, aborted — or reordered the plan — but added no command. */
export function noNewExec(before: string, now: string): boolean {
  const had = new Map<string, number>();
  for (const l of execLines(before)) had.set(l, (had.get(l) ?? 0) + 1);
  for (const l of execLines(now)) {
    const n = had.get(l) ?? 0;
    if (n <= 0) return false;
    had.set(l, n - 1);
  }
  return true;
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

// ---- JSON with comments (VS Code's .code-workspace, devcontainer.json)

/** JSONC as VS Code reads it: `//` and `/* *\/` comments and trailing commas allowed. null: unreadable. */
export function parseJsonc(text: string): unknown {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      out += text.slice(start, i + 1);
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) return null;
      i = end + 1;
      out += ' ';
    } else out += c;
  }
  try {
    return JSON.parse(out.replace(/^\uFEFF/, '').replace(/,(\s*[}\]])/g, '$1'));
  } catch {
    return null;
  }
}

function readJsonc(file: string): Record<string, unknown> | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const v = parseJsonc(text);
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

/** The folders a VS Code `.code-workspace` file names (`folders[].path`, relative to the file's directory;
 *  a `uri` folder is not local): each one's `.vscode/` is obeyed when the workspace is opened (red-team R87). */
export function codeWorkspaceFolders(file: string): string[] {
  const j = readJsonc(file);
  const folders = j?.folders;
  if (!Array.isArray(folders)) return [];
  const out: string[] = [];
  for (const f of folders) {
    const p = f && typeof f === 'object' ? (f as Record<string, unknown>).path : undefined;
    if (typeof p === 'string' && p) out.push(path.resolve(path.dirname(file), expandHome(p)));
  }
  return [...new Set(out)];
}

/**
 * The files a devcontainer.json makes Dev Containers run on the host's container engine (red-team R94):
 * `dockerComposeFile` (a string or a list, relative to the devcontainer.json), the compose project's `.env`
 * (beside the first compose file: compose reads it for `${VAR}` substitution and COMPOSE_* settings),
 * `build.dockerfile` and the older top-level `dockerFile`. An unreadable file names nothing (it is itself
 * guarded: a change to it is put back).
 */
export function devcontainerRefs(file: string): string[] {
  const j = readJsonc(file);
  if (!j) return [];
  const dir = path.dirname(file);
  const out: string[] = [];
  const dc = j.dockerComposeFile;
  const composeFiles = (typeof dc === 'string' ? [dc] : Array.isArray(dc) ? dc : []).filter((x): x is string => typeof x === 'string' && !!x);
  for (const c of composeFiles) out.push(path.resolve(dir, c));
  if (composeFiles.length) out.push(path.join(path.dirname(path.resolve(dir, composeFiles[0]!)), '.env'));
  const build = j.build && typeof j.build === 'object' ? (j.build as Record<string, unknown>) : null;
  for (const d of [build?.dockerfile, build?.dockerFile, j.dockerFile]) if (typeof d === 'string' && d) out.push(path.resolve(dir, d));
  return [...new Set(out)];
}

// ---- other version control systems (red-team R97)

/**
 * The files a Mercurial or Sapling config includes (`%include path`, relative to the including file, `~/`),
 * followed recursively: hg reads them as its config.
 */
export function hgIncludes(file: string, depth = 0, seen = new Set<string>()): string[] {
  if (depth > MAX_DEPTH || seen.has(file)) return [];
  seen.add(file);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const m = /^%include\s+(.+?)\s*$/.exec(raw);
    if (!m || m[1]!.includes('$')) continue;
    const target = path.resolve(path.dirname(file), expandHome(m[1]!));
    out.push(target, ...hgIncludes(target, depth + 1, seen));
  }
  return out;
}

/**
 * Whether a new repository's config of another VCS runs nothing: what `hg clone`/`sl clone` write (a `[paths]`
 * section of URLs) and comments; a jj repository config, empty (jj writes none). Anything else — hooks,
 * extensions, `%include`, a pager, a merge tool — is not harmless.
 */
export function vcsConfigHarmless(file: string, text: string): boolean {
  const toml = file.endsWith('.toml');
  let section: string | null = null;
  for (const raw of text.replace(/^\uFEFF/, '').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || (!toml && line.startsWith(';'))) continue;
    if (toml) return false;
    const h = /^\[([^\]]+)\]$/.exec(line);
    if (h) {
      section = h[1]!.trim().toLowerCase();
      continue;
    }
    if (section !== 'paths' || !/^[A-Za-z0-9_.:-]+\s*=/.test(line) || /^\s/.test(raw)) return false;
  }
  return true;
}

// ---- git's replace refs (red-team R91)

/** The `refs/replace/` lines of a packed-refs file (a replace ref makes git show another object in place of
 *  one: the agent's edit disappears from `git status`/`git diff`). */
export function packedReplaceRefs(text: string): Set<string> {
  const out = new Set<string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (/^[0-9a-f]{40,64}\s+refs\/replace\//.test(line)) out.add(line.replace(/\s+/, ' '));
  }
  return out;
}

// ---- direnv's PATH_add (left-over of R80)

/** The directories an `.envrc` puts first on the shell's PATH (`PATH_add`/`path_add PATH`), absolute; words
 *  with `$` are the shell's and not followed. */
export function envrcPathDirs(envrc: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(envrc, 'utf8');
  } catch {
    return [];
  }
  const dir = path.dirname(envrc);
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const words = shellWords(raw);
    for (let i = 0; i < words.length; i++) {
      const cmd = words[i]!;
      const args: string[] = [];
      for (let j = i + 1; j < words.length && words[j] !== ';'; j++) args.push(words[j]!);
      const dirs = cmd === 'PATH_add' ? args : cmd === 'path_add' && args[0] === 'PATH' ? args.slice(1) : [];
      for (const a of dirs) if (!a.includes('$') && !a.includes('`')) out.push(path.resolve(dir, expandHome(a)));
      while (i < words.length && words[i] !== ';') i++;
    }
  }
  return [...new Set(out)];
}
