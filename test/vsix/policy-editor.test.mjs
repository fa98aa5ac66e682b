// UI test of the policy editor from the installed VSIX, driven like a user in Chromium: open a broken
// .gate.toml, see the squiggle and the Problems entry at the right line, apply the quick fix from the light
// bulb, see the problem go, hover a key. Screenshots go to test/artifacts/ (policy-editor-*.png); the one
// the README shows is media/policy-editor.png (copied by hand from policy-editor-hover.png when it changes).
// Needs dist/agent-gate-linux-x64.vsix: `npm run test:vsix` packages first.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { launchBrowser } from '../../scripts/lib/browser.mjs';
import { codeServerCli, startCodeServer, workbenchUrl } from '../../scripts/lib/code-server.mjs';
import { repoRoot } from '../../scripts/lib/paths.mjs';
import { isProvisioned } from '../../scripts/lib/provision.mjs';
import { runFromPalette, screenshot, toast, waitForWorkbench } from '../ui/workbench.mjs';

const VSIX = join(repoRoot, 'dist', 'agent-gate-linux-x64.vsix');

describe('policy editor from the installed VSIX', () => {
  let tmp;
  let workspace;
  let server;
  let browser;
  let page;

  before(async () => {
    assert.ok(isProvisioned(), 'code-server/Chromium are not provisioned: run `npm run provision`');
    assert.ok(existsSync(VSIX), `${VSIX} is missing: run \`npm run package\``);
    tmp = mkdtempSync(join(tmpdir(), 'agent-gate-policy-ui-'));
    workspace = mkdtempSync(join(tmp, 'ws-'));
    // The misspelt key of the fix corpus, and a rule for Explain to find.
    const broken = readFileSync(join(repoRoot, 'test', 'fixtures', 'policies', 'fix-unknown-key.gate.toml'), 'utf8');
    writeFileSync(join(workspace, '.gate.toml'), `${broken}\n[[rule]]\nid = "no-curl"\naction = "deny"\nexe_basename = "curl"\nreason = "no downloads"\n`);
    const extensionsDir = join(tmp, 'extensions');
    const r = codeServerCli(['--install-extension', VSIX, '--extensions-dir', extensionsDir, '--user-data-dir', join(tmp, 'user-data')], {
      env: { ...process.env, XDG_CONFIG_HOME: join(tmp, 'config'), EXTENSIONS_GALLERY: '{}' },
    });
    assert.equal(r.status, 0, `install failed:\n${r.stdout}\n${r.stderr}`);
    server = await startCodeServer({ extensionsDir, gallery: false, settings: { 'editor.hover.delay': 200, 'editor.lightbulb.enabled': 'on' } });
    browser = await launchBrowser();
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await page.goto(workbenchUrl(server, { folder: workspace }));
    await waitForWorkbench(page);
  }, { timeout: 180_000 });

  after(async () => {
    await browser?.close();
    await server?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const editor = () => page.locator('.editor-instance .monaco-editor').first();

  test('a broken .gate.toml gets a squiggle and a Problems entry at its line', { timeout: 120_000 }, async (t) => {
    try {
      await page.keyboard.press('Control+P');
      const input = page.locator('.quick-input-widget input.input');
      await input.waitFor({ state: 'visible', timeout: 30_000 });
      await input.fill('.gate.toml');
      await page.locator('.quick-input-list .monaco-list-row', { hasText: '.gate.toml' }).first().waitFor({ state: 'visible', timeout: 30_000 });
      await page.keyboard.press('Enter');
      await editor().locator('.view-line', { hasText: 'default_acton' }).waitFor({ state: 'visible', timeout: 30_000 });
      await editor().locator('.squiggly-error').first().waitFor({ state: 'visible', timeout: 60_000 });
      // Highlighted by the bundled grammar (no TOML extension here): key, '=' and string are different tokens.
      const tokens = await editor().locator('.view-line', { hasText: 'default_acton' }).locator('span > span').evaluateAll((spans) => spans.map((e) => [e.textContent, e.className]));
      const classOf = (text) => tokens.find(([t]) => t.trim() === text)?.[1];
      assert.ok(classOf('default_acton') && classOf('"ask"') && classOf('default_acton') !== classOf('"ask"'), `not highlighted: ${JSON.stringify(tokens)}`);
      // A code lens above the rule.
      await editor().locator('.codelens-decoration', { hasText: 'Explain a command…' }).first().waitFor({ state: 'visible', timeout: 30_000 });
      await editor().locator('.codelens-decoration', { hasText: 'no recent sessions with this policy' }).first().waitFor({ state: 'visible', timeout: 30_000 });
      await runFromPalette(page, 'View: Focus Problems', 30_000);
      const problem = page.locator('.markers-panel .monaco-list-row', { hasText: "unknown key 'default_acton'" }).first();
      await problem.waitFor({ state: 'visible', timeout: 30_000 });
      const row = await problem.innerText();
      assert.match(row, /did you mean 'default_action'\?/);
      assert.match(row, /\[Ln 3, Col 1\]/);
      assert.match(row, /Agent Gate/);
      t.diagnostic(`screenshot: ${await screenshot(page, 'policy-editor-problem')}`);
    } catch (e) {
      await screenshot(page, 'policy-editor-problem-failure');
      throw e;
    }
  });

  test('the quick fix from the light bulb removes the problem', { timeout: 120_000 }, async (t) => {
    try {
      // Put the cursor on the misspelt key: the light bulb appears beside it.
      await editor().locator('.view-line span', { hasText: 'default_acton' }).first().click();
      const bulb = page.locator('.lightBulbWidget .codicon-light-bulb, .lightBulbWidget .codicon-lightbulb-autofix, .lightBulbWidget').first();
      await bulb.waitFor({ state: 'visible', timeout: 30_000 });
      t.diagnostic(`screenshot: ${await screenshot(page, 'policy-editor-lightbulb')}`);
      await bulb.click();
      const fix = page.locator('.action-widget .monaco-list-row', { hasText: "Change to 'default_action'" }).first();
      await fix.waitFor({ state: 'visible', timeout: 30_000 });
      t.diagnostic(`screenshot: ${await screenshot(page, 'policy-editor-quickfix')}`);
      await fix.click();
      await editor().locator('.view-line', { hasText: 'default_action = "ask"' }).waitFor({ state: 'visible', timeout: 30_000 });
      await editor().locator('.squiggly-error').first().waitFor({ state: 'detached', timeout: 30_000 });
      await page.locator('.markers-panel', { hasText: 'No problems have been detected in the workspace.' }).waitFor({ state: 'visible', timeout: 30_000 });
      t.diagnostic(`screenshot: ${await screenshot(page, 'policy-editor-fixed')}`);
    } catch (e) {
      await screenshot(page, 'policy-editor-quickfix-failure');
      throw e;
    }
  });

  test('hovering a key shows its documentation', { timeout: 90_000 }, async (t) => {
    try {
      await page.keyboard.press('Escape');
      const key = editor().locator('.view-line span', { hasText: /^default_action$/ }).first();
      await key.hover();
      const hover = page.locator('.monaco-hover', { hasText: 'Action for an exec that no rule matches.' }).first();
      await hover.waitFor({ state: 'visible', timeout: 30_000 });
      const text = await hover.innerText();
      assert.match(text, /default_action/);
      assert.match(text, /default "deny"/);
      assert.match(text, /The exec fails with EACCES/);
      t.diagnostic(`screenshot: ${await screenshot(page, 'policy-editor-hover')}`);
    } catch (e) {
      await screenshot(page, 'policy-editor-hover-failure');
      throw e;
    }
  });

  test('Explain command against policy: the verdict, the deciding rule, and a button to it', { timeout: 90_000 }, async (t) => {
    try {
      await page.keyboard.press('Escape');
      // Not runFromPalette: the command's own input box takes the palette's place at once.
      const input = page.locator('.quick-input-widget input.input');
      await page.keyboard.press('F1');
      await input.waitFor({ state: 'visible', timeout: 30_000 });
      await input.fill('>Agent Gate: Explain command against policy');
      await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Explain command against policy' }).first().waitFor({ state: 'visible', timeout: 60_000 });
      await page.keyboard.press('Enter');
      await page.locator('.quick-input-widget', { hasText: 'Explain a command against .gate.toml' }).waitFor({ state: 'visible', timeout: 30_000 });
      await input.fill('curl https://example.com/file');
      await page.keyboard.press('Enter');
      const note = toast(page, 'DENY by rule');
      await note.waitFor({ state: 'visible', timeout: 30_000 });
      assert.match(await note.innerText(), /curl https:\/\/example\.com\/file → DENY by rule 'no-curl' \(line 5\): no downloads/);
      t.diagnostic(`screenshot: ${await screenshot(page, 'policy-editor-explain')}`);
      await note.getByRole('button', { name: 'Go to Rule' }).click();
      await page.locator('.part.statusbar', { hasText: 'Ln 5, Col 1' }).waitFor({ state: 'visible', timeout: 30_000 });
    } catch (e) {
      await screenshot(page, 'policy-editor-explain-failure');
      throw e;
    }
  });

  test('Create policy: pick a preset, confirm replacing the existing file, and it opens', { timeout: 90_000 }, async (t) => {
    try {
      const input = page.locator('.quick-input-widget input.input');
      await page.keyboard.press('F1');
      await input.waitFor({ state: 'visible', timeout: 30_000 });
      await input.fill('>Agent Gate: Create policy');
      await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Create policy' }).first().waitFor({ state: 'visible', timeout: 60_000 });
      await page.keyboard.press('Enter');
      const strict = page.locator('.quick-input-list .monaco-list-row', { hasText: 'Strict' }).first();
      await strict.waitFor({ state: 'visible', timeout: 30_000 });
      const rows = await page.locator('.quick-input-list .monaco-list-row').allInnerTexts();
      assert.deepEqual(rows.map((r) => r.split('\n')[0]), ['Default', 'Strict', 'Permissive']);
      t.diagnostic(`screenshot: ${await screenshot(page, 'policy-editor-create')}`);
      await strict.click();
      const dialog = page.locator('.monaco-dialog-box', { hasText: 'Replace it with the strict policy?' });
      await dialog.waitFor({ state: 'visible', timeout: 30_000 });
      await dialog.getByRole('button', { name: 'Replace' }).click();
      const firstLine = readFileSync(join(repoRoot, 'policies', 'strict.gate.toml'), 'utf8').split('\n')[0];
      await editor().locator('.view-line', { hasText: firstLine.slice(0, 40) }).first().waitFor({ state: 'visible', timeout: 30_000 });
      assert.equal(readFileSync(join(workspace, '.gate.toml'), 'utf8'), readFileSync(join(repoRoot, 'policies', 'strict.gate.toml'), 'utf8'));
    } catch (e) {
      await screenshot(page, 'policy-editor-create-failure');
      throw e;
    }
  });
});
