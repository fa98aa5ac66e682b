// Agent profiles: what each supported agent (Claude Code, Codex CLI, Gemini CLI, aider, a plain shell)
// needs to work under the gate, as data in policies/agents/*.toml — how to find it, the programs it runs on
// its own, the state it writes (each grant with its reason), what it must never get — and the code that
// finds the agent a command starts, merges its profile into the policy in force (policy/merge.ts) and
// prepares its state directories. The CLI (`agent-gate run --agent NAME`, or detected from the program) and
// the guarded terminal both use applyAgentProfile; the agent itself is never asked about.
import * as fs from 'node:fs';
import * as path from 'node:path';
import picomatch from 'picomatch';
import { derivePolicy, loadPolicyFile, parseToml, type LoadOptions } from '../policy/load';
import { expandVariables } from '../policy/variables';
import { isUnder } from '../policy/landlock';
import { mergeAgentProfile } from '../policy/merge';
import type { AgentSection, Diagnostic, Policy } from '../policy/types';
import type { CliGrants } from '../policy/landlock';
import { defaultPolicyPath } from '../policy/index';

/** policies/agents, beside the shipped default policy. */
export function agentProfilesDir(): string {
  return path.join(path.dirname(defaultPolicyPath()), 'agents');
}

export interface AgentProfileFile {
  id: string;
  file: string;
}

/** The shipped profiles: one file per agent, named after its id. */
export function listAgentProfiles(dir: string = agentProfilesDir()): AgentProfileFile[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.toml'))
    .sort()
    .map((n) => ({ id: n.slice(0, -'.toml'.length), file: path.join(dir, n) }));
}

/** Load a profile by id (a shipped one) or by file path. Errors come back as diagnostics, never thrown. */
export function loadAgentProfile(idOrFile: string, options: LoadOptions = {}, dir: string = agentProfilesDir()): { profile: Policy | null; diagnostics: Diagnostic[] } {
  const file = idOrFile.includes('/') ? path.resolve(idOrFile) : path.join(dir, `${idOrFile}.toml`);
  if (!idOrFile.includes('/') && !fs.existsSync(file)) {
    const known = listAgentProfiles(dir).map((p) => p.id);
    return {
      profile: null,
      diagnostics: [{ severity: 'error', code: 'unreadable', message: `no agent profile '${idOrFile}'; the profiles are: ${known.join(', ')} (or give a profile file's path)`, file, line: 1, column: 1 }],
    };
  }
  const loaded = loadPolicyFile(file, options);
  if (loaded.policy && !loaded.policy.agent) {
    return { profile: null, diagnostics: [...loaded.diagnostics, { severity: 'error', code: 'missing-key', message: `${file} has no [agent] section: it is a policy, not an agent profile`, file, line: 1, column: 1 }] };
  }
  return { profile: loaded.policy, diagnostics: loaded.diagnostics };
}

// ---- finding the program a command starts

export interface ResolveOptions {
  cwd: string;
  /** PATH to search (default: this process's). */
  path?: string;
}

/** What execvp would run for `name`, canonical (symlinks resolved), or null. */
export function resolveCommand(name: string, o: ResolveOptions): string | null {
  const candidates = name.includes('/') ? [path.resolve(o.cwd, name)] : (o.path ?? process.env.PATH ?? '').split(':').filter((d) => d.startsWith('/')).map((d) => path.join(d, name));
  for (const c of candidates) {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      const real = fs.realpathSync(c);
      if (fs.statSync(real).isFile()) return real;
    } catch {
      // not here
    }
  }
  return null;
}

const NODE_MODULES = '/node_modules/';

/** `/x/node_modules/@s/p/bin/y` → ['/x/node_modules', '@s/p/bin/y'] (the last node_modules), or null. */
function splitNodeModules(file: string): [string, string] | null {
  const i = file.lastIndexOf(NODE_MODULES);
  if (i < 0) return null;
  return [file.slice(0, i + NODE_MODULES.length - 1), file.slice(i + NODE_MODULES.length)];
}

/** Whether a canonical file is one of the agent's executables (as its profile describes them). */
export function isAgentExecutable(agent: AgentSection, file: string): boolean {
  return matchesExecutables(agent.executables, file);
}

export interface DetectedAgent {
  id: string;
  file: string;
  /** Why this profile, in words (for the banner). */
  why: string;
}

/** Programs that run a script given as their first argument (`node …/gemini.js`). */
const SCRIPT_RUNNERS = new Set(['node', 'nodejs', 'bun', 'deno', 'python', 'python3']);

/**
 * The profile for the agent a command line starts: what the program resolves to (through PATH and symlinks,
 * e.g. node_modules/.bin/codex → @openai/codex/bin/codex.js) is one of its executables; for `node SCRIPT`, the
 * script. A name alone picks only a profile without executables (the shell). Null when it is no known agent.
 */
export function detectAgent(argv: readonly string[], o: ResolveOptions & { env?: LoadOptions['env']; dir?: string }): DetectedAgent | null {
  const program = argv[0];
  if (program === undefined) return null;
  // Only what finding needs (the [agent] commands and executables), read with the TOML parser alone: every
  // session starts with this, so no profile is loaded and compiled just to be passed over.
  const profiles = listAgentProfiles(o.dir).flatMap((p) => {
    const finding = findingOf(p.file, o.env ?? process.env);
    return finding ? [{ ...p, ...finding }] : [];
  });
  const name = path.basename(program);
  // The name alone picks only a profile that names no executables (the shell's, whose grant is its own
  // history): a profile's grants go to what the agent is, never to any program called `codex` (red-team R53).
  for (const p of profiles) {
    if (p.executables.length === 0 && p.commands.includes(name)) return { id: p.id, file: p.file, why: `the command is ${name}` };
  }
  const resolved = resolveCommand(program, o);
  let script: string | null = null;
  if (SCRIPT_RUNNERS.has(name) && argv[1] !== undefined && !argv[1].startsWith('-')) {
    try {
      script = fs.realpathSync(path.resolve(o.cwd, argv[1]));
    } catch {
      script = null;
    }
  }
  for (const p of profiles) {
    for (const f of [resolved, script]) {
      if (f && matchesExecutables(p.executables, f)) return { id: p.id, file: p.file, why: p.commands.includes(name) ? `the command is ${name} (${f})` : `${program} is ${f}` };
    }
  }
  return null;
}

/** A profile's commands and executables (variables expanded; one needing an unset variable left out). */
function findingOf(file: string, env: LoadOptions['env'] & object): { commands: string[]; executables: string[] } | null {
  try {
    const doc = parseToml(fs.readFileSync(file, 'utf8'));
    const agent = doc.agent as { commands?: unknown; executables?: unknown } | undefined;
    const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
    const executables = strings(agent?.executables).flatMap((e) => {
      const x = expandVariables(e);
      return x.unset(env).length ? [] : [x.expand(env)];
    });
    return { commands: strings(agent?.commands), executables };
  } catch {
    return null; // a broken profile is reported when it is used
  }
}

const matchers = new Map<string, { base: string; test: (s: string) => boolean }>();

/** A pattern compiled once; `base` is its static prefix, which a path must start with to be worth testing.
 *  The regex is made on the first test: detection tries every profile's patterns on every start, and most
 *  fail on the prefix (compiling them all was most of detection's ~8 ms). */
function matcher(pattern: string): { base: string; test: (s: string) => boolean } {
  let m = matchers.get(pattern);
  if (!m) {
    let re: RegExp | undefined;
    m = { base: picomatch.scan(pattern).base, test: (s) => (re ??= picomatch.makeRe(pattern, { dot: true })).test(s) };
    matchers.set(pattern, m);
  }
  return m;
}

function matchesExecutables(executables: readonly string[], file: string): boolean {
  const nm = splitNodeModules(file);
  return executables.some((pattern) => {
    const subject = pattern.startsWith('/') ? file : nm?.[1];
    if (subject === undefined) return false;
    const m = matcher(pattern);
    return subject.startsWith(m.base) && m.test(subject);
  });
}

/**
 * The agent's executables on this machine: its node_modules-relative patterns under the node_modules the
 * started program lives in, and its absolute patterns; `*` matches within one path segment. Canonical
 * paths of regular files, found now — before the agent runs, so it cannot have planted them.
 */
export function findAgentExecutables(agent: AgentSection, program: string | null): string[] {
  const roots: string[] = [];
  const nm = program ? splitNodeModules(program) : null;
  if (nm) roots.push(nm[0]);
  const found = new Set<string>();
  for (const pattern of agent.executables) {
    const bases = pattern.startsWith('/') ? ['/'] : roots;
    for (const base of bases) {
      for (const f of expandSegments(base, pattern.split('/').filter(Boolean))) {
        try {
          const real = fs.realpathSync(f);
          if (fs.statSync(real).isFile()) found.add(real);
        } catch {
          // gone or unreadable
        }
      }
    }
  }
  return [...found].sort();
}

/** Expand a path of segments where `*`/`?` match within a segment; at most 64 matches per segment. */
function expandSegments(base: string, segments: string[]): string[] {
  let current = [base];
  for (const seg of segments) {
    const next: string[] = [];
    for (const dir of current) {
      if (!/[*?[]/.test(seg)) {
        next.push(path.join(dir, seg));
        continue;
      }
      let entries: string[];
      try {
        entries = fs.readdirSync(dir);
      } catch {
        continue;
      }
      const m = picomatch(seg, { dot: true });
      next.push(...entries.filter((e) => m(e)).slice(0, 64).map((e) => path.join(dir, e)));
    }
    current = next;
  }
  return current.filter((f) => fs.existsSync(f));
}

// ---- putting it together

export interface AgentProfileOptions {
  /** --agent: a profile id or file; null: no profile (`--agent none`); undefined: detect from argv. */
  agent?: string | null;
  argv: readonly string[];
  /** Where the agent starts (${WORKSPACE}, and relative program paths). */
  cwd: string;
  workspace: string;
  env: NodeJS.ProcessEnv;
  cliGrants?: CliGrants;
  dir?: string;
}

export interface AppliedAgentProfile {
  /** The policy with the profile merged in (the base policy when no profile applies). */
  policy: Policy;
  agent: AgentSection | null;
  /** Why this profile (or why none), in words. */
  why: string;
  /** The command line to start: the profile's prepend_args after the program name. */
  argv: string[];
  /** The arguments the profile added (empty when none). */
  prepended: string[];
  /** The agent's executables found (allowed by identity). */
  executables: string[];
  diagnostics: Diagnostic[];
}

export type ApplyResult = ({ ok: true } & AppliedAgentProfile) | { ok: false; error: string; diagnostics: Diagnostic[] };

/** Pick the profile (given or detected), merge it into `base`, and work out the agent's command line. */
export function applyAgentProfile(base: Policy, o: AgentProfileOptions): ApplyResult {
  const argv = [...o.argv];
  const loadOptions: LoadOptions = { env: o.env, workspace: o.workspace, ...(o.cliGrants ? { cliGrants: o.cliGrants } : {}) };
  let chosen: { idOrFile: string; why: string } | null = null;
  if (o.agent === null) {
    return { ok: true, policy: base, agent: null, why: 'no agent profile (--agent none)', argv, prepended: [], executables: [], diagnostics: [] };
  }
  if (o.agent !== undefined) {
    chosen = { idOrFile: o.agent, why: 'given with --agent' };
  } else {
    const d = detectAgent(argv, { cwd: o.cwd, ...(o.env.PATH !== undefined ? { path: o.env.PATH } : {}), env: o.env, ...(o.dir ? { dir: o.dir } : {}) });
    if (!d) return { ok: true, policy: base, agent: null, why: 'no agent profile (the program is no known agent)', argv, prepended: [], executables: [], diagnostics: [] };
    chosen = { idOrFile: d.file, why: `detected: ${d.why}` };
  }
  const loaded = loadAgentProfile(chosen.idOrFile, loadOptions, o.dir);
  const detected = o.agent === undefined;
  // A profile the user asked for must work; a detected one that cannot be used is left out, and said so.
  const without = (why: string, diagnostics: Diagnostic[]): ApplyResult =>
    detected
      ? { ok: true, policy: base, agent: null, why: `no agent profile (${why})`, argv, prepended: [], executables: [], diagnostics: [...diagnostics.filter((d) => d.severity !== 'error'), { severity: 'warning', code: 'agent-profile-unused', message: `the agent profile ${chosen.idOrFile} was not used: ${why}`, file: chosen.idOrFile, line: 1, column: 1 }] }
      : { ok: false, error: `the agent profile ${chosen.idOrFile} cannot be used: ${why}`, diagnostics };
  if (!loaded.profile?.agent) {
    const first = loaded.diagnostics.find((d) => d.severity === 'error');
    return without(first ? `${first.file}:${first.line}:${first.column}: ${first.message}` : 'it has errors', loaded.diagnostics);
  }
  const agent = loaded.profile.agent;
  const program = argv[0] === undefined ? null : resolveCommand(argv[0], { cwd: o.cwd, ...(o.env.PATH !== undefined ? { path: o.env.PATH } : {}) });
  let launcher = program;
  if (argv[0] !== undefined && SCRIPT_RUNNERS.has(path.basename(argv[0])) && argv[1] !== undefined) {
    try {
      launcher = fs.realpathSync(path.resolve(o.cwd, argv[1]));
    } catch {
      // keep the program
    }
  }
  const executables = findAgentExecutables(agent, launcher);
  const merged = mergeAgentProfile(base, loaded.profile, { executables, ...(o.cliGrants ? { cliGrants: o.cliGrants } : {}) });
  const diagnostics = [...loaded.diagnostics, ...merged.diagnostics];
  if (!merged.policy) {
    const first = merged.diagnostics.find((d) => d.severity === 'error');
    return without(`it cannot be merged into ${base.file}: ${first?.message ?? 'it has errors'}`, diagnostics);
  }
  // The profile's arguments go right after the program — only when the program is the agent itself (not
  // `node script`, a shell, or a wrapper), where they mean what the profile says.
  const direct = argv[0] !== undefined && (agent.commands.includes(path.basename(argv[0])) || (program !== null && isAgentExecutable(agent, program)));
  const prepended = direct ? agent.prependArgs.filter((a, i) => argv[1 + i] !== a) : [];
  const out = prepended.length ? [argv[0] as string, ...prepended, ...argv.slice(1)] : argv;
  return { ok: true, policy: merged.policy, agent, why: chosen.why, argv: out, prepended, executables, diagnostics };
}

/**
 * Make the state directories and files the policy's grants need (create_dirs, then the profile's
 * create_files): Landlock grants only paths that exist. In order, each one missing is made when its parent
 * directory exists (so a profile lists ~/.claude before ~/.claude/projects, and the default policy's
 * ~/.cargo/registry is made for someone who has ~/.cargo, never a ~/.cargo for someone without Rust).
 * Directories get mode 0700, files the profile's content and mode 0600; nothing that exists is touched.
 * The grants on a directory that was not made (its tool is not in use here) are dropped from the returned
 * policy, so they do not become a warning on every start.
 */
export function prepareState(policy: Policy): { policy: Policy; created: string[]; skipped: string[]; failed: string[] } {
  const created: string[] = [];
  const skipped: string[] = [];
  const failed: string[] = [];
  const make = (target: string, create: () => void): void => {
    if (fs.existsSync(target)) return;
    if (!fs.existsSync(path.dirname(target))) {
      skipped.push(target);
      return;
    }
    try {
      create();
      created.push(target);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') failed.push(`${target}: ${(e as Error).message}`);
    }
  };
  for (const dir of policy.filesystem.createDirs ?? []) make(dir, () => fs.mkdirSync(dir, { mode: 0o700 }));
  for (const [file, content] of policy.agent?.createFiles ?? []) make(file, () => fs.writeFileSync(file, content, { mode: 0o600, flag: 'wx' }));
  if (skipped.length === 0) return { policy, created, skipped, failed };
  const grants = policy.filesystem.grants.filter((g) => !skipped.some((s) => isUnder(g.path, s)));
  return { policy: derivePolicy(policy, { ...policy, filesystem: { ...policy.filesystem, grants } }), created, skipped, failed };
}
