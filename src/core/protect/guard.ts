// Workspace files that tools outside the gate run or obey, kept from the agent (issue 13, item 8).
//
// The agent may write its workspace, and some files there are run later by programs outside the gate: git
// runs core.fsmonitor, core.pager, aliases, filters and hooks from .git/config and .git/hooks on every git
// command (VS Code's git extension runs `git status` by itself), VS Code runs .vscode/tasks.json on folder
// open and obeys .vscode/settings.json, direnv loads .envrc, a devcontainer's initializeCommand runs on the
// host, pre-commit and husky run their configured commands on `git commit`, and .gate.toml is the next
// session's policy. None of these may change without the user's review.
//
// What the kernel can refuse: Landlock grants subtrees and cannot take one file out of a writable directory;
// a root agent runs in a private mount namespace where the protected paths that exist are read-only bind
// mounts (native/src/mountns.c: the write fails with EROFS). Everything else — a non-root agent, and files
// that do not exist yet — is detected here the moment it changes (inotify through fs.watch, before a tool
// outside the gate could run it: git's own file watchers and VS Code's are slower), put back as it was, and
// the agent's version kept for review: its content in the review directory, a unified diff in the audit
// log, the CLI's summary at the end, VS Code's review (the same as an agent-written .gate.toml). The end of
// the session checks every protected path again, in case an event was missed.
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { escapeText } from '../audit/display';
import { unifiedDiff } from './diff';
import { codeWorkspaceFolders, devcontainerRefs, DOTENV_EXAMPLE, DOTENV_NAME, dotenvHarmless, envrcLoads, envrcPathDirs, FIXED_FILES, gitConfigRefs, hgIncludes, HOOK_MANAGER_FILES, hookManagerRefs, LINT_STAGED_CONFIGS, noNewExec, packedReplaceRefs, resolveHooksPath, TODO_FILES, userGitConfigs, vcsConfigHarmless } from './followed';
import { SafeFs } from './safe-fs';

/** Why a path is protected: which tool outside the gate runs or obeys it. */
export type ProtectedClass = 'git' | 'git-hooks' | 'git-rebase' | 'hook-manager' | 'editor' | 'devcontainer' | 'direnv' | 'dotenv' | 'gate-policy' | 'submodules' | 'agent-config' | 'tool-config' | 'vcs' | 'agent-home' | 'home-startup';

export interface ProtectedPath {
  /** Absolute path. */
  path: string;
  /** Relative to the workspace, for messages. */
  rel: string;
  class: ProtectedClass;
  /** 'dir': the directory and everything in it; 'file': one file; 'entry': the entry itself (.git as a
   *  directory: turned into a file or a symlink it would send git to another repository's config). */
  kind: 'file' | 'dir' | 'entry';
  /** A repository below the workspace (VS Code's git extension opens those one level down by itself): a
   *  change that only makes it what `git init`/`git clone` make is the agent's to keep (nestedHarmless). */
  nested?: boolean;
  /** A change the agent may keep when it passes this check (else put back as always): 'rebase' — a paused
   *  rebase's or cherry-pick's state with no new `exec` line and the same strategy and signing options (the
   *  agent resolves conflicts and continues); 'dotenv' — a `.env` whose variables that make programs run
   *  something else are as they were (followed.ts); 'packed-refs' — git's packed refs with no replace ref they
   *  did not have (git gc, fetch and branch deletions rewrite the file; red-team R91); 'pathdir' — a directory
   *  an `.envrc` puts first on PATH, where no name the user's PATH already has (a `git`, an `ls`) is added or
   *  changed. Never a read-only bind mount (existing()). */
  keep?: 'rebase' | 'dotenv' | 'packed-refs' | 'pathdir';
}

interface Spec {
  rel: string;
  kind: ProtectedPath['kind'];
  class: ProtectedClass;
}

/** The protected paths, relative to the workspace (documented in SECURITY.md, one row per class). */
export const PROTECTED: readonly Spec[] = [
  { rel: '.git', kind: 'entry', class: 'git' },
  { rel: '.git/config', kind: 'file', class: 'git' },
  { rel: '.git/config.worktree', kind: 'file', class: 'git' },
  { rel: '.git/commondir', kind: 'file', class: 'git' },
  { rel: '.git/info', kind: 'dir', class: 'git' },
  { rel: '.git/hooks', kind: 'dir', class: 'git-hooks' },
  { rel: '.gitmodules', kind: 'file', class: 'submodules' },
  // Every name each git hook manager reads (red-team R104; followed.ts says which and why).
  ...HOOK_MANAGER_FILES.map((f) => ({ rel: f.rel, kind: f.kind, class: 'hook-manager' as const })),
  // prek reads `.pre-commit-config.yml` as well; hk the first of its four names it finds from the directory it
  // runs in upwards (hk.jdx.dev/configuration); mise's file tasks, which a `mise generate git-pre-commit` hook
  // and the user's `mise run` execute (red-team R104, guard2's e0a4e85 that never landed).
  { rel: '.pre-commit-config.yml', kind: 'file', class: 'hook-manager' },
  ...['hk.pkl', 'hk.local.pkl', '.config/hk.pkl', '.config/hk.local.pkl'].map((rel) => ({ rel, kind: 'file' as const, class: 'hook-manager' as const })),
  { rel: 'mise-tasks', kind: 'dir', class: 'tool-config' },
  { rel: '.mise-tasks', kind: 'dir', class: 'tool-config' },
  { rel: '.vscode', kind: 'dir', class: 'editor' },
  { rel: '.idea', kind: 'dir', class: 'editor' },
  { rel: '.devcontainer', kind: 'dir', class: 'devcontainer' },
  { rel: '.devcontainer.json', kind: 'file', class: 'devcontainer' },
  { rel: '.envrc', kind: 'file', class: 'direnv' },
  { rel: '.gate.toml', kind: 'file', class: 'gate-policy' },
  // Agents' project settings (red-team R65): hooks, MCP servers, discovery and lint commands that the agent
  // runs on its next start — ungated when started outside the gate (an editor's extension, a plain terminal).
  { rel: '.claude', kind: 'dir', class: 'agent-config' },
  { rel: '.mcp.json', kind: 'file', class: 'agent-config' },
  { rel: '.gemini', kind: 'dir', class: 'agent-config' },
  { rel: '.codex', kind: 'dir', class: 'agent-config' },
  { rel: '.aider.conf.yml', kind: 'file', class: 'agent-config' },
  { rel: '.cursor', kind: 'dir', class: 'agent-config' },
  { rel: '.continue', kind: 'dir', class: 'agent-config' },
  // More agents' project settings that name commands (red-team R84; SECURITY.md says what each runs):
  // opencode's MCP servers and plugins (JavaScript it loads), Kiro's hooks and MCP servers, Windsurf's hooks,
  // Roo Code's MCP servers, Cline's hooks, Amazon Q's MCP servers, Junie's MCP servers, Crush's MCP and LSP
  // commands.
  { rel: 'opencode.json', kind: 'file', class: 'agent-config' },
  { rel: 'opencode.jsonc', kind: 'file', class: 'agent-config' },
  { rel: '.opencode', kind: 'dir', class: 'agent-config' },
  { rel: '.kiro', kind: 'dir', class: 'agent-config' },
  { rel: '.windsurf', kind: 'dir', class: 'agent-config' },
  { rel: '.roo', kind: 'dir', class: 'agent-config' },
  { rel: '.clinerules', kind: 'dir', class: 'agent-config' },
  { rel: '.amazonq', kind: 'dir', class: 'agent-config' },
  { rel: '.junie', kind: 'dir', class: 'agent-config' },
  { rel: '.crush.json', kind: 'file', class: 'agent-config' },
  { rel: 'crush.json', kind: 'file', class: 'agent-config' },
  // Tools that obey the project's config by themselves (red-team R74): mise trusts a config by its path
  // (`[hooks] enter`, `[env] _.source`, tasks, on the next `cd`), and puts a `path:` tool of `.tool-versions`
  // first on PATH; cargo (run by rust-analyzer on folder open) obeys `build.rustc-wrapper`, linkers and
  // runners, and rustup a `path` toolchain.
  { rel: 'mise.toml', kind: 'file', class: 'tool-config' },
  { rel: '.mise.toml', kind: 'file', class: 'tool-config' },
  { rel: 'mise.local.toml', kind: 'file', class: 'tool-config' },
  { rel: '.mise.local.toml', kind: 'file', class: 'tool-config' },
  { rel: 'mise', kind: 'dir', class: 'tool-config' },
  { rel: '.mise', kind: 'dir', class: 'tool-config' },
  { rel: '.config/mise.toml', kind: 'file', class: 'tool-config' },
  { rel: '.config/mise', kind: 'dir', class: 'tool-config' },
  { rel: '.tool-versions', kind: 'file', class: 'tool-config' },
  { rel: '.cargo/config.toml', kind: 'file', class: 'tool-config' },
  { rel: '.cargo/config', kind: 'file', class: 'tool-config' },
  // JavaScript package managers' project config that names a program they run before any script (red-team
  // R113): yarn's `yarn-path`/`yarnPath` (every yarn command, in this directory and below, runs that file) and
  // the release and plugin files it loads, pnpm's `.pnpmfile.cjs` (required on every install, with
  // --ignore-scripts too), bun's `preload`, npm's `script-shell`, `node-options` and `git`.
  ...['.yarnrc', '.yarnrc.yml', '.pnpmfile.cjs', '.pnpmfile.mjs', 'bunfig.toml', '.npmrc'].map((rel) => ({ rel, kind: 'file' as const, class: 'tool-config' as const })),
  { rel: '.yarn/releases', kind: 'dir', class: 'tool-config' },
  { rel: '.yarn/plugins', kind: 'dir', class: 'tool-config' },
  { rel: 'rust-toolchain.toml', kind: 'file', class: 'tool-config' },
  { rel: 'rust-toolchain', kind: 'file', class: 'tool-config' },
  // Editors that run language servers and tasks the project names (Zed, Helix), and (Neo)Vim's local rc
  // files (`exrc`).
  { rel: '.zed', kind: 'dir', class: 'editor' },
  { rel: '.helix', kind: 'dir', class: 'editor' },
  { rel: '.nvim.lua', kind: 'file', class: 'editor' },
  { rel: '.nvimrc', kind: 'file', class: 'editor' },
  { rel: '.exrc', kind: 'file', class: 'editor' },
  // Emacs applies a directory's local variables to every file opened below it (`eval` runs Lisp; it asks
  // unless the form was accepted once, or `enable-local-variables` is :all).
  { rel: '.dir-locals.el', kind: 'file', class: 'editor' },
  { rel: '.dir-locals-2.el', kind: 'file', class: 'editor' },
  // Other version control systems (red-team R97): Mercurial and Sapling read the repository's config on every
  // command (`[hooks]`, `[extensions]` load Python; shell prompts run `hg status` by themselves), and a share's
  // `sharedpath` names the repository whose config that is; jj's repository config (`ui.pager`, `fix.tools`);
  // a jj workspace's `.jj/repo` as a file names another repository.
  { rel: '.hg/hgrc', kind: 'file', class: 'vcs' },
  { rel: '.hg/hgrc-not-shared', kind: 'file', class: 'vcs' },
  { rel: '.hg/sharedpath', kind: 'file', class: 'vcs' },
  { rel: '.sl/config', kind: 'file', class: 'vcs' },
  { rel: '.sl/sharedpath', kind: 'file', class: 'vcs' },
  { rel: '.jj/repo', kind: 'entry', class: 'vcs' },
  { rel: '.jj/repo/config.toml', kind: 'file', class: 'vcs' },
];

/** The config files of another VCS's repository directory, relative to the worktree (PROTECTED's `vcs`). */
const VCS_FILES = ['.hg/hgrc', '.hg/hgrc-not-shared', '.hg/sharedpath', '.sl/config', '.sl/sharedpath', '.jj/repo/config.toml'] as const;

/** What a linked worktree's git directory (`<common>/worktrees/<name>/`) holds that git obeys (red-team R86):
 *  `commondir` names the directory whose config and hooks git uses there, `config.worktree` is a config,
 *  `gitdir` the way back to the worktree, `config` the config git reads when `commondir` is gone. */
const WORKTREE_FILES = ['commondir', 'config.worktree', 'gitdir', 'config'] as const;

/** A git directory's linked worktrees' files (WORKTREE_FILES) and their paused-rebase state. */
function worktreePaths(ws: string, common: string, nested: boolean): ProtectedPath[] {
  const out: ProtectedPath[] = [];
  for (const name of safeReaddir(path.join(common, 'worktrees'))) {
    const d = path.join(common, 'worktrees', name);
    for (const f of WORKTREE_FILES) out.push({ path: path.join(d, f), rel: path.relative(ws, path.join(d, f)), class: 'git', kind: 'file', ...(nested ? { nested: true } : {}) });
    out.push(...gitStatePaths(ws, d, nested));
  }
  return out;
}

/** A repository's replace refs (red-team R91: `git replace` shows another commit in place of HEAD, and the
 *  agent's edit disappears from `git status`, `git diff` and VS Code's Source Control): the loose ones and the
 *  packed ones. */
function replaceRefPaths(ws: string, common: string, nested: boolean): ProtectedPath[] {
  const n = nested ? { nested: true } : {};
  return [
    { path: path.join(common, 'refs', 'replace'), rel: path.relative(ws, path.join(common, 'refs', 'replace')), class: 'git', kind: 'dir', ...n },
    { path: path.join(common, 'packed-refs'), rel: path.relative(ws, path.join(common, 'packed-refs')), class: 'git', kind: 'file', keep: 'packed-refs' },
  ];
}

/** A directory's editor and devcontainer settings (PROTECTED's, for folders other than the root: red-team R87). */
function folderEditorPaths(ws: string, dir: string): ProtectedPath[] {
  return [
    { rel: '.vscode', kind: 'dir' as const, class: 'editor' as const },
    { rel: '.devcontainer', kind: 'dir' as const, class: 'devcontainer' as const },
    { rel: '.devcontainer.json', kind: 'file' as const, class: 'devcontainer' as const },
  ].map((s) => ({ path: path.join(dir, s.rel), rel: path.relative(ws, path.join(dir, s.rel)), class: s.class, kind: s.kind }));
}

/** The devcontainer.json files of a folder: `.devcontainer/devcontainer.json`, `.devcontainer.json`, and
 *  `.devcontainer/<name>/devcontainer.json` (one configuration each). */
function devcontainerFiles(dir: string): string[] {
  const out = [path.join(dir, '.devcontainer', 'devcontainer.json'), path.join(dir, '.devcontainer.json')];
  for (const name of safeReaddir(path.join(dir, '.devcontainer'))) out.push(path.join(dir, '.devcontainer', name, 'devcontainer.json'));
  return out.filter((f) => fs.existsSync(f));
}

/** Files a package manifest marks as a folder a user opens on its own (a monorepo's package: its `.vscode/`
 *  and `.devcontainer/` are obeyed then, red-team R87). */
const PACKAGE_MANIFESTS = new Set(['package.json', 'Cargo.toml', 'pyproject.toml', 'go.mod', 'pom.xml', 'build.gradle', 'build.gradle.kts', 'composer.json', 'Gemfile', 'deno.json']);

/** A git directory's state of a paused rebase, `git am`, cherry-pick or revert (red-team R79): its todo list's
 *  `exec` lines run on the user's `git rebase --continue`. */
const GIT_STATE_DIRS = ['rebase-merge', 'rebase-apply', 'sequencer'] as const;

function gitStatePaths(ws: string, gitdir: string, nested = false): ProtectedPath[] {
  return GIT_STATE_DIRS.map((d) => {
    const full = path.join(gitdir, d);
    return { path: full, rel: path.relative(ws, full), class: 'git-rebase' as const, kind: 'dir' as const, keep: 'rebase' as const, ...(nested ? { nested: true } : {}) };
  });
}

/** What tool outside the gate runs or obeys each class (for messages and the review). */
export const CLASS_WHY: Readonly<Record<ProtectedClass, string>> = {
  git: 'git runs commands from its config (core.fsmonitor, core.pager, core.sshCommand, aliases, filters) and the files it includes on every git command, VS Code\'s own included',
  'git-hooks': 'git runs its hooks on commit, checkout, merge and push',
  'git-rebase': 'git runs the exec lines of a paused rebase\'s plan on the next `git rebase --continue`',
  'hook-manager': 'the configured commands run on the next git commit',
  editor: 'the editor runs tasks and obeys settings from it (a folder-open task runs by itself)',
  devcontainer: 'its initializeCommand runs on the host when the folder is reopened in a container',
  direnv: 'direnv loads it into the shell when you enter the directory',
  dotenv: 'shells source it as code (oh-my-zsh\'s dotenv plugin and autoenv on `cd`, `set -a; . ./.env` in scripts) and aider loads it: a command in a value, AIDER_LINT_CMD, PATH and the like run',
  'gate-policy': 'it is the policy of the next session',
  submodules: 'git fetches and checks out what it names on the next submodule update',
  'agent-config': 'the agent runs its hooks, MCP servers and commands on its next start, ungated when started outside the gate',
  'tool-config': 'mise, cargo (rust-analyzer runs it on folder open) and rustup run the commands and programs it names by themselves',
  vcs: 'Mercurial, Sapling and jj run the hooks, extensions and commands of the repository\'s config on every command (shell prompts run `hg status` by themselves)',
  'agent-home': 'the agent obeys it on every later start, ungated when started outside the gate: only its keys that run programs were put back (agent-home.ts), the rest of the change is kept',
  'home-startup': 'your next shell, login, git, ssh, pip or editor runs or obeys it, outside the gate (home-startup.ts)',
};

/** Workspace-root names matched by pattern (created or existing): VS Code workspace files (tasks, settings). */
const ROOT_PATTERNS: readonly { re: RegExp; class: ProtectedClass; not?: RegExp }[] = [
  { re: /\.code-workspace$/, class: 'editor' },
  // mise's per-environment configs (MISE_ENV): mise.<env>.toml, .mise.<env>.toml, and their .local.
  { re: /^\.?mise\.[^/]+\.toml$/, class: 'tool-config' },
];
/**
 * The classes that tools read in the directory they run in (or the nearest one upwards), or in each project of
 * the folder, applied at every directory the walk visits and every one made during the session (red-team
 * R107): rustup and cargo take the nearest rust-toolchain(.toml) and every .cargo/config upwards, and
 * rust-analyzer runs `cargo metadata` in each Cargo project of the folder on open; mise, hk and direnv-style
 * tools read from the directory of the shell up; an agent started in a subdirectory obeys that directory's
 * settings; prek's workspace mode runs every .pre-commit-config.yaml below the root; an editor opened on a
 * subfolder obeys its .idea/, .zed/, .vscode/. Every directory rather than only those with a project manifest:
 * the upward search does not need one (a `rust-toolchain.toml` in `src/` applies to cargo run there), and the
 * cost is a name lookup per entry the walk reads anyway — only entries that exist become guarded paths, an
 * absent one is seen when it appears (its directory is watched; docs/performance.md has the figures).
 */
const DEPTH_CLASSES = new Set<ProtectedClass>(['tool-config', 'agent-config', 'hook-manager', 'editor', 'devcontainer', 'gate-policy']);
/** PROTECTED's specs of DEPTH_CLASSES by their first component (what a directory listing shows). */
const DEPTH_BY_TOP = new Map<string, Spec[]>();
for (const s of PROTECTED) {
  if (!DEPTH_CLASSES.has(s.class)) continue;
  const top = s.rel.split('/')[0]!;
  DEPTH_BY_TOP.set(top, [...(DEPTH_BY_TOP.get(top) ?? []), s]);
}
/** Names matched by pattern at every depth: mise's per-environment configs (mise reads them upwards too). */
const DEPTH_PATTERNS = ROOT_PATTERNS.filter((p) => p.class === 'tool-config');

/** The DEPTH_CLASSES paths of a directory below the root, from its entries' names; and, for a directory
 *  walked on its own (one made during the session: `crates/foo/.cargo`), its own specs seen from its parent. */
function depthPaths(ws: string, dir: string, names: readonly string[]): ProtectedPath[] {
  const out: ProtectedPath[] = [];
  const at = (base: string, s: Spec): ProtectedPath => ({ path: path.join(base, s.rel), rel: path.relative(ws, path.join(base, s.rel)), class: s.class, kind: s.kind });
  for (const name of names) {
    for (const s of DEPTH_BY_TOP.get(name) ?? []) out.push(at(dir, s));
    const m = DEPTH_PATTERNS.find((p) => p.re.test(name));
    if (m) out.push({ path: path.join(dir, name), rel: path.relative(ws, path.join(dir, name)), class: m.class, kind: 'file' });
  }
  // (At the root they are PROTECTED's.)
  const parent = path.dirname(dir);
  if (parent.startsWith(ws + path.sep)) for (const s of DEPTH_BY_TOP.get(path.basename(dir)) ?? []) out.push(at(parent, s));
  return out;
}

/** With a `.envrc` at the root (direnv): every `.env*` there but examples and templates (red-team R80: the
 *  usual `.envrc` is `dotenv`, and direnv's allow covers only the `.envrc`). */
const DIRENV_PATTERN = { re: DOTENV_NAME, class: 'direnv' as const, not: DOTENV_EXAMPLE };

/** The root patterns in force for a workspace (decided at the start: a `.envrc` the agent makes is put back). */
function rootPatterns(ws: string): (typeof ROOT_PATTERNS)[number][] {
  return fs.existsSync(path.join(ws, '.envrc')) ? [...ROOT_PATTERNS, DIRENV_PATTERN] : [...ROOT_PATTERNS];
}

/** The protected paths of a workspace, with the git directory a `.git` file points to and core.hooksPath. */
export function protectedPaths(workspace: string, scan: RepoScan = scanRepos(workspace)): ProtectedPath[] {
  const ws = path.resolve(workspace);
  // A workspace without a repository of its own: a `.git` the agent makes there (`git init`, everyday work) is its
  // new repository, kept while it is only what `git init` makes — as one it makes in a subdirectory
  // (nestedHarmless); a config key or hook that runs something is put back all the same.
  const noRepo = !fs.lstatSync(path.join(ws, '.git'), { throwIfNoEntry: false });
  const ROOT_GIT = new Set(['.git', '.git/config', '.git/config.worktree', '.git/commondir', '.git/info', '.git/hooks']);
  const out: ProtectedPath[] = PROTECTED.map((s) => ({ path: path.join(ws, s.rel), rel: s.rel, class: s.class, kind: s.kind, ...(noRepo && ROOT_GIT.has(s.rel) ? { nested: true } : {}) }));
  // (A set beside the list: a big tree has thousands of paths, a search of the list for each was quadratic.)
  const have = new Set(out.map((o) => o.path));
  const add = (p: ProtectedPath): void => {
    if (have.has(p.path)) return;
    have.add(p.path);
    out.push(p);
  };
  const patterns = rootPatterns(ws);
  const folders = new Set<string>([ws]);
  for (const name of safeReaddir(ws)) {
    const m = patterns.find((p) => p.re.test(name) && !p.not?.test(name));
    if (m) add({ path: path.join(ws, name), rel: name, class: m.class, kind: 'file' });
    // A multi-root workspace (red-team R87): VS Code obeys each folder's own .vscode/ (a folder-open task runs
    // when the workspace is opened) and offers its .devcontainer/.
    if (name.endsWith('.code-workspace')) for (const f of codeWorkspaceFolders(path.join(ws, name))) if (f !== ws) folders.add(f);
  }
  for (const f of folders) {
    if (f !== ws) for (const e of folderEditorPaths(ws, f)) add(e);
    for (const e of devcontainerRefPaths(ws, f)) add(e);
  }
  // direnv (red-team R80): what the `.envrc` loads is what the shell gets, allowed or not. Without one, the
  // root's `.env` is still what aider loads (R84): there only the variables that run something are kept.
  const envrc = path.join(ws, '.envrc');
  if (fs.existsSync(envrc)) for (const e of envrcPaths(ws, envrc)) add(e);
  else add({ path: path.join(ws, '.env'), rel: '.env', class: 'dotenv', kind: 'file', keep: 'dotenv' });
  // Mercurial's and Sapling's `%include`s (R97): read as the repository's config.
  for (const rc of ['.hg/hgrc', '.hg/hgrc-not-shared', '.sl/config']) for (const f of hgIncludes(path.join(ws, rc))) add({ path: f, rel: path.relative(ws, f), class: 'vcs', kind: 'file' });
  // `.git` as a file names the real git directory (a worktree, a submodule): protect its config and hooks,
  // and those of the common directory a worktree's `commondir` names (where its config and hooks live).
  let gitdir = gitdirOf(ws);
  // The workspace inside a repository (a package of a monorepo opened on its own): that repository's git
  // directory and its top's `.env` (aider loads the git root's) are what git and aider obey there — guarded when
  // the grants reach them.
  if (!gitdir) {
    const top = enclosingRepo(ws);
    if (top) {
      gitdir = gitdirOf(top);
      add({ path: path.join(top, '.git'), rel: path.relative(ws, path.join(top, '.git')), class: 'git', kind: 'entry' });
      if (gitdir === path.join(top, '.git')) for (const rel of ['config', 'config.worktree', 'commondir', 'hooks', 'info'] as const) {
        const full = path.join(gitdir, rel);
        add({ path: full, rel: path.relative(ws, full), class: rel === 'hooks' ? 'git-hooks' : 'git', kind: rel === 'hooks' || rel === 'info' ? 'dir' : 'file' });
      }
      if (!fs.existsSync(path.join(top, '.envrc'))) add({ path: path.join(top, '.env'), rel: path.relative(ws, path.join(top, '.env')), class: 'dotenv', kind: 'file', keep: 'dotenv' });
    }
  }
  const dirs = gitdir && gitdir !== path.join(ws, '.git') ? [gitdir] : [];
  const common = gitdir ? commondirOf(gitdir) : null;
  if (common && common !== path.join(ws, '.git')) dirs.push(common);
  for (const d of dirs) {
    for (const [rel, kind, cls] of [['config', 'file', 'git'], ['config.worktree', 'file', 'git'], ['hooks', 'dir', 'git-hooks'], ['info', 'dir', 'git']] as const) {
      const full = path.join(d, rel);
      add({ path: full, rel: path.relative(ws, full), class: cls, kind });
    }
  }
  // The agent in a linked worktree (red-team R86): its git directory's `commondir` names where git finds the
  // config and hooks it obeys there, `gitdir` the way back.
  if (gitdir && common) for (const f of ['commondir', 'gitdir']) add({ path: path.join(gitdir, f), rel: path.relative(ws, path.join(gitdir, f)), class: 'git', kind: 'file' });
  if (gitdir) {
    // Every linked worktree's git directory (R86: a `commondir` pointed at a config the agent made ran its
    // fsmonitor on the user's `git status` there), and the replace refs (R91).
    for (const p of worktreePaths(ws, common ?? gitdir, false)) add(p);
    for (const p of replaceRefPaths(ws, common ?? gitdir, false)) add(p);
  }
  // The files the configs include, and core.hooksPath (husky and friends): git obeys and runs them. The user's
  // global and system configs too (red-team R64): a relative hooksPath there is a directory of every worktree.
  if (gitdir) {
    const configs = [path.join(common ?? gitdir, 'config'), path.join(gitdir, 'config.worktree'), ...userGitConfigs()];
    for (const cfg of configs) {
      const refs = gitConfigRefs(cfg);
      for (const inc of refs.includes) add({ path: inc, rel: path.relative(ws, inc), class: 'git', kind: 'file' });
      if (refs.hooksPath) {
        const h = resolveHooksPath(refs.hooksPath, ws);
        add({ path: h, rel: path.relative(ws, h), class: 'git-hooks', kind: 'dir' });
      }
    }
    // A paused rebase, am, cherry-pick or revert of this worktree and of every linked worktree of the
    // repository (their git directories are in the common one), and of submodules (below).
    for (const d of new Set([gitdir, ...(common ? [common] : [])])) for (const p of gitStatePaths(ws, d)) add(p);
  }
  // Submodules' git directories: their config and hooks run when git works inside a submodule.
  if (gitdir) {
    for (const sub of submoduleGitdirs(path.join(gitdir, 'modules'))) {
      add({ path: path.join(sub, 'config'), rel: path.relative(ws, path.join(sub, 'config')), class: 'git', kind: 'file' });
      add({ path: path.join(sub, 'hooks'), rel: path.relative(ws, path.join(sub, 'hooks')), class: 'git-hooks', kind: 'dir' });
      for (const p of gitStatePaths(ws, sub)) add(p);
      for (const p of worktreePaths(ws, sub, false)) add(p);
      for (const p of replaceRefPaths(ws, sub, false)) add(p);
    }
  }
  // What the hook managers' configs name (red-team R104): lefthook's `extends` and script directories,
  // overcommit's plugin directory, the config a pre-commit hook was installed with.
  const hooksDirs = out.filter((p) => p.class === 'git-hooks').map((p) => p.path);
  for (const r of hookManagerRefs(ws, hooksDirs)) add({ path: r.path, rel: path.relative(ws, r.path), class: 'hook-manager', kind: r.kind });
  for (const p of scan.repos) add(p);
  return out;
}

/** Directory names never looked into for repositories: the workspace's own git directory (its paths are
 *  above), and package trees (too large to watch; no tool opens a repository there by itself). */
const NOT_NESTED = new Set(['.git', 'node_modules', '.hg', '.jj', '.sl']);

/** The `.envrc` of a directory, what it loads (R80), and the directories it puts first on PATH. */
function envrcPaths(ws: string, envrc: string): ProtectedPath[] {
  return [
    ...envrcLoads(envrc).map((f) => ({ path: f, rel: path.relative(ws, f), class: 'direnv' as const, kind: 'file' as const })),
    // `PATH_add bin`: a program the agent adds there under a name the user's PATH already has (`git`, `ls`)
    // is what the user's shell runs by that name. The rest of the directory is the agent's.
    ...envrcPathDirs(envrc).map((d) => ({ path: d, rel: path.relative(ws, d), class: 'direnv' as const, kind: 'dir' as const, keep: 'pathdir' as const })),
  ];
}

/** What the devcontainer.json files of a folder name (R94: the compose files, their `.env`, the Dockerfile). */
function devcontainerRefPaths(ws: string, dir: string): ProtectedPath[] {
  return devcontainerFiles(dir).flatMap((f) => devcontainerRefs(f)).map((f) => ({ path: f, rel: path.relative(ws, f), class: 'devcontainer' as const, kind: 'file' as const }));
}

/** The nearest directory above ws with a `.git` (ws itself has none), or null. */
function enclosingRepo(ws: string): string | null {
  for (let d = path.dirname(ws); d !== path.dirname(d); d = path.dirname(d)) if (fs.existsSync(path.join(d, '.git'))) return d;
  return null;
}
/** The most directories of the workspace walked and watched for repositories (beyond: not looked into). */
const MAX_TREE_DIRS = 20000;

/** A directory git takes for a repository by itself when run in it (safe.bareRepository defaults to all): a
 *  bare repository, or a git directory that a `.git` file elsewhere points to — HEAD, objects/ and refs/. */
function isGitDirectory(dir: string): boolean {
  try {
    if (!fs.lstatSync(path.join(dir, 'HEAD'), { throwIfNoEntry: false })?.isFile()) return false;
  } catch {
    return false;
  }
  // A linked worktree's git directory has a `commondir` file instead (objects, refs and config in the common
  // directory it names: red-team R75).
  return (isDir(path.join(dir, 'objects')) && isDir(path.join(dir, 'refs'))) || fs.existsSync(path.join(dir, 'commondir'));
}

export interface RepoScan {
  /** The config and hooks of every repository found. */
  repos: ProtectedPath[];
  /** The directories walked (watched for repositories made later). */
  dirs: string[];
  /** false: MAX_TREE_DIRS was reached, the rest is not looked into. */
  complete: boolean;
}

/**
 * Every repository below `root` in the workspace, at any depth (red-team R32): git reads a repository's config
 * wherever it is run, and it is run in repositories deep down by tools outside the gate without the user
 * choosing them — the user's own `git status` recurses into every gitlink of the index (a repository three
 * levels down, registered with `git update-index`, ran its core.fsmonitor), VS Code's git extension opens the
 * repository of any file the user opens (`git.autoRepositoryDetection`: "openEditors"), and its scan finds
 * them (`git.repositoryScanMaxDepth`). A repository is a directory with `.git` (a directory, or a file naming
 * a git directory anywhere), or a bare one (HEAD, objects/, refs/; git uses it when run inside). Symlinks are
 * not followed; node_modules and .git directories are not looked into.
 */
export function scanRepos(workspace: string, root = workspace, limit = MAX_TREE_DIRS, packages: boolean | PackageCache = true): RepoScan {
  const ws = path.resolve(workspace);
  const out: RepoScan = { repos: [], dirs: [], complete: true };
  const seen = new Set<string>();
  const push = (p: ProtectedPath): void => {
    if (seen.has(p.path)) return;
    seen.add(p.path);
    out.repos.push(p);
  };
  // The user's global hooksPath, when relative, names a directory of every repository's worktree (R64).
  const userHooks = userGitConfigs()
    .map((c) => gitConfigRefs(c).hooksPath)
    .filter((h): h is string => !!h && !path.isAbsolute(h) && !h.startsWith('~'));
  const add = (gitdir: string, depth = 0): void => {
    // A linked worktree's git directory (`<common>/worktrees/<name>`, one the agent's `git worktree add` makes
    // included: R86): its own files; config and hooks are the common directory's (below).
    const linked = path.basename(path.dirname(gitdir)) === 'worktrees';
    const files = linked ? ([['commondir', 'file', 'git'], ['config.worktree', 'file', 'git'], ['gitdir', 'file', 'git'], ['config', 'file', 'git']] as const) : ([['config', 'file', 'git'], ['config.worktree', 'file', 'git'], ['commondir', 'file', 'git'], ['hooks', 'dir', 'git-hooks']] as const);
    for (const [rel, kind, cls] of files) {
      const full = path.join(gitdir, rel);
      push({ path: full, rel: path.relative(ws, full), class: cls, kind, nested: true });
    }
    for (const p of gitStatePaths(ws, gitdir, true)) push(p);
    if (!linked && depth < 2) {
      for (const p of replaceRefPaths(ws, gitdir, true)) push(p);
      for (const p of worktreePaths(ws, gitdir, true)) push(p);
    }
    // What its config includes (an include is never harmless in a config the agent changes, but one there at
    // the start names a file the agent could change: R64), and its hooksPath.
    const refs = gitConfigRefs(path.join(gitdir, 'config'));
    for (const inc of refs.includes) push({ path: inc, rel: path.relative(ws, inc), class: 'git', kind: 'file' });
    const top = path.basename(gitdir) === '.git' ? path.dirname(gitdir) : gitdir;
    for (const h of [...(refs.hooksPath ? [refs.hooksPath] : []), ...userHooks]) {
      const dir = resolveHooksPath(h, top);
      push({ path: dir, rel: path.relative(ws, dir), class: 'git-hooks', kind: 'dir' });
    }
    // The common directory a `commondir` names (a linked worktree's): its config and hooks are the ones git
    // obeys there (R75: a root made a worktree git directory pointing at a config in /tmp).
    const common = commondirOf(gitdir);
    if (common && depth < 2) add(common, depth + 1);
  };
  const stack = [path.resolve(root)];
  const dotenvs: string[] = [];
  while (stack.length) {
    const dir = stack.pop()!;
    if (out.dirs.length >= limit) {
      out.complete = false;
      break;
    }
    out.dirs.push(dir);
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    // A `.envrc` below the root (direnv loads the one of the directory the shell is in; the root's is
    // protectedPaths'): it, what it loads and the `.env*` beside it (red-team R80).
    if (dir !== ws && entries.some((e) => e.name === '.envrc' && !e.isDirectory())) {
      const rc = path.join(dir, '.envrc');
      const beside = entries.filter((e) => DOTENV_NAME.test(e.name) && !DOTENV_EXAMPLE.test(e.name)).map((e) => path.join(dir, e.name));
      for (const f of [rc, ...beside]) push({ path: f, rel: path.relative(ws, f), class: 'direnv', kind: 'file' });
      for (const p of envrcPaths(ws, rc)) push(p);
    }
    // `.env*` where no `.envrc` loads them (those are direnv's, above and protectedPaths'): shells source them
    // as code (oh-my-zsh's dotenv plugin and autoenv in the directory the shell enters, `set -a; . ./.env.local`
    // in scripts), aider loads the root's — a change that stays data is the agent's (red-team R101). Pushed
    // after the walk: a path a `.envrc` names elsewhere is direnv's, wholly.
    if (!entries.some((e) => e.name === '.envrc' && !e.isDirectory())) {
      for (const e of entries) if (!e.isDirectory() && DOTENV_NAME.test(e.name) && !DOTENV_EXAMPLE.test(e.name)) dotenvs.push(path.join(dir, e.name));
    }
    // lint-staged reads the config nearest each staged file: one in any directory (R104).
    if (dir !== ws) for (const e of entries) if (!e.isDirectory() && LINT_STAGED_CONFIGS.has(e.name)) push({ path: path.join(dir, e.name), rel: path.relative(ws, path.join(dir, e.name)), class: 'hook-manager', kind: 'file' });
    const names = new Set(entries.map((e) => e.name));
    if (dir !== ws) {
      // Another VCS's repository (R97), like git's: its config, what it includes.
      for (const rel of VCS_FILES) if (names.has(rel.split('/')[0]!)) push({ path: path.join(dir, rel), rel: path.relative(ws, path.join(dir, rel)), class: 'vcs', kind: 'file', nested: true });
      for (const rc of ['.hg/hgrc', '.sl/config']) if (names.has(rc.split('/')[0]!)) for (const f of hgIncludes(path.join(dir, rc))) push({ path: f, rel: path.relative(ws, f), class: 'vcs', kind: 'file' });
      // A folder the user opens on its own (R87): one level down, a package, or one with editor settings
      // already — its .vscode/ and .devcontainer/, and what its devcontainer.json names (R94).
      const depth = path.relative(ws, dir).split(path.sep).length;
      if ((depth <= 1 && !path.basename(dir).startsWith('.')) || [...names].some((x) => PACKAGE_MANIFESTS.has(x) || x === '.vscode' || x === '.devcontainer' || x === '.devcontainer.json')) {
        for (const p of folderEditorPaths(ws, dir)) push(p);
        for (const p of devcontainerRefPaths(ws, dir)) push(p);
      }
      // Tool, agent, hook-manager and editor configs (R107; `.dir-locals.el` among them).
      for (const p of depthPaths(ws, dir, [...names])) push(p);
    }
    const dotgit = names.has('.git') ? gitdirOf(dir) : null;
    if (dir === ws && dotgit) {
      // Linked worktrees the agent adds during the session (`git worktree add`, R86): new ones, judged as a
      // new repository is (nestedHarmless); the directory is watched for them.
      const common = commondirOf(dotgit) ?? dotgit;
      for (const c of [common, ...submoduleGitdirs(path.join(common, 'modules'))]) {
        for (const p of worktreePaths(ws, c, true)) push(p);
        if (isDir(path.join(c, 'worktrees'))) out.dirs.push(path.join(c, 'worktrees'));
      }
    }
    // The repositories git status recurses into from this one (its index's gitlinks), where the walk does not
    // look (node_modules) as well.
    if (dotgit) for (const g of gitlinkGitdirs(dir, dotgit)) add(g);
    const gitdir = dir !== ws ? dotgit : null;
    if (gitdir) add(gitdir);
    else if (entries.some((e) => e.name === 'HEAD') && isGitDirectory(dir)) {
      // The workspace itself too (red-team R62): git asks whether the directory it runs in is a git directory
      // before it looks for a `.git`, so HEAD, objects/ and refs/ at the root make the root's `config` the one
      // the user's `git status` there obeys (VS Code runs it on folder open).
      add(dir);
      continue; // a git directory's insides are its own (hooks are above)
    }
    // Dirent types come from the directory itself (lstat's view: a symlink is not a directory here).
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      if (e.name === 'node_modules') {
        if (packages) packageRepos(path.join(dir, e.name), add, packages === true ? undefined : packages);
      }
      else if (!NOT_NESTED.has(e.name)) stack.push(path.join(dir, e.name));
    }
  }
  for (const f of dotenvs) push({ path: f, rel: path.relative(ws, f), class: 'dotenv', kind: 'file', keep: 'dotenv' });
  return out;
}

/** The most packages looked at in one node_modules tree (beyond: not looked into). */
const MAX_PACKAGES = 50000;

/**
 * Repositories at the top of packages in a node_modules tree (red-team R85): not walked like the workspace
 * (too large), but a package made a repository (`.git`, or HEAD of a bare one) is where VS Code's git runs
 * when the user opens a file of it (Go to Definition). Looked at: `node_modules/<pkg>/`,
 * `node_modules/@scope/<pkg>/`, pnpm's `.pnpm/<id>/node_modules/…`, and nested node_modules below packages —
 * two or three lstat per package, no readdir of a package itself.
 */
/** Packages looked at before and found no repository: their directory's ctime then (a `.git` or HEAD made in
 *  it changes it; no one can set it back), and whether they have a node_modules of their own. */
export type PackageCache = Map<string, { ctime: number; nested: boolean }>;

function packageRepos(nm: string, add: (gitdir: string) => void, cache?: PackageCache, budget = { left: MAX_PACKAGES }, depth = 0): void {
  if (depth > 8) return;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(nm, { withFileTypes: true });
  } catch {
    return;
  }
  const has = (f: string): fs.Stats | undefined => fs.lstatSync(f, { throwIfNoEntry: false });
  const pkg = (dir: string): void => {
    if (--budget.left < 0) return;
    const st = cache ? has(dir) : undefined;
    const known = st && cache!.get(dir);
    if (known && known.ctime === st.ctimeMs) {
      if (known.nested) packageRepos(path.join(dir, 'node_modules'), add, cache, budget, depth + 1);
      return;
    }
    let found = false;
    if (has(path.join(dir, '.git'))) {
      const g = gitdirOf(dir);
      if (g) add(g);
      found = true;
    } else if (has(path.join(dir, 'HEAD'))?.isFile() && isGitDirectory(dir)) {
      add(dir);
      found = true;
    }
    const nested = has(path.join(dir, 'node_modules'))?.isDirectory() ?? false;
    if (nested) packageRepos(path.join(dir, 'node_modules'), add, cache, budget, depth + 1);
    // Only a ctime a second old is remembered: the kernel's file times are coarse, a change in the same tick
    // would leave it the same.
    if (cache && st && !found && st.ctimeMs < Date.now() - 1000) cache.set(dir, { ctime: st.ctimeMs, nested });
  };
  for (const e of entries) {
    if (!e.isDirectory() || budget.left < 0) continue;
    const full = path.join(nm, e.name);
    if (e.name === '.pnpm') {
      for (const id of safeReaddir(full)) packageRepos(path.join(full, id, 'node_modules'), add, cache, budget, depth + 1);
    } else if (e.name.startsWith('@')) {
      for (const s of fs.readdirSync(full, { withFileTypes: true })) if (s.isDirectory()) pkg(path.join(full, s.name));
    } else if (!e.name.startsWith('.')) pkg(full);
  }
}

/**
 * The paths (relative to the worktree) of the gitlinks — mode 160000 entries — in a git index file
 * (gitformat-index(5), versions 2 to 4): `git status` recurses into each of them, wherever it is, node_modules
 * included (red-team R72: a gitlink the agent added with `git update-index --cacheinfo 160000,…` made the
 * user's git status run a package directory's core.fsmonitor). Read as bytes, never by running git (which
 * would obey the agent's config). A file this cannot read yields nothing.
 */
export function indexGitlinks(indexFile: string, hashLen = 20): string[] {
  let b: Buffer;
  try {
    b = fs.readFileSync(indexFile);
  } catch {
    return [];
  }
  return indexEntries(b, hashLen)
    .filter((e) => (e.mode & 0o170000) === 0o160000)
    .map((e) => e.name);
}

export interface IndexEntry {
  name: string;
  mode: number;
  /** Where the entry's 16-bit flags are (assume-unchanged: 0x8000), and its extended flags when it has them
   *  (skip-worktree: 0x4000). */
  flagsAt: number;
  extAt: number | null;
  assumeUnchanged: boolean;
  skipWorktree: boolean;
}

/** The entries of a git index (gitformat-index(5), versions 2 to 4), as far as they can be read. */
export function indexEntries(b: Buffer, hashLen = 20): IndexEntry[] {
  if (b.length < 12 || b.toString('latin1', 0, 4) !== 'DIRC') return [];
  const version = b.readUInt32BE(4);
  const count = b.readUInt32BE(8);
  if (version < 2 || version > 4) return [];
  const out: IndexEntry[] = [];
  let o = 12;
  let prev = '';
  for (let i = 0; i < count; i++) {
    const fixed = 40 + hashLen + 2;
    if (o + fixed > b.length) return out;
    const mode = b.readUInt32BE(o + 24);
    const flagsAt = o + 40 + hashLen;
    const flags = b.readUInt16BE(flagsAt);
    const ext = version >= 3 && flags & 0x4000 ? 2 : 0;
    const extAt = ext ? flagsAt + 2 : null;
    const extFlags = extAt !== null && extAt + 2 <= b.length ? b.readUInt16BE(extAt) : 0;
    let p = o + fixed + ext;
    let name: string;
    if (version === 4) {
      // The number of bytes to strip from the previous name (git's offset varint), then the rest, NUL-ended.
      let c = b[p++] ?? 0;
      let strip = c & 127;
      while (c & 128) {
        c = b[p++] ?? 0;
        strip = ((strip + 1) << 7) | (c & 127);
      }
      const end = b.indexOf(0, p);
      if (end < 0) return out;
      name = prev.slice(0, Math.max(0, prev.length - strip)) + b.toString('utf8', p, end);
      o = end + 1;
    } else {
      const end = b.indexOf(0, p);
      if (end < 0) return out;
      name = b.toString('utf8', p, end);
      o += (fixed + ext + (end - p) + 8) & ~7;
    }
    prev = name;
    out.push({ name, mode, flagsAt, extAt, assumeUnchanged: (flags & 0x8000) !== 0, skipWorktree: (extFlags & 0x4000) !== 0 });
  }
  return out;
}

/** The index with the assume-unchanged and skip-worktree bits of `entries` cleared and its checksum made
 *  again (left all zeros when it was: index.skipHash). */
export function clearIndexFlags(b: Buffer, entries: readonly IndexEntry[], hashLen = 20): Buffer {
  const out = Buffer.from(b);
  for (const e of entries) {
    out.writeUInt16BE(out.readUInt16BE(e.flagsAt) & ~0x8000, e.flagsAt);
    if (e.extAt !== null) out.writeUInt16BE(out.readUInt16BE(e.extAt) & ~0x4000, e.extAt);
  }
  const body = out.length - hashLen;
  if (out.subarray(body).some((x) => x !== 0)) createHash(hashLen === 32 ? 'sha256' : 'sha1').update(out.subarray(0, body)).digest().copy(out, body);
  return out;
}

/** The git directories of the gitlinks in the index of the repository whose worktree is `worktree`. */
function gitlinkGitdirs(worktree: string, gitdir: string): string[] {
  let hashLen = 20;
  try {
    if (/objectformat\s*=\s*sha256/i.test(fs.readFileSync(path.join(commondirOf(gitdir) ?? gitdir, 'config'), 'utf8'))) hashLen = 32;
  } catch {
    // no config: sha1
  }
  const out: string[] = [];
  for (const rel of indexGitlinks(path.join(gitdir, 'index'), hashLen)) {
    const full = path.resolve(worktree, rel);
    if (!full.startsWith(worktree + path.sep)) continue;
    const g = gitdirOf(full);
    if (g) out.push(g);
  }
  return out;
}

/** The config and hooks of every repository below the workspace (scanRepos). */
export function nestedRepoPaths(workspace: string): ProtectedPath[] {
  return scanRepos(workspace).repos;
}

/** Keys a git config may hold that run nothing and point git nowhere else: what `git init`, `git clone`,
 *  `git remote add`, `git branch --set-upstream-to` and `git config user.*` write. Section → keys ('*': any). */
const HARMLESS_GIT_KEYS: Readonly<Record<string, readonly string[] | '*'>> = {
  core: ['repositoryformatversion', 'filemode', 'bare', 'logallrefupdates', 'ignorecase', 'precomposeunicode', 'symlinks', 'autocrlf', 'eol', 'safecrlf', 'quotepath'],
  remote: ['url', 'fetch', 'pushurl', 'tagopt', 'prune', 'promisor', 'partialclonefilter', 'mirror'],
  branch: ['remote', 'merge', 'rebase', 'pushremote', 'description'],
  user: ['name', 'email'],
  extensions: ['objectformat'],
  submodule: ['url', 'active', 'branch'],
  pull: ['rebase', 'ff'],
  push: ['default'],
  fetch: ['prune'],
  init: ['defaultbranch'],
  advice: '*',
};

/** Whether a git config holds only harmless keys. Anything this parser does not recognise (an include, a
 *  continuation line, a key on a header line it cannot read) counts as not harmless: fail closed. */
export function gitConfigHarmless(text: string): boolean {
  let section: string | null = null;
  for (const raw of text.replace(/^\uFEFF/, '').split('\n')) {
    let line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const h = /^\[\s*([A-Za-z0-9.-]+)(?:\s+"(?:[^"\\]|\\.)*")?\s*\]/.exec(line);
    if (h) {
      section = h[1]!.toLowerCase().split('.')[0]!;
      line = line.slice(h[0].length).trim();
      if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    }
    const kv = /^([A-Za-z][A-Za-z0-9-]*)\s*(=.*)?$/.exec(line);
    if (!kv || section === null) return false;
    const keys = HARMLESS_GIT_KEYS[section];
    if (!keys || (keys !== '*' && !keys.includes(kv[1]!.toLowerCase()))) return false;
    if (kv[2]?.trimEnd().endsWith('\\')) return false; // a value continued on the next line
  }
  return true;
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function gitdirOf(ws: string): string | null {
  const dotgit = path.join(ws, '.git');
  try {
    const st = fs.lstatSync(dotgit);
    if (st.isDirectory()) return dotgit;
    if (st.isFile()) {
      const m = /^gitdir:\s*(.+?)\s*$/m.exec(fs.readFileSync(dotgit, 'utf8'));
      return m ? path.resolve(ws, m[1]!) : null;
    }
  } catch {
    // no repository here
  }
  return null;
}

function commondirOf(gitdir: string): string | null {
  try {
    return path.resolve(gitdir, fs.readFileSync(path.join(gitdir, 'commondir'), 'utf8').trim());
  } catch {
    return null;
  }
}

function submoduleGitdirs(modules: string, depth = 0): string[] {
  const out: string[] = [];
  if (depth > 4) return out;
  for (const name of safeReaddir(modules)) {
    const d = path.join(modules, name);
    if (fs.existsSync(path.join(d, 'HEAD')) && fs.existsSync(path.join(d, 'config'))) out.push(d, ...submoduleGitdirs(path.join(d, 'modules'), depth + 1));
    else if (isDir(d)) out.push(...submoduleGitdirs(d, depth + 1));
  }
  return out;
}

function isDir(p: string): boolean {
  try {
    return fs.lstatSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
  } catch {
    return false;
  }
}

// ---- snapshots

type Entry = { type: 'file'; mode: number; content: Buffer | null; sha256: string } | { type: 'symlink'; target: string } | { type: 'dir'; mode: number; ino: number };

/** Per protected path: every entry under it (the path itself as ''), by relative name; absent paths have none. */
type Snapshot = Map<string, Entry>;

const MAX_FILE = 1 << 20;
/** How long after putting a file back the agent's version is read for the review (its writes finish). */
const FINALIZE_MS = 150;
const MAX_ENTRIES = 4000;
/** How often the protected paths' identities and times are compared, for changes inotify does not report. */
const POLL_MS = 100;
/** Every how many polls the workspace is walked again for repositories (every 2 s: inotify is the fast path). */
const REPO_SCAN_POLLS = 20;

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** What is at p, looked at through its parent's descriptor (safe-fs.ts: no symlink on the way is followed). */
function readEntry(sfs: SafeFs, p: string): Entry | null {
  const st = sfs.lstat(p);
  if (!st) return null;
  if (st.isSymbolicLink()) {
    try {
      return { type: 'symlink', target: sfs.readlink(p) };
    } catch {
      return null;
    }
  }
  if (st.isDirectory()) return { type: 'dir', mode: st.mode & 0o7777, ino: st.ino };
  if (!st.isFile()) return { type: 'file', mode: st.mode & 0o7777, content: null, sha256: `special:${st.mode}:${st.rdev}` };
  try {
    const content = sfs.readFile(p);
    return { type: 'file', mode: st.mode & 0o7777, content: content.length <= MAX_FILE ? content : null, sha256: sha256(content) };
  } catch {
    return null;
  }
}

const INFO_SERVER_FILES = new Set(['refs', 'packs']);

function snapshot(sfs: SafeFs, p: ProtectedPath): Snapshot {
  const snap: Snapshot = new Map();
  const top = readEntry(sfs, p.path);
  if (!top) return snap;
  snap.set('', top);
  if (p.kind !== 'dir' || top.type !== 'dir') return snap;
  // A git directory's info/: `refs` and `packs` are what `git update-server-info` (run by git gc) writes for
  // dumb HTTP servers; git reads neither.
  const skip = p.class === 'git' && path.basename(p.path) === 'info' ? INFO_SERVER_FILES : null;
  const walk = (dir: string, rel: string): void => {
    for (const name of sfs.readdir(dir).sort()) {
      if (snap.size >= MAX_ENTRIES) return;
      if (!rel && skip?.has(name)) continue;
      const r = rel ? `${rel}/${name}` : name;
      const e = readEntry(sfs, path.join(dir, name));
      if (!e) continue;
      snap.set(r, e);
      if (e.type === 'dir') walk(path.join(dir, name), r);
    }
  };
  walk(p.path, '');
  return snap;
}

function sameEntry(a: Entry | undefined, b: Entry | undefined): boolean {
  if (!a || !b) return a === b;
  if (a.type !== b.type) return false;
  if (a.type === 'symlink' && b.type === 'symlink') return a.target === b.target;
  if (a.type === 'dir' && b.type === 'dir') return a.mode === b.mode;
  if (a.type === 'file' && b.type === 'file') return a.sha256 === b.sha256 && a.mode === b.mode;
  return false;
}

/** For an 'entry' path (.git): only what it is matters, not what is inside — and for a directory, that it is
 *  still the same one (`mv .git .git-old; mkdir .git` makes a repository the watches and bind mounts on the
 *  old one no longer see), unless anyIno (after the guard itself made it again). */
function sameTop(kind: ProtectedPath['kind'], a: Snapshot, b: Snapshot, anyIno = false): boolean {
  const x = a.get('');
  const y = b.get('');
  if (kind === 'entry') {
    const sameDir = x?.type !== 'dir' || y?.type !== 'dir' || anyIno || x.ino === y.ino;
    return (x?.type ?? null) === (y?.type ?? null) && sameDir && (x?.type !== 'symlink' || sameEntry(x, y)) && (x?.type !== 'file' || sameEntry(x, y));
  }
  return true;
}

// ---- changes

export interface ProtectedChange {
  path: string;
  rel: string;
  class: ProtectedClass;
  /** What the agent did to the path (for a directory: to something in it). */
  change: 'created' | 'modified' | 'removed';
  /** The unified diffs from the original to each version the agent wrote (text files; a note for the
   *  others), in order. */
  diff: string;
  /** The diff of the last change alone (what the audit record of this change carries). */
  attempt: string;
  /** Where the agent's version of each file it wrote is kept (relative name → file), for review. */
  saved: Record<string, string>;
  /** Put back as it was: after its last attempt (at the end of the session: whether it is as it was now,
   *  looked at again); false: it could not be, the reason says why. */
  reverted: boolean;
  reason?: string;
  /** How many times the agent's next write came between the guard's look and its put-back (red-team item 5:
   *  a version written and replaced within milliseconds): the review has the versions seen and the one that
   *  overtook, a version in between may be missing from it. Absent: never. */
  overtaken?: number;
  /** How many times it was changed and put back during the session. */
  times: number;
  time: string;
  /** What kept the agent from writing it again once it had been put back (red-team R106), when something did:
   *  'readonly' — a read-only bind mount in the agent's mount namespace after the first put-back; 'ended' — the
   *  session was ended at the second (no kernel mechanism for this path here). */
  held?: ProtectedHold;
}

/** What held a protected path after its first put-back (ProtectedChange.held). */
export type ProtectedHold = 'readonly' | 'ended';

/** A protected path was just put back (emitted at once, before the review is written: `change` follows). */
export interface PutBack {
  path: string;
  rel: string;
  class: ProtectedClass;
  /** How many times this path has been put back in this session, this one included. */
  times: number;
  /** Whether the path exists now that it is put back (a file the agent created is put back by removing it). */
  present: boolean;
}

export interface WorkspaceGuardOptions {
  workspace: string;
  /** Whether the agent can write a path (Landlock's write grants): only those are watched. */
  writable: (p: string) => boolean;
  /** Where the agent's versions are kept for review (created 0700 when first needed). */
  reviewDir: string;
  /** Paths the kernel already keeps read-only (a root agent's bind mounts): watched all the same. */
  readOnly?: readonly string[];
  /** More files to guard, wherever they are (the policy file in force). */
  also?: readonly { path: string; class: ProtectedClass; kind?: 'file' | 'dir'; rel?: string }[];
}

export interface WorkspaceGuardEvents {
  change: [ProtectedChange];
  putBack: [PutBack];
}

/** How long a harmless version of a `keep` path stays unchanged before it is the original (keepLater). */
const KEEP_STABLE_MS = 300;

/** How long after expect() a protected file may be seen half-written by the user's save (see awaitingExpected). */
const EXPECT_WRITE_MS = 2000;

export class WorkspaceGuard extends EventEmitter<WorkspaceGuardEvents> {
  readonly paths: ProtectedPath[];
  /** paths' paths (looked up for every path each walk finds). */
  private readonly pathSet = new Set<string>();
  private readonly snaps = new Map<string, Snapshot>();
  private readonly changes = new Map<string, ProtectedChange>();
  private readonly sfs = new SafeFs();
  private stopped = false;
  /** The start's walk of the workspace for repositories. */
  private readonly scan: RepoScan;
  /** The workspace's directories watched for repositories made later (scanRepos). */
  private readonly tree = new Set<string>();
  /** Paths an event named in a watched directory, looked at together (a directory made: walked). */
  private readonly treeQueue = new Set<string>();
  private polls = 0;
  /** node_modules packages without a repository, as last seen (scanRepos). */
  private readonly packages: PackageCache = new Map();
  /** A second before the guard started (ms since the epoch): a file changed before is not the agent's. The
   *  margin: file times come from the kernel's coarse clock, a tick behind (a file the agent made at once would
   *  otherwise look older than the guard). */
  private readonly startedAt = Date.now() - 1000;
  /** Root-level names guarded as they appear (rootPatterns, decided at the start). */
  private readonly patterns: ReturnType<typeof rootPatterns>;

  private constructor(private readonly o: WorkspaceGuardOptions) {
    super();
    // Packages' tops in node_modules are looked at right after the start, off its path (watch()).
    this.scan = scanRepos(o.workspace, o.workspace, MAX_TREE_DIRS, false);
    this.patterns = rootPatterns(path.resolve(o.workspace));
    const all = protectedPaths(o.workspace, this.scan);
    for (const a of o.also ?? []) {
      const abs = path.resolve(a.path);
      if (!all.some((p) => p.path === abs)) all.push({ path: abs, rel: a.rel ?? path.relative(path.resolve(o.workspace), abs), class: a.class, kind: a.kind ?? 'file' });
    }
    this.paths = all.filter((p) => o.writable(p.path));
    for (const p of this.paths) this.pathSet.add(p.path);
    // Before the agent runs: the symlinks on the way to the workspace and to each path are the user's.
    this.sfs.anchor(o.workspace);
    for (const p of this.paths) this.sfs.anchor(path.dirname(p.path));
    // Most protected paths do not exist: a plain lstat says so (before the agent runs, the symlinks on the
    // way are the user's) without the descriptor walk of a safe look, and those that do share their
    // directories' descriptors (looks()).
    this.sfs.looks(() => {
      for (const p of this.paths) {
        // (ENOTDIR: a path below a `.git` that is a file — a linked worktree's, a submodule's — is not there.)
        const snap = lstatOrNull(p.path) ? snapshot(this.sfs, p) : new Map<string, Entry>();
        this.snaps.set(p.path, snap);
        if (snap.size) this.original.add(p.path);
      }
    });
    // The index as it is before the agent runs (its entries' skip-worktree and assume-unchanged bits, R91): read
    // as bytes now, parsed at the end only.
    this.indexAtStart = readIndex(this.indexFile());
  }

  /** Paths that existed when the guard first saw them (at the start, or older than it): the user's. A nested
   *  repository's harmless state is taken as the original only for the others (red-team R98: the user's own
   *  config truncated by the agent must stay what a later change is put back to). */
  private readonly original = new Set<string>();
  private readonly indexAtStart: Buffer | null;

  /** The index of the workspace's repository and that repository's worktree top, or null. */
  private indexFile(): { file: string; top: string; hashLen: number } | null {
    const ws = path.resolve(this.o.workspace);
    const top = gitdirOf(ws) ? ws : enclosingRepo(ws);
    const gitdir = top ? gitdirOf(top) : null;
    if (!top || !gitdir) return null;
    let hashLen = 20;
    try {
      if (/objectformat\s*=\s*sha256/i.test(fs.readFileSync(path.join(commondirOf(gitdir) ?? gitdir, 'config'), 'utf8'))) hashLen = 32;
    } catch {
      // no config: sha1
    }
    const file = path.join(gitdir, 'index');
    return this.o.writable(file) ? { file, top, hashLen } : null;
  }

  /**
   * Index entries the agent marked skip-worktree or assume-unchanged (red-team R91: `git update-index
   * --skip-worktree package.json`, then an edit — `git status`, `git diff` and VS Code's Source Control show
   * nothing). At the end: the marks it added are cleared where the file is in the worktree (a sparse checkout's
   * entries, whose files are not there, are left), and listed in the review either way.
   */
  private checkIndexFlags(): void {
    const ix = this.indexFile();
    if (!ix) return;
    const now = readIndex(ix);
    if (!now) return;
    const had = new Map(indexEntries(this.indexAtStart ?? Buffer.alloc(0), ix.hashLen).map((e) => [e.name, e]));
    const marked = indexEntries(now, ix.hashLen).filter((e) => (e.skipWorktree && !had.get(e.name)?.skipWorktree) || (e.assumeUnchanged && !had.get(e.name)?.assumeUnchanged));
    if (!marked.length) return;
    const inTree = marked.filter((e) => lstatOrNull(path.join(ix.top, e.name)));
    let cleared = false;
    let reason: string | undefined;
    if (inTree.length) {
      if (fs.existsSync(`${ix.file}.lock`)) reason = 'git is writing the index (index.lock): the marks are left; clear them with git update-index --no-skip-worktree --no-assume-unchanged';
      else {
        try {
          this.sfs.anchor(path.dirname(ix.file));
          const again = this.sfs.readFile(ix.file);
          if (!again.equals(now)) throw new Error('the index changed meanwhile');
          this.sfs.replace(ix.file, { content: clearIndexFlags(now, inTree, ix.hashLen), mode: (this.sfs.lstat(ix.file)?.mode ?? 0o644) & 0o777 });
          cleared = true;
        } catch (e) {
          reason = `could not clear the marks: ${(e as Error).message}`;
        }
      }
    }
    const rel = path.relative(path.resolve(this.o.workspace), ix.file);
    const diff = marked
      .map((e) => {
        const what = [e.skipWorktree && !had.get(e.name)?.skipWorktree ? 'skip-worktree' : '', e.assumeUnchanged && !had.get(e.name)?.assumeUnchanged ? 'assume-unchanged' : ''].filter(Boolean).join(' and ');
        const done = inTree.includes(e) ? (cleared ? 'cleared' : 'NOT cleared') : 'left: the file is not in the worktree (a sparse checkout)';
        return `${rel}: ${e.name} marked ${what} by the agent (git status, git diff and Source Control would not show its changes) — ${done}\n`;
      })
      .join('');
    const c: ProtectedChange = { path: ix.file, rel, class: 'git', change: 'modified', diff, attempt: diff, saved: {}, reverted: cleared || !inTree.length, ...(reason ? { reason } : {}), times: 1, time: new Date().toISOString() };
    this.changes.set(ix.file, c);
    this.emit('change', c);
  }

  /** Snapshot the protected paths the agent can write and start watching them. */
  static start(o: WorkspaceGuardOptions): WorkspaceGuard {
    const g = new WorkspaceGuard(o);
    g.watch();
    return g;
  }

  /** The guarded paths that exist now (a root agent gets them read-only in its mount namespace; the
   *  entry `.git` itself is not one of them: the agent writes inside it). */
  existing(): string[] {
    // A path whose change may be kept (a paused rebase's state, `.env`) is not made read-only: the agent
    // continues the rebase, writes the app's settings.
    return this.paths.filter((p) => p.kind !== 'entry' && !p.keep && fs.existsSync(p.path)).map((p) => p.path);
  }

  /** The changes so far, one per protected path (the last version the agent wrote). */
  list(): ProtectedChange[] {
    return [...this.changes.values()];
  }

  /** Compare every protected path with its snapshot and put back what differs (the end of the session). */
  checkAll(): ProtectedChange[] {
    // The last word: nothing waits for an announced write any more; every repository there now is looked at.
    this.addRepos(scanRepos(this.o.workspace));
    // Every path looked at in one run that shares the directories' descriptors (safe-fs.ts looks()); a path
    // that differs from its snapshot is then checked on its own, looked at afresh, and put back (check()
    // returns at once for the others; and no watch is renewed at the last word).
    const differ = this.sfs.looks(() => this.paths.filter((p) => !this.unchanged(p, snapshot(this.sfs, p))));
    for (const p of differ) this.check(p, true);
    this.checkNewRootFiles();
    try {
      this.checkIndexFlags();
    } catch (e) {
      this.emit('change', { path: '', rel: '.git/index', class: 'git', change: 'modified', diff: '', attempt: '', saved: {}, reverted: false, reason: `the index could not be looked at: ${(e as Error).message}`, times: 1, time: new Date().toISOString() });
    }
    for (const f of [...this.finalizers]) {
      this.finalizers.delete(f);
      f();
    }
    // What the end record says is what is there now: each changed path looked at once more against its
    // original (an attempt overtaken and put back later is put back; one still different is not).
    for (const c of this.changes.values()) {
      const p = this.paths.find((q) => q.path === c.path);
      if (c.path.endsWith('/index') && !p) continue;
      if (!p) continue;
      const before = this.snaps.get(p.path) ?? new Map<string, Entry>();
      const now = snapshot(this.sfs, p);
      const same = p.kind === 'entry' ? sameTop(p.kind, before, now, true) : sameSnapshot(before, now);
      c.reverted = same;
      if (same) delete c.reason;
      else c.reason ??= 'it differs from the original at the end of the session';
    }
    return this.list();
  }

  stop(): void {
    this.stopped = true;
    for (const { w } of this.watched.values()) w.close();
    this.watched.clear();
    if (this.poller) clearInterval(this.poller);
  }

  /**
   * The user is about to write `content` to the protected file `file` (VS Code saving an editor): when the
   * file then holds exactly that, it is the user's change, adopted as the new original rather than put back.
   * Anything else written there is still the agent's.
   */
  expect(file: string, content: Buffer): void {
    this.expected.set(path.resolve(file), { sha256: sha256(content), at: Date.now() });
  }

  private readonly expected = new Map<string, { sha256: string; at: number }>();
  /** Paths whose check waits for an announced write to finish (see awaitingExpected). */
  private readonly rechecks = new Set<string>();

  /**
   * The user accepted the agent's version after review: write it where it was (the guard must be stopped,
   * or the session over). Returns the paths written.
   */
  static accept(change: ProtectedChange): string[] {
    const written: string[] = [];
    const base = change.path;
    const sfs = new SafeFs();
    sfs.anchor(path.dirname(base));
    for (const [rel, saved] of Object.entries(change.saved)) {
      const dest = rel ? path.join(base, rel) : base;
      sfs.replace(dest, { content: fs.readFileSync(saved), mode: (sfs.lstat(dest)?.mode ?? 0o644) & 0o777 });
      written.push(dest);
    }
    return written;
  }

  private watch(): void {
    // The directories whose entries can change a protected path: the workspace (root-level files and the
    // creation of protected directories), and each protected directory and the parent of each protected file.
    const dirs = new Set<string>([path.resolve(this.o.workspace)]);
    for (const p of this.paths) {
      dirs.add(path.dirname(p.path));
      if (p.kind === 'dir' && isDir(p.path)) {
        dirs.add(p.path);
        for (const [rel, e] of this.snaps.get(p.path) ?? []) if (rel && e.type === 'dir') dirs.add(path.join(p.path, rel));
      }
    }
    for (const dir of dirs) this.watchDir(dir);
    for (const p of this.paths) this.stamps.set(p.path, this.stamp(p));
    this.addRepos(this.scan);
    // node_modules' packages (R85), once the agent is on its way: one made a repository by then has a ctime
    // after the start, so it has no original (addRepos) — nothing of the agent's is taken for the user's.
    setImmediate(() => {
      if (!this.stopped) this.addRepos(scanRepos(this.o.workspace, this.o.workspace, MAX_TREE_DIRS, this.packages));
    });
    this.poller = setInterval(() => this.poll(), POLL_MS);
    this.poller.unref();
  }

  /** Watch dir — the directory there now: an inotify watch follows an inode, so a directory replaced (moved
   *  away, made again) is watched again. */
  private watchDir(dir: string): void {
    let ino: number;
    try {
      // (No exception for an absent directory: most protected paths' directories are, at each start.)
      const st = fs.lstatSync(dir, { throwIfNoEntry: false });
      if (!st?.isDirectory()) return;
      ino = st.ino;
    } catch {
      return;
    }
    const had = this.watched.get(dir);
    if (had?.ino === ino) return;
    had?.w.close();
    this.watched.delete(dir);
    try {
      const w = fs.watch(dir, { persistent: false }, (_event, name) => this.onEvent(dir, name ? String(name) : null));
      w.on('error', () => undefined);
      this.watched.set(dir, { w, ino });
    } catch {
      // Gone, or no inotify watch left: the poll and the end-of-session check still cover it.
    }
  }

  private readonly watched = new Map<string, { w: fs.FSWatcher; ino: number }>();
  private poller: NodeJS.Timeout | null = null;
  private readonly stamps = new Map<string, string>();

  /** The directories whose events concern p, as they are now. */
  private rewatch(p: ProtectedPath): void {
    this.watchDir(path.dirname(p.path));
    if (p.kind === 'dir' || p.kind === 'entry') this.watchDir(p.path);
    if (p.kind === 'dir') for (const [rel, e] of this.snaps.get(p.path) ?? []) if (rel && e.type === 'dir') this.watchDir(path.join(p.path, rel));
  }

  /** Identity, size and times of p and everything under it: what changes with every write, also one inotify
   *  does not report (through a hard link in an unwatched directory, through a shared mapping). */
  private stamp(p: ProtectedPath): string {
    const one = (f: string): string => {
      try {
        // (No exception for an absent path: most are, and this runs for each of them every poll.)
        const st = fs.lstatSync(f, { bigint: true, throwIfNoEntry: false });
        return st ? `${st.ino}:${st.mode}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` : '-';
      } catch {
        return '-';
      }
    };
    const parts = [one(p.path)];
    if (p.kind === 'dir') for (const rel of this.snaps.get(p.path)?.keys() ?? []) if (rel) parts.push(one(path.join(p.path, rel)));
    return parts.join(',');
  }

  /** Every POLL_MS: a protected path whose stamp changed is checked (inotify is the fast path; this is the
   *  floor for what it cannot see). */
  private poll(): void {
    if (this.stopped) return;
    // The floor for repositories inotify did not report (a watch limit, a directory made and filled between
    // two looks): the whole walk again every REPO_SCAN_POLLS polls.
    if (++this.polls % REPO_SCAN_POLLS === 0) this.addRepos(scanRepos(this.o.workspace, this.o.workspace, MAX_TREE_DIRS, this.packages), true);
    for (const p of [...this.paths]) {
      const st = this.stamp(p);
      if (this.stamps.get(p.path) === st) continue;
      this.stamps.set(p.path, st);
      this.check(p);
      this.stamps.set(p.path, this.stamp(p));
    }
  }

  private onEvent(dir: string, name: string | null): void {
    if (this.stopped) return;
    const full = name ? path.join(dir, name) : dir;
    for (const p of this.paths) {
      // The event concerns p when it is p, inside p, or p's parent directory listing changed.
      if (full === p.path || full.startsWith(p.path + '/') || (dir === path.dirname(p.path) && !name)) this.check(p);
    }
    const ws = path.resolve(this.o.workspace);
    if (dir === ws) this.checkNewRootFiles();
    // A repository's index changed (git add, update-index): its gitlinks are looked at again (R72).
    if ((name === 'index' || name === 'worktrees') && this.paths.some((p) => p.kind === 'entry' && p.path === dir)) {
      const ws = path.resolve(this.o.workspace);
      setImmediate(() => {
        if (!this.stopped) this.addRepos(scanRepos(ws, ws, 1));
      });
    }
    if (this.tree.has(dir)) {
      // Something appeared or changed in a directory of the workspace: a directory made is walked for
      // repositories (and watched); a file (HEAD, .git) may make its directory one. Looked at together, soon.
      if (!this.treeQueue.size) setImmediate(() => this.scanQueued());
      this.treeQueue.add(name ? path.join(dir, name) : dir);
    }
  }

  private scanQueued(): void {
    const queued = [...this.treeQueue];
    this.treeQueue.clear();
    if (this.stopped) return;
    for (const q of queued) {
      if (isDir(q) && !NOT_NESTED.has(path.basename(q))) this.addRepos(scanRepos(this.o.workspace, q, Math.max(0, MAX_TREE_DIRS - this.tree.size)), true);
      else this.addRepos(scanRepos(this.o.workspace, path.dirname(q), 1), true);
    }
  }

  /** A root-level file matching a pattern (a new `x.code-workspace`) that was not there at the start. */
  private checkNewRootFiles(): void {
    const ws = path.resolve(this.o.workspace);
    for (const name of safeReaddir(ws)) {
      const m = this.patterns.find((r) => r.re.test(name) && !r.not?.test(name));
      const full = path.join(ws, name);
      if (!m || this.pathSet.has(full) || !this.o.writable(full)) continue;
      const p: ProtectedPath = { path: full, rel: name, class: m.class, kind: 'file' };
      this.paths.push(p);
      this.pathSet.add(full);
      this.snaps.set(full, new Map());
      this.check(p);
    }
  }

  private check(p: ProtectedPath, final = false): void {
    try {
      this.checkOnce(p, final);
    } finally {
      if (!this.stopped) this.rewatch(p);
    }
  }

  /** Whether p is as its snapshot has it (nothing to check). */
  private unchanged(p: ProtectedPath, now: Snapshot): boolean {
    const before = this.snaps.get(p.path) ?? new Map<string, Entry>();
    return p.kind === 'entry' ? sameTop(p.kind, before, now) : sameSnapshot(before, now);
  }

  private checkOnce(p: ProtectedPath, final: boolean): void {
    const before = this.snaps.get(p.path) ?? new Map<string, Entry>();
    const now = snapshot(this.sfs, p);
    if (this.unchanged(p, now)) return;
    if (this.adoptExpected(p, before, now)) return;
    if (p.keep && keptChange(p, before, now)) {
      this.keepLater(p, now, final);
      return;
    }
    this.pendingKeep.delete(p.path);
    if (p.nested && !this.original.has(p.path) && this.nestedHarmless(p, now)) {
      this.snaps.set(p.path, now);
      return;
    }
    if (!final && this.awaitingExpected(p, before, now)) return;
    // The agent's files stay readable through descriptors opened now, before they are put back: whatever it
    // still writes to them lands there, and the review gets its whole version (read shortly after).
    const held = new Map<string, number>();
    for (const [rel, e] of now) {
      if (e.type !== 'file' || sameEntry(before.get(rel), e) || (p.kind === 'entry' && rel !== '')) continue;
      try {
        held.set(rel, this.openForReview(rel ? path.join(p.path, rel) : p.path));
      } catch {
        // gone already: the snapshot's content is all there is
      }
    }
    const replaced = new Map<string, number>();
    const outcome = this.restore(p, before, replaced);
    // At once, not after the review's delay: a path put back a second time ends the session unless the kernel
    // holds it by then (GateSession.onPutBack, red-team R106).
    const times = (this.putBacks.get(p.path) ?? 0) + 1;
    this.putBacks.set(p.path, times);
    if (!final) this.emit('putBack', { path: p.path, rel: p.rel, class: p.class, times, present: before.has('') });
    const finalize = (): void => this.finalize(p, before, now, held, replaced, outcome);
    this.finalizers.add(finalize);
    setTimeout(() => {
      if (this.finalizers.delete(finalize)) finalize();
    }, FINALIZE_MS).unref();
  }

  /** How many times each path was put back (PutBack.times). */
  private readonly putBacks = new Map<string, number>();
  /** What holds each path after its first put-back (hold()). */
  private readonly holds = new Map<string, ProtectedHold>();

  /** Say what keeps the agent from writing `file` again (the end record and the review say it). */
  hold(file: string, how: ProtectedHold): void {
    this.holds.set(file, how);
    const c = this.changes.get(file);
    if (c) c.held = how;
  }

  /** Harmless versions of `keep` paths not yet taken as the original (keepLater). */
  private readonly pendingKeep = new Map<string, { snap: Snapshot; at: number }>();

  /**
   * A harmless version of a `keep` path (a rebase continued, an app's `.env`) is left as it is, and becomes
   * the original — what a later harmful change is put back to — only once it has stayed the same for
   * KEEP_STABLE_MS (or at the end): a shell's `> .env` or an editor's save truncates first, and an empty file
   * taken as the original would be what the agent's next, harmful, version is put back to (the user's file
   * lost).
   */
  private keepLater(p: ProtectedPath, now: Snapshot, final: boolean): void {
    const pend = this.pendingKeep.get(p.path);
    if (final || (pend && sameSnapshot(pend.snap, now) && Date.now() - pend.at >= KEEP_STABLE_MS)) {
      this.pendingKeep.delete(p.path);
      this.snaps.set(p.path, now);
      return;
    }
    if (!pend || !sameSnapshot(pend.snap, now)) this.pendingKeep.set(p.path, { snap: now, at: Date.now() });
    setTimeout(() => {
      if (!this.stopped) this.check(p);
    }, KEEP_STABLE_MS + 5).unref();
  }

  /** A descriptor of the agent's file, for reading its version later (nothing on the way followed). */
  private openForReview(file: string): number {
    return this.sfs.at(file, (name) => fs.openSync(name, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK));
  }

  /** A nested repository's config with harmless keys only, hooks that are git's samples only (or nothing). */
  private nestedHarmless(p: ProtectedPath, now: Snapshot): boolean {
    if (p.kind === 'file') {
      const e = now.get('');
      if (!e) return true;
      if (e.type !== 'file' || e.content === null) return false;
      const text = e.content.toString('utf8');
      if (p.class === 'vcs') return vcsConfigHarmless(p.path, text);
      const name = path.basename(p.path);
      const dir = path.dirname(p.path);
      const linked = path.basename(path.dirname(dir)) === 'worktrees';
      // What `git worktree add` writes (R86): `commondir` naming the directory that holds this worktrees/
      // (empty while git writes it: git then reads this directory's own `config`, which is guarded too), and
      // `gitdir`, the way back (git runs nothing from it).
      if (linked && name === 'commondir') return !text.trim() || path.resolve(dir, text.trim()) === path.dirname(path.dirname(dir));
      if (linked && name === 'gitdir') return !text.includes('\0');
      if (name === 'commondir') return false;
      return gitConfigHarmless(text);
    }
    // `.git` itself (a new repository): a directory, not a file naming another git directory.
    if (p.kind === 'entry') return now.get('')?.type === 'dir';
    // `info/`: `exclude` (and `attributes`, `sparse-checkout`) name patterns, not programs.
    const info = path.basename(p.path) === 'info';
    return [...now].every(([rel, e]) => (rel === '' ? e.type === 'dir' : e.type === 'dir' || rel.endsWith('.sample') || (info && e.type === 'file')));
  }

  /** Repositories a walk found: guarded from then on (one made during the session has no original: it is
   *  kept only while nestedHarmless), and the directories walked watched for more. */
  private addRepos(scan: RepoScan, again = false): void {
    const fresh: string[] = [];
    for (const d of scan.dirs) {
      if (this.tree.size >= MAX_TREE_DIRS && !this.tree.has(d)) break;
      if (!this.tree.has(d)) fresh.push(d);
      this.tree.add(d);
      this.watchDir(d);
    }
    // A directory made during the session is read once more now that it is watched: what the agent made in it
    // between the walk's look and the watch (`mkdir -p a/b && echo … > a/b/rust-toolchain.toml`) has no event.
    if (again) for (const d of fresh) this.addRepos(scanRepos(this.o.workspace, d, 1));
    for (const p of scan.repos) {
      if (this.pathSet.has(p.path) || !this.o.writable(p.path)) continue;
      this.paths.push(p);
      this.pathSet.add(p.path);
      // Not known at the start: what is there is the original only when nothing changed it since (its ctime,
      // which no one can set, is older than the guard: a `config` file of the project's own at the root that
      // the agent's HEAD, objects/ and refs/ made a git config); otherwise it is the agent's, with no original.
      const st = this.sfs.lstat(p.path);
      const old = !!st && st.ctimeMs < this.startedAt;
      this.snaps.set(p.path, old ? snapshot(this.sfs, p) : new Map<string, Entry>());
      if (old) this.original.add(p.path);
      this.stamps.set(p.path, '');
      this.check(p);
    }
  }

  /** Differences that are all files the user said they would write, with that content: the new original. */
  private adoptExpected(p: ProtectedPath, before: Snapshot, now: Snapshot): boolean {
    if (!this.expected.size) return false;
    const names = new Set<string>([...before.keys(), ...now.keys()]);
    const differing = [...names].filter((rel) => !sameEntry(before.get(rel), now.get(rel)));
    const ok = differing.every((rel) => {
      const e = now.get(rel);
      const full = rel ? path.join(p.path, rel) : p.path;
      return e?.type === 'file' && this.expected.get(full)?.sha256 === e.sha256;
    });
    if (!ok) return false;
    for (const rel of differing) this.expected.delete(rel ? path.join(p.path, rel) : p.path);
    this.snaps.set(p.path, now);
    return true;
  }

  /**
   * An editor's save is not atomic (the file is truncated, then written): between the two the file is in
   * neither version. While a write the user announced is under way (at most EXPECT_WRITE_MS after expect()),
   * a file in between is checked again shortly instead of being put back; once that time is over, whatever
   * is there and is not the announced content is the agent's, and is put back as always.
   */
  private awaitingExpected(p: ProtectedPath, before: Snapshot, now: Snapshot): boolean {
    if (!this.expected.size) return false;
    const t = Date.now();
    const names = new Set<string>([...before.keys(), ...now.keys()]);
    const waiting = [...names].some((rel) => {
      if (sameEntry(before.get(rel), now.get(rel))) return false;
      const e = this.expected.get(rel ? path.join(p.path, rel) : p.path);
      return e !== undefined && t - e.at < EXPECT_WRITE_MS;
    });
    if (!waiting) return false;
    if (!this.rechecks.has(p.path)) {
      this.rechecks.add(p.path);
      setTimeout(() => {
        this.rechecks.delete(p.path);
        if (!this.stopped) this.check(p);
      }, 40).unref();
    }
    return true;
  }

  /** Changes put back whose review is not written yet (run at once by checkAll). */
  private readonly finalizers = new Set<() => void>();

  /** Read the agent's versions through the held descriptors, keep them, record the change and tell. */
  private finalize(p: ProtectedPath, before: Snapshot, now: Snapshot, held: Map<string, number>, replaced: Map<string, number>, outcome: { reverted: boolean; reason?: string }): void {
    const read = (fd: number): Buffer | null => {
      try {
        const content = fs.readFileSync(fd);
        return content.length <= MAX_FILE ? content : null;
      } catch {
        return null;
      } finally {
        fs.closeSync(fd);
      }
    };
    // A version the agent wrote between the look and the put-back (what was replaced) comes after the one seen.
    const later = new Map<string, Buffer>();
    for (const [rel, fd] of held) {
      const content = read(fd);
      if (content) now.set(rel, { ...(now.get(rel) as Entry & { type: 'file' }), content, sha256: sha256(content) });
    }
    for (const [rel, fd] of replaced) {
      const content = read(fd);
      const seen = now.get(rel);
      if (content && !(seen?.type === 'file' && seen.sha256 === sha256(content))) later.set(rel, content);
    }
    const change: ProtectedChange['change'] = !before.get('') ? 'created' : !now.get('') ? 'removed' : 'modified';
    const saved: Record<string, string> = {};
    const diffs: string[] = [];
    const names = new Set<string>([...before.keys(), ...now.keys(), ...later.keys()]);
    for (const rel of [...names].sort()) {
      const a = before.get(rel);
      const b = now.get(rel);
      const shown = path.join(p.rel, rel);
      if (p.kind === 'entry' && rel !== '') continue;
      if (!sameEntry(a, b)) {
        if (b?.type === 'file' && b.content) saved[rel] = this.save(p, rel, b.content);
        diffs.push(describe(shown, a, b));
      }
      const l = later.get(rel);
      if (l) {
        const mode = b?.type === 'file' ? b.mode : 0o644;
        saved[rel] = this.save(p, rel, l);
        diffs.push(describe(shown, a, { type: 'file', mode, content: l, sha256: sha256(l) }));
      }
    }
    const prev = this.changes.get(p.path);
    const diff = diffs.join('');
    const overtaken = (prev?.overtaken ?? 0) + (later.size || !outcome.reverted ? 1 : 0);
    const c: ProtectedChange = {
      path: p.path,
      rel: p.rel,
      class: p.class,
      change: prev?.change === 'created' ? 'created' : change,
      // Every attempt, each against the original (it was put back after each): the review shows them all.
      diff: prev && !prev.diff.endsWith(diff) ? (prev.diff.length < 65536 ? prev.diff + diff : prev.diff) : diff,
      attempt: diff,
      saved: { ...(prev?.saved ?? {}), ...saved },
      // The last attempt's outcome: one overtaken and put back by the next check is put back (the end
      // looks again, finalOutcomes).
      reverted: outcome.reverted,
      ...(outcome.reason ? { reason: outcome.reason } : {}),
      ...(overtaken ? { overtaken } : {}),
      times: (prev?.times ?? 0) + 1,
      time: new Date().toISOString(),
      ...(this.holds.has(p.path) ? { held: this.holds.get(p.path) } : {}),
    };
    this.changes.set(p.path, c);
    this.emit('change', c);
  }

  /** Where the agent's version of a file is kept: the last one of each path (each attempt's diff is in the
   *  audit log). */
  private save(p: ProtectedPath, rel: string, content: Buffer): string {
    // Every `..` (a path outside the workspace) and `~` made a plain name: the copy stays inside the review directory.
    const dest = path.join(this.o.reviewDir, ...p.rel.split('/').map((s) => (s === '..' ? '_up' : s === '~' ? '_home' : s)), rel);
    fs.mkdirSync(path.dirname(dest), { recursive: true, mode: 0o700 });
    fs.writeFileSync(dest, content, { mode: 0o600 });
    return dest;
  }

  /** Put p back as its snapshot says: remove what is new, write back what changed or went away. */
  private restore(p: ProtectedPath, before: Snapshot, replaced: Map<string, number>): { reverted: boolean; reason?: string } {
    const now = snapshot(this.sfs, p);
    // Each file about to be removed or replaced is held open first: if the agent wrote it again since the
    // look, that version is still read for the review.
    const hold = (rel: string): void => {
      if (now.get(rel)?.type !== 'file' || replaced.has(rel)) return;
      try {
        replaced.set(rel, this.openForReview(rel ? path.join(p.path, rel) : p.path));
      } catch {
        // gone
      }
    };
    try {
      if (p.kind === 'entry') {
        // .git turned into something else: only its kind is put back (its content is the other paths').
        const b = before.get('');
        const n = now.get('');
        if (n && n.type !== 'dir') {
          hold('');
          this.sfs.rm(p.path);
        }
        // The directory itself moved away (the agent's new one, or nothing, in its place): the original is
        // moved back when it is still beside it, the agent's kept beside under another name.
        if (b?.type === 'dir') this.moveBack(p.path, b.ino, n?.type === 'dir');
        if (b?.type === 'dir') this.sfs.mkdir(p.path, b.mode);
        this.reapplyInside(p.path);
      } else {
        // What is there now and was not (or was another kind of thing): remove, deepest first.
        const extra = [...now.keys()].filter((rel) => !before.has(rel) || before.get(rel)!.type !== now.get(rel)!.type).sort((x, y) => y.length - x.length);
        for (const rel of extra) {
          hold(rel);
          const full = rel ? path.join(p.path, rel) : p.path;
          if (now.get(rel)?.type === 'dir') this.removeDir(full, rel, replaced);
          else this.sfs.rm(full);
        }
        // What was there: put it back, shallowest first.
        for (const [rel, e] of [...before.entries()].sort((x, y) => x[0].length - y[0].length)) {
          const dest = rel ? path.join(p.path, rel) : p.path;
          if (sameEntry(e, now.get(rel)) && !extra.includes(rel)) continue;
          hold(rel);
          writeEntry(this.sfs, dest, e);
        }
      }
      const after = snapshot(this.sfs, p);
      if (p.kind === 'entry' ? !sameTop(p.kind, before, after, true) : !sameSnapshot(before, after)) {
        return { reverted: false, reason: 'it changed again while it was being put back, or could not be written' };
      }
      // A directory made again is another inode: that one is watched and compared from now on.
      if (p.kind === 'entry') this.snaps.set(p.path, after);
      return { reverted: true };
    } catch (e) {
      return { reverted: false, reason: `could not put it back: ${(e as Error).message}` };
    }
  }

  /**
   * Remove a directory the agent made: first moved aside in one step (a file it makes in it afterwards fails,
   * ENOENT), then every file in it — also one made between the look and the move — held open for the review
   * (replaced, read by finalize), then removed.
   */
  private removeDir(full: string, rel: string, replaced: Map<string, number>): void {
    const parent = path.dirname(full);
    const aside = path.join(parent, `.agent-gate-removed-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
    try {
      this.sfs.at(full, (name, dir) => fs.renameSync(name, `${dir}/${path.basename(aside)}`));
    } catch {
      this.sfs.rm(full);
      return;
    }
    const walk = (dir: string, r: string, depth: number): void => {
      if (depth > 16) return;
      for (const name of this.sfs.readdir(dir)) {
        const f = path.join(dir, name);
        const st = this.sfs.lstat(f);
        const fr = r ? `${r}/${name}` : name;
        if (st?.isDirectory()) walk(f, fr, depth + 1);
        else if (st?.isFile() && !replaced.has(fr) && replaced.size < MAX_ENTRIES) {
          try {
            replaced.set(fr, this.openForReview(f));
          } catch {
            // gone
          }
        }
      }
    };
    walk(aside, rel, 0);
    this.sfs.rm(aside);
  }

  /** After .git was put back as a directory, its protected files are put back too (in whatever directory is
   *  there now), and watched there. */
  private reapplyInside(dir: string): void {
    for (const p of this.paths) if (p.path.startsWith(dir + '/')) this.check(p);
  }

  /** The original directory (inode ino) moved elsewhere in the same parent: rename it back to p, the agent's
   *  directory (when there is one) to a name beside it for review. Not found: nothing moved. */
  private moveBack(p: string, ino: number, agentDir: boolean): void {
    const parent = path.dirname(p);
    const name = this.sfs.readdir(parent).find((e) => {
      const st = this.sfs.lstat(path.join(parent, e));
      return st?.isDirectory() && st.ino === ino && path.join(parent, e) !== p;
    });
    if (!name) return;
    this.sfs.at(p, (dest, dir) => {
      if (agentDir) fs.renameSync(dest, `${dir}/${path.basename(p)}-agent-${Date.now()}`);
      fs.renameSync(`${dir}/${name}`, dest);
    });
  }
}

/** Whether a change to a path with `keep` is the agent's to keep (ProtectedPath.keep). */
function keptChange(p: ProtectedPath, before: Snapshot, now: Snapshot): boolean {
  const keep = p.keep!;
  const text = (e: Entry | undefined): string | null => (e?.type === 'file' && e.content ? e.content.toString('utf8') : null);
  if (keep === 'packed-refs') {
    // No replace ref the file did not have (one removed un-hides: fine). A file over MAX_FILE is read here.
    const n = now.get('');
    if (!n) return true;
    if (n.type !== 'file') return false;
    const big = (e: Entry | undefined): string | null => (e?.type === 'file' && !e.content && !e.sha256.startsWith('special:') ? readSmall(p.path, 64 << 20) : null);
    const nowText = text(n) ?? big(n);
    if (nowText === null) return false;
    const had = packedReplaceRefs(text(before.get('')) ?? '');
    return [...packedReplaceRefs(nowText)].every((l) => had.has(l));
  }
  if (keep === 'pathdir') {
    // Only the directory's own names are looked up by the shell: a name added or changed there that the user's
    // PATH has elsewhere would be run in its place.
    for (const [rel, e] of now) {
      if (!rel || rel.includes('/') || sameEntry(before.get(rel), e)) continue;
      if (e.type !== 'dir' && commandElsewhere(rel, p.path)) return false;
    }
    return true;
  }
  if (keep === 'dotenv') {
    const b = before.get('');
    const n = now.get('');
    if (n && (n.type !== 'file' || !n.content)) return false;
    if (b && b.type === 'file' && !b.content) return false;
    return dotenvHarmless(b?.type === 'file' ? b.content : null, n ? n.content : null);
  }
  // A rebase's state: no symlink, every todo list a readable file, no exec line the plans did not have, and
  // the files that name programs as they were.
  const todos = (snap: Snapshot): string | null => {
    const parts: string[] = [];
    for (const [rel, e] of snap) {
      if (!TODO_FILES.has(path.basename(rel))) continue;
      const t = text(e);
      if (t === null) return null;
      parts.push(t);
    }
    return parts.join('\n');
  };
  if ([...now.values()].some((e) => e.type === 'symlink' || (e.type === 'file' && !e.content))) return false;
  const names = new Set([...before.keys(), ...now.keys()]);
  if ([...names].some((rel) => FIXED_FILES.has(path.basename(rel)) && !sameEntry(before.get(rel), now.get(rel)))) return false;
  const nowTodo = todos(now);
  return nowTodo !== null && noNewExec(todos(before) ?? '', nowTodo);
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    // No exception for the usual absent path (most protected paths are): an exception per path was most of
    // the start's cost.
    return fs.lstatSync(p, { throwIfNoEntry: false }) ?? null;
  } catch {
    return null;
  }
}

/** An index file's bytes (at most 64 MiB), or null. */
function readIndex(file: { file: string } | null): Buffer | null {
  if (!file) return null;
  try {
    const st = fs.lstatSync(file.file);
    return st.isFile() && st.size <= 64 << 20 ? fs.readFileSync(file.file) : null;
  } catch {
    return null;
  }
}

function readSmall(file: string, max: number): string | null {
  try {
    const st = fs.lstatSync(file);
    return st.isFile() && st.size <= max ? fs.readFileSync(file, 'utf8') : null;
  } catch {
    return null;
  }
}

/** Whether `name` is a program in a directory of the guard's PATH (the user's) other than `dir`. */
function commandElsewhere(name: string, dir: string): boolean {
  for (const d of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    if (!d || path.resolve(d) === dir) continue;
    try {
      fs.accessSync(path.join(d, name), fs.constants.X_OK);
      return true;
    } catch {
      // not there
    }
  }
  return false;
}

function sameSnapshot(a: Snapshot, b: Snapshot): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (!sameEntry(v, b.get(k))) return false;
  return true;
}

/** Put one entry back (safe-fs.ts: made beside it under a fresh name and renamed over it, nothing followed). */
function writeEntry(sfs: SafeFs, dest: string, e: Entry): void {
  if (e.type === 'dir') {
    sfs.mkdir(dest, e.mode);
    return;
  }
  if (e.type === 'symlink') {
    sfs.replace(dest, { symlink: e.target });
    return;
  }
  if (!e.content) throw new Error(`${dest} is over ${MAX_FILE} bytes: it was not kept, so it cannot be put back`);
  sfs.replace(dest, { content: e.content, mode: e.mode });
}

function describe(name: string, a: Entry | undefined, b: Entry | undefined): string {
  const text = (e: Entry | undefined): string | null | undefined => {
    if (!e) return null;
    if (e.type !== 'file') return undefined;
    if (!e.content) return undefined;
    const s = e.content.toString('utf8');
    return s.includes('\0') || Buffer.from(s, 'utf8').length !== e.content.length ? undefined : s;
  };
  const ta = text(a);
  const tb = text(b);
  if (ta !== undefined && tb !== undefined) return unifiedDiff(name, ta, tb);
  const what = (e: Entry | undefined): string => (!e ? 'nothing' : e.type === 'symlink' ? `a symlink to ${e.target}` : e.type === 'dir' ? 'a directory' : `a file (sha256 ${e.sha256.slice(0, 16)}…, mode ${e.mode.toString(8)})`);
  return `${name}: ${what(a)} → ${what(b)}\n`;
}

/** The review of protected files the agent changed, for a terminal (the CLI prints it at the end). */
export function formatProtectedChanges(changes: readonly ProtectedChange[]): string {
  if (!changes.length) return '';
  const out: string[] = [
    `The agent changed ${changes.length} file${changes.length === 1 ? '' : 's'} that tools outside the gate run or obey. ${changes.length === 1 ? 'It was' : 'They were'} put back as ${changes.length === 1 ? 'it was' : 'they were'}; review the agent's version before using it:`,
  ];
  for (const c of changes) {
    // Everything the agent wrote is shown escaped: its bytes must not act on the terminal (clear it, write the
    // clipboard, fake a line of ours, reorder text) — red-team R52.
    out.push('', `  ${escapeText(c.rel)} (${c.change}${c.times > 1 ? `, ${c.times} times` : ''}) — ${CLASS_WHY[c.class]}`);
    if (!c.reverted) out.push(`  NOT put back: ${escapeText(c.reason ?? 'unknown reason')}`);
    if (c.overtaken) out.push(`  ${c.overtaken} time${c.overtaken === 1 ? '' : 's'} the agent wrote it again while it was being put back: a version it replaced within milliseconds may be missing below`);
    const diff = c.diff.length > 4000 ? `${c.diff.slice(0, 4000)}… (cut; the agent's version is kept in full)\n` : c.diff;
    for (const line of diff.trimEnd().split('\n')) out.push(`    ${escapeText(line)}`);
    for (const [rel, saved] of Object.entries(c.saved)) {
      out.push(`    the agent's version: ${escapeText(saved)}`, `    to use it: cp '${escapeText(saved).replace(/'/g, "'\\''")}' '${escapeText(rel ? path.join(c.path, rel) : c.path).replace(/'/g, "'\\''")}'`);
    }
  }
  return out.join('\n') + '\n';
}
