// The CLI's terminal approver when the agent shares the user's terminal (it got no pty of its own): it does
// not ask there (the agent could draw over the question, red-team R51); the record says why.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { TerminalApprover } from '../../../src/cli/terminal-approver';
import { ApprovalQueue } from '../../../src/core/session/approvals';
import type { ExecFacts } from '../../../src/core/exec/facts';

const facts: ExecFacts = {
  requestId: 1,
  tid: 10,
  pid: 10,
  ppid: 1,
  uid: 0,
  syscall: 'execve',
  requestedPath: '/usr/bin/git',
  exe: { path: '/usr/bin/git', dev: '1', ino: '2', size: 3 },
  argv: ['git', 'push'],
  argvTruncated: false,
  cwd: '/w',
  parent: null,
};

describe('TerminalApprover', () => {
  it('does not ask when the hold says the agent shares the terminal; denies with the reason', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let shown = '';
    output.on('data', (d: Buffer) => (shown += d.toString()));
    const approver = new TerminalApprover({ input, output });
    const calls: string[] = [];
    approver.attachTerminal({
      hold: () => (calls.push('hold'), Promise.resolve('shared' as const)),
      release: () => (calls.push('release'), Promise.resolve()),
    });
    const q = new ApprovalQueue({ timeoutMs: 60_000, onTimeout: 'deny', maxPending: 4, maxPerMinute: 10 }, approver);
    const out = await q.request(ApprovalQueue.describe(facts, 'ask-push', 'pushing needs a human'));
    expect(out).toMatchObject({ verdict: 'deny', answer: 'deny' });
    expect(out.reason).toMatch(/^not asked: the agent shares this terminal/);
    expect(shown).not.toContain('approve this command?');
    expect(shown).toContain('not asking about git push');
    expect(calls).toEqual(['hold', 'release']);
  });

  it('asks as usual when the relay is held (the agent has its own pty)', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let shown = '';
    output.on('data', (d: Buffer) => {
      shown += d.toString();
      if (shown.includes('[n] deny > ')) input.write('y\n');
    });
    const approver = new TerminalApprover({ input, output });
    approver.attachTerminal({ hold: () => Promise.resolve('own' as const), release: () => Promise.resolve() });
    const q = new ApprovalQueue({ timeoutMs: 60_000, onTimeout: 'deny', maxPending: 4, maxPerMinute: 10 }, approver);
    const out = await q.request(ApprovalQueue.describe({ ...facts, requestId: 2 }, 'ask-push', 'pushing needs a human'));
    expect(out).toMatchObject({ verdict: 'allow', answer: 'allow-once', reason: 'allowed by the user (once)' });
    expect(shown).toContain('approve this command?');
  });
});
