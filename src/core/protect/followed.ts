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

// ---- .env read by an agent outside the gate (aider), without direnv

/**
 * Variables that make a program reading a `.env` into its environment run something else, or send the user's
 * keys elsewhere: aider loads the git root's `.env` (AIDER_LINT_CMD, AIDER_TEST_CMD with AIDER_AUTO_LINT:
 * run after every edit), and the process environment it passes on (PATH, loader and interpreter start-up
 * variables, git's, the gate's own). Names are matched case-insensitively (as prefixes where they end in `_`).
 */
const DOTENV_DANGEROUS = [
  'AIDER_', 'PATH', 'LD_', 'DYLD_', 'GCONV_PATH', 'HOSTALIASES', 'BASH_ENV', 'ENV', 'ZDOTDIR', 'PROMPT_COMMAND', 'PS0', 'PS1', 'PS4', 'SHELL', 'SHELLOPTS', 'BASHOPTS', 'IFS', 'HOME', 'XDG_',
  'GIT_', 'SSH_', 'EDITOR', 'VISUAL', 'PAGER', 'MANPAGER', 'LESSOPEN', 'LESSCLOSE', 'BROWSER', 'TERMINAL', 'PYTHON', 'VIRTUAL_ENV', 'CONDA_', 'NODE_OPTIONS', 'NODE_PATH', 'NPM_CONFIG_', 'YARN_', 'COREPACK_', 'PERL5', 'PERLLIB', 'RUBY', 'GEM_', 'BUNDLE_',
  'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'JDK_JAVA_OPTIONS', 'CLASSPATH', 'DOTNET_', 'CARGO_', 'RUSTC', 'RUSTUP_', 'GOFLAGS', 'GOROOT', 'GOPATH', 'GOTOOLCHAIN', 'CC', 'CXX', 'MAKEFLAGS', 'MISE_', 'DIRENV_', 'TMPDIR', 'AGENT_GATE_',
  'OPENAI_API_BASE', 'OPENAI_BASE_URL', 'ANTHROPIC_BASE_URL', 'GEMINI_BASE_URL', 'OLLAMA_API_BASE', 'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY', 'SSL_CERT_', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'NODE_EXTRA_CA_CERTS',
  'LITELLM_',
];

function dangerousName(name: string): boolean {
  const n = name.toUpperCase();
  return DOTENV_DANGEROUS.some((d) => (d.endsWith('_') ? n.startsWith(d) : n === d || (d.length > 3 && n.startsWith(d))));
}

/** The dangerous assignments of a `.env`, in order (`KEY=value` lines); null: a line this cannot read. */
function dangerousAssignments(text: string): string[] | null {
  const out: string[] = [];
  for (const raw of text.replace(/^\uFEFF/, '').split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=(.*)$/.exec(line);
    if (!m) return null;
    if (dangerousName(m[1]!)) out.push(`${m[1]!.toUpperCase()}=${m[2]!.trim()}`);
  }
  return out;
}

/** A `.env` change keeps every variable of DOTENV_DANGEROUS as it was (an app's settings are the agent's to
 *  write); anything unreadable is not harmless. before/now: the file's content (null: absent). */
export function dotenvHarmless(before: Buffer | null, now: Buffer | null): boolean {
  if (now === null) return true;
  const a = dangerousAssignments(before?.toString('utf8') ?? '');
  const b = dangerousAssignments(now.toString('utf8'));
  return a !== null && b !== null && a.join('\n') === b.join('\n');
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
