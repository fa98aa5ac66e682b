// Rule hit counts and the policies in force, read from audit logs written here (JSONL as the gate writes it).
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RuleHitIndex, findAuditLogs } from '../../../src/core/audit/rule-hits';
import { forgetPolicyInForce, notePolicyInForce, policiesInForce, policySnapshotPath, savePolicySnapshot, sha256Text } from '../../../src/core/session/policy-in-force';

const dir = mkdtempSync(join(tmpdir(), 'gate-hits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const line = (o: object): string => JSON.stringify(o) + '\n';
const start = (session: string, policy: string, sha = 'x') => line({ type: 'session', time: '2026-01-01T00:00:00Z', session, event: 'start', policy_file: policy, policy_sha256: sha });
const decision = (session: string, rule: string | null, verdict: string, time = '2026-01-01T00:00:01Z') => line({ type: 'decision', time, session, rule_id: rule, verdict, argv: ['x'] });
const end = (session: string) => line({ type: 'session', time: '2026-01-01T00:01:00Z', session, event: 'end' });

describe('RuleHitIndex', () => {
  it('counts decisions per rule for sessions that ran with one policy file, and follows appended lines', () => {
    const sub = join(dir, 'storage', 'audit');
    const a = join(dir, 'audit-a.jsonl');
    const b = join(sub, 'audit-b.jsonl');
    mkdirSync(sub, { recursive: true });
    writeFileSync(a, start('a', '/ws/.gate.toml') + decision('a', 'git', 'allow') + decision('a', 'git', 'allow') + decision('a', 'no-curl', 'deny') + decision('a', null, 'deny') + end('a'));
    writeFileSync(b, start('b', '/other/.gate.toml') + decision('b', 'git', 'allow') + '{"torn');
    writeFileSync(join(dir, 'policy-x.toml'), 'not a log');
    const logs = findAuditLogs([dir]);
    expect(logs.sort()).toEqual([a, b].sort());
    const index = new RuleHitIndex();
    const s = index.summarize(logs, '/ws/.gate.toml');
    expect([s.sessions, s.decisions]).toEqual([1, 4]);
    expect(s.byRule.get('git')).toEqual({ count: 2, allowed: 2, denied: 0, last: '2026-01-01T00:00:01Z' });
    expect(s.byRule.get('no-curl')).toMatchObject({ count: 1, denied: 1 });
    expect(index.summarize(logs, '/nowhere/.gate.toml')).toEqual({ sessions: 0, decisions: 0, byRule: new Map() });
    appendFileSync(a, start('c', '/ws/.gate.toml') + decision('c', 'git', 'deny', '2026-01-02T00:00:00Z'));
    const t = index.summarize(logs, '/ws/.gate.toml');
    expect([t.sessions, t.byRule.get('git')]).toEqual([2, { count: 3, allowed: 2, denied: 1, last: '2026-01-02T00:00:00Z' }]);
  });
});

describe('policies in force', () => {
  it('this process first, then logs with a start and no end whose snapshot exists', () => {
    const d = mkdtempSync(join(dir, 'inforce-'));
    const text = '[meta]\nversion = 1\n';
    const sha = sha256Text(text);
    const running = join(d, 'audit-r.jsonl');
    const ended = join(d, 'audit-e.jsonl');
    const noCopy = join(d, 'audit-n.jsonl');
    writeFileSync(running, start('r', '/ws/.gate.toml', sha) + decision('r', 'git', 'allow'));
    writeFileSync(ended, start('e', '/ws/.gate.toml', sha) + end('e'));
    writeFileSync(noCopy, start('n', '/ws/.gate.toml', 'f'.repeat(64)));
    expect(savePolicySnapshot(running, text)).toBeNull();
    expect(savePolicySnapshot(running, text)).toBeNull(); // once per text
    expect(policySnapshotPath(running, sha)).toBe(join(d, `policy-${sha}.toml`));
    notePolicyInForce('live', '/ws/.gate.toml', 'live text');
    try {
      const found = policiesInForce([running, ended, noCopy]);
      expect(found.map((p) => [p.session, p.source, p.text])).toEqual([
        ['live', 'process', 'live text'],
        ['r', 'audit-log', text],
      ]);
      // A log not written for a day is not a running session.
      const old = (Date.now() - 2 * 24 * 3600_000) / 1000;
      utimesSync(running, old, old);
      expect(policiesInForce([running]).map((p) => p.session)).toEqual(['live']);
    } finally {
      forgetPolicyInForce('live');
    }
    expect(policiesInForce([])).toEqual([]);
  });
});
