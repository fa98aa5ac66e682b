// Guarded terminals in a real VS Code extension host: the real supervisor under the real kernel, on VS Code's
// own node-pty, driven through the extension's API (what "Run agent in guarded terminal" does without its
// pickers) and typed into through VS Code's terminal.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { AgentGateApi } from '../../../src/extension/api';
import type { PolicyReview } from '../../../src/extension/trust/policy-trust';

const EXTENSION_ID = 'agent-gate.agent-gate';

const TEST_POLICY = `[meta]
version = 1
default_action = "deny"

[[rule]]
id = "test-tools"
action = "allow"
exe_basename = ["bash", "sh", "echo", "cat", "ls", "sleep", "true", "env", "printenv", "id", "dircolors", "lesspipe", "basename", "dirname"]
reason = "what the test shell runs"

[[rule]]
id = "no-curl"
action = "deny"
exe_basename = ["curl"]
reason = "no downloads in the test"

[filesystem]
read_globs = ["/**"]
write_globs = ["\${WORKSPACE}/**"]
`;

async function api(): Promise<AgentGateApi> {
  const ext = vscode.extensions.getExtension<AgentGateApi>(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is not loaded`);
  return ext.activate();
}

function tempFolder(policy: string | null): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-gate-term-'));
  if (policy !== null) fs.writeFileSync(path.join(dir, '.gate.toml'), policy);
  return dir;
}

/** Pids of the processes whose command line is exactly `argv`. */
function processesRunning(argv: string[]): number[] {
  const want = argv.join('\0') + '\0';
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (fs.readFileSync(`/proc/${d}/cmdline`, 'latin1') === want) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

function alive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    // A zombie has exited; only a process that can still run counts.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch {
    return false;
  }
}

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function startShell(a: AgentGateApi, folder: string, extra: { trusted?: boolean } = {}): Promise<string> {
  const r = await a.runAgent({ agent: 'shell', folder, ...extra });
  assert.ok(r.ok, `the guarded shell did not start: ${r.ok ? '' : r.message}`);
  // The shell's prompt: it reads what is typed from now on.
  await a.terminal.waitForOutput(r.sessionId, /[$#] $/m);
  return r.sessionId;
}

async function closeAndWait(a: AgentGateApi, id: string): Promise<void> {
  a.terminal.close(id);
  await a.terminal.ended(id);
}

suite('Guarded terminal', function () {
  this.timeout(60_000);
  const folders: string[] = [];
  const made = (policy: string | null): string => {
    const d = tempFolder(policy);
    folders.push(d);
    return d;
  };
  // This host's profile is under /tmp, which the default policy lets the agent write: the extension then keeps
  // a default-policy session's audit log in the CLI's state directory. Point that outside /tmp too.
  const savedState = process.env.XDG_STATE_HOME;
  let state = '';
  suiteSetup(() => {
    // Not under the checkout: a clone in /tmp (or ~/.cache) is itself inside the default policy's write grants.
    const base = path.join(os.homedir(), '.local', 'state');
    fs.mkdirSync(base, { recursive: true });
    state = fs.mkdtempSync(path.join(base, 'agent-gate-integration-'));
    process.env.XDG_STATE_HOME = state;
  });
  suiteTeardown(() => {
    for (const d of [...folders, state]) if (d) fs.rmSync(d, { recursive: true, force: true });
    if (savedState === undefined) delete process.env.XDG_STATE_HOME;
    else process.env.XDG_STATE_HOME = savedState;
  });

  test('runs a shell under the folder policy, with the banner first', async () => {
    const a = await api();
    const folder = made(TEST_POLICY);
    const id = await startShell(a, folder);
    const out = a.terminal.output(id);
    const first = out.split('\r\n')[0] ?? '';
    assert.match(first, /agent-gate: policy review: first use of/, 'the first line says how the policy was chosen');
    assert.ok(out.includes(`agent-gate: policy: ${path.join(folder, '.gate.toml')}`), out);
    assert.match(out, /agent-gate: kernel: exec gate on · Landlock ABI \d+/);
    const audit = /agent-gate: audit log: (\S+\.jsonl)/.exec(out)?.[1];
    assert.ok(audit, 'the banner names the audit log');
    assert.ok(audit.includes('globalStorage'), `the audit log is in the extension's storage: ${audit}`);
    assert.ok(a.sessions.get(id), 'the session is in the registry');
    a.terminal.sendText(id, 'echo gate-$((6*7))\r');
    await a.terminal.waitForOutput(id, /^gate-42\r?$/m);
    await closeAndWait(a, id);
  });

  test('a denied command prints Permission denied in the terminal', async () => {
    const a = await api();
    const id = await startShell(a, made(TEST_POLICY));
    a.terminal.sendText(id, 'curl --version; echo "status=$?"\r');
    const out = await a.terminal.waitForOutput(id, /status=\d+/);
    assert.match(out, /curl: Permission denied/);
    assert.match(out, /status=126/);
    await closeAndWait(a, id);
  });

  test("the editor's IPC and askpass handles are removed from the agent's environment", async () => {
    const a = await api();
    const saved = { ipc: process.env.VSCODE_IPC_HOOK_CLI, askpass: process.env.GIT_ASKPASS };
    // What a VS Code terminal carries (set here in case this host lacks them): channels out of the gate.
    process.env.VSCODE_IPC_HOOK_CLI ??= path.join(os.tmpdir(), 'vscode-ipc-test.sock');
    process.env.GIT_ASKPASS ??= '/usr/share/code/askpass.sh';
    try {
      const id = await startShell(a, made(TEST_POLICY));
      const banner = a.terminal.output(id);
      assert.match(banner, /removed from the agent's environment: .*VSCODE_IPC_HOOK_CLI/);
      assert.match(banner, /removed from the agent's environment: .*GIT_ASKPASS/);
      a.terminal.sendText(id, 'echo "ipc=[${VSCODE_IPC_HOOK_CLI-absent}] askpass=[${GIT_ASKPASS-absent}]"\r');
      await a.terminal.waitForOutput(id, 'ipc=[absent] askpass=[absent]');
      await closeAndWait(a, id);
    } finally {
      if (saved.ipc === undefined) delete process.env.VSCODE_IPC_HOOK_CLI;
      if (saved.askpass === undefined) delete process.env.GIT_ASKPASS;
    }
  });

  test('closing the terminal leaves no agent, descendant or supervisor behind', async () => {
    const a = await api();
    const id = await startShell(a, made(TEST_POLICY));
    // Two descendants in jobs of their own (other process groups than the shell's).
    a.terminal.sendText(id, 'sleep 4242 & sleep 4343 & echo started-$((1+1))\r');
    await a.terminal.waitForOutput(id, 'started-2');
    await until('both sleeps', () => processesRunning(['sleep', '4242']).length === 1 && processesRunning(['sleep', '4343']).length === 1);
    const { supervisor, agent } = a.terminal.pids(id);
    assert.ok(alive(supervisor) && alive(agent), 'the supervisor and the agent run');
    await closeAndWait(a, id);
    await until('every process of the session to end', () => !alive(supervisor) && !alive(agent) && processesRunning(['sleep', '4242']).length === 0 && processesRunning(['sleep', '4343']).length === 0);
    assert.equal(a.sessions.get(id), undefined, 'the session left the registry');
  });

  test('an untrusted workspace uses the built-in default policy, and the banner says so', async () => {
    const a = await api();
    const folder = made(TEST_POLICY);
    const r = await a.runAgent({ agent: 'shell', folder, trusted: false });
    assert.ok(r.ok, r.ok ? '' : r.message);
    const out = await a.terminal.waitForOutput(r.sessionId, 'audit log:');
    assert.match(out, /agent-gate: policy: built-in default \S+default\.gate\.toml \(the workspace is not trusted, so its \.gate\.toml is not used\)/);
    assert.ok(!out.includes('policy review'), 'an untrusted workspace policy is never read, so never reviewed');
    // The default policy lets the agent write /tmp: a profile there (as here) cannot hold the log.
    if (out.includes("the audit log is not in the extension's storage")) assert.ok(out.includes(`audit log: ${state}/agent-gate/`), out);
    else assert.match(out, /audit log: \S*globalStorage/);
    await closeAndWait(a, r.sessionId);
  });

  test('a .gate.toml written by the agent is put back and offered for review, not used', async () => {
    const a = await api();
    const folder = made(null);
    const id = await startShell(a, folder);
    const offered = new Promise<PolicyReview>((resolve) => {
      const sub = a.trust.onDidRequestReview((r) => {
        if (r.kind === 'agent-wrote') {
          sub.dispose();
          resolve(r);
        }
      });
    });
    let reviews = 0;
    const counting = a.trust.onDidRequestReview((r) => void (r.kind === 'agent-wrote' && reviews++));
    let changes = 0;
    a.sessions.get(id)?.session.on('protectedChange', () => changes++);
    a.terminal.sendText(id, `printf '[meta]\\nversion = 1\\ndefault_action = "allow"\\n' > .gate.toml; echo wrote-$((2+3))\r`);
    await a.terminal.waitForOutput(id, 'wrote-5');
    const review = await offered;
    assert.equal(review.file, path.join(folder, '.gate.toml'));
    assert.equal(review.session, id);
    assert.match(review.diff, /^\+default_action = "allow"$/m);
    await until('the agent-written file to be put back', () => !fs.existsSync(path.join(folder, '.gate.toml')));
    // The agent writes it again and again while the review is up: put back each time, one review (R55).
    a.terminal.sendText(id, `for i in 1 2 3 4 5; do printf 'x'$i > .gate.toml; sleep 0.4; done; echo flood-$((1+1))\r`);
    await a.terminal.waitForOutput(id, 'flood-2');
    await until('the later writes to be seen by the guard', () => changes >= 3);
    await until('the last write to be put back', () => !fs.existsSync(path.join(folder, '.gate.toml')));
    counting.dispose();
    assert.equal(reviews, 1, 'one review while one is open');
    review.answer('reject');
    await closeAndWait(a, id);
    // The next session runs as if it never was.
    const next = await a.runAgent({ agent: 'shell', folder });
    assert.ok(next.ok, next.ok ? '' : next.message);
    const out = await a.terminal.waitForOutput(next.sessionId, 'audit log:');
    assert.match(out, /policy: built-in default .* \(no \.gate\.toml in /);
    await closeAndWait(a, next.sessionId);
  });

  test('a .gate.toml changed outside the editor is shown as a diff before a session uses it', async () => {
    const a = await api();
    const folder = made(TEST_POLICY);
    // The first session accepts it (first use in a trusted workspace).
    const first = await startShell(a, folder);
    await closeAndWait(a, first);
    // Then something else changes it (a git pull, another editor, an agent run elsewhere).
    fs.writeFileSync(path.join(folder, '.gate.toml'), TEST_POLICY.replace('exe_basename = ["curl"]', 'exe_basename = ["wget"]'));
    const asked = new Promise<PolicyReview>((resolve) => {
      const sub = a.trust.onDidRequestReview((r) => {
        sub.dispose();
        resolve(r);
      });
    });
    const started = a.runAgent({ agent: 'shell', folder });
    const review = await asked;
    assert.equal(review.kind, 'changed-on-disk');
    assert.match(review.diff, /^-exe_basename = \["curl"\]$/m);
    assert.match(review.diff, /^\+exe_basename = \["wget"\]$/m);
    review.answer('reject');
    const r = await started;
    assert.ok(r.ok, r.ok ? '' : r.message);
    await a.terminal.waitForOutput(r.sessionId, /[$#] $/m);
    assert.match(a.terminal.output(r.sessionId), /you rejected the change: this session uses the version you last accepted/);
    // The accepted version is the one in force: curl is still denied by rule no-curl.
    a.terminal.sendText(r.sessionId, 'curl --version; echo "status=$?"\r');
    await a.terminal.waitForOutput(r.sessionId, /curl: Permission denied/);
    await closeAndWait(a, r.sessionId);
  });

  test('Ctrl-C reaches the agent, and the exit status is shown when it exits', async () => {
    const a = await api();
    const id = await startShell(a, made(TEST_POLICY));
    a.terminal.sendText(id, 'sleep 31.5\r');
    await until('the sleep', () => processesRunning(['sleep', '31.5']).length > 0);
    a.terminal.sendText(id, '\x03');
    await until('the sleep to end', () => processesRunning(['sleep', '31.5']).length === 0);
    // bash reports a foreground job killed by SIGINT as 130.
    a.terminal.sendText(id, 'echo "after=$?"\r');
    await a.terminal.waitForOutput(id, /^after=130\r?$/m);
    a.terminal.sendText(id, 'exit 7\r');
    const end = await a.terminal.ended(id);
    assert.equal(end.exitCode, 7);
    assert.match(a.terminal.output(id), /agent-gate: the agent ended \(exit status 7\); press any key to close this terminal/);
    assert.equal(a.sessions.get(id), undefined);
    a.terminal.close(id);
  });

  test('a policy saved in the editor is the user\'s: not reviewed, not put back, applied to the running session', async () => {
    const a = await api();
    const folder = made(TEST_POLICY);
    const file = path.join(folder, '.gate.toml');
    const id = await startShell(a, folder);
    a.terminal.sendText(id, 'id >/dev/null; echo "before=$?"\r');
    await a.terminal.waitForOutput(id, /^before=0\r?$/m);
    let reviewed = false;
    const sub = a.trust.onDidRequestReview(() => (reviewed = true));
    try {
      const doc = await vscode.workspace.openTextDocument(file);
      const editor = await vscode.window.showTextDocument(doc);
      // id is no longer among the allowed tools: the default (deny) decides it.
      const from = '"printenv", "id", ';
      const at = doc.getText().indexOf(from);
      assert.ok(at > 0);
      await editor.edit((e) => e.replace(new vscode.Range(doc.positionAt(at), doc.positionAt(at + from.length)), '"printenv", '));
      assert.ok(await doc.save(), 'saved');
      const text = doc.getText();
      // Not put back by the session's workspace guard: the user wrote it.
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(fs.readFileSync(file, 'utf8'), text);
      // What the "Apply to 1 running session" button does.
      const applied = a.trust.applySaved(file, text);
      assert.deepEqual(applied, [{ session: id, result: null }]);
      a.terminal.sendText(id, 'id >/dev/null; echo "after=$?"\r');
      await a.terminal.waitForOutput(id, /^after=126\r?$/m);
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
      await closeAndWait(a, id);
      // The next session uses it without a review.
      const next = await startShell(a, folder);
      assert.ok(!a.terminal.output(next).includes('policy review'), a.terminal.output(next));
      await closeAndWait(a, next);
      assert.equal(reviewed, false, 'no review was asked for the user\'s own edit');
    } finally {
      sub.dispose();
    }
  });

  test('a missing agent is named, with how to install it', async () => {
    const a = await api();
    const r = await a.runAgent({ agent: 'agent-gate-no-such-agent', folder: made(TEST_POLICY) });
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.reason === 'not-installed');
    assert.match(!r.ok ? r.message : '', /agent-gate-no-such-agent is not on PATH/);
    const claude = a.terminal.agents().find((x) => x.agent.id === 'claude');
    assert.ok(claude, 'Claude Code is in the catalogue');
    if (!claude.resolved) assert.match(claude.agent.install, /@anthropic-ai\/claude-code/);
  });
});
