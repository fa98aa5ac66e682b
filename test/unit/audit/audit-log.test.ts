import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog, AuditWriteError, DEFERRED_FLUSH_MS, readAuditLog } from '../../../src/core/audit/audit-log';
import { buildDecisionRecord, originJson, redactSupervisorRecord, type DecisionRecord } from '../../../src/core/audit/records';
import { AuditStats } from '../../../src/core/audit/stats';
import type { ExecFacts } from '../../../src/core/exec/facts';
import { bytesToText } from '../../../src/core/exec/facts';

function facts(over: Partial<ExecFacts> = {}): ExecFacts {
  return {
    requestId: 7,
    tid: 101,
    pid: 100,
    ppid: 99,
    uid: 1000,
    syscall: 'execve',
    requestedPath: 'curl',
    exe: { path: '/usr/bin/curl', dev: '2049', ino: '123', size: 1000 },
    argv: ['curl', '-H', 'Authorization: Bearer abcdefghijk', 'https://example.com'],
    argvTruncated: false,
    cwd: '/work',
    parent: null,
    ...over,
  };
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-test-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('AuditLog', () => {
  it('creates the parent directory 0700 and the file 0600, and appends JSONL', () => {
    const file = path.join(dir, 'state', 'agent-gate', 'audit-x.jsonl');
    const log = AuditLog.open(file);
    log.write(buildDecisionRecord({ session: 's1', facts: facts(), verdict: 'deny', ruleId: 'no-curl', reason: 'curl is denied', layer: 'rule', latencyUs: 42.4, cached: false }));
    log.write({ type: 'outcome', time: new Date().toISOString(), session: 's1', request: 7, exit_code: 0, signal: null });
    log.close();
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const recs = readAuditLog(file);
    expect(recs).toHaveLength(2);
    expect(recs[0]).toMatchObject({ type: 'decision', session: 's1', request: 7, pid: 100, ppid: 99, tid: 101, exe_requested: 'curl', exe: '/usr/bin/curl', verdict: 'deny', rule_id: 'no-curl', layer: 'rule', latency_us: 42, cached: false, cwd: '/work' });
    expect((recs[0] as { argv: string[] }).argv[2]).toBe('Authorization: Bearer «redacted:bearer»');
    expect(fs.readFileSync(file, 'utf8')).not.toContain('abcdefghijk');
  });

  it('appends to an existing log rather than truncating it', () => {
    const file = path.join(dir, 'a.jsonl');
    fs.writeFileSync(file, '{"type":"outcome"}\n');
    const log = AuditLog.open(file);
    log.write({ type: 'outcome', time: 't', session: 's', request: 1, exit_code: 1, signal: null });
    log.close();
    expect(readAuditLog(file)).toHaveLength(2);
  });

  it('carries non-UTF-8 bytes losslessly (as surrogate escapes in JSON)', () => {
    const file = path.join(dir, 'b.jsonl');
    const name = bytesToText(Buffer.from([0x2f, 0x74, 0xff, 0x78]));
    const log = AuditLog.open(file);
    log.write(buildDecisionRecord({ session: 's', facts: facts({ requestedPath: name }), verdict: 'allow', ruleId: null, reason: 'default', layer: 'default', latencyUs: 1, cached: false }));
    log.close();
    const rec = readAuditLog(file)[0] as { exe_requested: string };
    expect(rec.exe_requested).toBe(name);
  });

  it('append defers records (one write per burst), and write keeps the order', async () => {
    const file = path.join(dir, 'c.jsonl');
    const log = AuditLog.open(file);
    const rec = (request: number) => ({ type: 'outcome' as const, time: 't', session: 's', request, exit_code: 0, signal: null });
    log.append(rec(1));
    log.append(rec(2));
    expect(fs.readFileSync(file, 'utf8')).toBe('');
    log.write(rec(3));
    expect(readAuditLog(file).map((r) => (r as { request: number }).request)).toEqual([1, 2, 3]);
    log.append(rec(4));
    await new Promise((r) => setTimeout(r, DEFERRED_FLUSH_MS + 30));
    expect(readAuditLog(file)).toHaveLength(4);
    log.append(rec(5));
    log.close();
    expect(readAuditLog(file)).toHaveLength(5);
  });

  it('reports a failed deferred write through onDeferredError', async () => {
    const log = AuditLog.open('/dev/full');
    const errors: Error[] = [];
    log.onDeferredError = (e) => errors.push(e);
    log.append({ type: 'outcome', time: 't', session: 's', request: 1, exit_code: 0, signal: null });
    await new Promise((r) => setTimeout(r, DEFERRED_FLUSH_MS + 30));
    expect(errors[0]?.message).toMatch(/ENOSPC/);
    log.close();
  });

  it('refuses a symlink planted at the log path', () => {
    const target = path.join(dir, 'elsewhere');
    fs.writeFileSync(target, '');
    const file = path.join(dir, 'link.jsonl');
    fs.symlinkSync(target, file);
    expect(() => AuditLog.open(file)).toThrow(AuditWriteError);
  });

  it('reports a failed write (ENOSPC on /dev/full) instead of losing it silently', () => {
    const log = AuditLog.open('/dev/full');
    const err = log.tryWrite({ type: 'outcome', time: 't', session: 's', request: 1, exit_code: 0, signal: null });
    expect(err).toBeInstanceOf(AuditWriteError);
    expect(err?.message).toMatch(/ENOSPC/);
    log.close();
    expect(() => log.write({ type: 'outcome', time: 't', session: 's', request: 1, exit_code: 0, signal: null })).toThrow(/closed/);
  });
});

describe('AuditStats', () => {
  it('counts denials per rule and per layer and exports Prometheus text', () => {
    const s = new AuditStats();
    s.add({ verdict: 'deny', rule_id: 'no-curl', layer: 'rule', cached: false });
    s.add({ verdict: 'deny', rule_id: 'no-curl', layer: 'rule', cached: true });
    s.add({ verdict: 'deny', rule_id: null, layer: 'timeout', cached: false });
    s.add({ verdict: 'allow', rule_id: null, layer: 'default', cached: false });
    const m = s.toMetrics();
    expect(m).toMatchObject({ decisions: 4, allowed: 1, denied: 3, cached: 1, deniedByRule: { 'no-curl': 2 }, deniedByLayer: { rule: 2, timeout: 1 } });
    const prom = s.toPrometheus({ session: 'abc' });
    expect(prom).toContain('agent_gate_decisions_total{session="abc",verdict="deny"} 3');
    expect(prom).toContain('agent_gate_denials_by_rule_total{session="abc",rule="no-curl"} 2');
    expect(prom).toContain('agent_gate_denials_by_layer_total{session="abc",layer="timeout"} 1');
  });
});

describe('records the supervisor writes for cached verdicts (RECORD)', () => {
  // What the supervisor writes: buildDecisionRecord's fields and order, the agent's strings as they are, and
  // the origin (rule id, reason, layer) the broker gave it, already redacted by originJson.
  function supervisorJson(f: ExecFacts, expected: DecisionRecord): string {
    const { exe_requested: _r, exe: _e, argv: _a, cwd: _c, ...rest } = expected;
    const head = { type: rest.type, time: rest.time, session: rest.session, request: rest.request, pid: rest.pid, ppid: rest.ppid, tid: rest.tid };
    const origin = originJson(expected.rule_id, 'password=hunter2hunter2 was in the reason', expected.layer);
    return (
      JSON.stringify({ ...head, exe_requested: f.requestedPath, exe: f.exe?.path ?? null, argv: f.argv, cwd: f.cwd, verdict: expected.verdict }).slice(0, -1) +
      `,${origin},"latency_us":${expected.latency_us},"cached":true}`
    );
  }

  const cases: [string, Partial<ExecFacts>][] = [
    ['a bearer token in argv', {}],
    ['a secret in the cwd only', { argv: ['true'], cwd: '/home/u/api_key=0123456789abcdef' }],
    ['a secret flag and its value', { argv: ['tool', '--password', 'hunter2hunter2'] }],
    ['nothing to redact', { argv: ['cc', '-O2', '-march=x86-64', '-c', 'x.c'], cwd: '/w' }],
    ['non-UTF-8 bytes', { argv: ['x', bytesToText(Buffer.from([0xff, 0x41]))], cwd: bytesToText(Buffer.from([0x2f, 0xfe])) }],
  ];
  for (const [name, over] of cases) {
    it(`is logged as buildDecisionRecord would have written it: ${name}`, () => {
      const f = facts(over);
      const expected = buildDecisionRecord({ session: 's', facts: f, verdict: 'deny', ruleId: 'no-curl', reason: 'password=hunter2hunter2 was in the reason', layer: 'rule', latencyUs: 5, cached: true, time: new Date(0) });
      const json = supervisorJson(f, expected);
      const rec = JSON.parse(json) as DecisionRecord;
      expect(redactSupervisorRecord(rec, json)).toBe(JSON.stringify(expected));
      expect(rec).toEqual(expected);
    });
  }
});
