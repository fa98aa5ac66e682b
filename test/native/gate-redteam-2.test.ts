// Red-team probes (second red team, session of 2026-12-03) that the gate held, kept as regression tests. Each
// tries the bypass for real through `agent-gate run`, as root and as uid 65534, with an ungated control that
// shows the same try works on this machine:
// - descriptors inherited from whatever started the CLI (an editor's extension host, a shell with a redirect, a
//   service manager's socket): a file outside the write grants opened for writing, and a connected unix socket to
//   a server outside the gate, open in the CLI's parent — the agent has neither (the supervisor marks every
//   descriptor above 2 close-on-exec before it starts the agent), so it cannot write the file or talk to the
//   server through them;
// - scheduling outside the gate (#13.7) with the program copied under another name: the default policy's
//   deny-schedule-outside rule names systemd-run by basename, and a copy in the workspace is recognised by its
//   content, not its name.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDirs, prepare, ROOT, runCli, type CliRun } from './gate-progs/cli';
import { ownedWorkspace } from './helpers/procs';

const NOBODY = 65534;
const AS_NOBODY = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];
type Who = 'root' | 'nobody';

let dirs: ReturnType<typeof makeDirs>;
let n = 0;

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('these tests need root: they run the agent as root and as uid 65534');
  await prepare();
  dirs = makeDirs('redteam2');
  fs.chmodSync(dirs.root, 0o755);
});
afterAll(() => dirs?.cleanup());

/** A workspace, state directory and policy the user `who` owns. */
function workspace(who: Who, policyText: string): { ws: string; state: string; policy: string } {
  return ownedWorkspace(path.join(dirs.root, `${who}-${++n}`), policyText, { owner: who === 'nobody' ? NOBODY : undefined });
}

const SEALED_WRITES = `[meta]
version = 1
default_action = "allow"

[filesystem]
read_globs = ["/**"]
write_globs = ["\${WORKSPACE}/**"]
require_enforced = true
`;

const results = (out: string): string[] => out.split('\n').filter((l) => l.startsWith('RESULT'));

describe('gate (red-team 2, held): descriptors open in the CLI\'s parent do not reach the agent', () => {
  /** Opens `file` for appending as fd 7 and connects to the unix socket `sock` as fd 8 (both inheritable, as
   *  root: before any setpriv), then execs the rest of its arguments. */
  const OPENER = String.raw`
import os, socket, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_APPEND)
os.dup2(fd, 7); os.set_inheritable(7, True)
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[2])
os.dup2(s.fileno(), 8); os.set_inheritable(8, True)
os.execvp(sys.argv[3], sys.argv[3:])
`;
  /** What the agent tries: which descriptors above 2 it has, and writing through 7 and 8. */
  const PROBE = 'for f in 3 4 5 6 7 8 9; do [ -e /proc/$$/fd/$f ] && echo "RESULT open $f"; done; (echo leak-file >&7) 2>/dev/null && echo "RESULT wrote 7"; (echo leak-socket >&8) 2>/dev/null && echo "RESULT wrote 8"; true';

  for (const who of ['root', 'nobody'] as const) {
    it(`a writable file outside the grants and a socket to a server outside: neither is open in the agent (${who})`, async () => {
      const base = path.join(dirs.root, `fds-${who}-${++n}`);
      fs.mkdirSync(base, { mode: 0o700 });
      const opener = path.join(base, 'opener.py');
      fs.writeFileSync(opener, OPENER);
      const file = path.join(base, 'outside.txt');
      fs.writeFileSync(file, 'kept\n', { mode: 0o600 });
      const sock = path.join(base, 'outside.sock');
      const heard: string[] = [];
      const server = net.createServer((c) => c.setEncoding('utf8').on('data', (d: string) => heard.push(d)));
      await new Promise<void>((res, rej) => server.once('error', rej).listen(sock, res));
      try {
        // Control: ungated, the same chain of programs has both descriptors and writes through them.
        const ctl = spawnSync('python3', [opener, file, sock, ...(who === 'nobody' ? AS_NOBODY : []), 'sh', '-c', PROBE], { encoding: 'utf8' });
        expect(results(ctl.stdout), ctl.stderr).toEqual(['RESULT open 7', 'RESULT open 8', 'RESULT wrote 7', 'RESULT wrote 8']);
        await new Promise((r) => setTimeout(r, 200));
        expect(fs.readFileSync(file, 'utf8')).toBe('kept\nleak-file\n');
        expect(heard.join('')).toBe('leak-socket\n');
        fs.writeFileSync(file, 'kept\n');
        heard.length = 0;

        const w = workspace(who, SEALED_WRITES);
        const r: CliRun = await runCli(['sh', '-c', PROBE], {
          policy: w.policy,
          audit: path.join(w.state, 'audit.jsonl'),
          cwd: w.ws,
          env: { HOME: path.dirname(w.ws) },
          wrap: ['python3', opener, file, sock, ...(who === 'nobody' ? AS_NOBODY : [])],
        });
        expect(r.code, r.stderr).toBe(0);
        expect(r.end, r.stderr).toBeDefined();
        expect(results(r.stdout)).toEqual([]);
        await new Promise((res) => setTimeout(res, 200));
        expect(fs.readFileSync(file, 'utf8')).toBe('kept\n');
        expect(heard).toEqual([]);
      } finally {
        server.close();
      }
    });
  }
});

describe('gate (red-team 2, held): scheduling outside the gate under another name', () => {
  const SYSTEMD_RUN = '/usr/bin/systemd-run';

  for (const who of ['root', 'nobody'] as const) {
    it(`a copy of systemd-run in the workspace is refused by the default policy's rule; a copy of true runs (${who})`, async () => {
      // Control: the program is there and runs ungated (only --version: nothing is scheduled).
      expect(fs.existsSync(SYSTEMD_RUN), `${SYSTEMD_RUN} is what this test copies`).toBe(true);
      expect(spawnSync(SYSTEMD_RUN, ['--version']).status).toBe(0);

      // The shipped default policy's rule, as written there, under writes sealed to the workspace (the whole
      // default grants /tmp, where these tests' homes are: the CLI would rightly refuse its state there).
      const shipped = fs.readFileSync(path.join(ROOT, 'policies', 'default.gate.toml'), 'utf8');
      const rule = /\[\[rule\]\]\nid = "deny-schedule-outside"\n[^]*?\n\n/.exec(shipped)?.[0];
      expect(rule, 'the default policy has the deny-schedule-outside rule').toMatch(/systemd-run/);
      const w = workspace(who, `${SEALED_WRITES}\n${rule}`);
      const r = await runCli(['sh', '-c', `cp ${SYSTEMD_RUN} ./build-helper && cp /bin/true ./t && ./t && echo "RESULT true ran"; ./build-helper --version >/dev/null 2>&1; echo "RESULT copy rc=$?"`], {
        policy: w.policy,
        audit: path.join(w.state, 'audit.jsonl'),
        cwd: w.ws,
        env: { HOME: path.dirname(w.ws) },
        wrap: who === 'nobody' ? AS_NOBODY : undefined,
      });
      expect(r.code, r.stderr).toBe(0);
      expect(results(r.stdout)).toEqual(['RESULT true ran', 'RESULT copy rc=126']);
      const denied = r.decisions.filter((d) => d.verdict === 'deny');
      expect(denied).toHaveLength(1);
      expect(denied[0]).toMatchObject({ rule_id: 'deny-schedule-outside', exe: path.join(w.ws, 'build-helper') });
    });
  }
});
