// VSIX test: the package `npm run package` builds carries exactly what a user needs (manifest, readme, license,
// bundles, the native supervisor, media, policies), installs into a real VS Code (code-server's), and the
// installed extension activates and answers its command from the palette (it asks which agent to run).
// Needs dist/agent-gate-linux-x64.vsix: `npm run test:vsix` packages first.
import assert from 'node:assert/strict';
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { launchBrowser } from '../../scripts/lib/browser.mjs';
import { codeServerCli, startCodeServer, workbenchUrl } from '../../scripts/lib/code-server.mjs';
import { repoRoot, sampleWorkspace } from '../../scripts/lib/paths.mjs';
import { isProvisioned } from '../../scripts/lib/provision.mjs';
import { openZip } from '../../scripts/lib/zip.mjs';
import { quickPickRow, screenshot, startFromPalette, waitForActivity, waitForWorkbench } from '../ui/workbench.mjs';

const VSIX = join(repoRoot, 'dist', 'agent-gate-linux-x64.vsix');
const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
const EXTENSION_ID = `${manifest.publisher}.${manifest.name}`;

// Everything allowed in the VSIX. vsce adds the two top-level XML files and renames README/LICENSE.
const ALLOWED = [
  /^\[Content_Types\]\.xml$/,
  /^extension\.vsixmanifest$/,
  /^extension\/package\.json$/,
  /^extension\/readme\.md$/,
  /^extension\/LICENSE\.txt$/,
  /^extension\/SECURITY\.md$/,
  /^extension\/dist\/(extension|cli|cli-bundle|policy-check-worker)\.js$/,
  /^extension\/dist\/agent-gate-supervisor$/,
  /^extension\/media\/[\w./-]+\.(svg|png)$/,
  /^extension\/policies\/[\w./-]+\.(toml|json|md)$/,
  /^extension\/syntaxes\/[\w.-]+\.json$/,
];
const REQUIRED = ['extension/package.json', 'extension/readme.md', 'extension/LICENSE.txt', 'extension/dist/extension.js', 'extension/dist/cli.js', 'extension/dist/cli-bundle.js', 'extension/dist/policy-check-worker.js', 'extension/dist/agent-gate-supervisor', 'extension/media/gate.svg'];

describe('VSIX', () => {
  let zip;
  before(() => {
    assert.ok(existsSync(VSIX), `${VSIX} is missing: run \`npm run package\``);
    zip = openZip(VSIX);
  });

  test('holds only the manifest, readme, license, bundles, supervisor, media and policies', () => {
    const unexpected = zip.entries.map((e) => e.name).filter((n) => !ALLOWED.some((re) => re.test(n)));
    assert.deepEqual(unexpected, []);
    const names = new Set(zip.entries.map((e) => e.name));
    assert.deepEqual(REQUIRED.filter((n) => !names.has(n)), []);
    assert.ok(zip.entries.some((e) => /^extension\/policies\/.+\.gate\.toml$/.test(e.name)), 'no policy presets in the VSIX');
  });

  test('carries the native supervisor as an executable x86-64 ELF', () => {
    const entry = zip.entries.find((e) => e.name === 'extension/dist/agent-gate-supervisor');
    assert.ok(entry);
    assert.equal(entry.mode & 0o111, 0o111, `supervisor mode is ${entry.mode.toString(8)}, not executable`);
    const head = zip.read(entry.name).subarray(0, 20);
    assert.deepEqual([...head.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], 'not an ELF file');
    assert.equal(head.readUInt16LE(18), 62, 'not x86-64 (e_machine)');
  });

  test('is a linux-x64 platform package of this manifest', () => {
    const xml = zip.read('extension.vsixmanifest').toString('utf8');
    assert.match(xml, /TargetPlatform="linux-x64"/);
    assert.match(xml, new RegExp(`Id="${manifest.name}" Version="${manifest.version.replace(/\./g, '\\.')}" Publisher="${manifest.publisher}"`));
    const packed = JSON.parse(zip.read('extension/package.json').toString('utf8'));
    assert.equal(packed.main, manifest.main);
    assert.ok(zip.entries.some((e) => `extension/${packed.main.replace(/^\.\//, '')}` === e.name), `main ${packed.main} is not in the VSIX`);
    assert.deepEqual(packed.contributes, manifest.contributes);
  });
});

describe('VSIX installed into code-server', () => {
  let tmp;
  let extensionsDir;
  let server;
  let browser;
  before(() => {
    assert.ok(isProvisioned(), 'code-server/Chromium are not provisioned: run `npm run provision`');
    tmp = mkdtempSync(join(tmpdir(), 'agent-gate-vsix-'));
    extensionsDir = join(tmp, 'extensions');
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('installs with code-server --install-extension', { timeout: 120_000 }, () => {
    const r = codeServerCli(['--install-extension', VSIX, '--extensions-dir', extensionsDir, '--user-data-dir', join(tmp, 'user-data')], {
      env: { ...process.env, XDG_CONFIG_HOME: join(tmp, 'config'), EXTENSIONS_GALLERY: '{}' },
    });
    assert.equal(r.status, 0, `install failed:\n${r.stdout}\n${r.stderr}`);
    const dir = readdirSync(extensionsDir).find((d) => d.startsWith(`${EXTENSION_ID}-${manifest.version}`));
    assert.ok(dir, `no ${EXTENSION_ID} folder in ${extensionsDir}: ${readdirSync(extensionsDir).join(', ')}`);
    const supervisor = join(extensionsDir, dir, 'dist', 'agent-gate-supervisor');
    accessSync(supervisor, constants.X_OK);
    assert.ok(statSync(join(extensionsDir, dir, 'dist', 'extension.js')).size > 0);
    const listed = codeServerCli(['--list-extensions', '--extensions-dir', extensionsDir, '--user-data-dir', join(tmp, 'user-data')], {
      env: { ...process.env, XDG_CONFIG_HOME: join(tmp, 'config'), EXTENSIONS_GALLERY: '{}' },
    });
    assert.match(listed.stdout, new RegExp(`^${EXTENSION_ID}$`, 'm'));
  });

  test('activates from the install: the palette command asks which agent to run', { timeout: 180_000 }, async (t) => {
    assert.ok(readdirSync(extensionsDir).length > 0, 'the install test did not install the extension');
    server = await startCodeServer({ extensionsDir, gallery: false });
    browser = await launchBrowser();
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    try {
      await page.goto(workbenchUrl(server, { folder: sampleWorkspace }));
      await waitForWorkbench(page);
      await waitForActivity(page, 'Agent Gate');
      await startFromPalette(page, 'Agent Gate: Run agent in guarded terminal', 60_000);
      await page.locator('.quick-input-widget input[placeholder*="Run which agent"]').waitFor({ state: 'visible', timeout: 30_000 });
      await quickPickRow(page, 'Shell (').waitFor({ state: 'visible', timeout: 30_000 });
      t.diagnostic(`screenshot: ${await screenshot(page, 'vsix-run-agent')}`);
    } catch (e) {
      await screenshot(page, 'vsix-run-agent-failure');
      throw e;
    }
  });
});
