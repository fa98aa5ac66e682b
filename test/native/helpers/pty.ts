// A SpawnSupervisor on node-pty, as VS Code runs the supervisor: the pty is its controlling terminal.
import * as pty from 'node-pty';
import { constants } from 'node:os';
import type { SpawnSupervisor } from '../../../src/core/session/types';

export interface PtyCapture {
  output: string;
  write(data: string): void;
  /** Resize the outer terminal (set by the spawner). */
  resize?: (cols: number, rows: number) => void;
}

export function ptySpawner(capture: PtyCapture): SpawnSupervisor {
  return (file, args, env) => {
    const term = pty.spawn(file, args, { env, cols: 100, rows: 30, name: 'xterm' });
    term.onData((d) => (capture.output += d));
    capture.write = (data) => term.write(data);
    capture.resize = (cols, rows) => term.resize(cols, rows);
    const listeners: ((code: number | null, signal: number | null) => void)[] = [];
    let exit: { code: number | null; signal: number | null } | null = null;
    term.onExit(({ exitCode, signal }) => {
      exit = { code: signal ? null : exitCode, signal: signal || null };
      for (const l of listeners) l(exit.code, exit.signal);
    });
    return {
      pid: term.pid,
      onExit(l) {
        if (exit) l(exit.code, exit.signal);
        else listeners.push(l);
      },
      kill(signal) {
        if (!exit) process.kill(term.pid, constants.signals[signal ?? 'SIGTERM']);
      },
    };
  };
}
