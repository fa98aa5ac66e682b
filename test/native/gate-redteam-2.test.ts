// Red-team probes (second red team, session of 2026-12-03) that the gate held, kept as regression tests. Each
// tries the bypass for real through `agent-gate run`, as root and as uid 65534, with an ungated control that
// shows the same try works on this machine:
// - descriptors inherited from whatever started the CLI (an editor's extension host, a shell with a redirect, a
//   service manager's socket): a file outside the write grants opened for writing, and a connected unix socket to
//   a server outside the gate, open in the CLI's parent — the agent has neither (the supervisor marks every
//   descriptor above 2 close-on-exec before it starts the agent), so it cannot write the file or talk to the
//   server through them;
// - a submodule's git directory made a linked-worktree git directory (a `commondir` naming a common directory
//   the agent made, whose config has core.fsmonitor; R75/R86's shape for submodules): the user's `git status` in
//   the superproject recurses into the submodule (VS Code runs it by itself) — the guard puts the file back at
//   once and git runs nothing;
// - a service outside the gate on the wildcard address (R59 held-out forms, after loopback's [loopback] sealing):
//   TCP through ::, ::127.0.0.1, v4-mapped interface addresses, the IPv6 ULA and link-local (with its scope)
//   interface addresses and the subnet broadcast, and UDP to the interface address, reach nothing;
// - the derived-data cache (#12, startup's): from inside a session the agent cannot overwrite an entry, link into
//   the cache directory or move it; an entry that is a symlink, writable by others or owned by another user is
//   not used (the same content as the user's own 0600 file is);
// - scheduling outside the gate (#13.7) with the program copied under another name: the default policy's
//   deny-schedule-outside rule names systemd-run by basename, and a copy in the workspace is recognised by its
//   content, not its name.
import { execFileSync, spawnSync } from 'node:child_process';
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

describe('gate (red-team 2, held): a submodule\'s git directory pointed at a common directory the agent made', () => {
  const GIT_ENV = { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_SYSTEM: '/dev/null', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };

  /** Setting up as root a workspace that uid 65534 owns: git's ownership check is for the user's runs, not this. */
  const SETUP_SAFE = { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'safe.directory', GIT_CONFIG_VALUE_0: '*' };

  /** A superproject with one submodule `sub` (its git dir in .git/modules/sub), owned by `who`. */
  function superproject(who: Who): { ws: string; state: string; policy: string; marker: string } {
    const w = workspace(who, SEALED_WRITES);
    const up = path.join(path.dirname(w.ws), 'upstream');
    const git = (cwd: string, ...a: string[]): string => execFileSync('git', a, { cwd, env: { ...process.env, ...GIT_ENV, ...SETUP_SAFE }, encoding: 'utf8' });
    fs.mkdirSync(up);
    git(up, 'init', '-q');
    git(up, 'commit', '-q', '--allow-empty', '-m', 'upstream');
    git(w.ws, 'init', '-q');
    git(w.ws, '-c', 'protocol.file.allow=always', 'submodule', '-q', 'add', up, 'sub');
    git(w.ws, 'commit', '-qm', 'submodule');
    if (who === 'nobody') execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, w.ws, up]);
    return { ...w, marker: path.join(path.dirname(w.ws), 'ran') };
  }

  /** The agent's try: a common directory in its workspace (the submodule's config plus core.fsmonitor, objects
   *  and refs linked back) and the submodule's git dir pointed at it. */
  const attack = (ws: string, marker: string): string => {
    const c = path.join(ws, '.cache', 'c');
    const evil = path.join(ws, '.cache', 'evil.sh');
    const mod = path.join(ws, '.git', 'modules', 'sub');
    return [
      `mkdir -p ${c}`,
      `printf '#!/bin/sh\\nid > ${marker}\\n' > ${evil}; chmod +x ${evil}`,
      `cp ${mod}/config ${c}/config; printf '[core]\\n\\tfsmonitor = ${evil}\\n' >> ${c}/config`,
      `ln -s ${mod}/objects ${c}/objects; ln -s ${mod}/refs ${c}/refs`,
      `echo ${c} > ${mod}/commondir`,
      'sleep 0.5',
    ].join('; ');
  };

  /** The user's `git status` in the superproject, outside the gate, as `who`. */
  const userStatus = (who: Who, ws: string): void => {
    spawnSync(who === 'nobody' ? AS_NOBODY[0]! : 'git', [...(who === 'nobody' ? [...AS_NOBODY.slice(1), 'git'] : []), 'status', '--short'], { cwd: ws, env: { ...process.env, ...GIT_ENV } });
  };

  for (const who of ['root', 'nobody'] as const) {
    it(`.git/modules/sub/commondir is put back and the user's git status runs nothing (${who})`, async () => {
      // Control: ungated, the same writes make the user's git status in the superproject run the program.
      const ctl = superproject(who);
      const asWho = who === 'nobody' ? AS_NOBODY : [];
      const c = spawnSync(asWho[0] ?? 'sh', [...asWho.slice(1), ...(who === 'nobody' ? ['sh'] : []), '-c', attack(ctl.ws, ctl.marker)], { encoding: 'utf8' });
      expect(c.status, c.stderr).toBe(0);
      userStatus(who, ctl.ws);
      expect(fs.existsSync(ctl.marker), 'ungated, the submodule\'s commondir must make git run the fsmonitor').toBe(true);

      const w = superproject(who);
      const r = await runCli(['sh', '-c', attack(w.ws, w.marker)], {
        policy: w.policy,
        audit: path.join(w.state, 'audit.jsonl'),
        cwd: w.ws,
        env: { HOME: path.dirname(w.ws), ...GIT_ENV },
        wrap: who === 'nobody' ? AS_NOBODY : undefined,
      });
      expect(r.code, r.stderr).toBe(0);
      // Put back: gone, or — when the guard first saw the file between the agent's creat and its write — the
      // empty file it then was (harmless: an empty commondir names the git dir itself) and the write reverted.
      const commondir = path.join(w.ws, '.git', 'modules', 'sub', 'commondir');
      expect(fs.existsSync(commondir) ? fs.readFileSync(commondir, 'utf8').trim() : '', r.stderr).toBe('');
      const rec = r.records.find((x) => x.type === 'protected' && (x as { path?: string }).path === commondir);
      expect(rec, r.stderr).toMatchObject({ reverted: true });
      expect(['created', 'modified']).toContain((rec as { change?: string }).change);
      userStatus(who, w.ws);
      expect(fs.existsSync(w.marker)).toBe(false);
    });
  }
});

describe('gate (red-team 2, held): a service outside the gate on a wildcard address, through every address form of this host', () => {
  /** The agent's tries: TCP to each form (R59 held-out: the IPv6 wildcard and IPv4-compatible forms, a ULA and a
   *  link-local interface address with its scope, the subnet broadcast, v4-mapped interface address), UDP sendto
   *  to the interface address. Prints RESULT <form> connected|refused. */
  const AGENT = String.raw`
import socket, sys
port, uport = int(sys.argv[1]), int(sys.argv[2])
v4 = [a for a in sys.argv[3].split(',') if a]
v6 = [a for a in sys.argv[4].split(',') if a]
def tcp(fam, addr, label):
    s = socket.socket(fam, socket.SOCK_STREAM); s.settimeout(2)
    try: s.connect(addr); s.send(b'agent'); print('RESULT', label, 'connected')
    except OSError: print('RESULT', label, 'refused')
    s.close()
for a in ['0.0.0.0'] + v4: tcp(socket.AF_INET, (a, port), a)
for a in ['::', '::127.0.0.1'] + ['::ffff:' + x for x in v4 if '.' in x and not x.endswith('.255')]: tcp(socket.AF_INET6, (a, port, 0, 0), a)
for a in v6:
    addr, _, ifname = a.partition('%')
    tcp(socket.AF_INET6, (addr, port, 0, socket.if_nametoindex(ifname) if ifname else 0), a)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for a in v4:
    try: u.sendto(b'agent', (a, uport)); print('RESULT udp', a, 'sent')
    except OSError: print('RESULT udp', a, 'refused')
`;

  /** This host's non-loopback addresses: IPv4 (and each subnet's broadcast), IPv6 global/ULA, IPv6 link-local
   *  with its interface. */
  function hostAddresses(): { v4: string[]; v6: string[] } {
    const v4: string[] = [];
    const v6: string[] = [];
    for (const line of execFileSync('ip', ['-o', 'addr', 'show'], { encoding: 'utf8' }).split('\n')) {
      const m = /^\d+:\s+(\S+)\s+(inet6?)\s+(\S+)\/\d+(?:\s+brd\s+(\S+))?/.exec(line);
      if (!m || m[1] === 'lo') continue;
      if (m[2] === 'inet') v4.push(m[3]!, ...(m[4] ? [m[4]] : []));
      else v6.push(m[3]!.startsWith('fe80:') ? `${m[3]}%${m[1]}` : m[3]!);
    }
    return { v4, v6 };
  }

  for (const who of ['root', 'nobody'] as const) {
    it(`TCP through ::, ::127.0.0.1, v4-mapped, interface (ULA, link-local%if, broadcast) addresses and UDP reach nothing (${who})`, async () => {
      const heard: string[] = [];
      const tcp = net.createServer((c) => {
        heard.push(`tcp ${c.remoteAddress}`);
        c.destroy();
      });
      await new Promise<void>((res, rej) => tcp.once('error', rej).listen({ host: '::', port: 0, ipv6Only: false }, res));
      const udp = (await import('node:dgram')).createSocket('udp4');
      udp.on('message', (_m, r) => heard.push(`udp ${r.address}`));
      await new Promise<void>((res) => udp.bind(0, '0.0.0.0', res));
      const port = (tcp.address() as net.AddressInfo).port;
      const uport = udp.address().port;
      const { v4, v6 } = hostAddresses();
      const args = [String(port), String(uport), v4.join(','), v6.join(',')];
      const script = path.join(dirs.root, `lb-${++n}.py`);
      fs.writeFileSync(script, AGENT, { mode: 0o644 });
      try {
        // Control: ungated, the service is reached through the wildcard forms at least.
        const ctl = spawnSync(who === 'nobody' ? AS_NOBODY[0]! : '/usr/bin/python3', [...(who === 'nobody' ? [...AS_NOBODY.slice(1), '/usr/bin/python3'] : []), script, ...args], { encoding: 'utf8' });
        expect(results(ctl.stdout), ctl.stderr).toContain('RESULT 0.0.0.0 connected');
        expect(results(ctl.stdout)).toContain('RESULT :: connected');
        await new Promise((r) => setTimeout(r, 200));
        expect(heard.length).toBeGreaterThan(0);
        heard.length = 0;

        const w = workspace(who, SEALED_WRITES);
        const r = await runCli(['/usr/bin/python3', script, ...args], {
          policy: w.policy,
          audit: path.join(w.state, 'audit.jsonl'),
          cwd: w.ws,
          env: { HOME: path.dirname(w.ws) },
          wrap: who === 'nobody' ? AS_NOBODY : undefined,
        });
        expect(r.code, r.stderr).toBe(0);
        const out = results(r.stdout);
        expect(out.length, r.stdout + r.stderr).toBeGreaterThanOrEqual(4);
        expect(out.filter((l) => / (connected|sent)$/.test(l)), r.stderr).toEqual([]);
        await new Promise((res) => setTimeout(res, 200));
        expect(heard).toEqual([]);
      } finally {
        tcp.close();
        udp.close();
      }
    });
  }
});

describe('gate (red-team 2, held): the derived-data cache (#12) cannot be planted or widened from inside a session', () => {
  /** `run -v`'s line about the cache: its state and file. */
  const cacheLine = (r: CliRun): { state: string; file: string } | null => {
    const m = /derived-data cache: (\w+)[^(]*\(([^)]+\.json)\)/.exec(r.stderr);
    return m ? { state: m[1]!, file: m[2]! } : null;
  };

  it('the agent cannot write, replace or link into the cache; an entry that is a symlink, writable by others or not the user\'s is not used', async () => {
    const w = workspace('root', SEALED_WRITES);
    const home = path.dirname(w.ws);
    const run = (argv: string[]): Promise<CliRun> =>
      runCli(argv, { policy: w.policy, audit: path.join(w.state, `audit-${++n}.jsonl`), cwd: w.ws, env: { HOME: home, XDG_STATE_HOME: '' }, extra: ['-v'] });
    const first = cacheLine(await run(['true']));
    expect(first?.state).toBe('miss');
    const file = first!.file;
    expect(file.startsWith(path.join(home, '.local', 'state', 'agent-gate', 'derived-cache') + path.sep)).toBe(true);
    // The 2-second rule: a recording this close to a change is not stored; wait until it is.
    let hit = cacheLine(await run(['true']));
    for (let i = 0; i < 3 && hit?.state !== 'hit'; i++) {
      await new Promise((r) => setTimeout(r, 2100));
      hit = cacheLine(await run(['true']));
    }
    expect(hit?.state).toBe('hit');
    const good = fs.readFileSync(file, 'utf8');

    // From inside: overwrite the entry, add a file beside it, move the directory away.
    const dir = path.dirname(file);
    const inside = await run(['sh', '-c', `(echo '{}' > ${file}) 2>/dev/null && echo "RESULT wrote"; ln -s /tmp ${dir}/x 2>/dev/null && echo "RESULT linked"; mv ${dir} ${dir}.moved 2>/dev/null && echo "RESULT moved"; true`]);
    expect(inside.code, inside.stderr).toBe(0);
    expect(results(inside.stdout)).toEqual([]);
    expect(fs.readFileSync(file, 'utf8')).toBe(good);

    // An entry as someone else could leave it: each is refused (recomputed), never used.
    const copy = path.join(w.state, 'entry-copy.json');
    fs.writeFileSync(copy, good, { mode: 0o600 });
    fs.rmSync(file);
    fs.symlinkSync(copy, file);
    expect(cacheLine(await run(['true']))?.state).not.toBe('hit');
    for (const spoil of [(f: string) => fs.chmodSync(f, 0o666), (f: string) => fs.chownSync(f, NOBODY, NOBODY)]) {
      fs.rmSync(file, { force: true });
      fs.writeFileSync(file, good, { mode: 0o600 });
      spoil(file);
      expect(cacheLine(await run(['true']))?.state).not.toBe('hit');
    }
    // Control: the same content as the user's own 0600 file is used.
    fs.rmSync(file, { force: true });
    fs.writeFileSync(file, good, { mode: 0o600 });
    expect(cacheLine(await run(['true']))?.state).toBe('hit');
  });
});
