// The broker's own channel (red-team R16): the socket the supervisor connects to exists, in /tmp, while a
// session starts. A process of another session's agent (the same user, a policy that lets it write /tmp) can
// find it and connect first. Only the supervisor that was spawned is heard: its first line carries a secret
// from its environment (docs/protocol.md, AUTH). Real supervisor, real processes racing it.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childProcessSpawner, LINK_TOKEN_VAR, SupervisorLink } from '../../src/core/session/supervisor-link';
import { buildNative, OPEN_CONFIG, startAllowingLink, SUPERVISOR } from './helpers/gate';

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

const PY = '/usr/bin/python3';
let dir: string;

beforeAll(() => {
  buildNative();
  dir = fs.mkdtempSync(join(os.tmpdir(), 'agent-gate-link-test-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// Connects, says its first line, marks that it is connected, then counts what the broker ever sends it.
const IMPOSTOR = `import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(bytes.fromhex(sys.argv[2]))
open(sys.argv[3], 'w').close()
got = b''
s.settimeout(20)
try:
    while True:
        d = s.recv(65536)
        if not d: break
        got += d
except OSError as e:
    print('RESULT error', e, flush=True)
print('RESULT closed got=%d' % len(got), flush=True)
`;

interface Impostor {
  proc: ChildProcess;
  output: Promise<string>;
  marker: string;
}

function impostor(sock: string, firstBytes: string, env: NodeJS.ProcessEnv): Impostor {
  const marker = join(dir, `connected-${randomBytes(4).toString('hex')}`);
  // Another session's process: it does not have the secret.
  const own = { ...env };
  delete own[LINK_TOKEN_VAR];
  const proc = spawn(PY, ['-c', IMPOSTOR, sock, Buffer.from(firstBytes).toString('hex'), marker], { env: own, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => (out += d));
  const output = new Promise<string>((res) => proc.on('exit', () => res(out)));
  return { proc, output, marker };
}

describe("the broker's socket: only the supervisor it spawned is heard", () => {
  it('processes that connect before the supervisor — a forged HELLO, a guessed AUTH — get nothing and are closed; the session runs with the real supervisor and says so', async () => {
    const impostors: Impostor[] = [];
    let exitCode: number | null = null;
    const link = await startAllowingLink({
      argv: ['/bin/true'],
      onExit: (code) => (exitCode = code),
      // Before the real supervisor starts, two impostors connect (the supervisor waits until both are in).
      spawn: (file, args, env) => {
        const sock = args[args.indexOf('--socket') + 1] as string;
        impostors.push(impostor(sock, 'HELLO 1 pid=4242 abi=7 notif=1 killable=1 env=\nREPORT fs=off\nSTARTED pid=4242\n', env));
        impostors.push(impostor(sock, `AUTH token=${randomBytes(32).toString('hex')}\nHELLO 1 pid=4243 abi=7 notif=1 killable=1 env=\n`, env));
        const wait = 'for m in "$1" "$2"; do while [ ! -e "$m" ]; do sleep 0.01; done; done; shift 2; exec "$@"';
        return childProcessSpawner({ stdio: 'pipe' })('/bin/sh', ['-c', wait, 'sh', ...impostors.map((i) => i.marker), file, ...args], env);
      },
    });
    // The peer is the supervisor that was spawned (sh exec'd it: same pid), not an impostor's pid.
    expect(link.hello?.pid).toBe(link.process.pid);
    expect(link.agentPid).not.toBe(4242);
    const refused = link.warnings.filter((w) => w.startsWith("refused a connection to the broker's socket"));
    expect(refused.length, link.warnings.join('\n')).toBe(2);
    for (const i of impostors) expect(await i.output).toContain('RESULT closed got=0');
    await link.exited;
    expect(exitCode).toBe(0);
  });

  it('a supervisor that does not say the secret is not accepted: the session does not start', async () => {
    const FAKE = join(__dirname, 'helpers', 'fake-supervisor.mjs');
    const failed: string[] = [];
    const start = SupervisorLink.start({
      supervisorPath: process.execPath,
      argv: ['no-auth'],
      config: OPEN_CONFIG,
      hashUnder: [],
      spawn: (file, args, env) => childProcessSpawner({ stdio: 'pipe' })(file, [FAKE, ...args], env),
      handlers: { exec: () => undefined, timeout: () => undefined, warn: () => undefined, exit: () => undefined, failed: (m) => failed.push(m) },
      startTimeoutMs: 1500,
    });
    // It connected and said HELLO: closed at once; it then exits (as the fake does when its socket closes).
    await expect(start).rejects.toThrow(/exited \(code 0\) before connecting to the broker \(1 connection refused: not proved to be the supervisor's\)/);
  });

  it('the secret never reaches the agent: not in its environment, not in HELLO, not in the banner list', async () => {
    let printed = '';
    const link = await startAllowingLink({
      argv: ['/bin/sh', '-c', `env | grep -c ${LINK_TOKEN_VAR} || true`],
      spawn: (file, args, env) =>
        childProcessSpawner({ stdio: 'pipe', onSpawn: (c) => c.stdout?.setEncoding('utf8').on('data', (d: string) => (printed += d)) })(file, args, env),
    });
    await link.exited;
    expect(printed.trim()).toBe('0');
    expect(link.envPlan.removed).not.toContain(LINK_TOKEN_VAR);
  });

  it('a process that opened the record pipe while the session started cannot speak for the supervisor there: a line that is not a record ends the session, closed', async () => {
    // The pipe has a name only while the session starts. The attacker (another session's process) watches for
    // it; the broker is held until it has it open, so that the window is certain.
    const marker = join(dir, `pipe-open-${randomBytes(4).toString('hex')}`);
    const attacker = `import os, sys, time
p, m = sys.argv[1], sys.argv[2]
deadline = time.time() + 10
while not os.path.exists(p):
    if time.time() > deadline: print('RESULT never saw it', flush=True); sys.exit(1)
    time.sleep(0.0005)
fd = os.open(p, os.O_WRONLY | os.O_NONBLOCK)
open(m, 'w').close()
time.sleep(1.0)
os.write(fd, b'EXIT id=0 code=0 signal=0\\n')
print('RESULT wrote', flush=True)
`;
    let out = '';
    let proc: ChildProcess | null = null;
    const failed: string[] = [];
    let exitCode: number | null = null;
    const link = await SupervisorLink.start({
      supervisorPath: SUPERVISOR,
      argv: ['/bin/sleep', '30'],
      config: OPEN_CONFIG,
      hashUnder: [],
      spawn: (file, args, env) => {
        const sock = args[args.indexOf('--socket') + 1] as string;
        const own = { ...env };
        delete own[LINK_TOKEN_VAR];
        proc = spawn(PY, ['-c', attacker, join(dirname(sock), 'records'), marker], { env: own, stdio: ['ignore', 'pipe', 'pipe'] });
        proc.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
        const sup = childProcessSpawner({ stdio: 'pipe' })(file, args, env);
        // Hold the broker (this thread) until the attacker has the pipe open.
        const until = Date.now() + 10_000;
        const nap = new Int32Array(new SharedArrayBuffer(4));
        while (!fs.existsSync(marker) && Date.now() < until) Atomics.wait(nap, 0, 0, 1);
        return sup;
      },
      handlers: { exec: () => undefined, timeout: () => undefined, warn: () => undefined, exit: (code) => (exitCode = code), failed: (m) => failed.push(m) },
    });
    expect(fs.existsSync(marker), out).toBe(true);
    const t0 = Date.now();
    await link.exited;
    // Ended at the forged line (about a second in), the agent with it: not the 30 s of its sleep, not "exited 0".
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(out).toContain('RESULT wrote');
    await until(() => failed.length > 0);
    expect(failed[0]).toMatch(/record pipe carried a EXIT line, which only the socket carries: another process wrote to the pipe/);
    expect(exitCode).toBeNull();
  });
});
