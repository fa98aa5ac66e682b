// Under a pty (as in VS Code): the supervisor gives the agent a pty of its own and relays; ^C, ^Z and
// resizes reach the agent through it, and the broker can hold the relay while it asks on the terminal.
import { readlinkSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildNative, startAllowingLink } from './helpers/gate';
import { ptySpawner, type PtyCapture } from './helpers/pty';

beforeAll(() => buildNative());

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  for (let t = 0; t < ms && !cond(); t += 20) await new Promise((r) => setTimeout(r, 20));
  if (!cond()) throw new Error('condition not met');
}

describe('supervisor: the agent on its own pty (as in VS Code, where node-pty is the outer terminal)', () => {
  it('the agent has a pty of its own, in a session of its own, and ^C typed on the outer terminal reaches it', async () => {
    const capture: PtyCapture = { output: '', write: () => undefined };
    let exit: { code: number; signal: number } | null = null;
    const link = await startAllowingLink({
      // /proc/self/stat of cat: pgrp is field 5, session field 6, tty_nr field 7, tpgid field 8.
      argv: ['bash', '-c', 'trap "echo got-int; exit 5" INT; echo "tty: $(tty)"; echo "stat: $(cat /proc/self/stat)"; echo ready; while :; do sleep 0.05; done'],
      spawn: ptySpawner(capture),
      cache: true,
      onExit: (code, signal) => (exit = { code, signal }),
    });
    await until(() => capture.output.includes('ready'));
    const stat = /stat: \d+ \(cat\) (.*)/.exec(capture.output)?.[1]?.split(' ') ?? [];
    const [, , pgrp, session, , tpgid] = stat;
    // The agent leads its own session and process group, and its group is its terminal's foreground.
    expect(pgrp, capture.output).toBe(String(link.agentPid));
    expect(session, capture.output).toBe(String(link.agentPid));
    expect(tpgid, capture.output).toBe(pgrp);
    // Its terminal is not the supervisor's (node-pty's): a pty the supervisor made for it.
    const own = /tty: (\/dev\/pts\/\d+)/.exec(capture.output)?.[1];
    expect(own, capture.output).toBeDefined();
    expect(readlinkSync(`/proc/${link.process.pid}/fd/0`)).not.toBe(own);
    capture.write('\x03');
    const status = await link.exited;
    // The supervisor's exit (node-pty's event) can be heard before its last line on the socket (EXIT) is read.
    await until(() => exit !== null);
    expect(capture.output).toContain('got-int');
    expect(exit, capture.output).toEqual({ code: 5, signal: 0 });
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

  it('a resize of the outer terminal reaches the agent (SIGWINCH, and its own terminal has the new size)', async () => {
    const capture: PtyCapture = { output: '', write: () => undefined };
    const link = await startAllowingLink({
      argv: ['bash', '-c', "trap 'echo size=$(stty size)' WINCH; echo \"start=$(stty size)\"; for i in $(seq 100); do sleep 0.05; done"],
      spawn: ptySpawner(capture),
    });
    await until(() => capture.output.includes('start='));
    expect(capture.output).toContain('start=30 100');
    capture.resize!(132, 43);
    await until(() => capture.output.includes('size=43 132'));
    link.process.kill('SIGTERM');
    await link.exited;
  });

  it('TERMINAL owner=broker holds the relay (no output shown, no input delivered) until owner=agent, and is acknowledged', async () => {
    const capture: PtyCapture = { output: '', write: () => undefined };
    const link = await startAllowingLink({
      argv: ['bash', '-c', 'echo ready; read -r x; echo "got=$x"; for i in 1 2 3 4 5 6 7 8 9 10; do echo tick$i; sleep 0.05; done'],
      spawn: ptySpawner(capture),
    });
    await until(() => capture.output.includes('ready'));
    await link.terminal('broker');
    // Typed while held: read by nobody (the broker reads it itself in the CLI), dropped at the next hold.
    capture.write('typed-while-held\r');
    await new Promise((r) => setTimeout(r, 300));
    expect(capture.output).not.toContain('got=');
    await link.terminal('agent');
    capture.write('after\r');
    await until(() => capture.output.includes('got='));
    const status = await link.exited;
    expect(capture.output).toContain('tick10');
    expect(status.code).toBe(0);
  });
});
