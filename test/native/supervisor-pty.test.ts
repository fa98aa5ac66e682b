// Under a pty (as in VS Code): the agent owns the terminal's foreground group, so ^C reaches it.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildNative, startAllowingLink } from './helpers/gate';
import { ptySpawner, type PtyCapture } from './helpers/pty';

beforeAll(() => buildNative());

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  for (let t = 0; t < ms && !cond(); t += 20) await new Promise((r) => setTimeout(r, 20));
  if (!cond()) throw new Error('condition not met');
}

describe('supervisor: terminal', () => {
  it('puts the agent in the foreground process group and ^C reaches it', async () => {
    const capture: PtyCapture = { output: '', write: () => undefined };
    let exit: { code: number; signal: number } | null = null;
    const link = await startAllowingLink({
      // /proc/self/stat of cat (same group as the non-interactive bash): pgrp is field 5, tpgid field 8.
      argv: ['bash', '-c', 'trap "echo got-int; exit 5" INT; echo "stat: $(cat /proc/self/stat)"; echo ready; while :; do sleep 0.05; done'],
      spawn: ptySpawner(capture),
      cache: true,
      onExit: (code, signal) => (exit = { code, signal }),
    });
    await until(() => capture.output.includes('ready'));
    const stat = /stat: \d+ \(cat\) (.*)/.exec(capture.output)?.[1]?.split(' ') ?? [];
    const [, , pgrp, , , tpgid] = stat;
    expect(pgrp).toBe(String(link.agentPid));
    expect(tpgid).toBe(pgrp);
    capture.write('\x03');
    const status = await link.exited;
    expect(capture.output).toContain('got-int');
    expect(exit).toEqual({ code: 5, signal: 0 });
    expect(status.code).toBe(5);
  });

  it('^Z does not leave the agent stopped (there is no shell above it to fg it)', async () => {
    const capture: PtyCapture = { output: '', write: () => undefined };
    const link = await startAllowingLink({ argv: ['bash', '-c', 'echo ready; sleep 0.5; echo still-alive'], spawn: ptySpawner(capture) });
    await until(() => capture.output.includes('ready'));
    capture.write('\x1a');
    const status = await link.exited;
    expect(capture.output).toContain('still-alive');
    expect(status.code).toBe(0);
  });

  it('TERMINAL hands the foreground to the broker and back, continuing an agent stopped by SIGTTIN', async () => {
    const capture: PtyCapture = { output: '', write: () => undefined };
    const link = await startAllowingLink({ argv: ['bash', '-c', 'sleep 0.3; read -r x; echo "got=$x"'], spawn: ptySpawner(capture) });
    const agent = link.agentPid;
    // /proc/<pid>/stat after "(comm)": state, ppid, pgrp, session, tty_nr, tpgid (the terminal's foreground).
    const stat = (): string[] => readFileSync(`/proc/${agent}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    expect(stat()[5]).toBe(String(agent));
    link.terminal('broker');
    await until(() => stat()[5] === String(link.process.pid));
    // bash tries to read the terminal from the background: SIGTTIN stops it.
    await until(() => stat()[0] === 'T');
    link.terminal('agent');
    await until(() => stat()[5] === String(agent) && stat()[0] !== 'T');
    capture.write('hello\r');
    const status = await link.exited;
    expect(capture.output).toContain('got=hello');
    expect(status.code).toBe(0);
  });
});
