// Typing into terminals (issue 13, item 1): an agent must not be able to make anything outside the gate
// act for it through a terminal. TIOCSTI/TIOCLINUX push input into a terminal (another shell, the user's
// shell once the agent exits, the approval prompt), vhangup kills the terminal's session, ^Z stops whoever
// is in the foreground. Each case runs through `agent-gate run`, with a real shell on a real pty as the
// victim, and an ungated control that shows the attack works on this machine.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as pty from 'node-pty';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { denyCurlPolicy, makeDirs, prepare, prog, runCli, type CliRun } from './gate-progs/cli';

let dirs: ReturnType<typeof makeDirs>;
let n = 0;

beforeAll(async () => {
  await prepare();
  dirs = makeDirs('term');
});
afterAll(() => dirs?.cleanup());

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  for (let t = 0; t < ms && !cond(); t += 20) await new Promise((r) => setTimeout(r, 20));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
}

/** An interactive shell on its own pty: the victim. Whatever reaches its input runs. */
async function victimShell(): Promise<{ pts: string; output: () => string; alive: () => Promise<void>; close: () => void }> {
  let out = '';
  const term = pty.spawn('bash', ['--norc', '--noprofile', '-i'], { env: { ...process.env, PS1: 'victim$ ' }, cols: 80, rows: 24, name: 'xterm' });
  term.onData((d) => (out += d));
  await until('the victim prompt', () => out.includes('victim$ '));
  let k = 0;
  return {
    pts: (term as unknown as { ptsName: string }).ptsName,
    output: () => out,
    // Type a command of our own and wait for it: whatever was queued before it has been read and run.
    alive: async () => {
      const tag = `ALIVE${++k}`;
      term.write(`echo ${tag.slice(0, 3)}''${tag.slice(3)}\r`);
      await until(`the victim shell to answer ${tag}`, () => out.includes(tag));
    },
    close: () => term.kill('SIGKILL'),
  };
}

function workspace(policyText = denyCurlPolicy()): { ws: string; policy: string } {
  const ws = path.join(dirs.root, `ws-${++n}`);
  fs.mkdirSync(ws);
  const policy = path.join(ws, '.gate.toml');
  fs.writeFileSync(policy, policyText);
  return { ws, policy };
}

function gated(w: { ws: string; policy: string }, argv: string[], extra: string[] = []): Promise<CliRun> {
  return runCli(argv, { policy: w.policy, audit: dirs.audit(`term-${++n}`), cwd: w.ws, extra });
}

describe('gate: typing into another terminal', () => {
  it('control: ungated, TIOCSTI into another shell\'s pts runs a command there', async () => {
    const victim = await victimShell();
    try {
      const marker = path.join(dirs.root, `ungated-${++n}`);
      const r = spawnSync(prog('ttyinject'), ['sti', victim.pts, `touch ${marker}\r`], { encoding: 'utf8' });
      expect(r.stdout).toContain('RESULT sti ok');
      await victim.alive();
      expect(fs.existsSync(marker)).toBe(true);
    } finally {
      victim.close();
    }
  });

  for (const variant of ['', 'high'] as const) {
    it(`TIOCSTI${variant ? ' with the high bits of the cmd set' : ''} into another shell's pts is refused, with [filesystem] and without`, async () => {
      const victim = await victimShell();
      try {
        for (const sealed of [true, false]) {
          const w = workspace(denyCurlPolicy({ filesystem: sealed }));
          const marker = path.join(w.ws, 'pwned');
          const r = await gated(w, [prog('ttyinject'), 'sti', victim.pts, `touch ${marker}\r`, ...(variant ? [variant] : [])], sealed ? [] : ['--allow-root-without-filesystem']);
          // Sealed: the other pts cannot even be opened (only the agent's own terminal is granted); unsealed:
          // it opens, and the filter refuses the ioctl.
          expect(r.stdout).toMatch(/RESULT (sti errno=EPERM|open errno=EACCES)/);
          await victim.alive();
          expect(fs.existsSync(marker)).toBe(false);
          expect(victim.output()).not.toContain(`touch ${marker}`);
        }
      } finally {
        victim.close();
      }
    });
  }

  it('TIOCLINUX (console selection paste) and TIOCSCTTY steal are refused, vhangup too', async () => {
    const victim = await victimShell();
    try {
      const w = workspace(denyCurlPolicy({ filesystem: false }));
      const r = await gated(w, ['bash', '-c', `${prog('ttyinject')} linux ${victim.pts}; ${prog('ttyinject')} sctty ${victim.pts}; ${prog('ttyinject')} vhangup`], ['--allow-root-without-filesystem']);
      expect(r.stdout).toContain('RESULT linux errno=EPERM');
      expect(r.stdout).toContain('RESULT sctty errno=EPERM');
      expect(r.stdout).toContain('RESULT vhangup errno=EPERM');
      await victim.alive();
    } finally {
      victim.close();
    }
  });
});
