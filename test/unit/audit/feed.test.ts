// The audit feed the tree view renders: bounded, grouped by session, counts, dropped items, process tree,
// filters, batched change tracking, display forms only.
import { describe, expect, it } from 'vitest';
import { elide } from '../../../src/core/audit/display';
import { AuditFeed } from '../../../src/core/audit/feed';
import type { DecisionRecord } from '../../../src/core/audit/records';

let req = 1;
function rec(over: Partial<DecisionRecord> = {}): DecisionRecord {
  return {
    type: 'decision',
    time: new Date().toISOString(),
    session: 'S',
    request: req++,
    pid: 100,
    ppid: 1,
    tid: 100,
    exe_requested: '/usr/bin/true',
    exe: '/usr/bin/true',
    argv: ['true'],
    cwd: '/w',
    verdict: 'allow',
    rule_id: 'r1',
    reason: 'ok',
    layer: 'rule',
    latency_us: 10,
    cached: false,
    ...over,
  };
}

describe('AuditFeed', () => {
  it('groups by session (newest first), counts per verdict and rule, items newest first, filters', () => {
    const feed = new AuditFeed();
    feed.addSession({ id: 'A', label: 'shell' });
    feed.addSession({ id: 'B', label: 'claude' });
    expect(feed.sessions().map((s) => s.id)).toEqual(['B', 'A']);
    feed.addDecision('A', rec({ argv: ['ls'] }));
    feed.addDecision('A', rec({ argv: ['curl', 'x'], verdict: 'deny', rule_id: 'no-curl' }));
    feed.addDecision('A', rec({ argv: ['git', 'push'], verdict: 'allow', rule_id: 'ask-push', layer: 'approval' }), true);
    feed.addDecision('A', rec({ argv: ['true'], rule_id: null, layer: 'default' }));
    const a = feed.session('A')!;
    expect(a.counts).toMatchObject({ decisions: 4, allow: 3, deny: 1, asked: 1 });
    expect(Object.fromEntries(a.counts.byRule)).toEqual({ r1: { allow: 1, deny: 0 }, 'no-curl': { allow: 0, deny: 1 }, 'ask-push': { allow: 1, deny: 0 }, '(default)': { allow: 1, deny: 0 } });
    expect(a.list().map((i) => i.label)).toEqual(['true', 'git push', 'curl x', 'ls']);
    expect(a.list('denied').map((i) => i.label)).toEqual(['curl x']);
    expect(a.list('asked').map((i) => i.label)).toEqual(['git push']);
    expect(feed.addDecision('nope', rec())).toBe(null);
  });

  it('keeps at most N items per session and in all; counts stay exact; dropped says how many are only in the log', () => {
    const feed = new AuditFeed({ maxItemsPerSession: 100, maxItemsTotal: 150 });
    feed.addSession({ id: 'A', label: 'a' });
    feed.addSession({ id: 'B', label: 'b' });
    for (let i = 0; i < 1000; i++) feed.addDecision('A', rec({ argv: ['true', String(i)] }));
    const a = feed.session('A')!;
    expect(a.items).toHaveLength(100);
    expect(a.dropped).toBe(900);
    expect(a.counts.decisions).toBe(1000);
    expect(a.list()[0]!.label).toBe('true 999');
    for (let i = 0; i < 100; i++) feed.addDecision('B', rec({ argv: ['b', String(i)] }));
    // Over the total: the older session gave up items first.
    expect(feed.size).toBe(150);
    expect(feed.session('B')!.items).toHaveLength(100);
    expect(a.items).toHaveLength(50);
    expect(a.dropped).toBe(950);
  });

  it('builds the process tree from pid/ppid: what started what, including an exec that replaced a process', () => {
    const feed = new AuditFeed();
    feed.addSession({ id: 'A', label: 'a' });
    const claude = feed.addDecision('A', rec({ pid: 10, ppid: 1, argv: ['claude'], exe: '/usr/bin/claude' }))!;
    const bash = feed.addDecision('A', rec({ pid: 11, ppid: 10, argv: ['bash', '-c', 'env curl x'], exe: '/usr/bin/bash' }))!;
    const env = feed.addDecision('A', rec({ pid: 12, ppid: 11, argv: ['env', 'curl', 'x'], exe: '/usr/bin/env' }))!;
    const curl = feed.addDecision('A', rec({ pid: 12, ppid: 11, argv: ['curl', 'x'], exe: '/usr/bin/curl', verdict: 'deny' }))!;
    const ls = feed.addDecision('A', rec({ pid: 13, ppid: 10, argv: ['ls'], exe: '/usr/bin/ls' }))!;
    const s = feed.session('A')!;
    expect(s.roots().map((i) => i.seq)).toEqual([claude.seq]);
    expect(s.childrenOf(claude.seq).map((i) => i.seq)).toEqual([bash.seq, ls.seq]);
    expect(s.childrenOf(bash.seq).map((i) => i.seq)).toEqual([env.seq]);
    expect(s.childrenOf(env.seq).map((i) => i.seq)).toEqual([curl.seq]);
    // Filter denied in the tree: the path to a denial stays, the rest goes.
    expect(s.childrenOf(claude.seq, 'denied').map((i) => i.seq)).toEqual([bash.seq]);
    expect(curl.program).toBe('curl');
  });

  it('pending approvals and how they settled; ended sessions; a session cap that keeps running ones', () => {
    const feed = new AuditFeed({ maxSessions: 2 });
    feed.addSession({ id: 'A', label: 'a' });
    const p = { id: 7, command: 'curl x', commandShort: 'curl x', exe: '/usr/bin/curl', cwd: '/w', chain: ['bash', 'curl'], ruleId: 'ask', reason: 'r', time: 1 };
    feed.addPending('A', p);
    expect(feed.pendingCount()).toBe(1);
    feed.settle('A', p, 'timed-out', 'deny', 'no answer within 10 ms');
    expect(feed.pendingCount()).toBe(0);
    expect(feed.session('A')!.settled).toMatchObject([{ id: 7, kind: 'timed-out', verdict: 'deny' }]);
    expect(feed.session('A')!.counts.timedOut).toBe(1);
    feed.addPending('A', { ...p, id: 8 });
    feed.endSession('A', 0, null);
    expect(feed.pendingCount()).toBe(0);
    feed.addSession({ id: 'B', label: 'b' });
    feed.addSession({ id: 'C', label: 'c' });
    // A (ended) went; B and C (running) stay.
    expect(feed.sessions().map((s) => s.id)).toEqual(['C', 'B']);
  });

  it('collects changes for a batched refresh: one dirty signal until taken', () => {
    const feed = new AuditFeed();
    let signals = 0;
    feed.onDirty(() => signals++);
    feed.addSession({ id: 'A', label: 'a' });
    for (let i = 0; i < 500; i++) feed.addDecision('A', rec());
    expect(signals).toBe(1);
    expect(feed.takeChanges()).toEqual({ sessions: ['A'], structure: true });
    expect(feed.takeChanges()).toEqual({ sessions: [], structure: false });
    feed.addDecision('A', rec());
    expect(signals).toBe(2);
    expect(feed.takeChanges()).toEqual({ sessions: ['A'], structure: false });
  });

  it('display forms only: control characters and bidi overrides escaped, long commands elided', () => {
    const feed = new AuditFeed({ labelChars: 40 });
    feed.addSession({ id: 'A', label: 'a' });
    const it = feed.addDecision('A', rec({ argv: ['echo', 'a\u202eb\x1b[31m', 'x'.repeat(200)], reason: 'why\x07' }))!;
    expect(it.command).toBe(`echo $'a\\u202eb\\e[31m' ${'x'.repeat(200)}`);
    expect(it.label.length).toBeLessThanOrEqual(40);
    expect(it.label).toMatch(/^echo \$'a\\u202eb\\e\[31m'.*…x+$/);
    expect(it.reason).toBe('why\\x07');
    expect(it.record.argv[1]).toBe('a\u202eb\x1b[31m');
  });
});

describe('elide', () => {
  it('cuts the middle, never inside an escape or a surrogate pair', () => {
    expect(elide('short', 10)).toBe('short');
    const e = elide('a'.repeat(50) + 'Z', 11);
    expect(e).toHaveLength(11);
    expect(e.endsWith('Z')).toBe(true);
    expect(e).toContain('…');
    const esc = elide('\\x1b'.repeat(20), 15);
    expect(esc).toMatch(/^(\\x1b)*…(\\x1b)*$/);
    const emoji = elide('😀'.repeat(20), 9);
    expect(emoji).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
    expect(emoji).not.toMatch(/(?<![\ud800-\udbff])[\udc00-\udfff]/);
  });
});
