// A SpawnSupervisor on node-pty, as VS Code runs the supervisor: the pty is its controlling terminal.
import * as pty from 'node-pty';
import { ptySpawner as corePtySpawner } from '../../../src/core/session/spawn';
import type { SpawnSupervisor } from '../../../src/core/session/types';

export interface PtyCapture {
  output: string;
  write(data: string): void;
  /** Resize the outer terminal (set by the spawner). */
  resize?: (cols: number, rows: number) => void;
}

export function ptySpawner(capture: PtyCapture): SpawnSupervisor {
  return corePtySpawner(pty, {
    cols: 100,
    rows: 30,
    name: 'xterm',
    onSpawn: (term) => {
      term.onData((d) => (capture.output += d));
      capture.write = (data) => term.write(data);
      capture.resize = (cols, rows) => term.resize(cols, rows);
    },
  });
}
