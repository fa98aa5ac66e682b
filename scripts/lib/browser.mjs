// Drive Debian's Chromium with playwright-core (Playwright's own browser downloads are unreachable here).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { runtimePaths } from './provision.mjs';

export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

const profiles = new Set();
process.on('exit', () => {
  for (const dir of profiles) rmSync(dir, { recursive: true, force: true });
});

/** A fresh persistent context in an empty profile dir; close() also removes the dir. */
export async function launchBrowser({ viewport = { width: 1400, height: 900 } } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'agent-gate-chromium-'));
  profiles.add(profile);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: runtimePaths().chromium,
    headless: true,
    args: chromiumArgs,
    viewport,
    timeout: 60_000,
  });
  const close = async () => {
    await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true, maxRetries: 3 });
    profiles.delete(profile);
  };
  return { context, close };
}
