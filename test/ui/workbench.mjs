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

// ---- quick picks, terminals, notifications and views (the guarded-terminal test drives all of them)

/** The open quick pick's row whose text contains `label` (a string or RegExp). */
export function quickPickRow(page, label) {
  return page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: label }).first();
}

/** Wait for the quick pick (e.g. a command's own list) to offer `label`, and pick it. Returns the row's text. */
export async function pickQuickPickItem(page, label, timeout = 30_000) {
  const row = quickPickRow(page, label);
  await row.waitFor({ state: 'visible', timeout });
  const text = await row.innerText();
  await row.click();
  return text;
}

/** Run a command from the palette whose own quick pick or input box takes the palette's place at once (so the
 * palette is never seen to close). */
export async function startFromPalette(page, label, timeout = 30_000) {
  const input = page.locator('.quick-input-widget input.input');
  const row = quickPickRow(page, label);
  const deadline = Date.now() + timeout;
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
}

/** The terminal on show in the panel (its xterm element). */
export function activeTerminal(page) {
  return page.locator('.part.panel .terminal-wrapper.active .xterm').first();
}

/** The tab (or single-terminal title) of a terminal whose name contains `name`. */
export function terminalTab(page, name) {
  return page.locator('.part.panel .terminal-tabs-entry, .part.panel .single-terminal-tab', { hasText: name }).first();
}

/** The text of the active terminal's visible rows, one line per row, trailing blanks trimmed. Needs
 * terminal.integrated.gpuAcceleration "off" (testSettings), so xterm renders rows into the DOM. */
export async function terminalText(page) {
  const rows = activeTerminal(page).locator('.xterm-rows > div');
  const lines = await rows.evaluateAll((els) => els.map((e) => (e.textContent ?? '').replace(/\u00a0/g, ' ').trimEnd()));
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines.join('\n');
}

/** Wait until the active terminal shows text matching `re` (checked every 200 ms); returns the whole text. The
 * error carries what the terminal did show. */
export async function waitForTerminalText(page, re, timeout = 30_000) {
  const deadline = Date.now() + timeout;
  let last = '';
  for (;;) {
    last = await terminalText(page).catch(() => last);
    if (re.test(last)) return last;
    if (Date.now() > deadline) throw new Error(`the terminal did not show ${re} within ${timeout / 1000} s; it shows:\n${last}`);
    await page.waitForTimeout(200);
  }
}

/** Focus the active terminal and type `text` as keystrokes, then Enter (unless `enter` is false). */
export async function typeInTerminal(page, text, { enter = true } = {}) {
  const term = activeTerminal(page);
  await term.waitFor({ state: 'visible', timeout: 30_000 });
  await term.click();
  await term.locator('textarea.xterm-helper-textarea').focus();
  await page.keyboard.type(text, { delay: 15 });
  if (enter) await page.keyboard.press('Enter');
}

/** A notification (toast, or in the Notification Center when toasts are hidden) containing `text`. */
export function notification(page, text) {
  return page.locator('.notifications-toasts .notification-toast, .notifications-center .notification-list-item', { hasText: text }).first();
}

/** Click the button `name` (exact, or a RegExp) on the visible toast containing `text`; returns the toast's text
 * as it read before the click. */
export async function clickNotificationButton(page, text, name, timeout = 30_000) {
  const note = notification(page, text);
  await note.waitFor({ state: 'visible', timeout });
  const body = await note.innerText();
  const button = note.locator('.monaco-button, a.monaco-button, .action-label').filter({ hasText: name }).first();
  await button.waitFor({ state: 'visible', timeout });
  await button.click();
  return body;
}

/** Open a view container from the activity bar (e.g. "Agent Gate") and return the sidebar. Clicking an open
 * container's icon would close it, so it clicks only when the sidebar shows another one. */
export async function openViewContainer(page, title, timeout = 30_000) {
  await waitForActivity(page, title, timeout);
  const sidebar = page.locator('.part.sidebar');
  const header = sidebar.locator('.composite.title', { hasText: new RegExp(title, 'i') });
  if (!(await header.isVisible().catch(() => false))) await page.locator(`.part.activitybar [aria-label^="${title}"]`).first().click();
  await header.waitFor({ state: 'visible', timeout });
  return sidebar;
}

/** The rows of a tree view in the sidebar (by the view's name, e.g. "Audit") as [{ text, label, description,
 * level, expanded }], top to bottom, as far as they are rendered. */
export async function treeRows(page, viewName) {
  const pane = page.locator('.part.sidebar .pane', { has: page.locator('.pane-header', { hasText: viewName }) }).first();
  return pane.locator('.monaco-list-row').evaluateAll((els) =>
    els.map((e) => ({
      text: (e.textContent ?? '').trim(),
      label: (e.querySelector('.label-name')?.textContent ?? '').trim(),
      description: (e.querySelector('.label-description')?.textContent ?? '').trim(),
      level: Number(e.getAttribute('aria-level') ?? 0),
      expanded: e.getAttribute('aria-expanded'),
    })),
  );
}

/** A row of a sidebar tree view containing `text`. */
export function treeRow(page, viewName, text) {
  const pane = page.locator('.part.sidebar .pane', { has: page.locator('.pane-header', { hasText: viewName }) }).first();
  return pane.locator('.monaco-list-row', { hasText: text }).first();
}

/** Clear the active terminal (its scrollback too), so what follows is all that its rows show. */
export async function clearTerminal(page) {
  await runFromPalette(page, 'Terminal: Clear', 30_000);
  const deadline = Date.now() + 10_000;
  while ((await terminalText(page)).split('\n').length > 1 && Date.now() < deadline) await page.waitForTimeout(100);
}

/** The status bar's text (all items). */
export async function statusBarText(page) {
  return (await page.locator('.part.statusbar').innerText()).replace(/\s+/g, ' ');
}

/** Terminal rows joined without their line breaks: xterm wraps long lines into rows and the DOM does not say
 * which breaks are wraps, so a path or sentence is searched for here. */
export const unwrapped = (text) => text.replace(/\n/g, '');

/** Wait until the status bar's text matches `re` (or, with `absent`, no longer does). */
export async function waitForStatusBar(page, re, { timeout = 30_000, absent = false } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const text = await statusBarText(page);
    if (re.test(text) !== absent) return text;
    if (Date.now() > deadline) throw new Error(`the status bar ${absent ? 'still shows' : 'did not show'} ${re} within ${timeout / 1000} s: ${text}`);
    await page.waitForTimeout(200);
  }
}
