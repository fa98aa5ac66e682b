// The policy editor in a real extension host: diagnostics on the corpus `agent-gate check` is tested on
// (compared with check's live output), completion in whole and half-typed text, every quick fix applied and
// re-validated, hover, explain (compared with `agent-gate explain`), create policy, code lens hit counts
// from a real gated session's audit log, and "Compare with the policy in force" against a running session.
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';

const EXTENSION_ID = 'agent-gate.agent-gate';

function root(): string {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is not loaded`);
  return ext.extensionPath;
}

const corpusDir = (): string => path.join(root(), 'test', 'fixtures', 'policies');
const cli = (args: string[], env: NodeJS.ProcessEnv = process.env) => spawnSync(process.execPath, [path.join(root(), 'dist', 'cli.js'), ...args], { encoding: 'utf8', env });

/** Our problems for a document, as "line:col-endLine:endCol severity code" (1-based, as expected.json). */
function ours(uri: vscode.Uri): vscode.Diagnostic[] {
  return vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'Agent Gate');
}
function entry(d: vscode.Diagnostic): string {
  const sev = d.severity === vscode.DiagnosticSeverity.Error ? 'error' : 'warning';
  return `${d.range.start.line + 1}:${d.range.start.character + 1}-${d.range.end.line + 1}:${d.range.end.character + 1} ${sev} ${typeof d.code === 'object' ? String(d.code.value) : String(d.code)}`;
}

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let tmp: string;
function scratch(name: string, text: string): vscode.Uri {
  const dir = fs.mkdtempSync(path.join(tmp, 'ws-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return vscode.Uri.file(file);
}

async function typeAt(doc: vscode.TextDocument, text: string): Promise<vscode.Position> {
  // Replace the whole text, leaving the cursor where `|` was.
  const offset = text.indexOf('|');
  const clean = text.slice(0, offset) + text.slice(offset + 1);
  const edit = new vscode.WorkspaceEdit();
  edit.replace(doc.uri, new vscode.Range(0, 0, doc.lineCount, 0), clean);
  assert.ok(await vscode.workspace.applyEdit(edit));
  return doc.positionAt(offset);
}

async function labelsAt(doc: vscode.TextDocument, text: string): Promise<vscode.CompletionItem[]> {
  const pos = await typeAt(doc, text);
  const list = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', doc.uri, pos);
  return list.items;
}
const label = (c: vscode.CompletionItem): string => (typeof c.label === 'string' ? c.label : c.label.label);

suite('Policy editor', () => {
  suiteSetup(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-gate-editor-'));
    await vscode.extensions.getExtension(EXTENSION_ID)?.activate();
  });
  suiteTeardown(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('a .gate.toml is language toml, highlighted by the bundled grammar, with no TOML extension installed', async () => {
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(path.join(corpusDir(), 'clean.gate.toml')));
    assert.equal(doc.languageId, 'toml');
    const others = vscode.extensions.all.filter((e) => !e.id.startsWith('vscode.') && e.id !== EXTENSION_ID && JSON.stringify((e.packageJSON as { contributes?: unknown }).contributes ?? {}).includes('"toml"'));
    assert.deepEqual(others.map((e) => e.id), [], 'another TOML extension is loaded');
    const grammars = (vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as { contributes: { grammars: { path: string; scopeName: string }[] } }).contributes.grammars;
    assert.equal(grammars[0]?.scopeName, 'source.toml');
    const grammar = JSON.parse(fs.readFileSync(path.join(root(), grammars[0].path), 'utf8')) as { scopeName: string };
    assert.equal(grammar.scopeName, 'source.toml');
  });

  test('diagnostics appear on open, follow edits (debounced) and are cleared on close', async () => {
    const uri = scratch('.gate.toml', '[meta]\nversion = 1\n');
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(ours(uri), []);
    await typeAt(doc, '[meta]\nversion = 1\ndefault_acton = "ask"|\n');
    const found = await until('the unknown-key diagnostic', () => ours(uri).length > 0 && ours(uri));
    assert.deepEqual(found.map(entry), ['3:1-3:14 error unknown-key']);
    assert.match(found[0]!.message, /did you mean 'default_action'\?/);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    await until('the diagnostics to be cleared on close', () => ours(uri).length === 0);
  });

  test('every corpus file: the same diagnostics, with positions, as `agent-gate check` prints', async () => {
    const expected = JSON.parse(fs.readFileSync(path.join(corpusDir(), 'expected.json'), 'utf8')) as Record<string, string[]>;
    const files = fs.readdirSync(corpusDir()).filter((f) => f.endsWith('.gate.toml')).sort();
    assert.deepEqual(files, Object.keys(expected).sort());
    for (const f of files) {
      const uri = vscode.Uri.file(path.join(corpusDir(), f));
      const doc = await vscode.workspace.openTextDocument(uri);
      const checked = (await vscode.commands.executeCommand<vscode.Diagnostic[]>('agentGate.policy.recheck', doc.uri)) ?? [];
      assert.deepEqual(ours(uri).map(entry), expected[f], f);
      assert.equal(checked.length, ours(uri).length, f);
      // The CLI, run now, on the same file: same positions, severities, codes and messages.
      // The editor's ${WORKSPACE} for a file outside the workspace folders is its directory; `check` takes it
      // from --workspace (default: the current directory, as `run`).
      const r = cli(['check', '--json', '--policy', uri.fsPath, '--workspace', path.dirname(uri.fsPath)]);
      const json = JSON.parse(r.stdout) as { diagnostics: { line: number; column: number; endLine?: number; endColumn?: number; severity: string; code: string; message: string }[] };
      assert.deepEqual(
        ours(uri).map((d) => [entry(d), d.message]),
        json.diagnostics.map((d) => [`${d.line}:${d.column}-${d.endLine ?? d.line}:${d.endColumn ?? d.column + 1} ${d.severity} ${d.code}`, d.message]),
        `${f}: editor and agent-gate check differ`,
      );
    }
  });

  test('${WORKSPACE} is the workspace folder for a policy inside it, as `agent-gate check` run there says', async () => {
    const folder = vscode.workspace.workspaceFolders![0]!.uri.fsPath;
    const dir = fs.mkdtempSync(path.join(folder, '.editor-test-'));
    try {
      const file = path.join(dir, 'sub.gate.toml');
      fs.writeFileSync(file, '[filesystem]\nread_globs = ["/**"]\nwrite_globs = ["${WORKSPACE}/**"]\n\n[[rule]]\nid = "ws-tools"\naction = "allow"\nexe_glob = "${WORKSPACE}/**"\n');
      const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
      await vscode.commands.executeCommand('agentGate.policy.recheck', doc.uri);
      const messages = ours(doc.uri).map((d) => d.message);
      assert.equal(messages.length, 1, messages.join('\n'));
      assert.match(messages[0]!, new RegExp(`exe_glob "${folder.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/\\*\\*" covers ${folder.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')},`));
      const r = spawnSync(process.execPath, [path.join(root(), 'dist', 'cli.js'), 'check', '--json', '--policy', file], { cwd: folder, encoding: 'utf8' });
      assert.deepEqual((JSON.parse(r.stdout) as { diagnostics: { message: string }[] }).diagnostics.map((d) => d.message), messages);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('completion: sections, keys with docs, enum values and snippets, also in half-typed text', async () => {
    const uri = scratch('ci.gate.toml', '');
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);

    const top = await labelsAt(doc, '|');
    assert.ok(top.some((c) => label(c) === '[[rule]]' && c.kind === vscode.CompletionItemKind.Snippet), 'no [[rule]] snippet');
    const fsSnippet = top.find((c) => label(c) === '[filesystem]');
    assert.ok(fsSnippet && (fsSnippet.insertText as vscode.SnippetString).value.startsWith('[filesystem]\nread_globs'));

    const header = await labelsAt(doc, '[meta]\nversion = 1\n[[ru|');
    assert.deepEqual(header.map(label), ['rule']);

    const keys = await labelsAt(doc, '[[rule]]\nid = "x"\nact|');
    const action = keys.find((c) => label(c) === 'action');
    assert.ok(action, 'no action key');
    assert.equal(action.kind, vscode.CompletionItemKind.Property);
    assert.match((action.documentation as vscode.MarkdownString).value, /What happens to an exec this rule matches/);
    assert.ok(!keys.some((c) => label(c) === 'id'), 'id is already there');
    assert.ok(keys.some((c) => label(c) === 'exe_basename_not'));

    const values = await labelsAt(doc, '[[rule]]\nid = "x"\naction = "|');
    assert.deepEqual(values.map(label), ['allow', 'deny', 'ask']);
    // Below a line that does not parse, in the next table.
    const broken = await labelsAt(doc, '[meta]\ndefault_action = "deny\n\n[approval]\non_t|');
    assert.ok(broken.some((c) => label(c) === 'on_timeout'));
    assert.ok(!broken.some((c) => label(c) === 'default_action'), 'keys of [meta] offered in [approval]');
    const enumUnquoted = await labelsAt(doc, '[approval]\non_timeout = |');
    assert.deepEqual(enumUnquoted.map((c) => (c.insertText as vscode.SnippetString).value), ['"allow"', '"deny"']);
  });

  test('hover: a key, a section and an enum value', async () => {
    const uri = scratch('hover.gate.toml', '[approval]\nmax_pending = 5\n\n[[rule]]\nid = "a"\naction = "deny"\n');
    const hover = async (line: number, character: number): Promise<string> => {
      const hs = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', uri, new vscode.Position(line, character));
      return hs.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
    };
    await vscode.workspace.openTextDocument(uri);
    assert.match(await hover(1, 3), /\*\*max_pending\*\* — an integer · 1–10000 · default `5`/);
    assert.match(await hover(1, 3), /Requests waiting at once/);
    assert.match(await hover(0, 3), /\*\*\[approval\]\*\*/);
    assert.match(await hover(5, 11), /`deny` — The exec fails with EACCES/);
    assert.match(await hover(4, 6), /\*\*rule\*\* `a` — no recent sessions with this policy/);
  });

  test('every quick fix of the fix corpus, applied from the code action, leaves a clean policy', async () => {
    const fixFiles = fs.readdirSync(corpusDir()).filter((f) => f.startsWith('fix-'));
    let applied = 0;
    for (const f of fixFiles) {
      const original = fs.readFileSync(path.join(corpusDir(), f), 'utf8');
      const first = scratch(f, original);
      const doc0 = await vscode.workspace.openTextDocument(first);
      await vscode.commands.executeCommand('agentGate.policy.recheck', doc0.uri);
      const [diag] = ours(first);
      assert.ok(diag, `${f}: no diagnostic`);
      const titles = (await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', first, diag.range, vscode.CodeActionKind.QuickFix.value)).map((a) => a.title);
      assert.ok(titles.length > 0, `${f}: no quick fix`);
      for (const title of titles) {
        const uri = scratch(f, original);
        const doc = await vscode.workspace.openTextDocument(uri);
        await vscode.window.showTextDocument(doc);
        await vscode.commands.executeCommand('agentGate.policy.recheck', uri);
        const d = ours(uri)[0]!;
        const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', uri, d.range, vscode.CodeActionKind.QuickFix.value);
        const action = actions.find((a) => a.title === title);
        assert.ok(action?.edit, `${f}: ${title}: no edit`);
        assert.ok(await vscode.workspace.applyEdit(action.edit));
        assert.equal(action.command?.command, 'agentGate.policy.recheck');
        await vscode.commands.executeCommand(action.command.command, ...((action.command.arguments ?? []) as unknown[]));
        assert.deepEqual(ours(uri).map(entry), [], `${f}: "${title}" left problems:\n${doc.getText()}`);
        // And `agent-gate check` agrees once saved.
        await doc.save();
        // Accepted for `run` first, so check prints only diagnostics (else a note that run would ask first).
        assert.equal(cli(['policy', 'accept', uri.fsPath]).status, 0);
        const r = cli(['check', '--policy', uri.fsPath, '--workspace', path.dirname(uri.fsPath)]);
        assert.equal(r.status, 0, `${f}: "${title}": check says\n${r.stderr}`);
        assert.equal(r.stderr, '');
        applied++;
        await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
      }
    }
    assert.ok(applied >= 8, `only ${applied} fixes applied`);
  });

  test('Explain command against policy: the verdict, deciding rule and reason `agent-gate explain` gives', async () => {
    const policy = vscode.Uri.file(path.join(root(), 'policies', 'default.gate.toml'));
    const result = await vscode.commands.executeCommand<{ action: string; ruleId: string | null; reason: string; exe: string | null; ruleLine: number | null; text: string }>('agentGate.explainCommand', 'git push origin main', policy);
    const r = cli(['explain', '--json', '--policy', policy.fsPath, '--cwd', path.dirname(policy.fsPath), '--workspace', path.dirname(policy.fsPath), '--', 'git', 'push', 'origin', 'main']);
    const json = JSON.parse(r.stdout) as { action: string; rule_id: string; reason: string; exe: string; rule_line: number };
    assert.deepEqual([result.action, result.ruleId, result.reason, result.exe, result.ruleLine], [json.action, json.rule_id, json.reason, json.exe, json.rule_line]);
    assert.equal(result.action, 'ask');
    assert.match(result.text, /decided by: rule 'ask-git-push'/);
    const lines = fs.readFileSync(policy.fsPath, 'utf8').split('\n');
    assert.match(lines[(result.ruleLine ?? 0) - 1] ?? '', /^\[\[rule\]\]/);
    assert.match(lines[result.ruleLine ?? 0] ?? '', /id = "ask-git-push"/);
    // The editor's unsaved text is what is explained.
    const uri = scratch('.gate.toml', '[meta]\ndefault_action = "deny"\n');
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);
    await typeAt(doc, '[meta]\ndefault_action = "deny"\n\n[[rule]]\nid = "ok-ls"\naction = "allow"\nexe_basename = "ls"\n|');
    const unsaved = await vscode.commands.executeCommand<{ action: string; ruleId: string | null }>('agentGate.explainCommand', 'ls -la');
    assert.deepEqual([unsaved.action, unsaved.ruleId], ['allow', 'ok-ls']);
  });

  test('Create policy writes the chosen preset as .gate.toml and opens it', async () => {
    const folder = vscode.Uri.file(fs.mkdtempSync(path.join(tmp, 'new-')));
    const created = await vscode.commands.executeCommand<vscode.Uri>('agentGate.createPolicy', 'strict', folder);
    assert.equal(created.fsPath, path.join(folder.fsPath, '.gate.toml'));
    assert.equal(fs.readFileSync(created.fsPath, 'utf8'), fs.readFileSync(path.join(root(), 'policies', 'strict.gate.toml'), 'utf8'));
    assert.equal(vscode.window.activeTextEditor?.document.uri.fsPath, created.fsPath);
    // An existing policy is not replaced unless asked.
    fs.writeFileSync(created.fsPath, '# mine\n');
    await vscode.commands.executeCommand('agentGate.createPolicy', 'permissive', folder, false);
    assert.equal(fs.readFileSync(created.fsPath, 'utf8'), '# mine\n');
  });

  test('the schema is contributed to Even Better TOML and Tombi with an absolute URL to the bundled file', () => {
    // What those extensions read: every extension's manifest, through vscode.extensions.all.
    const ours = vscode.extensions.all.find((e) => e.id === EXTENSION_ID)!;
    const entries = (ours.packageJSON as { contributes: { tomlValidation: { fileMatch: string[]; url: string }[] } }).contributes.tomlValidation;
    assert.deepEqual(entries.map((e) => e.fileMatch), [['.gate.toml', '*.gate.toml']]);
    const url = vscode.Uri.parse(entries[0]!.url);
    assert.equal(url.scheme, 'file');
    assert.equal(fs.readFileSync(url.fsPath, 'utf8'), fs.readFileSync(path.join(root(), 'policies', 'gate.schema.json'), 'utf8'));
  });

  test('code lens: hit counts from a real gated session, and "Explain a command…"', async function () {
    this.timeout(90_000);
    // The extension reads the CLI's logs under $XDG_STATE_HOME/agent-gate: point it at a fresh one.
    const state = fs.mkdtempSync(path.join(tmp, 'state-'));
    process.env.XDG_STATE_HOME = state;
    const uri = scratch('.gate.toml', '[meta]\ndefault_action = "deny"\n\n[[rule]]\nid = "shells"\naction = "allow"\nexe_basename = ["sh", "dash"]\n\n[[rule]]\nid = "listing"\naction = "allow"\nexe_basename = "ls"\n\n[[rule]]\nid = "no-curl"\naction = "deny"\nexe_basename = "curl"\n\n[filesystem]\nread_globs = ["/**"]\nwrite_globs = ["${WORKSPACE}/**"]\n');
    // The session's workspace is the scratch folder (run's ${WORKSPACE} is --workspace, else the cwd).
    const run = cli(['run', '--policy', uri.fsPath, '--workspace', path.dirname(uri.fsPath), '--accept-policy', '--', '/bin/sh', '-c', 'ls / >/dev/null; ls / >/dev/null; curl --version >/dev/null 2>&1; true'], { ...process.env, XDG_STATE_HOME: state });
    assert.equal(run.status, 0, `agent-gate run failed:\n${run.stderr}`);
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);
    const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri);
    const titles = lenses.map((l) => `${l.range.start.line + 1} ${l.command?.title ?? ''}`);
    assert.ok(titles.includes('9 $(pulse) 2 decisions in 1 recent session (2 allowed, 0 denied)'), titles.join('\n'));
    assert.ok(titles.some((t) => /^14 \$\(pulse\) \d+ decisions? in 1 recent session \(0 allowed, \d+ denied\)$/.test(t)), titles.join('\n'));
    assert.ok(titles.includes('4 $(debug-alt) Explain a command…'), titles.join('\n'));
    // Hover on the rule's id: the same count.
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', uri, new vscode.Position(9, 7));
    const hoverText = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
    assert.match(hoverText, /\*\*rule\*\* `listing` — 2 decisions in 1 recent session \(2 allowed, 0 denied\); last \d{4}-/);
    const explain = lenses.find((l) => l.command?.command === 'agentGate.explainCommand')!;
    const result = await vscode.commands.executeCommand<{ action: string; ruleId: string }>(explain.command!.command, 'curl https://example.com', ...((explain.command!.arguments ?? []) as unknown[]).slice(1));
    assert.deepEqual([result.action, result.ruleId], ['deny', 'no-curl']);
  });

  test('Compare with the policy in force: the running session\'s text against the edited one', async function () {
    this.timeout(90_000);
    const state = fs.mkdtempSync(path.join(tmp, 'state-'));
    process.env.XDG_STATE_HOME = state;
    const original = '[meta]\ndefault_action = "deny"\n\n[[rule]]\nid = "shells"\naction = "allow"\nexe_basename = ["sh", "dash", "sleep"]\n\n[filesystem]\nread_globs = ["/**"]\nwrite_globs = ["${WORKSPACE}/**"]\n';
    const uri = scratch('.gate.toml', original);
    const session = spawn(process.execPath, [path.join(root(), 'dist', 'cli.js'), 'run', '--policy', uri.fsPath, '--workspace', path.dirname(uri.fsPath), '--accept-policy', '--', '/bin/sh', '-c', 'sleep 60'], { env: { ...process.env, XDG_STATE_HOME: state }, detached: true, stdio: 'ignore' });
    try {
      // The session is running once its start record and snapshot are written.
      let exited: number | null = null;
      session.on('exit', (code) => (exited = code ?? -1));
      await until('the session to start', () => {
        if (exited !== null) throw new Error(`agent-gate run exited ${exited} before its session started`);
        return fs.existsSync(path.join(state, 'agent-gate')) && fs.readdirSync(path.join(state, 'agent-gate')).some((n) => n.startsWith('policy-'));
      }, 30_000);
      fs.writeFileSync(uri.fsPath, original.replace('"deny"', '"ask"')); // edited on disk since
      const doc = await vscode.workspace.openTextDocument(uri);
      await vscode.window.showTextDocument(doc);
      const inForce = await vscode.commands.executeCommand<{ text: string; policyFile: string; source: string }>('agentGate.comparePolicyInForce', uri);
      assert.equal(inForce.text, original);
      assert.equal(inForce.policyFile, uri.fsPath);
      assert.equal(inForce.source, 'audit-log');
      const tab = vscode.window.tabGroups.activeTabGroup.activeTab;
      assert.ok(tab?.input instanceof vscode.TabInputTextDiff, 'no diff editor');
      assert.equal(tab.input.modified.fsPath, uri.fsPath);
      assert.equal(tab.input.original.scheme, 'agent-gate-policy-in-force');
      assert.equal((await vscode.workspace.openTextDocument(tab.input.original)).getText(), original);
    } finally {
      try {
        if (session.pid) process.kill(-session.pid, 'SIGTERM');
      } catch {
        // it already ended (then the test failed above and says why)
      }
    }
  });
});
