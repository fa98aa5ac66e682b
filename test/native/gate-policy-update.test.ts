// A policy the user applies to a running session takes effect at once, also for programs whose verdict the
// supervisor had cached (FLUSH): real supervisor, real kernel, the launch path the CLI and VS Code use.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAuditLog } from '../../src/core/audit/audit-log';
import type { DecisionRecord } from '../../src/core/audit/records';
import { AutoApprover } from '../../src/core/session/approvals';
import { loadRunPolicy, planLaunch, startPlannedSession } from '../../src/core/session/launch';
import { childProcessSpawner } from '../../src/core/session/spawn';
import { buildNative, SUPERVISOR } from './helpers/gate';

let dir: string;
beforeAll(() => {
  buildNative();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gate-update-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('updatePolicy on a running session', () => {
  it('a cached allow does not outlive the policy that gave it', async () => {
    const ws = path.join(dir, 'ws');
    fs.mkdirSync(ws);
    const allowAll = '[meta]\nversion = 1\ndefault_action = "allow"\n\n[filesystem]\nread_globs = ["/**"]\nwrite_globs = ["${WORKSPACE}/**"]\n';
    const denyTrue = `${allowAll}\n[[rule]]\nid = "no-true"\naction = "deny"\nexe = "/bin/true"\n`;
    fs.writeFileSync(path.join(ws, '.gate.toml'), allowAll);
    const plan = planLaunch({
      // Bounded: with the old verdict still cached the loop ends by itself (exit 0) and the test fails.
      argv: ['/bin/bash', '-c', `for ((i = 0; i < 30000; i++)); do /bin/true || { echo denied; exit 3; }; done; echo never; exit 0`],
      workspace: ws,
      supervisorPath: SUPERVISOR,
      env: { PATH: '/usr/bin:/bin' },
      auditDir: path.join(dir, 'state'),
    });
    if (!plan.ok) throw new Error(plan.error);
    let out = '';
    const session = await startPlannedSession(plan, {
      approver: new AutoApprover('deny', 'test'),
      spawn: childProcessSpawner({ stdio: 'pipe', onSpawn: (c) => c.stdout?.on('data', (d: Buffer) => (out += d.toString())) }),
    });
    // Let /bin/true be decided once and then answered from the supervisor's cache.
    let cachedTrue = 0;
    session.on('decision', (d) => {
      if (d.exe === '/usr/bin/true' && d.cached) cachedTrue++;
    });
    for (let i = 0; i < 500 && cachedTrue < 20; i++) await new Promise((r) => setTimeout(r, 10));
    expect(cachedTrue).toBeGreaterThanOrEqual(20);
    const next = loadRunPolicy(path.join(ws, '.gate.toml'), { workspace: ws, text: denyTrue });
    expect(next.ok).toBe(true);
    if (!next.ok) return;
    const update = session.updatePolicy(next.policy, next.evaluator, next.text);
    expect(update.notApplied).toEqual([]);
    const end = await session.wait();
    expect(end.exitCode).toBe(3);
    for (let i = 0; i < 100 && !out.includes('denied'); i++) await new Promise((r) => setTimeout(r, 10));
    expect(out).toContain('denied');
    const recs = readAuditLog(plan.auditPath);
    const policyRec = recs.findIndex((r) => r.type === 'session' && r.event === 'policy');
    expect(policyRec).toBeGreaterThan(0);
    // Execs that raced the update may still be allowed from the old cache; the last is the new rule's denial.
    const after = recs.slice(policyRec).filter((r): r is DecisionRecord => r.type === 'decision' && r.exe === '/usr/bin/true');
    expect(after.at(-1)).toMatchObject({ verdict: 'deny', rule_id: 'no-true', cached: false });
  });

  it('a program the start\'s rules left to the kernel to refuse stays refused, and the update says so', async () => {
    const ws = path.join(dir, 'ws2');
    fs.mkdirSync(ws);
    const allowAll = '[meta]\nversion = 1\ndefault_action = "allow"\n\n[filesystem]\nread_globs = ["/**"]\nwrite_globs = ["${WORKSPACE}/**"]\n';
    const denyTrue = `${allowAll}\n[[rule]]\nid = "no-true"\naction = "deny"\nexe = "/bin/true"\n`;
    fs.writeFileSync(path.join(ws, '.gate.toml'), denyTrue);
    const plan = planLaunch({
      argv: ['/bin/bash', '-c', 'read -r _; /bin/true && echo ran || echo refused'],
      workspace: ws,
      supervisorPath: SUPERVISOR,
      env: { PATH: '/usr/bin:/bin' },
      auditDir: path.join(dir, 'state'),
    });
    if (!plan.ok) throw new Error(plan.error);
    let out = '';
    let stdin: NodeJS.WritableStream | null = null;
    const session = await startPlannedSession(plan, {
      approver: new AutoApprover('deny', 'test'),
      spawn: childProcessSpawner({ stdio: 'pipe', onSpawn: (c) => ((stdin = c.stdin), c.stdout?.on('data', (d: Buffer) => (out += d.toString()))) }),
    });
    const next = loadRunPolicy(path.join(ws, '.gate.toml'), { workspace: ws, text: allowAll });
    if (!next.ok) throw new Error(next.error);
    const update = session.updatePolicy(next.policy, next.evaluator, next.text);
    // The rule is gone, but Landlock's execute set was fixed at the start: the user is told, not misled.
    expect(update.notApplied.join('\n')).toMatch(/running \/usr\/bin\/true.*the kernel refuses them for this session/);
    (stdin as NodeJS.WritableStream | null)?.write('go\n');
    await session.wait();
    expect(out).toContain('refused');
  });
});
