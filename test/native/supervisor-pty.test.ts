// Under a pty (as in VS Code): the agent owns the terminal's foreground group, so ^C reaches it.
import { beforeAll, describe, expect, it } from 'vitest';
import { SupervisorLink } from '../../src/core/session/supervisor-link';
import { buildNative, OPEN_CONFIG, SUPERVISOR } from './helpers/gate';
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
    let link: SupervisorLink | null = null;
    link = await SupervisorLink.start({
      supervisorPath: SUPERVISOR,
      // /proc/self/stat of cat (same group as the non-interactive bash): pgrp is field 5, tpgid field 8.
      argv: ['bash', '-c', 'trap "echo got-int; exit 5" INT; echo "stat: $(cat /proc/self/stat)"; echo ready; while :; do sleep 0.05; done'],
      config: OPEN_CONFIG,
      hashUnder: [],
      spawn: ptySpawner(capture),
      handlers: {
        exec: (e) => link?.verdict(e.facts.requestId, 'allow', true),
        timeout: () => undefined,
        warn: () => undefined,
        exit: (code, signal) => (exit = { code, signal }),
        failed: () => undefined,
      },
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
});
