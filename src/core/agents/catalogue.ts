// The agents a guarded terminal offers: the built-in ones (Claude Code, Codex, Gemini, aider, the user's shell),
// plus the user's own (name, command, args), each found on PATH or not, with how to get a missing one. Pure
// decisions for the front ends (VS Code's quick pick); the profile merged into the policy is still chosen by
// planLaunch (agent profiles, profiles.ts).
import * as path from 'node:path';
import { escapeText } from '../audit/display';
import { resolveCommand } from './profiles';

export interface AgentEntry {
  /** Stable id: a profile id for the built-ins ("claude", "shell"), `custom:<name>` for the user's. */
  id: string;
  /** Display name. */
  name: string;
  /** The program (a name looked up on PATH, or a path). */
  command: string;
  args: string[];
  /** The agent profile to merge: a profile id, or undefined to detect it from the program (planLaunch). */
  profile?: string;
  /** How to get it when it is missing, in words (npm package names). */
  install: string;
  builtin: boolean;
}

export interface UserAgentSetting {
  name?: unknown;
  command?: unknown;
  args?: unknown;
}

const BUILTIN: readonly Omit<AgentEntry, 'builtin'>[] = [
  { id: 'claude', name: 'Claude Code', command: 'claude', args: [], profile: 'claude', install: 'npm install -g @anthropic-ai/claude-code' },
  { id: 'codex', name: 'Codex CLI', command: 'codex', args: [], profile: 'codex', install: 'npm install -g @openai/codex' },
  { id: 'gemini', name: 'Gemini CLI', command: 'gemini', args: [], profile: 'gemini', install: 'npm install -g @google/gemini-cli' },
  { id: 'aider', name: 'aider', command: 'aider', args: [], profile: 'aider', install: 'python3 -m pip install aider-install && aider-install (aider is a Python program, not an npm package)' },
];

/** The user's shell: $SHELL when it is an absolute path, else /bin/bash. */
export function userShell(env: NodeJS.ProcessEnv): string {
  const s = env.SHELL;
  return s && s.startsWith('/') ? s : '/bin/bash';
}

/**
 * Built-in agents, the shell, then the user's (from the setting). A user entry without a name or command is
 * reported in `problems` and left out; one whose name is taken by an earlier entry too.
 */
export function agentCatalogue(user: readonly UserAgentSetting[], env: NodeJS.ProcessEnv): { agents: AgentEntry[]; problems: string[] } {
  const shell = userShell(env);
  const agents: AgentEntry[] = [
    ...BUILTIN.map((a) => ({ ...a, args: [...a.args], builtin: true })),
    { id: 'shell', name: `Shell (${path.basename(shell)})`, command: shell, args: [], profile: 'shell', install: `set $SHELL to an installed shell (${shell} was not found)`, builtin: true },
  ];
  const problems: string[] = [];
  const names = new Set(agents.map((a) => a.name.toLowerCase()));
  user.forEach((u, i) => {
    const where = `agentGate.agents[${i}]`;
    if (typeof u !== 'object' || u === null) return void problems.push(`${where} is not an object with name, command and args`);
    if (typeof u.name !== 'string' || u.name.trim() === '') return void problems.push(`${where} has no name`);
    if (typeof u.command !== 'string' || u.command.trim() === '') return void problems.push(`${where} (${escapeText(u.name)}) has no command`);
    if (u.args !== undefined && (!Array.isArray(u.args) || !u.args.every((a) => typeof a === 'string'))) return void problems.push(`${where} (${escapeText(u.name)}): args must be a list of strings`);
    if (names.has(u.name.toLowerCase())) return void problems.push(`${where}: the name ${escapeText(u.name)} is taken by another agent`);
    names.add(u.name.toLowerCase());
    agents.push({ id: `custom:${u.name}`, name: u.name, command: u.command, args: [...(u.args ?? [])], install: `install ${escapeText(u.command)} or fix agentGate.agents (${escapeText(u.name)})`, builtin: false });
  });
  return { agents, problems };
}

/** Find an agent by id, by name (case-insensitive) or by command. */
export function findAgent(agents: readonly AgentEntry[], key: string): AgentEntry | undefined {
  const k = key.toLowerCase();
  return agents.find((a) => a.id === key) ?? agents.find((a) => a.name.toLowerCase() === k) ?? agents.find((a) => a.command === key || path.basename(a.command) === key);
}

export interface AgentAvailability {
  agent: AgentEntry;
  /** What execvp would run (canonical), or null when it is not found. */
  resolved: string | null;
}

/** Whether each agent's program is on PATH (or, given as a path, exists and is executable). */
export function locateAgents(agents: readonly AgentEntry[], o: { cwd: string; path?: string }): AgentAvailability[] {
  return agents.map((agent) => ({ agent, resolved: resolveCommand(agent.command, { cwd: o.cwd, ...(o.path !== undefined ? { path: o.path } : {}) }) }));
}

/** What the user is told when the agent they picked is not installed: what is missing, and how to get it. */
export function missingAgentMessage(a: AgentEntry): string {
  const where = a.command.includes('/') ? `${escapeText(a.command)} does not exist or is not executable` : `${escapeText(a.command)} is not on PATH`;
  return `${a.name} is not installed: ${where}. To get it: ${a.install}.`;
}
