// Runs inside a real VS Code extension host (desktop VS Code, or code-server's via the shim).
import * as assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as vscode from 'vscode';

const EXTENSION_ID = 'agent-gate.agent-gate';

interface Contributes {
  commands?: { command: string; title: string }[];
  viewsContainers?: { activitybar?: { id: string; title: string }[] };
  views?: Record<string, { id: string; name: string }[]>;
}

function extension(): vscode.Extension<unknown> {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is not loaded`);
  return ext;
}

suite('Agent Gate extension', () => {
  test('activates', async () => {
    const ext = extension();
    await ext.activate();
    assert.equal(ext.isActive, true);
  });

  test('registers agentGate.runAgent and runs it', async () => {
    await extension().activate();
    const commands = await vscode.commands.getCommands(true);
    assert.ok(commands.includes('agentGate.runAgent'), 'agentGate.runAgent is not registered');
    // With arguments it runs without the pickers; an agent that is not installed is refused, in words.
    const result = await vscode.commands.executeCommand<{ ok: boolean; reason?: string; message?: string }>('agentGate.runAgent', { agent: 'agent-gate-not-installed', folder: path.join(__dirname) });
    assert.equal(result.ok, false);
    assert.equal(result.reason, 'not-installed');
    assert.match(result.message ?? '', /agent-gate-not-installed is not on PATH/);
  });

  test('contributes the Agent Gate view container and the audit view', async () => {
    const contributes = (extension().packageJSON as { contributes: Contributes }).contributes;
    assert.deepEqual(
      contributes.viewsContainers?.activitybar?.map((c) => c.id),
      ['agentGate'],
    );
    assert.ok(contributes.views?.['agentGate']?.some((v) => v.id === 'agentGate.audit'), 'agentGate.audit view is not contributed');
    // The workbench turns a contributed container into a command and a view into a focus command.
    const commands = await vscode.commands.getCommands(true);
    assert.ok(commands.includes('workbench.view.extension.agentGate'), 'the view container was not registered by the workbench');
    assert.ok(commands.includes('agentGate.audit.focus'), 'the audit view was not registered by the workbench');
    await vscode.commands.executeCommand('workbench.view.extension.agentGate');
  });

  test('opens the sample workspace with its .gate.toml', async () => {
    const folders = vscode.workspace.workspaceFolders ?? [];
    assert.equal(folders.length, 1, 'expected exactly one workspace folder');
    assert.equal(path.basename(folders[0]!.uri.fsPath), 'sample-workspace');
    const policies = await vscode.workspace.findFiles('.gate.toml');
    assert.equal(policies.length, 1, 'the sample workspace has no .gate.toml');
    const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(policies[0]!));
    assert.match(text, /^\[meta\]/m);
  });

  test("loads VS Code's node-pty and spawns a process through it", async () => {
    const ptyPath = path.join(vscode.env.appRoot, 'node_modules', 'node-pty');
    const pty = createRequire(__filename)(ptyPath) as typeof import('node-pty');
    const proc = pty.spawn('/bin/echo', ['hi'], { name: 'xterm-256color', cols: 80, rows: 24, cwd: '/', env: { PATH: '/usr/bin:/bin' } });
    let output = '';
    proc.onData((d) => (output += d));
    const exit = await new Promise<{ exitCode: number; signal?: number }>((resolve) => proc.onExit(resolve));
    assert.equal(exit.exitCode, 0);
    assert.match(output, /^hi\r?\n?/m);
  });
});
