// VS Code's guarded terminal (GatedProcess on node-pty, as the extension runs it) and the gate's own lines
// after an agent that left its terminal in a state that hides text (red-team R58): the exit lines and the
// lines said during the session must reach the screen readable. The CLI's side is in gate-terminal.test.ts.
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as pty from 'node-pty';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutoApprover } from '../../src/core/session/approvals';
import { planLaunch } from '../../src/core/session/launch';
import { exitLines, GatedProcess } from '../../src/extension/terminal/gated-process';
import { denyCurlPolicy } from './gate-progs/cli';
import { buildNative, SUPERVISOR } from './helpers/gate';
import { VtModel } from './helpers/vt';

let dir: string;
let state: string;
beforeAll(() => {
  buildNative();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-gate-termtext-'));
  state = path.join(dir, 'state');
  fs.mkdirSync(state, { mode: 0o700 });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let n = 0;
async function guardedTerminal(script: string): Promise<{ out: string }> {
  const ws = path.join(dir, `ws-${++n}`);
  fs.mkdirSync(ws);
  const policyFile = path.join(ws, '.gate.toml');
  fs.writeFileSync(policyFile, `${denyCurlPolicy()}\n[unix_sockets]\nallow = []\n`);
  const plan = planLaunch({
    argv: ['/bin/bash', '-c', script],
    agent: null,
    workspace: ws,
    policyFile,
    supervisorPath: SUPERVISOR,
    env: { PATH: '/usr/bin:/bin', HOME: dir },
    auditPath: path.join(state, `audit-${n}.jsonl`),
  });
  if (!plan.ok) throw new Error(plan.error);
  const gp = new GatedProcess({ plan, approver: new AutoApprover('deny', 'test'), pty, cols: 100, rows: 30 });
  // As GatePseudoterminal does: the data as it comes, the exit lines on the exit; whatever node-pty still
  // delivers after the exit is shown after them.
  let out = '';
  gp.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) =>
    gp.on('exit', (end) => {
      out += exitLines(end);
      r();
    }),
  );
  await gp.start();
  await exited;
  await new Promise((r) => setTimeout(r, 300));
  return { out };
}

describe('gate: VS Code\'s guarded terminal shows its own lines whatever the agent left open (red-team R58)', () => {
  const openers: [string, string][] = [
    ['an unterminated title (OSC 0)', '\\033]0;'],
    ['an unterminated title by C1 OSC', '\\302\\2352;'],
    ['a CSI cut short', '\\033[1;'],
    ['concealed text', '\\033[8m'],
    ['yellow on yellow', '\\033[43m'],
    ['DEC line drawing, shifted out', '\\033)0\\016'],
    ['the alternate screen', '\\033[?1049h'],
    ['the default foreground made the background (OSC 10/11)', '\\033]10;rgb:00/00/00\\007\\033]11;rgb:00/00/00\\007'],
  ];
  it.each(openers)('after %s, a line said during the session and the exit lines are readable', async (_what, opener) => {
    // A unix socket outside the gate, refused (the default policy seals them): the gate says so while the agent
    // runs, after the agent's opener.
    const sock = path.join(dir, `outside-${++n}.sock`);
    const server = net.createServer((c) => c.destroy()).listen(sock);
    await once(server, 'listening');
    try {
      const { out } = await guardedTerminal(`printf '${opener}'; /usr/bin/python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])' ${sock} 2>/dev/null; sleep 0.3; printf '${opener}'; exit 3`);
      const vt = new VtModel();
      vt.feedText(out);
      expect(vt.seen).toMatch(new RegExp(`agent-gate: refused connect to ${sock.replace(/[.]/g, '\\.')}`));
      expect(vt.onAltScreen).toBe(false);
      expect(vt.normal).toContain('agent-gate: the agent ended (exit status 3); press any key to close this terminal');
    } finally {
      server.close();
    }
  });
});
