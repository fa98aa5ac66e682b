// Small page-object helpers for driving code-server's workbench with Playwright (shared by test/ui and
// test/vsix). Selectors are VS Code's own DOM classes; keep them here so a VS Code update is fixed in one place.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { artifactsDir } from '../../scripts/lib/paths.mjs';

/** Wait until the workbench is laid out and connected to its server (status bar shows the remote). */
export async function waitForWorkbench(page, timeout = 90_000) {
  await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout });
  await page.locator('.part.statusbar').waitFor({ state: 'visible', timeout });
  await page.locator('.part.activitybar, .part.sidebar').first().waitFor({ state: 'visible', timeout });
}

/** Wait for a view container in the activity bar, e.g. "Agent Gate": proof the extension's contributions are in. */
export async function waitForActivity(page, title, timeout = 60_000) {
  await page.locator(`.part.activitybar [aria-label^="${title}"]`).first().waitFor({ state: 'visible', timeout });
}

/** Open the command palette, pick the command whose label contains `label`, and run it. The palette's list is
 * built when it opens, so if the command is not there yet (extension still registering), close and retry. */
export async function runFromPalette(page, label, timeout = 30_000) {
  const deadline = Date.now() + timeout;
  const input = page.locator('.quick-input-widget input.input');
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: label }).first();
  for (;;) {
    await page.keyboard.press('F1');
    await input.waitFor({ state: 'visible', timeout });
    await input.fill(`>${label}`);
    try {
      await row.waitFor({ state: 'visible', timeout: Math.max(1000, Math.min(5000, deadline - Date.now())) });
      break;
    } catch (e) {
      await page.keyboard.press('Escape');
      if (Date.now() > deadline) throw new Error(`command "${label}" did not appear in the command palette: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout });
}

/** A toast (bottom-right notification) containing `text`. */
export function toast(page, text) {
  return page.locator('.notifications-toasts .notification-toast', { hasText: text }).first();
}

/** Open the Notification Center and return the entry containing `text`. */
export async function notificationCenterEntry(page, text, timeout = 30_000) {
  await runFromPalette(page, 'Notifications: Show Notifications', timeout);
  const center = page.locator('.notifications-center');
  await center.waitFor({ state: 'visible', timeout });
  return center.locator('.notification-list-item', { hasText: text }).first();
}

/** Save a full-page screenshot under test/artifacts/ and return its path. */
export async function screenshot(page, name) {
  mkdirSync(artifactsDir, { recursive: true });
  const file = join(artifactsDir, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}
