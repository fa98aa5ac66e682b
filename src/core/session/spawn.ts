// Starting the supervisor process: with child_process (the CLI, tests) or on a pseudo-terminal (node-pty:
// the VS Code terminal, tests of terminal behaviour). Both go through trackExit, the one place that turns a
// process's exit into the SupervisorProcess contract (one exit, reported once to every listener, early or
// late; no signal after the exit, so a reused pid is never hit).
import { spawn as spawnChild, type ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import type { SpawnSupervisor, SupervisorProcess } from './types';

/** A SupervisorProcess for `pid`, and the function to call once with its exit. */
export function trackExit(pid: number, kill: (signal: NodeJS.Signals) => void): { process: SupervisorProcess; exited: (code: number | null, signal: number | null) => void } {
  let exit: { code: number | null; signal: number | null } | null = null;
  const listeners: ((code: number | null, signal: number | null) => void)[] = [];
  return {
    process: {
      pid,
      onExit(listener) {
        if (exit) listener(exit.code, exit.signal);
        else listeners.push(listener);
      },
      kill(signal = 'SIGTERM') {
        if (exit !== null) return;
        try {
          kill(signal);
        } catch {
          // Gone between its exit and our hearing of it.
        }
      },
    },
    exited(code, signal) {
      if (exit) return;
      exit = { code, signal: signal || null };
      for (const l of listeners.splice(0)) l(exit.code, exit.signal);
    },
  };
}

export function signalNumber(name: NodeJS.Signals | null): number | null {
  if (!name) return null;
  const n = osConstants.signals[name];
  return typeof n === 'number' ? n : null;
}

export interface ChildProcessSpawnOptions {
  /** 'inherit' (the CLI: the supervisor and agent share the terminal) or 'pipe' (tests). */
  stdio?: 'inherit' | 'pipe';
  /** Called with the ChildProcess right after spawning (e.g. to read piped output). */
  onSpawn?: (child: ChildProcess) => void;
}

/** A SpawnSupervisor built on child_process.spawn. */
export function childProcessSpawner(options: ChildProcessSpawnOptions = {}): SpawnSupervisor {
  return (file, args, env) => {
    const child = spawnChild(file, args, { env, stdio: options.stdio ?? 'inherit' });
    options.onSpawn?.(child);
    const t = trackExit(child.pid ?? 0, (sig) => child.kill(sig));
    child.on('exit', (code, sig) => t.exited(code, signalNumber(sig)));
    // spawn failed (ENOENT, EACCES): as a shell reports a program it could not run.
    child.on('error', () => t.exited(127, null));
    return t.process;
  };
}

/** child_process.spawn with inherited stdio (the CLI). */
export const spawnWithChildProcess: SpawnSupervisor = childProcessSpawner();

/** The part of node-pty's IPty the gate uses (node-pty itself is loaded by the caller: VS Code ships its own). */
export interface PtyLike {
  readonly pid: number;
  onData(listener: (data: string) => void): { dispose(): void };
  onExit(listener: (e: { exitCode: number; signal?: number }) => void): { dispose(): void };
  write(data: string): void;
  resize(cols: number, rows: number): void;
  kill(signal?: string): void;
}

export interface PtyModuleLike {
  spawn(file: string, args: string[], options: { name?: string; cols?: number; rows?: number; cwd?: string; env?: NodeJS.ProcessEnv }): PtyLike;
}

export interface PtySpawnOptions {
  cols?: number;
  rows?: number;
  cwd?: string;
  /** $TERM for the pty (default xterm-256color: VS Code's terminal renders 256 colours and truecolor). */
  name?: string;
  /** Called with the pty right after spawning, before any output is read. */
  onSpawn?: (term: PtyLike) => void;
}

/** A SpawnSupervisor on a pseudo-terminal: the pty is the supervisor's (and the agent's) controlling terminal. */
export function ptySpawner(pty: PtyModuleLike, options: PtySpawnOptions = {}): SpawnSupervisor {
  return (file, args, env) => {
    const term = pty.spawn(file, args, {
      name: options.name ?? 'xterm-256color',
      cols: options.cols ?? 80,
      rows: options.rows ?? 24,
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      env,
    });
    options.onSpawn?.(term);
    // node-pty's kill() sends SIGHUP by default and closes the pty; the gate sends the signal it means.
    const t = trackExit(term.pid, (sig) => process.kill(term.pid, sig));
    term.onExit(({ exitCode, signal }) => t.exited(signal ? null : exitCode, signal || null));
    return t.process;
  };
}
