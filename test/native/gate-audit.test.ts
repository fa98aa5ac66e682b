// End to end: the audit log is true (issue 14, classes 7 and 8). Real CLI, supervisor and kernel.
//
// 7. Under pressure: the agent fills the filesystem the log is on (a small tmpfs mounted for the test). The
//    supervisor writes every record before it answers the kernel, from space it reserved ahead; when the
//    reserve runs out the session fails closed and says why. Every exec that ran has its record, and no
//    partial line is left.
// 8. Chained: every line carries the sha256 of the line before it, and the chain's head is kept outside the
//    log; `agent-gate audit verify` finds a line rewritten, removed, moved or added, and a log cut short or
//    rewritten whole.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainHeadFile, GENESIS, lineHash } from '../../src/core/audit/audit-log';
import { CLI, denyCurlPolicy, makeDirs, prepare, runCli, type CliRun } from './gate-progs/cli';

const CURL = '/usr/bin/curl';
/** Where the CLI keeps chain heads by default (the state directory, out of the agent's reach). */
const HEADS = path.join(process.env.XDG_STATE_HOME && path.isAbsolute(process.env.XDG_STATE_HOME) ? process.env.XDG_STATE_HOME : path.join(os.homedir(), '.local', 'state'), 'agent-gate', 'heads');
let dirs: ReturnType<typeof makeDirs>;
let n = 0;

beforeAll(async () => {
  await prepare();
  dirs = makeDirs('audit');
});
afterAll(() => dirs?.cleanup());

function verify(file: string, extra: string[] = []): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [CLI, 'audit', 'verify', ...extra, file], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

function lines(file: string): string[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);
}

describe('gate: a log that proves it was not changed (class 8)', () => {
  let log: string;
  let run: CliRun;
  let original: string[];

  beforeAll(async () => {
    const ws = path.join(dirs.root, 'chain-ws');
    fs.mkdirSync(ws);
    const policy = path.join(ws, '.gate.toml');
    fs.writeFileSync(policy, denyCurlPolicy());
    log = dirs.audit('chain');
    // Asked and cached allows, a denial (asked, then cached), and the end of the session.
    run = await runCli(['bash', '-c', `for i in 1 2 3; do /bin/true; done; ${CURL} --version; ${CURL} --version; ls / > /dev/null; true`], { policy, audit: log, cwd: ws });
    original = lines(log);
  });

  it('every line is chained to the one before, the end record included, and verify says so (exit 0)', () => {
    expect(run.code).toBe(0);
    expect(run.start?.enforcement).toMatchObject({ audit: 'reserved' });
    const recs = original.map((l) => JSON.parse(l) as { type: string; prev: string; cached?: boolean; verdict?: string });
    expect(recs[0]?.prev).toBe(GENESIS);
    for (let i = 1; i < recs.length; i++) expect(recs[i]?.prev).toBe(lineHash(original[i - 1] as string));
    expect(recs.some((r) => r.cached === true && r.verdict === 'allow')).toBe(true);
    expect(recs.some((r) => r.cached === true && r.verdict === 'deny')).toBe(true);
    expect(recs.at(-1)).toMatchObject({ type: 'session', event: 'end' });
    // The head is kept in the state directory; the log ends there.
    const head = JSON.parse(fs.readFileSync(chainHeadFile(HEADS, log), 'utf8')) as { head: string; size: number };
    expect(head).toMatchObject({ head: lineHash(original.at(-1) as string), size: fs.statSync(log).size });
    const v = verify(log);
    expect(v.code, v.out).toBe(0);
    expect(v.out).toMatch(/ok, \d+ records, chain intact, ends at its recorded head/);
  });

  const tampered = (name: string, edit: (ls: string[]) => string[]): { code: number | null; out: string } => {
    const copy = dirs.audit(`tampered-${name}`);
    fs.writeFileSync(copy, edit([...original]).map((l) => `${l}\n`).join(''));
    // The copy's own head is the original's (what the gate recorded for this log).
    return verify(copy, ['--head', `${lineHash(original.at(-1) as string)}:${fs.statSync(log).size}`]);
  };
  const denial = (): number => original.findIndex((l) => l.includes('"verdict":"deny"'));

  it('a denial rewritten as "approved by the user": the next line names it (exit 1)', () => {
    const i = denial();
    const v = tampered('rewrite', (ls) => {
      ls[i] = (ls[i] as string).replace('"verdict":"deny"', '"verdict":"allow"').replace(/"reason":"[^"]*"/, '"reason":"approved by the user"').replace('"layer":"rule"', '"layer":"approval"');
      return ls;
    });
    expect(v.code).toBe(1);
    expect(v.out).toContain(`:${i + 2}: the chain breaks here: line ${i + 2} does not follow line ${i + 1}`);
  });

  it('a line removed, two lines swapped, a line added at the end: each found (exit 1)', () => {
    const i = denial();
    expect(tampered('delete', (ls) => ls.filter((_, k) => k !== i)).out).toContain(`:${i + 1}: the chain breaks here`);
    expect(tampered('reorder', (ls) => [...ls.slice(0, i), ls[i + 1] as string, ls[i] as string, ...ls.slice(i + 2)]).code).toBe(1);
    const forged = JSON.stringify({ type: 'decision', verdict: 'allow', prev: lineHash(original.at(-1) as string) });
    const added = tampered('append', (ls) => [...ls, forged]);
    expect(added.code).toBe(1);
    expect(added.out).toContain('line(s) after the recorded end of the log');
  });

  it('the end cut off, or the whole log rewritten with a fresh chain: only the head outside the log tells (exit 1)', () => {
    const cut = tampered('truncate', (ls) => ls.slice(0, -2));
    expect(cut.code).toBe(1);
    expect(cut.out).toContain('lines at the end were removed');
    // A consistent forgery: the denial made an allow, every prev recomputed.
    const i = denial();
    const rewritten = tampered('rechain', (ls) => {
      let prev = GENESIS;
      return ls.map((l, k) => {
        const rec = JSON.parse(l) as Record<string, unknown>;
        if (k === i) rec.verdict = 'allow';
        rec.prev = prev;
        const out = JSON.stringify(rec);
        prev = lineHash(out);
        return out;
      });
    });
    expect(rewritten.code).toBe(1);
    expect(rewritten.out).toMatch(/the log was rewritten/);
  });

  it('without [filesystem] the agent rewrites its own log mid-session: verify finds it', async () => {
    const ws = path.join(dirs.root, 'open-ws');
    fs.mkdirSync(ws);
    const policy = path.join(ws, '.gate.toml');
    fs.writeFileSync(policy, denyCurlPolicy({ filesystem: false }));
    const own = dirs.audit(`self-edit-${++n}`);
    const r = await runCli(
      ['bash', '-c', `${CURL} --version; sed -i 's/"verdict":"deny"/"verdict":"allow"/' ${own}; /bin/true`],
      { policy, audit: own, cwd: ws, extra: ['--allow-root-without-filesystem'] },
    );
    expect(r.stderr).toContain('the agent could modify the audit log');
    expect(fs.readFileSync(own, 'utf8')).toContain(`"exe":"${CURL}"`);
    expect(fs.readFileSync(own, 'utf8')).not.toContain('"verdict":"deny"');
    const v = verify(own);
    expect(v.code, v.out).toBe(1);
  });

  it('on a fresh machine (no state directory yet) with --audit elsewhere, the head is still kept (R36)', async () => {
    const ws = path.join(dirs.root, 'fresh-ws');
    fs.mkdirSync(ws);
    const policy = path.join(ws, '.gate.toml');
    fs.writeFileSync(policy, denyCurlPolicy());
    const state = path.join(dirs.root, 'fresh-home', 'state');
    const log = dirs.audit(`fresh-${++n}`);
    const r = await runCli(['/bin/true'], { policy, audit: log, cwd: ws, env: { XDG_STATE_HOME: state } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('cannot keep the audit log');
    const heads = path.join(state, 'agent-gate', 'heads');
    expect(fs.statSync(heads).mode & 0o777).toBe(0o700);
    const v = verify(log, ['--heads', heads]);
    expect(v.code, v.out).toBe(0);
    expect(v.out).toMatch(/ends at its recorded head/);
  });
});

describe('gate: the audit log under pressure (class 7)', () => {
  let mnt: string;

  beforeAll(() => {
    if (process.getuid?.() !== 0) throw new Error('these tests mount a tmpfs: run them as root');
    mnt = path.join(dirs.root, 'small-fs');
    fs.mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0755', 'tmpfs', mnt]);
  });
  afterAll(() => {
    if (mnt) spawnSync('umount', ['-l', mnt]);
  });

  /** A workspace and a state directory on the small filesystem: the agent can fill what the log is on. */
  function onSmallFs(name: string): { ws: string; policy: string; log: string } {
    const ws = path.join(mnt, `${name}-ws`);
    const state = path.join(mnt, `${name}-state`);
    fs.mkdirSync(ws);
    fs.mkdirSync(state, { mode: 0o700 });
    const policy = path.join(ws, '.gate.toml');
    fs.writeFileSync(policy, denyCurlPolicy());
    return { ws, policy, log: path.join(state, 'audit.jsonl') };
  }

  const fill = 'dd if=/dev/zero of=fill bs=64k 2>/dev/null; df -k . | tail -1 | tr -s " " | cut -d" " -f4 | sed "s/^/free-kib=/"';

  it('the agent fills the disk: the reserved space keeps the log going, every exec has its record', async () => {
    const { ws, policy, log } = onSmallFs('reserve');
    const r = await runCli(['bash', '-c', `${fill}; for i in $(seq 60); do /bin/true && echo ran; done`], {
      policy,
      audit: log,
      cwd: ws,
      env: { AGENT_GATE_AUDIT_RESERVE: String(64 * 1024) },
    });
    expect(r.stdout).toContain('free-kib=0');
    expect(r.code, r.stderr).toBe(0);
    const ran = r.stdout.split('\n').filter((l) => l === 'ran').length;
    expect(ran).toBe(60);
    const trues = r.decisions.filter((d) => d.exe === '/usr/bin/true' && d.verdict === 'allow');
    expect(trues).toHaveLength(60);
    expect(trues.filter((d) => d.cached)).toHaveLength(59);
    expect(r.end).toMatchObject({ event: 'end', exit_code: 0 });
    expect(fs.readFileSync(log, 'utf8').endsWith('\n')).toBe(true);
    expect(verify(log).code).toBe(0);
    fs.rmSync(path.join(ws, 'fill'));
  });

  it('when the reserve runs out the session fails closed and says why; no exec ran without its record, no partial line', async () => {
    const { ws, policy, log } = onSmallFs('exhaust');
    const r = await runCli(['bash', '-c', `${fill}; for i in $(seq 1000); do /bin/true && echo ran || echo failed; done`], {
      policy,
      audit: log,
      cwd: ws,
      env: { AGENT_GATE_AUDIT_RESERVE: String(16 * 1024) },
    });
    expect(r.code).toBe(126);
    expect(r.stderr).toMatch(/the filesystem of the audit log \S+ is full .*KiB of reserved space left; the session stops when it is used up/);
    expect(r.stderr).toMatch(/cannot write the audit log \S+: No space left on device/);
    const ran = r.stdout.split('\n').filter((l) => l === 'ran').length;
    expect(ran).toBeGreaterThan(10);
    expect(ran).toBeLessThan(1000);
    // Every exec that ran has its record (the one refused when the write failed has none, and did not run).
    const trues = r.decisions.filter((d) => d.exe === '/usr/bin/true' && d.verdict === 'allow');
    expect(trues).toHaveLength(ran);
    const text = fs.readFileSync(log, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const v = verify(log);
    expect(v.code, v.out).toBe(0);
    fs.rmSync(path.join(ws, 'fill'));
  });
});
