// Agents' own config in the home directory, kept from the agent by meaning (issue 13, item 8).
//
// The agent profiles must let an agent write its own state, and some of that state is a config that a later
// run of the same agent obeys — ungated when the user starts it outside the gate: ~/.claude.json (MCP servers
// Claude Code starts, the environment of every command it runs, an API key helper), ~/.codex/config.toml
// (`notify`, MCP servers, profiles, the shell environment policy…), ~/.gemini/settings.json (MCP servers, hooks,
// tool discovery and call commands…). The agents rewrite these files themselves all the time (Claude Code its
// start count and tips, Codex and Gemini CLI project trust, Gemini CLI its auth choice), so putting the whole
// file back would ask the user about every run. Instead, each file's keys that make a later run execute
// something (or decide, without asking, what it executes, or where it sends the user's code and credentials)
// are recorded at the start; when the file changes (inotify, a poll for what inotify misses, and at the end)
// only those are compared. A change to them is put back — the rest of the agent's change is kept, the file
// written atomically with its mode and owner — and the agent's version is offered for review like the
// workspace guard's (guard.ts): the CLI's end summary, the audit log, VS Code's session events. A file that
// does not parse at the end, or is no longer a regular file, is put back whole. SECURITY.md lists the keys
// and why.
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { unifiedDiff } from './diff';
import { dotenvHarmless } from './followed';
import type { ProtectedChange } from './guard';
import { SafeFs } from './safe-fs';

// smol-toml's types are ESM-only beside its CommonJS build (as in policy/load.ts).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parse: parseToml, stringify: stringifyToml } = require('smol-toml') as { parse: (t: string) => Record<string, unknown>; stringify: (o: unknown) => string };

type Format = 'json' | 'jsonc' | 'toml' | 'dotenv';

/** A key path in a parsed file: object keys, '*' for every key at that level. */
type KeyPath = readonly string[];

interface Rule {
  at: KeyPath;
  /** A concrete key path this rule leaves to the agent (project trust of the session's own workspace). */
  exceptWorkspace?: number;
}

export interface AgentHomeFile {
  /** Absolute path. */
  path: string;
  agent: 'claude' | 'codex' | 'gemini' | 'aider';
  format: Format;
  /** The keys compared (json/jsonc/toml); a dotenv file compares the variables that run something. */
  rules: readonly Rule[];
}

const r = (...at: string[]): Rule => ({ at });

/**
 * Claude Code's global config (CLAUDE_CONFIG_DIR/.claude.json, else ~/.claude.json). User-scope `mcpServers`
 * and each project's (local scope) are commands it starts; `env` is the environment of Claude Code and of every
 * command it runs (BASH_ENV, LD_PRELOAD, PATH); `apiKeyHelper` is a shell command it runs for a key; a project's
 * `enabledMcpjsonServers`/`disabledMcpjsonServers`/`enableAllProjectMcpServers` approve the servers of a
 * project's .mcp.json (started without asking); `allowedTools` holds permission rules (`Bash(…)` run without
 * asking); `hasTrustDialogAccepted` trusts a folder, whose .claude/settings.json hooks then run — the agent's
 * own workspace is the user's to trust in the session, any other folder is not.
 */
const CLAUDE_RULES: readonly Rule[] = [
  r('mcpServers'),
  r('env'),
  r('apiKeyHelper'),
  r('projects', '*', 'mcpServers'),
  r('projects', '*', 'enabledMcpjsonServers'),
  r('projects', '*', 'disabledMcpjsonServers'),
  r('projects', '*', 'enableAllProjectMcpServers'),
  r('projects', '*', 'allowedTools'),
  { at: ['projects', '*', 'hasTrustDialogAccepted'], exceptWorkspace: 1 },
];

/**
 * Codex's config.toml (CODEX_HOME, else ~/.codex). Programs: `notify`, `mcp_servers`, `hooks`, `plugins`,
 * `js_repl_node_path`/`js_repl_node_module_dirs`; the environment of every command (`shell_environment_policy`,
 * `allow_login_shell`); what runs without asking or outside its sandbox (`approval_policy`, `approvals_reviewer`,
 * `auto_review`, `sandbox_mode`, `sandbox_workspace_write`, `default_permissions`, `permissions`,
 * `browser_use`, `computer_use`, `projects.<other folder>.trust_level`); where the code and credentials go
 * (`model_provider`, `model_providers`, `openai_base_url`, `chatgpt_base_url`, `oss_provider`, the realtime
 * and thread-store endpoints, `otel`); `profile`/`profiles` (a profile sets any of these); `agents` (roles
 * with a config file of their own).
 */
const CODEX_RULES: readonly Rule[] = [
  ...[
    'notify', 'mcp_servers', 'hooks', 'plugins', 'marketplaces', 'js_repl_node_path', 'js_repl_node_module_dirs', 'shell_environment_policy', 'allow_login_shell',
    'approval_policy', 'approvals_reviewer', 'auto_review', 'sandbox_mode', 'sandbox_workspace_write', 'default_permissions', 'permissions', 'browser_use', 'computer_use',
    'model_provider', 'model_providers', 'openai_base_url', 'chatgpt_base_url', 'oss_provider', 'experimental_realtime_ws_base_url', 'experimental_realtime_webrtc_call_base_url',
    'experimental_thread_store_endpoint', 'experimental_thread_store', 'otel', 'profile', 'profiles', 'agents',
  ].map((k) => r(k)),
  { at: ['projects', '*', 'trust_level'], exceptWorkspace: 1 },
];

/**
 * Gemini CLI's settings.json (GEMINI_CLI_HOME/.gemini, else ~/.gemini; JSON with comments). Programs:
 * `mcpServers`, `mcp` (`serverCommand`, the allowed and excluded servers), `hooks`/`hooksConfig`,
 * `tools.discoveryCommand`/`tools.callCommand`, `tools.sandbox` (the container command), `tools.shell.pager`,
 * `general.preferredEditor`; what runs without asking (`tools.allowed`/`core`/`exclude`/`confirmationRequired`,
 * `general.defaultApprovalMode`, `security.*` but the auth choice Gemini CLI writes itself); where data goes
 * (`telemetry`); and the same keys of settings files before 0.3 (flat names) that it still migrates.
 */
const GEMINI_RULES: readonly Rule[] = [
  r('mcpServers'),
  r('mcp'),
  r('hooks'),
  r('hooksConfig'),
  r('tools', 'discoveryCommand'),
  r('tools', 'callCommand'),
  r('tools', 'sandbox'),
  r('tools', 'sandboxAllowedPaths'),
  r('tools', 'sandboxNetworkAccess'),
  r('tools', 'shell', 'pager'),
  r('tools', 'allowed'),
  r('tools', 'core'),
  r('tools', 'exclude'),
  r('tools', 'confirmationRequired'),
  r('tools', 'autoAccept'),
  r('general', 'defaultApprovalMode'),
  r('general', 'preferredEditor'),
  ...['folderTrust', 'disableYoloMode', 'disableAlwaysAllow', 'enablePermanentToolApproval', 'autoAddToPolicyByDefault', 'allowedExtensions', 'blockGitExtensions', 'toolSandboxing', 'environmentVariableRedaction', 'enableConseca'].map((k) => r('security', k)),
  r('security', 'auth', 'useExternal'),
  r('telemetry'),
  // Before settings were nested (still read and migrated).
  ...['toolDiscoveryCommand', 'toolCallCommand', 'mcpServerCommand', 'allowMCPServers', 'excludeMCPServers', 'sandbox', 'coreTools', 'excludeTools', 'allowedTools', 'autoAccept', 'folderTrust', 'preferredEditor'].map((k) => r(k)),
];

/** Gemini CLI's trustedFolders.json: a folder marked trusted has its .gemini/settings.json obeyed (its MCP
 *  servers, hooks…). The session's own workspace is the user's to trust; any other entry is not the agent's. */
const GEMINI_TRUST_RULES: readonly Rule[] = [{ at: ['*'], exceptWorkspace: 0 }];

/** Codex's hooks.json: commands run on its events; every key is one. */
const WHOLE: readonly Rule[] = [r('*')];

/** The files guarded for a user environment (the user's: what a later ungated run reads), each once. */
export function agentHomeFiles(env: NodeJS.ProcessEnv = process.env): AgentHomeFile[] {
  const home = env.HOME || '/';
  const out: AgentHomeFile[] = [];
  const add = (p: string, agent: AgentHomeFile['agent'], format: Format, rules: readonly Rule[]): void => {
    const abs = path.resolve(p);
    if (!out.some((f) => f.path === abs)) out.push({ path: abs, agent, format, rules });
  };
  for (const dir of [env.CLAUDE_CONFIG_DIR, home]) if (dir) add(path.join(dir, '.claude.json'), 'claude', 'json', CLAUDE_RULES);
  for (const dir of [env.CODEX_HOME, path.join(home, '.codex')]) {
    if (!dir) continue;
    add(path.join(dir, 'config.toml'), 'codex', 'toml', CODEX_RULES);
    add(path.join(dir, 'hooks.json'), 'codex', 'json', WHOLE);
    add(path.join(dir, '.env'), 'codex', 'dotenv', []);
  }
  // aider loads ~/.aider/oauth-keys.env first among its .env files and parses its options again after, so an
  // AIDER_* line there is a command-line option of the next run (AIDER_LOAD, AIDER_LINT_CMD…; red-team R111).
  // Its OpenRouter login writes the key there: provider keys are kept, AIDER_* and other dangerous names not.
  add(path.join(home, '.aider', 'oauth-keys.env'), 'aider', 'dotenv', []);
  for (const dir of [...(env.GEMINI_CLI_HOME ? [path.join(env.GEMINI_CLI_HOME, '.gemini')] : []), path.join(home, '.gemini')]) {
    add(path.join(dir, 'settings.json'), 'gemini', 'jsonc', GEMINI_RULES);
    add(path.join(dir, 'trustedFolders.json'), 'gemini', 'jsonc', GEMINI_TRUST_RULES);
    add(path.join(dir, '.env'), 'gemini', 'dotenv', []);
  }
  return out;
}

/**
 * Directories of the agents' home state that a later run loads whole and that the agents do not write in
 * normal use: guarded like workspace files (guard.ts: any change put back, kept for review). Codex's
 * `rules/` (execpolicy `prefix_rule(…, decision="allow")`: commands run without asking; Codex writes
 * `default.rules` when you approve a command for good, which is then put back and offered for review);
 * Gemini CLI's `extensions/` (enabled by default: their MCP servers, hooks and commands run) and `policies/`
 * (its policy engine's allow rules; "always allow" answers go to `auto-saved.toml`) — red-team R108. And
 * (R107's tails) Codex's `plugins/` (the installed plugins' bundles: an enabled plugin's hooks and MCP servers
 * run at its start — which plugins are enabled is config.toml's `plugins`, guarded by key, so the agent's way in
 * is an installed plugin's files), Gemini CLI's `commands/` (custom slash commands: a `!{…}` in one runs a
 * shell command when the user types a command they wrote themselves). Not guarded, on purpose: Codex's `skills/`
 * (SKILL.md instructions the model reads, like AGENTS.md; what they make it run goes through Codex's own
 * approvals, and Codex rewrites `skills/.system` itself at start) and `prompts/` (text templates the user
 * invokes by name, no command of their own).
 */
export function agentHomeDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const home = env.HOME || '/';
  const out = new Set<string>();
  for (const dir of [env.CODEX_HOME, path.join(home, '.codex')]) {
    if (!dir) continue;
    out.add(path.resolve(dir, 'rules'));
    out.add(path.resolve(dir, 'plugins'));
  }
  for (const dir of [...(env.GEMINI_CLI_HOME ? [path.join(env.GEMINI_CLI_HOME, '.gemini')] : []), path.join(home, '.gemini')]) {
    out.add(path.resolve(dir, 'extensions'));
    out.add(path.resolve(dir, 'policies'));
    out.add(path.resolve(dir, 'commands'));
  }
  return [...out];
}

// ---- parsing and comparing

type Doc = Record<string, unknown>;

function isObject(v: unknown): v is Doc {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** JSON with // and /* comments and trailing commas (Gemini CLI's settings), strings left alone. */
function stripJsonComments(text: string): string {
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
      i = end < 0 ? text.length : end + 1;
      out += ' ';
    } else out += c;
  }
  return out.replace(/,(\s*[}\]])/g, '$1');
}

/** The file's content as an object; null: it does not parse as one (fail closed). An absent file is {}. */
function parseDoc(format: Format, content: Buffer | null): Doc | null {
  if (content === null) return {};
  const text = content.toString('utf8').replace(/^\uFEFF/, '');
  if (!text.trim()) return format === 'toml' ? {} : null;
  try {
    const v: unknown = format === 'toml' ? parseToml(text) : JSON.parse(format === 'jsonc' ? stripJsonComments(text) : text);
    return isObject(v) ? v : null;
  } catch {
    return null;
  }
}

function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (isObject(x) ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, x[k]])) : x));
}

/** Every concrete key path a rule names in doc, with its value. */
function expand(doc: unknown, at: KeyPath, prefix: string[] = []): [string[], unknown][] {
  if (!at.length) return [[prefix, doc]];
  if (!isObject(doc)) return [];
  const [head, ...rest] = at;
  const keys = head === '*' ? Object.keys(doc) : Object.prototype.hasOwnProperty.call(doc, head!) ? [head!] : [];
  return keys.flatMap((k) => expand(doc[k], rest, [...prefix, k]));
}

/** The guarded keys of a document: concrete key path (JSON) → canonical value. */
function guardedView(doc: Doc, rules: readonly Rule[], workspace: string): Map<string, string> {
  const view = new Map<string, string>();
  for (const rule of rules) {
    for (const [keys, v] of expand(doc, rule.at)) {
      if (rule.exceptWorkspace !== undefined && samePath(keys[rule.exceptWorkspace], workspace)) continue;
      // An empty value runs nothing: the same as none (Claude Code writes `mcpServers: {}`, `allowedTools: []`
      // and `hasTrustDialogAccepted: false` into every project it records).
      if (v === null || v === false || v === '' || (Array.isArray(v) && !v.length) || (isObject(v) && !Object.keys(v).length)) continue;
      view.set(JSON.stringify(keys), canonical(v));
    }
  }
  return view;
}

function samePath(key: string | undefined, workspace: string): boolean {
  return key !== undefined && path.resolve(key.replace(/\/+$/, '') || '/') === workspace;
}

/** The concrete key paths whose guarded values differ. */
function differing(a: Map<string, string>, b: Map<string, string>): string[][] {
  const out: string[][] = [];
  for (const k of new Set([...a.keys(), ...b.keys()])) if (a.get(k) !== b.get(k)) out.push(JSON.parse(k) as string[]);
  return out;
}

function getAt(doc: Doc, keys: readonly string[]): { found: boolean; value?: unknown } {
  let cur: unknown = doc;
  for (const k of keys) {
    if (!isObject(cur) || !Object.prototype.hasOwnProperty.call(cur, k)) return { found: false };
    cur = cur[k];
  }
  return { found: true, value: cur };
}

function setAt(doc: Doc, keys: readonly string[], value: unknown): void {
  let cur = doc;
  for (const k of keys.slice(0, -1)) {
    if (!isObject(cur[k])) cur[k] = {};
    cur = cur[k] as Doc;
  }
  cur[keys[keys.length - 1]!] = value;
}

function deleteAt(doc: Doc, keys: readonly string[]): void {
  const parent = getAt(doc, keys.slice(0, -1));
  if (parent.found && isObject(parent.value)) delete parent.value[keys[keys.length - 1]!];
}

/** The agent's document with every differing guarded key set back to the original's (or removed). */
function merge(original: Doc, agents: Doc, keys: readonly string[][]): Doc {
  const out = structuredClone(agents);
  for (const k of keys) {
    const o = getAt(original, k);
    if (o.found) setAt(out, k, structuredClone(o.value));
    else deleteAt(out, k);
  }
  return out;
}

function serialize(format: Format, doc: Doc, like: Buffer | null): Buffer {
  if (format === 'toml') return Buffer.from(`${stringifyToml(doc)}\n`);
  // The indentation the file had (Claude Code and Gemini CLI write two spaces).
  const indent = /^\{\s*\n([ \t]+)"/.exec(like?.toString('utf8') ?? '')?.[1] ?? '  ';
  return Buffer.from(`${JSON.stringify(doc, null, indent)}\n`);
}

/** The guarded keys' values, one per line, for the review's diff. */
function viewText(view: Map<string, string>): string {
  return [...view.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([k, v]) => `${(JSON.parse(k) as string[]).join('.')} = ${v}`).join('\n') + (view.size ? '\n' : '');
}

// ---- the guard

interface Original {
  file: AgentHomeFile;
  /** The content at the start (null: absent), its mode, owner. */
  content: Buffer | null;
  mode: number;
  uid: number;
  gid: number;
  doc: Doc | null;
  view: Map<string, string>;
}

export interface AgentHomeGuardOptions {
  /** The user's environment (HOME, CLAUDE_CONFIG_DIR, CODEX_HOME, GEMINI_CLI_HOME). */
  env?: NodeJS.ProcessEnv;
  /** The session's workspace: its own project trust is the user's to give in the session. */
  workspace: string;
  /** Whether the agent can write a path: only those files are guarded. */
  writable: (p: string) => boolean;
  /** Where the agent's versions are kept for review (created 0700 when first needed). */
  reviewDir: string;
  /** Files to guard instead of agentHomeFiles(env) (tests). */
  files?: readonly AgentHomeFile[];
}

/** How often the files' identities and times are compared (inotify is the fast path). */
const POLL_MS = 100;
/** How long a file that does not parse during the session is left to its writer (a write in place truncates
 *  first) before it is looked at again. */
const SETTLE_MS = 250;

export class AgentHomeGuard extends EventEmitter<{ change: [ProtectedChange] }> {
  private readonly originals: Original[] = [];
  private readonly changes = new Map<string, ProtectedChange>();
  private readonly sfs = new SafeFs();
  private readonly stamps = new Map<string, string>();
  private readonly watchers: fs.FSWatcher[] = [];
  private poller: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly home: string;
  private readonly workspace: string;

  private constructor(private readonly o: AgentHomeGuardOptions) {
    super();
    const env = o.env ?? process.env;
    this.home = env.HOME || '/';
    this.workspace = path.resolve(o.workspace);
    for (const f of o.files ?? agentHomeFiles(env)) {
      // A file reached through a symlink (dotfiles kept elsewhere) is guarded where it is.
      let real = f.path;
      try {
        real = fs.realpathSync(f.path);
      } catch {
        // absent: guarded where it would be made
      }
      const file = { ...f, path: real };
      if (!o.writable(file.path) || this.originals.some((x) => x.file.path === file.path)) continue;
      this.sfs.anchor(path.dirname(file.path));
      const st = fs.lstatSync(file.path, { throwIfNoEntry: false });
      const content = st?.isFile() ? this.read(file.path) : null;
      const doc = parseDoc(file.format, content);
      this.originals.push({
        file,
        content,
        mode: st ? st.mode & 0o7777 : 0o600,
        uid: st?.uid ?? -1,
        gid: st?.gid ?? -1,
        doc,
        view: doc ? guardedView(doc, file.rules, this.workspace) : new Map<string, string>(),
      });
    }
  }

  /** Record the guarded files the agent can write and start watching them. */
  static start(o: AgentHomeGuardOptions): AgentHomeGuard {
    const g = new AgentHomeGuard(o);
    for (const dir of new Set(g.originals.map((x) => path.dirname(x.file.path)))) {
      try {
        const w = fs.watch(dir, { persistent: false }, (_e, name) => {
          const full = name ? path.join(dir, String(name)) : null;
          for (const x of g.originals) if (!full || full === x.file.path) g.look(x, false);
        });
        w.on('error', () => undefined);
        g.watchers.push(w);
      } catch {
        // No such directory yet, or no inotify watch left: the poll and the end cover it.
      }
    }
    for (const x of g.originals) g.stamps.set(x.file.path, stamp(x.file.path));
    g.poller = setInterval(() => {
      for (const x of g.originals) {
        const s = stamp(x.file.path);
        if (g.stamps.get(x.file.path) !== s) g.look(x, false);
      }
    }, POLL_MS);
    g.poller.unref();
    return g;
  }

  /** The files guarded (absolute paths). */
  get files(): string[] {
    return this.originals.map((x) => x.file.path);
  }

  list(): ProtectedChange[] {
    return [...this.changes.values()];
  }

  /** Every file once more (the end of the session): what does not parse now is put back whole. */
  checkAll(): ProtectedChange[] {
    for (const x of this.originals) this.look(x, true);
    return this.list();
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.watchers) w.close();
    if (this.poller) clearInterval(this.poller);
  }

  private read(p: string): Buffer | null {
    try {
      return this.sfs.readFile(p);
    } catch {
      return null;
    }
  }

  private readonly settling = new Set<string>();

  private look(x: Original, final: boolean): void {
    if (this.stopped && !final) return;
    const p = x.file.path;
    this.stamps.set(p, stamp(p));
    const st = this.sfs.lstat(p);
    // Removed: nothing in it runs (the agent makes it again as it likes; that is compared then).
    if (!st) return;
    const content = st.isFile() ? this.read(p) : null;
    const harmless = this.harmless(x, st, content);
    if (harmless === true) return;
    // A .env has no "half-written" state to wait out: null there means a variable that runs something (or not
    // text), put back at once — waiting would leave it for an ungated run until the session ends.
    if (harmless === null && !final && x.file.format !== 'dotenv') {
      // Not readable as a whole yet: perhaps half-written (Claude Code writes in place). Looked at again soon;
      // at the end it is put back whole.
      if (!this.settling.has(p)) {
        this.settling.add(p);
        setTimeout(() => {
          this.settling.delete(p);
          this.look(x, false);
        }, SETTLE_MS).unref();
      }
      return;
    }
    this.putBack(x, st, content, harmless === null ? null : harmless);
  }

  /** true: no guarded key changed; false-like: the keys that did (string[][]); null: it cannot be read as
   *  the file's format (or is no longer a regular file): only putting it back whole is safe. */
  private harmless(x: Original, st: fs.Stats, content: Buffer | null): true | string[][] | null {
    if (!st.isFile() || content === null || (st.nlink > 1 && x.content !== null)) return null;
    if (x.file.format === 'dotenv') return dotenvHarmless(x.content, content) ? true : null;
    const doc = parseDoc(x.file.format, content);
    if (!doc || !x.doc) return null;
    const keys = differing(x.view, guardedView(doc, x.file.rules, this.workspace));
    return keys.length ? keys : true;
  }

  /** Write the agent's version with the guarded keys as they were (keys), or the original whole (null). */
  private putBack(x: Original, st: fs.Stats, content: Buffer | null, keys: string[][] | null): void {
    const p = x.file.path;
    let outcome: { reverted: boolean; reason?: string } = { reverted: true };
    try {
      const merged = keys && x.doc && content ? merge(x.doc, parseDoc(x.file.format, content)!, keys) : null;
      if (merged && (x.content !== null || Object.keys(merged).length)) {
        // Only guarded keys changed: the original bytes (comments and layout as they were).
        const same = x.content !== null && canonical(merged) === canonical(x.doc);
        this.write(p, same ? x.content! : serialize(x.file.format, merged, x.content), st.mode & 0o7777, x);
      } else if (x.content === null) {
        this.sfs.rm(p);
      } else {
        this.write(p, x.content, x.mode, x);
      }
      // Looked at again: the agent may have written it meanwhile (then the next look puts that back).
      const now = this.read(p);
      const again = now && this.sfs.lstat(p) ? this.harmless(x, this.sfs.lstat(p)!, now) : x.content === null ? true : null;
      if (again !== true) outcome = { reverted: false, reason: 'it changed again while it was being put back' };
    } catch (e) {
      outcome = { reverted: false, reason: `could not put it back: ${(e as Error).message}` };
    }
    this.stamps.set(p, stamp(p));
    this.record(x, content, keys, outcome);
  }

  /** Atomically: a new file beside it (its mode and owner), renamed over it; no symlink on the way followed
   *  (SafeFs.replace, as the workspace guard's put-back). */
  private write(p: string, content: Buffer, mode: number, x: Original): void {
    this.sfs.replace(p, { content, mode, owner: { uid: x.uid, gid: x.gid }, sync: true });
  }

  private record(x: Original, content: Buffer | null, keys: string[][] | null, outcome: { reverted: boolean; reason?: string }): void {
    const p = x.file.path;
    const rel = p === this.home || p.startsWith(this.home + '/') ? `~/${path.relative(this.home, p)}` : p;
    let attempt: string;
    const agentDoc = content ? parseDoc(x.file.format, content) : null;
    if (keys && agentDoc && x.file.format !== 'dotenv') {
      // The keys that run something, as they were and as the agent wrote them (the rest of its change is kept).
      attempt = unifiedDiff(`${rel} (keys that run programs)`, viewText(x.view), viewText(guardedView(agentDoc, x.file.rules, this.workspace)));
    } else {
      const text = (b: Buffer | null): string | null => (b === null ? null : b.toString('utf8'));
      attempt = content !== null && !content.includes(0) ? unifiedDiff(rel, text(x.content), text(content)) : `${rel}: not a regular text file any more (put back whole)\n`;
      if (content !== null && keys === null && x.file.format !== 'dotenv' && !agentDoc) attempt = `${rel}: does not parse as ${x.file.format.toUpperCase()} (put back whole)\n${attempt}`;
    }
    const saved: Record<string, string> = {};
    if (content !== null) {
      const dest = path.join(this.o.reviewDir, 'agent-home', x.file.agent, path.basename(p));
      fs.mkdirSync(path.dirname(dest), { recursive: true, mode: 0o700 });
      fs.writeFileSync(dest, content, { mode: 0o600 });
      saved[''] = dest;
    }
    const prev = this.changes.get(p);
    const c: ProtectedChange = {
      path: p,
      rel,
      class: 'agent-home',
      change: prev?.change ?? (x.content === null ? 'created' : 'modified'),
      diff: prev && !prev.diff.endsWith(attempt) ? (prev.diff.length < 65536 ? prev.diff + attempt : prev.diff) : attempt,
      attempt,
      saved: { ...(prev?.saved ?? {}), ...saved },
      reverted: outcome.reverted,
      ...(outcome.reason ? { reason: outcome.reason } : {}),
      times: (prev?.times ?? 0) + 1,
      time: new Date().toISOString(),
    };
    this.changes.set(p, c);
    this.emit('change', c);
  }
}

function stamp(p: string): string {
  try {
    const st = fs.lstatSync(p, { bigint: true });
    return `${st.ino}:${st.mode}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return '-';
  }
}
