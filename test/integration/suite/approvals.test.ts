// Approvals, the audit view and the status bar in a real extension host, against real gated sessions (the
// native supervisor, the real kernel) started here through the core's launch path and added to the
// extension's SessionRegistry, as the guarded terminal adds its sessions. Answers go through the extension's
// API (the same code the notification's buttons and the view's actions call).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as vscode from 'vscode';
import { readAuditLog } from '../../../src/core/audit/audit-log';
import type { DecisionRecord } from '../../../src/core/audit/records';
import { planLaunch, startPlannedSession, type LaunchPlan } from '../../../src/core/session/launch';
import type { GateSession } from '../../../src/core/session/session';
import { childProcessSpawner } from '../../../src/core/session/spawn';
import type { AgentGateApi, TreeSnapshotNode } from '../../../src/extension/api';

const EXTENSION_ID = 'agent-gate.agent-gate';

async function api(): Promise<AgentGateApi> {
  const ext = vscode.extensions.getExtension<AgentGateApi>(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is not loaded`);
  return ext.activate();
}

function root(): string {
  return (vscode.extensions.getExtension(EXTENSION_ID) as vscode.Extension<unknown>).extensionPath;
}

async function until<T>(what: string, get: () => T | undefined | null | false, ms = 20_000, context: () => string = () => ''): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} ${context()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const dirs: string[] = [];
const running: GateSession[] = [];

const POLICY = (approval: string): string => `# test policy
[meta]
version = 1
default_action = "allow"

[approval]
${approval}

# Never date without asking.
[[rule]]
id = "ask-date"
action = "ask"
exe_basename = "date"
reason = "the test asks about date"

[[rule]]
id = "no-cat"
action = "deny"
exe_basename = "cat"
reason = "the test denies cat"

[filesystem]
read_globs = ["/**"]
write_globs = ["\${WORKSPACE}/**"]
`;

interface Started {
  plan: LaunchPlan;
  session: GateSession;
  ws: string;
  out: () => string;
}

async function start(a: AgentGateApi, script: string | ((ws: string) => string), policy: string): Promise<Started> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-gate-approve-'));
  dirs.push(dir);
  const ws = path.join(dir, 'ws');
  fs.mkdirSync(ws);
  fs.writeFileSync(path.join(ws, '.gate.toml'), policy);
  const plan = planLaunch({
    argv: ['/bin/bash', '-c', typeof script === 'string' ? script : script(ws)],
    agent: null,
    workspace: ws,
    supervisorPath: path.join(root(), 'dist', 'agent-gate-supervisor'),
    env: { PATH: '/usr/bin:/bin', HOME: dir },
    auditDir: path.join(dir, 'state'),
  });
  if (!plan.ok) throw new Error(plan.error);
  let out = '';
  const session = await startPlannedSession(plan, {
    approver: a.approvals.factory({ sessionId: plan.sessionId, label: 'Test shell', plan }),
    spawn: childProcessSpawner({
      stdio: 'pipe',
      onSpawn: (c) => {
        c.stdout?.on('data', (d: Buffer) => (out += d.toString()));
        c.stderr?.on('data', (d: Buffer) => (out += d.toString()));
      },
    }),
    recordsMaxDelayMs: 50,
  });
  running.push(session);
  a.sessions.add({ id: session.id, label: 'Test shell', plan, session, folder: undefined, terminal: undefined });
  return { plan, session, ws, out: () => out };
}

function sessionNode(tree: TreeSnapshotNode[], s: Started): TreeSnapshotNode {
  // Sessions are labelled by name; the newest is first, and each test starts its own.
  const n = tree[0];
  assert.ok(n, 'the audit view shows no session');
  assert.equal(n.label, 'Test shell');
  void s;
  return n;
}

suite('Approvals and the audit view', () => {
  suiteTeardown(async () => {
    for (const s of running) {
      if (!s.ended) {
        process.kill(-s.agentPid, 'SIGKILL');
        await s.wait();
      }
    }
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  test('an asked command approved through the approval API runs; the view, badge and status bar show it pending, then allowed', async () => {
    const a = await api();
    const s = await start(a, (ws) => `date +%s > ${ws}/asked.out; echo rc=$?`, POLICY('timeout_ms = 60000\non_timeout = "deny"'));
    const p = await until('the pending approval', () => a.approvals.pending(s.session.id)[0], 20_000, () => `(output: ${s.out()}; ended: ${s.session.ended}; records: ${JSON.stringify(a.feed.session(s.session.id)?.list().map((i) => [i.label, i.verdict, i.reason]))})`);
    assert.match(p.request.command, /^date \+%s$/);
    assert.equal(p.request.ruleId, 'ask-date');
    assert.deepEqual(p.request.chain.slice(-2), ['bash', 'date']);
    // Pending: in the tree's group, in the badge and the status bar.
    const tree = await a.audit.snapshot(3);
    const group = sessionNode(tree, s).children.find((c) => c.contextValue === 'pendingGroup');
    assert.ok(group, `no "Pending approvals" group in ${JSON.stringify(tree[0])}`);
    assert.equal(group.label, 'Pending approvals (1)');
    assert.equal(group.children[0]?.label, 'date +%s');
    assert.equal(a.audit.status().badge, 1);
    assert.match(a.audit.status().text, /1 pending/);

    assert.deepEqual(await a.approvals.answer(s.session.id, p.request.id, 'allow-once'), { answered: true });
    const end = await s.session.wait();
    assert.equal(end.exitCode, 0);
    assert.match(s.out(), /rc=0/);
    assert.match(fs.readFileSync(path.join(s.ws, 'asked.out'), 'utf8'), /^\d+\n$/);
    const after = await a.audit.snapshot(2);
    const item = sessionNode(after, s).children.find((c) => c.label === 'date +%s');
    assert.ok(item, 'the approved date is not in the view');
    assert.equal(item.description, 'allowed · ask-date · allowed by you');
    assert.equal(a.approvals.pending(s.session.id).length, 0);
    assert.equal(a.audit.status().badge, 0);
    const verified = await until('the audit log verification', () => a.audit.verified(s.session.id));
    assert.deepEqual(verified, { ok: true, problem: null });
  });

  test('nobody answering: on_timeout denies and the view says it timed out', async () => {
    const a = await api();
    const s = await start(a, 'date; echo rc=$?', POLICY('timeout_ms = 1000\non_timeout = "deny"'));
    const p = await until('the pending approval', () => a.approvals.pending(s.session.id)[0], 20_000, () => `(output: ${s.out()}; ended: ${s.session.ended}; records: ${JSON.stringify(a.feed.session(s.session.id)?.list().map((i) => [i.label, i.verdict, i.reason]))})`);
    const end = await s.session.wait();
    assert.equal(end.exitCode, 0);
    assert.match(s.out(), /rc=126/);
    const item = sessionNode(await a.audit.snapshot(2), s).children.find((c) => c.label === 'date');
    assert.ok(item, 'the timed-out date is not in the view');
    assert.equal(item.description, 'denied · ask-date · timed out');
    assert.equal(item.icon, 'watch');
    assert.match(sessionNode(await a.audit.snapshot(1), s).description, /1 timed out/);
    // The answer comes too late: it is not used, and says so.
    assert.deepEqual(await a.approvals.answer(s.session.id, p.request.id, 'allow-once'), { answered: false, ended: 'approval timed out' });
  });

  test('a request whose process died is withdrawn; one above max_pending is denied with the reason', async () => {
    const a = await api();
    // Two asks at once with max_pending = 1: whichever comes second is refused at once; the other waits until
    // its process is killed, and is withdrawn. (timeout_ms bounds the wait should the machine be very slow.)
    const s = await start(a, 'date & p=$!; date -u & q=$!; sleep 2; kill -9 $p $q 2>/dev/null; wait; echo done', POLICY('timeout_ms = 15000\non_timeout = "deny"\nmax_pending = 1'));
    const end = await s.session.wait();
    assert.equal(end.exitCode, 0);
    const children = sessionNode(await a.audit.snapshot(2), s).children;
    const how = children.filter((c) => c.label === 'date' || c.label === 'date -u').map((c) => c.description).sort();
    assert.deepEqual(how, ['denied · ask-date · rate-limited', 'denied · ask-date · withdrawn']);
    assert.match(sessionNode(await a.audit.snapshot(1), s).description, /1 withdrawn · 1 rate-limited/);
    assert.equal(a.approvals.pending(s.session.id).length, 0);
  });

  test('a command line the gate could not read whole is never approvable: denied at once, and says why (R57)', async () => {
    const a = await api();
    const s = await start(a, 'date $(seq 1 5000) PWNED-hidden-after-cut; echo rc=$?', POLICY('timeout_ms = 60000\non_timeout = "deny"'));
    const end = await s.session.wait();
    assert.equal(end.exitCode, 0);
    assert.match(s.out(), /rc=126/);
    const rec = readAuditLog(s.plan.auditPath).find((x): x is DecisionRecord => x.type === 'decision' && x.exe === '/usr/bin/date');
    assert.ok(rec);
    assert.equal(rec.argv_truncated, true);
    assert.deepEqual([rec.verdict, rec.rule_id], ['deny', 'ask-date']);
    assert.match(rec.reason, /cut.*cannot be shown for approval/);
    assert.equal(a.approvals.pending(s.session.id).length, 0);
  });

  test('the approval and audit commands act only on nodes the view handed out: a node forged by shape is refused (R112)', async () => {
    const a = await api();
    const policy = POLICY('timeout_ms = 60000\non_timeout = "deny"');
    // The working directory is named like a notification command link (the red-team repro).
    const s = await start(a, (ws) => `mkdir -p '${ws}/[Details](command:workbench.action.tasks.runTask?x)' && cd '${ws}/[Details](command:workbench.action.tasks.runTask?x)' && date +%s > ${ws}/asked.out; echo rc=$?`, policy);
    const p = await until('the pending approval', () => a.approvals.pending(s.session.id)[0], 20_000, () => `(output: ${s.out()})`);
    assert.match(p.request.cwd, /\[Details\]\(command:/);
    // The shape a command link (JSON arguments) or executeCommand elsewhere can give: refused, still pending.
    const forged = { kind: 'pending', session: s.session.id, request: { ...p.request, command: 'x', commandShort: 'x' } };
    for (const command of ['agentGate.approvals.allowOnce', 'agentGate.approvals.allowSession', 'agentGate.approvals.alwaysAllow']) {
      assert.equal(await vscode.commands.executeCommand(command, forged), undefined, `${command} took a forged node`);
      assert.equal(await vscode.commands.executeCommand(command, null), undefined, `${command} ran without a node`);
      assert.equal(a.approvals.pending(s.session.id).length, 1, `${command} answered the request`);
    }
    // An "always" rule from a forged verdict node (with the scope that skips the picker) is not written either.
    const before = fs.readFileSync(path.join(s.ws, '.gate.toml'), 'utf8');
    const seq = a.feed.session(s.session.id)?.list()[0]?.seq ?? 1;
    assert.equal(await vscode.commands.executeCommand('agentGate.audit.allowAlways', { kind: 'item', session: s.session.id, seq }, 'program'), undefined);
    assert.equal(await vscode.commands.executeCommand('agentGate.audit.allowAlways', null, 'program'), undefined);
    assert.equal(fs.readFileSync(path.join(s.ws, '.gate.toml'), 'utf8'), before);
    // The view's own node (what its inline Allow passes) answers it.
    const own = a.audit.nodeOf(s.session.id, { requestId: p.request.id });
    assert.equal(own?.kind, 'pending');
    assert.deepEqual(await vscode.commands.executeCommand('agentGate.approvals.allowOnce', own), { answered: true });
    const end = await s.session.wait();
    assert.equal(end.exitCode, 0);
    assert.match(s.out(), /rc=0/);
  });

  test('"Always allow" adds the exact rule before the deciding rule, and the next identical command runs without asking', async () => {
    const a = await api();
    const policy = POLICY('timeout_ms = 60000\non_timeout = "deny"');
    const s = await start(a, 'date; echo first=$?; date; echo second=$?', policy);
    const p = await until('the pending approval', () => a.approvals.pending(s.session.id)[0], 20_000, () => `(output: ${s.out()}; ended: ${s.session.ended}; records: ${JSON.stringify(a.feed.session(s.session.id)?.list().map((i) => [i.label, i.verdict, i.reason]))})`);
    const r = await a.approvals.answer(s.session.id, p.request.id, 'always-rule', 'exact');
    assert.equal(r.answered, true);
    assert.ok(r.rule);
    const file = path.join(s.ws, '.gate.toml');
    // Before the comment that belongs to the deciding rule: first match wins.
    const expectedLine = policy.split('\n').indexOf('# Never date without asking.') + 1;
    assert.equal(r.rule.line, expectedLine);
    assert.equal(r.rule.ruleId, 'allow-date-exact');
    assert.deepEqual(r.rule.appliedTo, [s.session.id]);
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    assert.equal(lines[expectedLine - 1], '[[rule]]', `the file after the edit:\n${lines.join('\n')}`);
    assert.deepEqual(lines.slice(expectedLine - 1, expectedLine + 5), ['[[rule]]', 'id = "allow-date-exact"', 'action = "allow"', lines[expectedLine + 2], 'exe = "/usr/bin/date"', 'argv_regex = "^date$"']);
    assert.match(lines[expectedLine + 2] as string, /^reason = "always allowed by the user \(Agent Gate, \d{4}-\d\d-\d\d\)"$/);
    assert.equal(lines[expectedLine + 5], '');
    assert.equal(lines[expectedLine + 6], '# Never date without asking.');
    const end = await s.session.wait();
    assert.equal(end.exitCode, 0);
    assert.match(s.out(), /first=0[\s\S]*second=0/);
    const dates = readAuditLog(s.plan.auditPath).filter((x): x is DecisionRecord => x.type === 'decision' && x.exe === '/usr/bin/date');
    assert.deepEqual(
      dates.map((d) => [d.verdict, d.rule_id, d.layer]),
      [
        ['allow', 'ask-date', 'approval'],
        ['allow', 'allow-date-exact', 'rule'],
      ],
    );
    // The rule is open for review (the user's own edit: undo removes it).
    const editor = vscode.window.visibleTextEditors.find((e) => e.document.uri.fsPath === file);
    assert.ok(editor, 'the policy is not open for review');
    assert.equal(editor.selection.start.line, expectedLine - 1);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  test('a denied command shows as denied in the view; filters; process tree; a log changed afterwards fails verify', async () => {
    const a = await api();
    const s = await start(a, 'cat /etc/hostname; echo rc=$?; /bin/true', POLICY('timeout_ms = 60000\non_timeout = "deny"'));
    const end = await s.session.wait();
    assert.equal(end.exitCode, 0);
    assert.match(s.out(), /Permission denied[\s\S]*rc=126/);
    const node = sessionNode(await a.audit.snapshot(2), s);
    const cat = node.children.find((c) => c.label === 'cat /etc/hostname');
    assert.ok(cat, `cat is not in the view: ${JSON.stringify(node.children.map((c) => c.label))}`);
    assert.equal(cat.description, 'denied · no-cat');
    assert.equal(cat.icon, 'circle-slash');
    assert.equal(cat.contextValue, 'verdict.deny');
    // Newest first: /bin/true ran last.
    assert.equal(node.children[0]?.label, '/bin/true');
    assert.match(node.description, /^exit 0 · 2 allowed · 1 denied/);
    try {
      a.audit.setFilter('denied');
      assert.deepEqual(sessionNode(await a.audit.snapshot(2), s).children.map((c) => c.label), ['cat /etc/hostname']);
      a.audit.setFilter('asked');
      assert.deepEqual(sessionNode(await a.audit.snapshot(2), s).children.map((c) => c.label), []);
    } finally {
      a.audit.setFilter('all');
    }
    try {
      a.audit.setProcessTree(true);
      // bash started cat and true: one root, two children, oldest first.
      const t = sessionNode(await a.audit.snapshot(3), s);
      assert.equal(t.children.length, 1);
      assert.match(t.children[0]?.label ?? '', /^\/bin\/bash -c /);
      assert.deepEqual(t.children[0]?.children.map((c) => c.label), ['cat /etc/hostname', '/bin/true']);
    } finally {
      a.audit.setProcessTree(false);
    }
    await until('the audit log verification', () => a.audit.verified(s.session.id));
    assert.deepEqual(a.audit.verified(s.session.id), { ok: true, problem: null });
    // Someone turns the denial into an allow afterwards: the chain breaks, and the view says so.
    const log = s.plan.auditPath;
    fs.writeFileSync(log, fs.readFileSync(log, 'utf8').replace('"verdict":"deny"', '"verdict":"allow"'));
    await vscode.commands.executeCommand('agentGate.audit.verifyLog', s.session.id);
    const v = a.audit.verified(s.session.id);
    assert.equal(v?.ok, false);
    assert.match(v?.problem ?? '', /chain breaks/);
    assert.match(sessionNode(await a.audit.snapshot(1), s).description, /^AUDIT LOG FAILS VERIFY/);
  });

  test('item actions: Copy as JSON, Go to rule, Explain, Deny always (the rule applies to the running session)', async () => {
    const a = await api();
    const policy = POLICY('timeout_ms = 60000\non_timeout = "deny"');
    // The agent waits for the test's go-ahead file, so the second uname runs after the rule is written.
    const s = await start(a, (ws) => `cat /etc/hostname; uname; while [ ! -e ${ws}/go ]; do sleep 0.05; done; uname; echo rc=$?`, policy);
    const items = (): NonNullable<ReturnType<AgentGateApi['feed']['session']>> => a.feed.session(s.session.id) as NonNullable<ReturnType<AgentGateApi['feed']['session']>>;
    const uname = await until('uname in the feed', () => items().list().find((i) => i.label === 'uname'));
    const cat = items().list().find((i) => i.label === 'cat /etc/hostname');
    assert.ok(cat);
    // The view's own nodes, as its menus pass them: a node built here by shape is refused (R112, below).
    const node = (seq: number) => a.audit.nodeOf(s.session.id, { seq });
    const json = JSON.parse(await vscode.commands.executeCommand<string>('agentGate.audit.copyJson', node(cat.seq))) as DecisionRecord;
    assert.deepEqual([json.type, json.verdict, json.rule_id, json.argv], ['decision', 'deny', 'no-cat', ['cat', '/etc/hostname']]);
    assert.equal(await vscode.env.clipboard.readText(), JSON.stringify(json, null, 2));
    const line = await vscode.commands.executeCommand<number>('agentGate.audit.goToRule', node(cat.seq));
    assert.equal(line, policy.split('\n').indexOf('id = "no-cat"'));
    assert.equal(vscode.window.activeTextEditor?.document.uri.fsPath, path.join(s.ws, '.gate.toml'));
    assert.equal(vscode.window.activeTextEditor?.selection.active.line, line - 1);
    const explained = await vscode.commands.executeCommand<{ action?: string; ruleId?: string | null } | undefined>('agentGate.audit.explain', node(cat.seq));
    assert.equal(explained?.action, 'deny');
    const rule = await vscode.commands.executeCommand<{ ruleId: string; line: number; appliedTo: string[] } | undefined>('agentGate.audit.denyAlways', node(uname.seq), 'exact');
    assert.ok(rule);
    assert.equal(rule.ruleId, 'deny-uname-exact');
    assert.deepEqual(rule.appliedTo, [s.session.id]);
    // The default action decided uname: the rule goes at the end of the file.
    assert.equal(rule.line, policy.split('\n').length + 1);
    fs.writeFileSync(path.join(s.ws, 'go'), '');
    await s.session.wait();
    assert.match(s.out(), /rc=126/);
    const last = items().list().find((i) => i.label === 'uname');
    assert.equal(last?.ruleId, 'deny-uname-exact');
    await vscode.commands.executeCommand('agentGate.audit.openLog', { kind: 'session', session: s.session.id });
    assert.equal(vscode.window.activeTextEditor?.document.uri.fsPath, s.plan.auditPath);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  test('a burst of 10 000 execs: the extension host stays responsive, every exec is recorded, the view shows the final counts', async function () {
    this.timeout(300_000);
    const a = await api();
    const loop = 'for ((i = 0; i < 5000; i++)); do /bin/true; done';
    // Sampled every 1 ms; each figure includes that interval.
    const h = monitorEventLoopDelay({ resolution: 1 });
    const s = await start(a, `${loop} & ${loop} & wait`, POLICY('timeout_ms = 60000\non_timeout = "deny"'));
    h.enable();
    const t0 = process.hrtime.bigint();
    const end = await s.session.wait();
    h.disable();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    assert.equal(end.exitCode, 0);
    const trues = readAuditLog(s.plan.auditPath).filter((x): x is DecisionRecord => x.type === 'decision' && x.exe === '/usr/bin/true');
    assert.equal(trues.length, 10_000, 'every exec has its audit record');
    assert.ok(trues.every((t) => t.verdict === 'allow'));
    const decisions = readAuditLog(s.plan.auditPath).filter((x) => x.type === 'decision').length;
    const counts = await until('the final counts in the view', () => {
      const c = a.feed.session(s.session.id)?.counts;
      return c && c.decisions === decisions ? c : undefined;
    });
    assert.equal(counts.allow, decisions);
    const node = sessionNode(await a.audit.snapshot(2), s);
    assert.match(node.description, new RegExp(`^exit 0 · ${decisions} allowed · 0 denied`));
    assert.match(node.children.at(-1)?.label ?? '', /older items (dropped|not listed)/);
    const ms = (ns: number): string => (ns / 1e6).toFixed(1);
    // Measured, reported, never asserted as wall-clock: docs/performance.md has the figures.
    // Tagged as the suite's report lines are (suite/index.ts), so the runner shows it.
    console.log(
      `${process.env.AGENT_GATE_SUITE_LOG_TAG ?? ''}burst: 10000 execs of /bin/true in ${seconds.toFixed(1)} s (${decisions} decisions in the log); extension-host event-loop delay (1 ms sampling) p50 ${ms(h.percentile(50))} ms, p99 ${ms(h.percentile(99))} ms, max ${ms(h.max)} ms`,
    );
  });
});
