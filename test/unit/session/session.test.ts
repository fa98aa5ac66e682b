import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readAuditLog } from '../../../src/core/audit/audit-log';
import { originJson, type DecisionRecord, type SessionRecord } from '../../../src/core/audit/records';
import type { ExecFacts } from '../../../src/core/exec/facts';
import type { Decision, Evaluator, Policy } from '../../../src/core/policy/types';
import { AutoApprover, type ApprovalAnswer, type ApprovalRequest, type ApprovalSettlement, type Approver } from '../../../src/core/session/approvals';
import { spawn } from 'node:child_process';
import { gateEnvFiles, gateFilesPlacement, GateSession, GateSetupError, hashUnder, rootRefusal, rootSystemGrants, supervisorConfig, type GateLink, type StartLinkOptions } from '../../../src/core/session/session';
import type { SupervisorLinkHandlers } from '../../../src/core/session/types';

function policy(over: Partial<Policy> = {}): Policy {
  return {
    file: '/nonexistent/.gate.toml',
    meta: { version: 1, defaultAction: 'allow', onPolicyError: 'deny', onSupervisorTimeoutMs: 1000 },
    filesystem: { enabled: false, grants: [], handled: '', requireEnforced: false },
    network: { enabled: false, connectTcpPorts: [], bindTcpPorts: [], requireEnforced: false },
    approval: { timeoutMs: 60_000, onTimeout: 'deny', maxPending: 4, maxPerMinute: 30 },
    // These tests run as root without [filesystem]: say so, as a user must (the refusal has its own test).
    session: { allowRootWithoutFilesystem: true, keepLeftovers: false },
    ruleIds: ['no-curl'],
    ...over,
  };
}

/** A tiny fake evaluator: curl denied (cacheable), git asks, "boom" throws, the rest allowed. */
const evaluator: Evaluator = {
  evaluate(f: ExecFacts): Decision {
    const base = path.basename(f.exe?.path ?? f.requestedPath);
    if (base === 'boom') throw new Error('regex exploded');
    if (base === 'curl') return { action: 'deny', ruleId: 'no-curl', reason: 'curl is not allowed', layer: 'rule', matched: ['exe_basename'], cacheable: true };
    if (base === 'git') return { action: 'ask', ruleId: 'ask-git', reason: 'git needs a human', layer: 'rule', matched: ['exe_basename'], cacheable: false };
    return { action: 'allow', ruleId: null, reason: 'default allow', layer: 'default', matched: [], cacheable: true };
  },
};

let reqId = 1;
function facts(exe: string, argv: string[] = [path.basename(exe)]): ExecFacts {
  return { requestId: reqId++, tid: 5, pid: 5, ppid: 4, uid: 0, syscall: 'execve', requestedPath: exe, exe: { path: exe, dev: '1', ino: exe, size: 1 }, argv, argvTruncated: false, cwd: '/w', parent: null };
}
const now = (): number => Number(process.hrtime.bigint() / 1000n);

class FakeLink implements GateLink {
  report = { fs: 'enforced', notif: 'ok' };
  warnings = ['grant /nope does not exist'];
  agentPid = 1234;
  verdicts: { id: number; action: string; cache: boolean; logLines: number; origin?: string }[] = [];
  holds: number[] = [];
  closed = false;
  constructor(private readonly auditFile: () => string) {}
  verdict(id: number, action: 'allow' | 'deny', cache: boolean, origin?: string): void {
    // Record how many lines the log had when the verdict was sent: the record must precede it.
    const logLines = this.auditFile() !== '/dev/full' && fs.existsSync(this.auditFile()) ? fs.readFileSync(this.auditFile(), 'utf8').split('\n').filter(Boolean).length : 0;
    this.verdicts.push({ id, action, cache, logLines, ...(origin !== undefined ? { origin } : {}) });
  }
  hold(id: number): void {
    this.holds.push(id);
  }
  flushes = 0;
  flushCache(): void {
    this.flushes++;
  }
  close(): void {
    this.closed = true;
  }
}

let dir: string;
let auditPath: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'session-test-'));
  auditPath = path.join(dir, 'state', 'audit.jsonl');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

async function start(over: { policy?: Policy; approver?: Approver; auditPath?: string; early?: (h: SupervisorLinkHandlers) => void; withdrawCheckMs?: number } = {}): Promise<{ session: GateSession; link: FakeLink; h: SupervisorLinkHandlers; opts: StartLinkOptions }> {
  const link = new FakeLink(() => over.auditPath ?? auditPath);
  let h!: SupervisorLinkHandlers;
  let opts!: StartLinkOptions;
  const session = await GateSession.start({
    policy: over.policy ?? policy(),
    evaluator,
    policyText: 'x = 1',
    auditPath: over.auditPath ?? auditPath,
    approver: over.approver ?? new AutoApprover('deny', 'test'),
    supervisorPath: '/bin/false',
    spawn: () => { throw new Error('not used'); },
    startLink: (o) => {
      h = o.handlers;
      opts = o;
      over.early?.(h);
      return Promise.resolve(link);
    },
    argv: ['bash', '-c', 'curl --password hunter2 x'],
    sessionId: 'test-session',
    ...(over.withdrawCheckMs !== undefined ? { withdrawCheckMs: over.withdrawCheckMs } : {}),
  });
  return { session, link, h, opts };
}

describe('GateSession', () => {
  it('writes each decision record before answering the kernel, and caches identity-only verdicts', async () => {
    const { session, link, h } = await start();
    const curl = facts('/usr/bin/curl');
    h.exec({ facts: curl, receivedAtUs: now(), cached: null });
    h.exec({ facts: facts('/bin/ls'), receivedAtUs: now(), cached: null });
    expect(link.verdicts).toEqual([
      { id: curl.requestId, action: 'deny', cache: true, logLines: 2, origin: originJson('no-curl', 'curl is not allowed', 'rule') },
      { id: curl.requestId + 1, action: 'allow', cache: true, logLines: 3, origin: originJson(null, 'default allow', 'default') },
    ]);
    h.exit(3, 0);
    expect(await session.wait()).toEqual({ exitCode: 3, code: 3, signal: null, failure: null });
    const recs = readAuditLog(auditPath);
    expect(recs.map((r) => r.type)).toEqual(['session', 'decision', 'decision', 'outcome', 'session']);
    const startRec = recs[0] as SessionRecord;
    expect(startRec).toMatchObject({ event: 'start', policy_file: '/nonexistent/.gate.toml', enforcement: { fs: 'enforced' } });
    expect(startRec.policy_sha256).toMatch(/^[0-9a-f]{64}$/);
    // The agent's argv is redacted in the session record too.
    expect(startRec.argv).toEqual(['bash', '-c', 'curl --password «redacted:flag-value» x']);
    expect(recs[1]).toMatchObject({ verdict: 'deny', rule_id: 'no-curl', layer: 'rule', cached: false, exe: '/usr/bin/curl' });
    expect((recs[1] as DecisionRecord).latency_us).toBeGreaterThanOrEqual(0);
    expect(recs[4]).toMatchObject({ event: 'end', exit_code: 3, stats: { decisions: 2, denied: 1, allowed: 1 } });
    expect(session.warnings.some((w) => w.includes('grant /nope does not exist'))).toBe(true);
    expect(session.stats.toMetrics().deniedByRule).toEqual({ 'no-curl': 1 });
  });

  it('records a supervisor-cached verdict without answering, with the rule that first decided it', async () => {
    const { session, link, h } = await start();
    const first = facts('/usr/bin/curl');
    h.exec({ facts: first, receivedAtUs: now(), cached: null });
    const again = { ...facts('/usr/bin/curl'), exe: first.exe };
    h.exec({ facts: again, receivedAtUs: now(), cached: { action: 'deny', latencyUs: 3 } });
    expect(link.verdicts).toHaveLength(1);
    h.exit(0, 0);
    await session.wait();
    const d = readAuditLog(auditPath).filter((r): r is DecisionRecord => r.type === 'decision');
    expect(d[1]).toMatchObject({ request: again.requestId, verdict: 'deny', cached: true, rule_id: 'no-curl', latency_us: 3 });
  });

  it('a cached verdict carries its origin; a record the supervisor wrote (RECORD) is logged, redacted, counted and shown', async () => {
    const { session, link, h, opts } = await start();
    expect(opts.recordSession).toBe('test-session');
    const first = facts('/usr/bin/curl');
    h.exec({ facts: first, receivedAtUs: now(), cached: null });
    expect(link.verdicts[0]).toMatchObject({ cache: true, origin: originJson('no-curl', 'curl is not allowed', 'rule') });
    // What the supervisor writes for the next hit (docs/protocol.md, RECORD): the agent's strings as they are.
    const raw = {
      type: 'decision', time: '2026-11-21T00:00:00.000Z', session: 'test-session', request: 99, pid: 5, ppid: 4, tid: 5,
      exe_requested: 'curl', exe: '/usr/bin/curl', argv: ['curl', '-H', 'Authorization: Bearer abcdefghijklmnop'], cwd: '/w',
      verdict: 'deny',
    };
    const json = `${JSON.stringify(raw).slice(0, -1)},${link.verdicts[0]!.origin},"latency_us":4,"cached":true}`;
    const shown: DecisionRecord[] = [];
    session.on('decision', (d) => shown.push(d));
    h.record!(JSON.parse(json) as DecisionRecord, json);
    expect(link.verdicts).toHaveLength(1);
    h.exit(0, 0);
    await session.wait();
    const d = readAuditLog(auditPath).filter((r): r is DecisionRecord & { prev?: string } => r.type === 'decision');
    const { prev, ...logged } = d[1]!;
    expect(prev).toMatch(/^[0-9a-f]{64}$/); // the chain link the log writer added
    expect(logged).toEqual({ ...raw, argv: ['curl', '-H', 'Authorization: Bearer «redacted:bearer»'], rule_id: 'no-curl', reason: 'curl is not allowed', layer: 'rule', latency_us: 4, cached: true });
    expect(shown).toEqual([logged]);
    expect(session.stats.toMetrics()).toMatchObject({ decisions: 2, denied: 2, deniedByRule: { 'no-curl': 2 } });
  });

  it('stamps a cached record with the time the supervisor decided, not the time it was drained from the pipe', async () => {
    const { session, h } = await start();
    const first = facts('/usr/bin/curl');
    h.exec({ facts: first, receivedAtUs: now(), cached: null });
    // Received 300 ms ago (CLOCK_MONOTONIC µs, as the supervisor's t), decided 3 µs later.
    const before = Date.now();
    h.exec({ facts: { ...facts('/usr/bin/curl'), exe: first.exe }, receivedAtUs: now() - 300_000, cached: { action: 'deny', latencyUs: 3 } });
    h.exit(0, 0);
    await session.wait();
    const d = readAuditLog(auditPath).filter((r): r is DecisionRecord => r.type === 'decision');
    const age = before - Date.parse(d[1]!.time);
    expect(age).toBeGreaterThanOrEqual(290);
    expect(age).toBeLessThan(400);
  });

  it('an evaluation error applies on_policy_error with layer "error"', async () => {
    const { session, link, h } = await start();
    h.exec({ facts: facts('/opt/boom'), receivedAtUs: now(), cached: null });
    expect(link.verdicts[0]).toMatchObject({ action: 'deny', cache: false });
    h.exit(0, 0);
    await session.wait();
    const d = readAuditLog(auditPath).find((r) => r.type === 'decision') as DecisionRecord;
    expect(d).toMatchObject({ layer: 'error', verdict: 'deny' });
    expect(d.reason).toContain('regex exploded');
  });

  it('ask: holds the request, asks, records and answers; with nobody to ask, the reason says so', async () => {
    const { session, link, h } = await start();
    const asked: string[] = [];
    session.on('approvalRequested', (r) => asked.push(r.command));
    const git = facts('/usr/bin/git', ['git', 'push']);
    h.exec({ facts: git, receivedAtUs: now(), cached: null });
    expect(link.holds).toEqual([git.requestId]);
    await new Promise((r) => setImmediate(r));
    expect(asked).toEqual(['git push']);
    expect(link.verdicts).toEqual([{ id: git.requestId, action: 'deny', cache: false, logLines: 2 }]);
    h.exit(0, 0);
    await session.wait();
    const d = readAuditLog(auditPath).find((r) => r.type === 'decision') as DecisionRecord;
    expect(d).toMatchObject({ layer: 'approval', verdict: 'deny', rule_id: 'ask-git' });
    expect(d.reason).toBe('no one to ask (test): default deny (asked by rule ask-git)');
  });

  it('denies every exec when the audit log cannot be written (fail closed) and says so', async () => {
    const { session, link, h } = await start({ auditPath: '/dev/full' });
    const warnings: string[] = [];
    session.on('warning', (w) => warnings.push(w));
    expect(session.warnings.some((w) => /ENOSPC.*every exec is denied/.test(w))).toBe(true);
    h.exec({ facts: facts('/bin/ls'), receivedAtUs: now(), cached: null });
    expect(link.verdicts[0]).toMatchObject({ action: 'deny', cache: false });
    expect(session.stats.toMetrics().deniedByLayer).toEqual({ error: 1 });
    h.exit(0, 0);
    await session.wait();
  });

  it('events that arrive before the link is returned are handled after the start record', async () => {
    let early!: ExecFacts;
    const { session, link } = await start({
      early: (h) => {
        early = facts('/bin/sh');
        h.exec({ facts: early, receivedAtUs: now(), cached: null });
      },
    });
    expect(link.verdicts.map((v) => v.id)).toEqual([early.requestId]);
    session.stop();
    expect(link.closed).toBe(true);
    expect(await session.wait()).toMatchObject({ exitCode: 126, failure: 'the session was stopped (stopped by the user)' });
    expect(readAuditLog(auditPath).at(-1)).toMatchObject({ type: 'session', event: 'end', reason: 'the session was stopped (stopped by the user)' });
  });

  it('refuses to start when the audit log is inside a writable grant, and warns when it is readable', async () => {
    const ws = path.join(dir, 'ws');
    fs.mkdirSync(ws);
    const p = policy({ filesystem: { enabled: true, handled: 'rw', requireEnforced: false, grants: [{ path: ws, rights: 'rw', source: 'allow_globs', widened: false }] } });
    await expect(start({ policy: p, auditPath: path.join(ws, 'logs', 'audit.jsonl') })).rejects.toThrow(GateSetupError);
    await expect(start({ policy: p, auditPath: path.join(ws, 'logs', 'audit.jsonl') })).rejects.toThrow(/inside a path the agent may write/);
    const readable = policy({ filesystem: { enabled: true, handled: 'rw', requireEnforced: false, grants: [{ path: dir, rights: 'r', source: 'read_globs', widened: false }] } });
    const { session, h } = await start({ policy: readable });
    expect(session.warnings.some((w) => w.includes('may read the audit log directory'))).toBe(true);
    h.exit(0, 0);
    await session.wait();
  });

  it('a broken link ends the session with 126 and the reason', async () => {
    const { session, h } = await start();
    h.failed('supervisor died');
    expect(await session.wait()).toMatchObject({ exitCode: 126, failure: 'supervisor died' });
    const end = readAuditLog(auditPath).at(-1);
    expect(end).toMatchObject({ type: 'session', event: 'end', exit_code: 126, reason: 'supervisor died' });
  });

  it('a signal exit is 128+N', async () => {
    const { session, h } = await start();
    h.exit(0, 9);
    expect((await session.wait()).exitCode).toBe(137);
  });
});

/** Answers by hand; withdrawn prompts resolve deny. */
class HandApprover implements Approver {
  asked: ApprovalRequest[] = [];
  private resolvers: ((a: ApprovalAnswer) => void)[] = [];
  ask(r: ApprovalRequest, signal: AbortSignal): Promise<ApprovalAnswer> {
    this.asked.push(r);
    return new Promise((resolve) => {
      this.resolvers.push(resolve);
      signal.addEventListener('abort', () => resolve('deny'), { once: true });
    });
  }
  answer(i: number, a: ApprovalAnswer): void {
    this.resolvers[i]?.(a);
  }
}

describe('GateSession: approvals for a UI, and policy updates', () => {
  it('emits approvalRequested and approvalSettled, lists what is pending, and the process chain that led to the ask', async () => {
    const hand = new HandApprover();
    const { session, link, h } = await start({ approver: hand });
    const settled: ApprovalSettlement[] = [];
    const decided: [string, boolean][] = [];
    session.on('approvalSettled', (s) => settled.push(s));
    session.on('decision', (d, asked) => decided.push([d.argv[0]!, asked]));
    // The agent (pid 10) runs bash (pid 11), which runs git: the chain comes from earlier allowed execs.
    h.exec({ facts: { ...facts('/usr/bin/claude'), pid: 10, tid: 10, ppid: 1 }, receivedAtUs: now(), cached: null });
    h.exec({ facts: { ...facts('/usr/bin/bash'), pid: 11, tid: 11, ppid: 10 }, receivedAtUs: now(), cached: null });
    const git = { ...facts('/usr/bin/git', ['git', 'push']), pid: 12, tid: 12, ppid: 11 };
    h.exec({ facts: git, receivedAtUs: now(), cached: null });
    await new Promise((r) => setImmediate(r));
    expect(session.pendingApprovals().map((r) => r.id)).toEqual([git.requestId]);
    expect(hand.asked[0]!.chain).toEqual(['claude', 'bash', 'git']);
    hand.answer(0, 'allow-once');
    await new Promise((r) => setImmediate(r));
    expect(session.pendingApprovals()).toEqual([]);
    expect(settled.map((s) => [s.request.id, s.outcome.kind, s.outcome.verdict])).toEqual([[git.requestId, 'answered', 'allow']]);
    expect(link.verdicts.at(-1)).toMatchObject({ id: git.requestId, action: 'allow' });
    expect(decided).toEqual([['claude', false], ['bash', false], ['git', true]]);
    h.exit(0, 0);
    await session.wait();
  });

  it('withdraws a pending approval when the process that asked has died', async () => {
    const hand = new HandApprover();
    const { session, link, h } = await start({ approver: hand, withdrawCheckMs: 20 });
    const child = spawn('/bin/sleep', ['30'], { stdio: 'ignore' });
    const pid = child.pid!;
    const git = { ...facts('/usr/bin/git', ['git', 'push']), pid, tid: pid };
    const settled: ApprovalSettlement[] = [];
    session.on('approvalSettled', (s) => settled.push(s));
    h.exec({ facts: git, receivedAtUs: now(), cached: null });
    await new Promise((r) => setTimeout(r, 100));
    expect(session.pendingApprovals()).toHaveLength(1);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    for (let i = 0; i < 100 && settled.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(settled[0]?.outcome).toMatchObject({ kind: 'withdrawn', verdict: 'deny', reason: 'withdrawn: the process that asked has exited' });
    expect(link.verdicts.at(-1)).toMatchObject({ id: git.requestId, action: 'deny' });
    h.exit(0, 0);
    await session.wait();
  });

  it('updatePolicy: later execs by the new rules, the supervisor cache flushed, a policy record; Landlock changes wait for a new session', async () => {
    const { session, link, h } = await start();
    h.exec({ facts: facts('/bin/ls'), receivedAtUs: now(), cached: null });
    expect(link.verdicts.at(-1)).toMatchObject({ action: 'allow', cache: true });
    const denyAll: Evaluator = { evaluate: () => ({ action: 'deny', ruleId: 'lockdown', reason: 'locked', layer: 'rule', matched: [], cacheable: true }) };
    const next = policy({ filesystem: { enabled: true, handled: 'w', requireEnforced: true, grants: [{ path: '/w', rights: 'w', source: 'write_globs', widened: false }] } });
    const updates: unknown[] = [];
    session.on('policyUpdated', (u) => updates.push(u));
    const u = session.updatePolicy(next, denyAll, '# new policy');
    expect(link.flushes).toBe(1);
    expect(u.notApplied).toEqual(['the [filesystem] grants (Landlock is fixed once the agent runs)']);
    expect(updates).toEqual([u]);
    expect(session.currentPolicy).toBe(next);
    h.exec({ facts: facts('/bin/ls'), receivedAtUs: now(), cached: null });
    expect(link.verdicts.at(-1)).toMatchObject({ action: 'deny' });
    h.exit(0, 0);
    await session.wait();
    const recs = readAuditLog(auditPath);
    const rec = recs.find((r) => r.type === 'session' && r.event === 'policy') as SessionRecord;
    expect(rec).toMatchObject({ policy_file: next.file, warnings: ['not applied until a new session: the [filesystem] grants (Landlock is fixed once the agent runs)'] });
    expect(rec.policy_sha256).toMatch(/^[0-9a-f]{64}$/);
    const decisions = recs.filter((r): r is DecisionRecord => r.type === 'decision');
    expect(decisions.map((d) => d.rule_id)).toEqual([null, 'lockdown']);
  });
});

describe('supervisorConfig / hashUnder', () => {
  it('builds grants, ports, require and timeout from the policy', () => {
    const p = policy({
      meta: { version: 1, defaultAction: 'deny', onPolicyError: 'deny', onSupervisorTimeoutMs: 750 },
      filesystem: { enabled: true, handled: 'rwx', requireEnforced: true, grants: [{ path: '/ws', rights: 'rw', source: 'allow_globs', widened: false }, { path: '/usr', rights: 'rx', source: 'bootstrap', widened: false }] },
      network: { enabled: true, connectTcpPorts: [443, 80], bindTcpPorts: [8080, 443], requireEnforced: false, dns: true, dnsServers: ['127.0.0.53'] },
      unixSockets: { sealed: true, allow: ['/var/run/docker.sock', '/run/user/*/pipewire-0', '@/tmp/.X11-unix/X0'], requireEnforced: true },
    });
    expect(supervisorConfig(p)).toEqual({
      fs: { handled: 'rwx', grants: p.filesystem.grants },
      net: { connect: true, bind: true, ports: [{ port: 80, connect: true, bind: false }, { port: 443, connect: true, bind: true }, { port: 8080, connect: false, bind: true }], dns: ['127.0.0.53'] },
      unix: { grants: ['/run/user', '/var/run/docker.sock'] },
      // [loopback] absent: sealed; DNS to this host's resolvers goes to [network]'s when it names them.
      loopback: { connectPorts: [], acceptPorts: [], resolvers: ['127.0.0.53'] },
      require: { fs: true, net: false, unix: true },
      timeout: { ms: 750, action: 'deny' },
    });
    // Without [unix_sockets] the sockets are sealed all the same; "/**" turns it off.
    expect(supervisorConfig(policy())).toMatchObject({ unix: { grants: [] }, require: { unix: true } });
    expect(supervisorConfig(policy({ unixSockets: { sealed: false, allow: ['/**'], requireEnforced: true } }))).toMatchObject({ unix: null, require: { unix: false } });
    expect(supervisorConfig(policy({ loopback: { sealed: true, connectPorts: [5432], acceptPorts: [3000] } }))).toMatchObject({ loopback: { connectPorts: [5432], acceptPorts: [3000] } });
    expect(supervisorConfig(policy({ loopback: { sealed: false, connectPorts: [], acceptPorts: [] } }))).toMatchObject({ loopback: null });
    expect(hashUnder(p.filesystem)).toEqual(['/ws']);
    expect(hashUnder(policy().filesystem)).toEqual(['/']);
    expect(supervisorConfig(policy())).toMatchObject({ fs: null, net: null });
  });
});

describe('rootRefusal', () => {
  const unsealed = policy({ session: { allowRootWithoutFilesystem: false, keepLeftovers: false } });
  const sealedFs = { enabled: true, grants: [{ path: '/w', rights: 'w', source: 'write_globs', widened: false }], handled: 'rw', requireEnforced: true };

  it('refuses a root agent whose writes are not sealed, saying why and how to proceed', () => {
    const msg = rootRefusal({ policy: unsealed, uid: 0 });
    expect(msg).toContain('no [filesystem] section');
    expect(msg).toContain('/proc/sys/kernel/core_pattern');
    expect(msg).toContain('--allow-root-without-filesystem');
    // Writes granted on / leave 'w' unhandled: the same.
    expect(rootRefusal({ policy: policy({ session: { allowRootWithoutFilesystem: false, keepLeftovers: false }, filesystem: { ...sealedFs, handled: 'r' } }), uid: 0 })).toContain('grants writes on /');
  });

  it('lets through: a non-root agent, sealed writes, the flag, the policy key', () => {
    expect(rootRefusal({ policy: unsealed, uid: 1000 })).toBeNull();
    expect(rootRefusal({ policy: policy({ session: { allowRootWithoutFilesystem: false, keepLeftovers: false }, filesystem: sealedFs }), uid: 0 })).toBeNull();
    expect(rootRefusal({ policy: unsealed, uid: 0, allowRootWithoutFilesystem: true })).toBeNull();
    expect(rootRefusal({ policy: policy(), uid: 0 })).toBeNull();
  });

  it("refuses a sealed policy whose write grants reach the system's own files (red-team R71), through a symlink too", () => {
    const fsWith = (...paths: string[]) => ({ ...sealedFs, grants: paths.map((p) => ({ path: p, rights: 'rw', source: `write_globs ${p}/**`, widened: false })) });
    const strictRoot = (paths: string[]) => policy({ session: { allowRootWithoutFilesystem: false, keepLeftovers: false }, filesystem: fsWith(...paths) });
    for (const [grant, dir] of [['/proc', '/proc/sys'], ['/proc/sys/kernel', '/proc/sys'], ['/etc/cron.d', '/etc'], ['/usr/local/lib', '/usr'], ['/var', '/var/spool'], ['/run', '/run/systemd'], ['/lib64', '']] as const) {
      const msg = rootRefusal({ policy: strictRoot(['/w', grant]), uid: 0 });
      // /lib64 is /usr/lib64 on a merged /usr: either name.
      expect(msg, grant).toContain(`${grant} (from write_globs ${grant}/**) reaches ${dir || '/'}`);
      expect(msg).toContain('--allow-root-without-filesystem');
    }
    expect(rootRefusal({ policy: strictRoot(['/w', '/var/tmp', '/opt/x', '/srv']), uid: 0 })).toBeNull();
    expect(rootRefusal({ policy: strictRoot(['/etc']), uid: 1000 })).toBeNull();
    expect(rootRefusal({ policy: strictRoot(['/etc']), uid: 0, allowRootWithoutFilesystem: true })).toBeNull();
    // A grant that leads there through a symlink (merged /usr: /bin → /usr/bin) is the place it leads to.
    const realpath = (p: string): string => (p.startsWith('/link') ? p.replace('/link', '/usr/bin') : p);
    expect(rootSystemGrants(fsWith('/link'), realpath)).toEqual([{ grant: '/link', source: 'write_globs /link/**', dir: '/usr' }]);
  });

  it('GateSession.start throws it before anything starts (no audit log, no supervisor)', async () => {
    let started = false;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gate-root-refusal-'));
    try {
      const p = GateSession.start({
        policy: unsealed,
        evaluator,
        auditPath: path.join(dir, 'audit.jsonl'),
        approver: new AutoApprover('deny', 'test'),
        supervisorPath: '/nonexistent',
        spawn: () => {
          throw new Error('spawned');
        },
        startLink: () => {
          started = true;
          return Promise.reject(new Error('started'));
        },
        argv: ['true'],
        uid: 0,
      });
      await expect(p).rejects.toThrow(GateSetupError);
      expect(started).toBe(false);
      expect(fs.existsSync(path.join(dir, 'audit.jsonl'))).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('gateFilesPlacement (red-team R70)', () => {
  const fsOf = (...paths: string[]) => ({ enabled: true, grants: paths.map((p) => ({ path: p, rights: 'rw', source: `write_globs ${p}/**`, widened: false })), handled: 'rw', requireEnforced: true });
  const files = [
    { path: '/ws/node_modules/agent-gate/dist', what: "the gate's code" },
    { path: '/ws/node_modules/agent-gate/dist/agent-gate-supervisor', what: 'the native supervisor' },
    { path: '/ws/node_modules/agent-gate/policies', what: 'the shipped policies' },
  ];
  const id = (p: string): string => p;

  it('refuses when a file is inside a write grant, naming each once (the supervisor in dist/ is covered by dist/)', () => {
    const r = gateFilesPlacement(files, fsOf('/ws'), { realpath: id });
    expect(r.refusal).toContain("the gate's code /ws/node_modules/agent-gate/dist is inside the write grant /ws (from write_globs /ws/**)");
    expect(r.refusal).toContain('the shipped policies /ws/node_modules/agent-gate/policies');
    expect(r.refusal).not.toContain('the native supervisor');
  });

  it('refuses a grant inside one of them; lets through grants beside them and read grants', () => {
    expect(gateFilesPlacement(files, fsOf('/ws/node_modules/agent-gate/policies/agents'), { realpath: id }).refusal).toContain('the shipped policies');
    expect(gateFilesPlacement(files, fsOf('/ws/src', '/ws/node_modules/other'), { realpath: id })).toEqual({ refusal: null, warnings: [] });
    const read = { ...fsOf(), grants: [{ path: '/', rights: 'r', source: 'read_globs /**', widened: false }] };
    expect(gateFilesPlacement(files, read, { realpath: id }).refusal).toBeNull();
  });

  it('a symlink is judged by its name and by where it leads', () => {
    const realpath = (p: string): string => p.replace('/usr/local/bin/agent-gate', '/ws/node_modules/agent-gate/dist/cli.js');
    const r = gateFilesPlacement([{ path: '/usr/local/bin/agent-gate', what: 'the agent-gate command' }], fsOf('/ws'), { realpath });
    expect(r.refusal).toContain('the agent-gate command /usr/local/bin/agent-gate is inside the write grant /ws');
  });

  it('writes not sealed: no refusal, a warning for the files this user may write', () => {
    const r = gateFilesPlacement(files, { enabled: false, grants: [], handled: '', requireEnforced: false }, { writable: (p) => p.endsWith('dist') });
    expect(r.refusal).toBeNull();
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toContain("the gate's code /ws/node_modules/agent-gate/dist");
    expect(r.warnings[0]).not.toContain('policies');
  });

  it('gateEnvFiles: every AGENT_GATE_* that names an absolute path, nothing else', () => {
    expect(gateEnvFiles({ AGENT_GATE_SUPERVISOR: '/ws/sup', AGENT_GATE_BINFMT_MISC: '/x', AGENT_GATE_DEBUG: '1', OTHER: '/y' }).map((f) => f.path)).toEqual(['/ws/sup', '/x']);
  });
});
