// UI test of the guarded terminal from the installed VSIX, driven like a user in Chromium on code-server:
// "Run agent in guarded terminal" from the command palette, pick the shell, type a command the sample policy
// denies (curl: `Permission denied` in the terminal), one it asks about (git push: the real notification,
// **Allow once**), see both verdicts in the Agent Gate audit tree (newest first, then as the process tree:
// both under the shell), answer the next ask with **Always allow…**
// and find the rule in .gate.toml; a directory named like a command link stays text in the notification
// (R112); then close the terminal and find no process of the session left.
// Screenshots of each step go to test/artifacts/guarded-*.png; the README shows media/guarded-terminal.png
// (copied by hand from guarded-ask.png) and media/guarded-always-allow.png (from guarded-always-rule.png).
// Needs dist/agent-gate-linux-x64.vsix: `npm run test:vsix` packages first.
//
// Each run works on its own copy of examples/sample-workspace, with a HOME of its own (whatever the user's
// ~/.bashrc runs stays out of the test, and the shell's history lands in the run), all in a directory outside
// /tmp: the sample policy lets the agent write /tmp/**, and the gate refuses to start when the audit log
// (in the extension's storage, under the profile) is inside a write grant.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { launchBrowser } from '../../scripts/lib/browser.mjs';
import { codeServerCli, startCodeServer, workbenchUrl } from '../../scripts/lib/code-server.mjs';
import { repoRoot, sampleWorkspace } from '../../scripts/lib/paths.mjs';
import { isProvisioned } from '../../scripts/lib/provision.mjs';
import {
  clearTerminal,
  clickNotificationButton,
  notification,
  openViewContainer,
  pickQuickPickItem,
  quickPickRow,
  runFromPalette,
  screenshot,
  startFromPalette,
  terminalText,
  treeRow,
  treeRows,
  typeInTerminal,
  unwrapped,
  waitForStatusBar,
  waitForTerminalText,
  waitForWorkbench,
} from '../ui/workbench.mjs';

const VSIX = join(repoRoot, 'dist', 'agent-gate-linux-x64.vsix');
const RUNS = process.env.AGENT_GATE_UI_RUNS ?? join(homedir(), '.cache', 'agent-gate-ui-tests');

/** Processes whose cwd or command line is inside `dir`, outside process group `pgid` (code-server's own: its
 * language servers run in the workspace too). A guarded session runs on a pty in a session of its own, so
 * its shell, supervisor and their children are found here. */
function processesIn(dir, pgid) {
  const found = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pgid) continue;
      const cwd = readlinkSync(`/proc/${name}/cwd`);
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (cwd === dir || cwd.startsWith(`${dir}/`) || cmd.includes(dir)) found.push({ pid: Number(name), cwd, cmd });
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

describe('guarded terminal from the installed VSIX', () => {
  let run;
  let workspace;
  let server;
  let browser;
  let page;
  const policyFile = () => join(workspace, '.gate.toml');

  before(async () => {
    assert.ok(isProvisioned(), 'code-server/Chromium are not provisioned: run `npm run provision`');
    assert.ok(existsSync(VSIX), `${VSIX} is missing: run \`npm run package\``);
    mkdirSync(RUNS, { recursive: true });
    run = mkdtempSync(join(RUNS, 'run-'));
    workspace = join(run, 'sample-workspace');
    cpSync(sampleWorkspace, workspace, { recursive: true });
    // A repository with no remote: `git push` fails at once with a message of its own once it may run.
    const git = spawnSync('git', ['init', '-q'], { cwd: workspace, encoding: 'utf8' });
    assert.equal(git.status, 0, `git init: ${git.stderr}`);
    const home = join(run, 'home');
    mkdirSync(home);
    // A short prompt: fewer wrapped rows, readable screenshots.
    writeFileSync(join(home, '.bashrc'), "PS1='\\W \\$ '\n");
    const profileDir = join(run, 'profile');
    const extensionsDir = join(profileDir, 'extensions');
    const env = { HOME: home, XDG_CACHE_HOME: join(home, '.cache'), XDG_STATE_HOME: join(home, '.local', 'state') };
    const r = codeServerCli(['--install-extension', VSIX, '--extensions-dir', extensionsDir, '--user-data-dir', join(profileDir, 'user-data')], {
      env: { ...process.env, ...env, XDG_CONFIG_HOME: join(profileDir, 'config'), EXTENSIONS_GALLERY: '{}' },
    });
    assert.equal(r.status, 0, `install failed:\n${r.stdout}\n${r.stderr}`);
    // No secondary side bar: the terminal gets the width (fewer wrapped rows, clearer screenshots).
    server = await startCodeServer({ profileDir, extensionsDir, gallery: false, env, settings: { 'workbench.secondarySideBar.defaultVisibility': 'hidden' } });
    browser = await launchBrowser();
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await page.goto(workbenchUrl(server, { folder: workspace }));
    await waitForWorkbench(page);
  }, { timeout: 180_000 });

  after(async () => {
    await browser?.close();
    await server?.stop();
    // The test started these: whatever the session left behind after the server's process group ended is
    // ended here too (the last test fails when anything was left while the editor still ran).
    if (run) {
      for (const p of processesIn(run, -1)) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      // AGENT_GATE_UI_KEEP=1 keeps the run (workspace, profile with the extension's logs) to look at.
      if (process.env.AGENT_GATE_UI_KEEP === '1') console.log(`kept ${run}`);
      else rmSync(run, { recursive: true, force: true, maxRetries: 3 });
    }
  });

  async function step(name, fn) {
    try {
      await fn();
    } catch (e) {
      await screenshot(page, `${name}-failure`).catch(() => {});
      throw e;
    }
  }

  test('"Run agent in guarded terminal" offers the agents; the shell opens a guarded terminal that says what is enforced', { timeout: 120_000 }, async (t) => {
    await step('guarded-pick', async () => {
      await startFromPalette(page, 'Agent Gate: Run agent in guarded terminal', 60_000);
      await quickPickRow(page, 'Shell (').waitFor({ state: 'visible', timeout: 30_000 });
      const rows = await page.locator('.quick-input-widget .quick-input-list .monaco-list-row').allInnerTexts();
      // Claude Code is not installed on the test machine's PATH, so it is listed and marked so.
      const claude = rows.find((r) => /Claude Code/.test(r));
      assert.ok(claude, `no Claude Code in the quick pick: ${JSON.stringify(rows)}`);
      assert.match(claude, /not on PATH|not found|not installed/i);
      t.diagnostic(`screenshot: ${await screenshot(page, 'guarded-pick')}`);
      await pickQuickPickItem(page, 'Shell (');
      // The shell's prompt, after the banner.
      await waitForTerminalText(page, /[$#]$/, 60_000);
      // Room for the terminal, and the Agent Gate view beside it (for the screenshots).
      await runFromPalette(page, 'View: Toggle Maximized Panel', 30_000);
      await openViewContainer(page, 'Agent Gate');
      // The banner is the top of the terminal: what is in force, enforced and removed, and where the log is.
      await runFromPalette(page, 'Terminal: Scroll to Top', 30_000);
      const banner = unwrapped(await terminalText(page));
      assert.ok(banner.includes(`policy: ${policyFile()}`), `the banner does not name the policy in force (${policyFile()}):\n${banner}`);
      assert.match(banner, /kernel: .*Landlock ABI \d/);
      assert.match(banner, /exec/);
      assert.match(banner, /audit log: \S+\/audit-[\w-]+\.jsonl/);
      assert.match(banner, /removed from the agent's environment: .*VSCODE_IPC_HOOK_CLI/);
      t.diagnostic(`screenshot: ${await screenshot(page, 'guarded-start')}`);
    });
  });

  test('a command the policy denies prints "Permission denied" in the terminal', { timeout: 60_000 }, async (t) => {
    await step('guarded-deny', async () => {
      await clearTerminal(page);
      await typeInTerminal(page, 'curl -fsS https://example.com/');
      await waitForTerminalText(page, /curl: Permission denied/, 30_000);
      t.diagnostic(`screenshot: ${await screenshot(page, 'guarded-deny')}`);
    });
  });

  test('a command the policy asks about waits for the notification; Allow once runs it', { timeout: 90_000 }, async (t) => {
    await step('guarded-ask', async () => {
      await typeInTerminal(page, 'git push');
      const note = notification(page, 'git push');
      await note.waitFor({ state: 'visible', timeout: 30_000 });
      const text = await note.innerText();
      // The command, the chain that led to it, the directory, the rule and its reason.
      assert.match(text, /allow git push\?/);
      assert.match(text, /bash → git/);
      assert.ok(unwrapped(text).replace(/\s/g, '').includes(workspace.replace(/\s/g, '')), `no directory in: ${text}`);
      assert.match(text, /ask-before-push: Publishing commits leaves this machine/);
      await waitForStatusBar(page, /1 pending/);
      await page.waitForTimeout(500); // the toast slides in
      t.diagnostic(`screenshot: ${await screenshot(page, 'guarded-ask')}`);
      // Held until answered: git has not run yet.
      assert.doesNotMatch(await terminalText(page), /No configured push destination/);
      await clickNotificationButton(page, 'git push', 'Allow once');
      await waitForTerminalText(page, /No configured push destination/, 30_000);
      await note.waitFor({ state: 'hidden', timeout: 30_000 });
      t.diagnostic(`screenshot: ${await screenshot(page, 'guarded-allowed')}`);
    });
  });

  test('the Agent Gate audit tree shows the denial and the approval, newest first and as the process tree', { timeout: 90_000 }, async (t) => {
    await step('guarded-tree', async () => {
      await openViewContainer(page, 'Agent Gate');
      const denied = treeRow(page, 'Audit', 'curl -fsS https://example.com/');
      const allowed = treeRow(page, 'Audit', 'git push');
      try {
        await denied.waitFor({ state: 'visible', timeout: 15_000 });
      } catch {
        // The session's node may start collapsed.
        await treeRow(page, 'Audit', 'Shell (').click();
        await denied.waitFor({ state: 'visible', timeout: 15_000 });
      }
      await allowed.waitFor({ state: 'visible', timeout: 15_000 });
      const rows = await treeRows(page, 'Audit');
      const curl = rows.find((r) => r.text.includes('curl -fsS'));
      const push = rows.find((r) => r.text.includes('git push'));
      assert.match(curl.text, /no-downloaders/);
      assert.match(push.text, /ask-before-push/);
      // Newest first.
      assert.ok(rows.indexOf(push) < rows.indexOf(curl), `not newest first: ${JSON.stringify(rows)}`);
      t.diagnostic(`screenshot: ${await screenshot(page, 'guarded-tree')}`);
      // As the process tree: curl and git under the shell that started them.
      const toggle = page.locator('.part.sidebar .pane-header .action-label[aria-label^="Show verdicts as the process tree"], .part.sidebar .title-actions .action-label[aria-label^="Show verdicts as the process tree"]').first();
      await toggle.click();
      const shell = treeRow(page, 'Audit', '/bin/bash');
      // The view switches when it refreshes, and the shell's node may come collapsed: wait for the shape.
      const underShell = (rows) => {
        const bash = rows.find((r) => r.label.includes('/bin/bash'));
        const kids = rows.filter((r) => r.text.includes('curl -fsS') || r.text.includes('git push'));
        return { bash, ok: !!bash && kids.length === 2 && kids.every((k) => k.level === bash.level + 1) };
      };
      for (const deadline = Date.now() + 15_000; ; await page.waitForTimeout(300)) {
        const rows = await treeRows(page, 'Audit');
        const { bash, ok } = underShell(rows);
        if (ok) break;
        if (Date.now() > deadline) throw new Error(`curl and git push are not shown under the shell: ${JSON.stringify(rows)}`);
        if (bash?.expanded === 'false') await shell.locator('.monaco-tl-twistie').click();
      }
      t.diagnostic(`screenshot: ${await screenshot(page, 'guarded-process-tree')}`);
      // The same button switches back: newest first, the commands at the session's level again.
      await toggle.click();
      for (const deadline = Date.now() + 15_000; ; await page.waitForTimeout(300)) {
        const rows = await treeRows(page, 'Audit');
        const kids = rows.filter((r) => r.text.includes('curl -fsS') || r.text.includes('git push'));
        if (kids.length === 2 && !rows.some((r) => r.label.includes('/bin/bash') && r.level < kids[0].level)) break;
        if (Date.now() > deadline) throw new Error(`the view did not switch back to newest first: ${JSON.stringify(rows)}`);
      }
    });
  });

  test('Always allow… adds the exact rule to .gate.toml, before the rule that asked, and the next one runs without asking', { timeout: 120_000 }, async (t) => {
    await step('guarded-always', async () => {
      await clearTerminal(page);
      await typeInTerminal(page, 'git push');
      await notification(page, 'git push').waitFor({ state: 'visible', timeout: 30_000 });
      await clickNotificationButton(page, 'git push', 'Always allow…');
      // Narrowest first: this exact command, before the rule that asked.
      const exact = quickPickRow(page, 'allow exactly: git push');
      await exact.waitFor({ state: 'visible', timeout: 30_000 });
      const rows = (await page.locator('.quick-input-widget .quick-input-list .monaco-list-row').allInnerTexts()).map((r) => r.replace(/\s+/g, ' '));
      assert.match(rows[0], /allow exactly: git push.*before rule ask-before-push/);
      t.diagnostic(`screenshot: ${await screenshot(page, 'guarded-always-pick')}`);
      await exact.click();
      // The held exec goes on, the rule is saved into .gate.toml and opened for review.
      await waitForTerminalText(page, /No configured push destination/, 30_000);
      await notification(page, /added rule \S+ to .*\.gate\.toml at line \d+/).waitFor({ state: 'visible', timeout: 30_000 });
      const editor = page.locator('.editor-instance .monaco-editor').first();
      await editor.locator('.view-line', { hasText: 'argv_regex' }).first().waitFor({ state: 'visible', timeout: 30_000 });
      // Saved by the extension (the editor had no unsaved changes).
      let text = readFileSync(policyFile(), 'utf8');
      for (const deadline = Date.now() + 15_000; !text.includes('argv_regex') && Date.now() < deadline; text = readFileSync(policyFile(), 'utf8')) await page.waitForTimeout(200);
      const before = text.slice(0, text.indexOf('id = "ask-before-push"'));
      const rule = before.slice(before.lastIndexOf('[[rule]]', before.lastIndexOf('[[rule]]') - 1));
      assert.match(rule, /action = "allow"/, `no allow rule just before ask-before-push:\n${text}`);
      assert.match(rule, /argv_regex = "\^git push\$"/, `the rule is not this exact command:\n${rule}`);
      assert.match(rule, /exe = "\/\S*\/git"/);
      t.diagnostic(`screenshot: ${await screenshot(page, 'guarded-always-rule')}`);
      // The running session uses it: the same command runs with no question.
      await clearTerminal(page);
      await typeInTerminal(page, 'git push');
      await waitForTerminalText(page, /No configured push destination/, 30_000);
      await waitForStatusBar(page, /pending/, { absent: true });
      assert.equal(await notification(page, 'allow git push?').isVisible(), false);
    });
  });

  test('a working directory named like a command link is shown as text: no link in the notification, nothing runs when clicked (R112)', { timeout: 120_000 }, async (t) => {
    await step('guarded-link', async () => {
      // The red-team repro: an npm script, and a directory whose name is `[Details](command:…runTask…)`. The
      // script is written here (outside the gate), so the test does not rest on the workspace guard.
      const proof = join(run, 'link-proof');
      const pkg = join(workspace, 'package.json');
      const pkgBefore = existsSync(pkg) ? readFileSync(pkg, 'utf8') : null;
      writeFileSync(pkg, JSON.stringify({ name: 'w', scripts: { x: `id > '${proof}'` } }));
      const target = `command:workbench.action.tasks.runTask?${encodeURIComponent(JSON.stringify({ type: 'npm', script: 'x' }))}`;
      const dir = `[Details](${target})`;
      mkdirSync(join(workspace, dir));
      try {
        await clearTerminal(page);
        // Not `git push` alone: "Always allow…" above made a rule for exactly that.
        await typeInTerminal(page, `cd '${dir}' && git push origin`);
        const note = notification(page, 'allow git push origin?');
        await note.waitFor({ state: 'visible', timeout: 30_000 });
        await page.waitForTimeout(500); // the toast slides in
        const text = unwrapped(await note.innerText());
        // The directory is there, readable, with the visible mark between "]" and "(".
        assert.ok(text.includes(`[Details]\\(${target})`), `the directory is not shown as text in: ${text}`);
        const message = note.locator('.notification-list-item-message');
        assert.equal(await message.locator('a, .monaco-link').count(), 0, `a link in the notification: ${await message.innerHTML()}`);
        t.diagnostic(`screenshot: ${await screenshot(page, 'guarded-link')}`);
        // Click where the link was: the word "Details" inside the path.
        const box = await message.evaluate((el) => {
          const walker = document.createTreeWalker(el, 4 /* NodeFilter.SHOW_TEXT */);
          for (let n = walker.nextNode(); n; n = walker.nextNode()) {
            const at = n.textContent.indexOf('[Details]');
            if (at < 0) continue;
            const range = document.createRange();
            range.setStart(n, at + 1);
            range.setEnd(n, at + 8);
            const r = range.getBoundingClientRect();
            return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
          }
          return null;
        });
        assert.ok(box, 'the word Details is not in the message');
        await page.mouse.click(box.x, box.y);
        for (let i = 0; i < 10 && !existsSync(proof); i++) {
          // Were a task started, VS Code could ask about a problem matcher: let it go on, to prove it did not.
          const cont = quickPickRow(page, 'Continue without scanning');
          if (await cont.count()) await cont.first().click().catch(() => {});
          await page.waitForTimeout(500);
        }
        assert.equal(existsSync(proof), false, `the npm script ran outside the gate: ${existsSync(proof) ? readFileSync(proof, 'utf8') : ''}`);
        // Details shows the whole request in a dialog, as plain text (the directory exactly, no mark), no link.
        await clickNotificationButton(page, 'allow git push origin?', 'Details');
        const dialog = page.locator('.monaco-dialog-box');
        await dialog.waitFor({ state: 'visible', timeout: 30_000 });
        const detail = unwrapped(await dialog.innerText());
        assert.ok(detail.includes(`${dir}'`), `the dialog does not show the directory exactly: ${detail}`);
        assert.equal(await dialog.locator('.dialog-message-container a, .dialog-message-container .monaco-link').count(), 0);
        t.diagnostic(`screenshot: ${await screenshot(page, 'guarded-link-details')}`);
        await dialog.locator('.monaco-button').filter({ hasText: /^Deny$/ }).first().click();
        await waitForTerminalText(page, /Permission denied/, 30_000);
        await waitForStatusBar(page, /pending/, { absent: true });
        assert.equal(existsSync(proof), false);
      } finally {
        await typeInTerminal(page, `cd '${workspace}'`).catch(() => {});
        if (pkgBefore === null) rmSync(pkg, { force: true });
        else writeFileSync(pkg, pkgBefore);
      }
    });
  });

  test('closing the terminal ends the session: no shell or supervisor is left', { timeout: 60_000 }, async () => {
    await step('guarded-close', async () => {
      const running = processesIn(workspace, server.pid);
      assert.ok(running.some((p) => /agent-gate-supervisor/.test(p.cmd)) && running.some((p) => /bash/.test(p.cmd)), `the session's shell and supervisor were not found before closing: ${JSON.stringify(running)}`);
      await runFromPalette(page, 'Terminal: Kill the Active Terminal Instance', 30_000);
      const deadline = Date.now() + 15_000;
      let left = processesIn(workspace, server.pid);
      while (left.length && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        left = processesIn(workspace, server.pid);
      }
      assert.deepEqual(left, []);
    });
  });
});
