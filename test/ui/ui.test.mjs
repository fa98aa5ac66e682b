// UI test: the extension loaded from source into code-server's workbench (the smoke-test driver's `payload`),
// driven like a user would with Chromium: the Agent Gate view is in the activity bar, and the command palette
// runs "Agent Gate: Run agent in guarded terminal", which asks which agent to run (the guarded terminal itself
// is driven from the installed VSIX in test/vsix/guarded-terminal.test.mjs). Screenshots land in test/artifacts/.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { launchBrowser } from '../../scripts/lib/browser.mjs';
import { remoteUri, startCodeServer, workbenchUrl } from '../../scripts/lib/code-server.mjs';
import { repoRoot, sampleWorkspace } from '../../scripts/lib/paths.mjs';
import { isProvisioned } from '../../scripts/lib/provision.mjs';
import { quickPickRow, screenshot, startFromPalette, waitForActivity, waitForWorkbench } from './workbench.mjs';

describe('workbench UI: extension from source in code-server', () => {
  let server;
  let browser;
  let page;

  before(async () => {
    assert.ok(isProvisioned(), 'code-server/Chromium are not provisioned: run `npm run provision`');
    server = await startCodeServer({ smokeTestDriver: true, gallery: false });
    browser = await launchBrowser();
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    const payload = [['extensionDevelopmentPath', remoteUri(server, repoRoot)]];
    await page.goto(workbenchUrl(server, { folder: sampleWorkspace, payload }));
    await waitForWorkbench(page);
  }, { timeout: 180_000 });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('the Agent Gate view container opens the audit view', { timeout: 90_000 }, async (t) => {
    try {
      await waitForActivity(page, 'Agent Gate');
      await page.locator('.part.activitybar [aria-label^="Agent Gate"]').first().click();
      const sidebar = page.locator('.part.sidebar');
      await sidebar.locator('.composite.title', { hasText: /agent gate/i }).waitFor({ state: 'visible', timeout: 30_000 });
      // The audit view's welcome content, from package.json's viewsWelcome.
      await sidebar.getByText('No guarded session yet.').waitFor({ state: 'visible', timeout: 30_000 });
      await sidebar.getByRole('button', { name: 'Run agent in guarded terminal' }).waitFor({ state: 'visible', timeout: 30_000 });
      t.diagnostic(`screenshot: ${await screenshot(page, 'ui-audit-view')}`);
    } catch (e) {
      await screenshot(page, 'ui-audit-view-failure');
      throw e;
    }
  });

  test('the command palette runs "Agent Gate: Run agent in guarded terminal": it asks which agent', { timeout: 90_000 }, async (t) => {
    try {
      await startFromPalette(page, 'Agent Gate: Run agent in guarded terminal', 60_000);
      await page.locator('.quick-input-widget input[placeholder*="Run which agent"]').waitFor({ state: 'visible', timeout: 30_000 });
      await quickPickRow(page, 'Shell (').waitFor({ state: 'visible', timeout: 30_000 });
      const rows = (await page.locator('.quick-input-widget .quick-input-list .monaco-list-row').allInnerTexts()).map((r) => r.split('\n')[0]);
      for (const agent of ['Claude Code', 'Codex CLI', 'Gemini CLI', 'aider']) assert.ok(rows.some((r) => r.includes(agent)), `${agent} is not offered: ${JSON.stringify(rows)}`);
      t.diagnostic(`screenshot: ${await screenshot(page, 'ui-run-agent')}`);
      await page.keyboard.press('Escape');
      await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 30_000 });
    } catch (e) {
      await screenshot(page, 'ui-run-agent-failure');
      throw e;
    }
  });
});
