#!/usr/bin/env node
// `npm run test:integration`: run test/integration/suite in a real VS Code through @vscode/test-electron.
// Desktop VS Code is used when it is available (AGENT_GATE_VSCODE_EXECUTABLE, a desktop `code` on PATH, or a
// build that test-electron can download); otherwise code-server-shim.mjs stands in for the executable.
// Flags: --no-build skips `npm run build` (scripts/test-all.mjs has just built).
/* global fetch, AbortSignal */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { downloadAndUnzipVSCode, runTests } from '@vscode/test-electron';
import { repoRoot, sampleWorkspace } from '../../scripts/lib/paths.mjs';
import { provision } from '../../scripts/lib/provision.mjs';
import { desktopVSCodeExecutable, which } from '../../scripts/lib/vscode-desktop.mjs';

const outDir = join(repoRoot, 'dist', 'test', 'integration');

/** Whether test-electron could download VS Code (quick probe, so offline machines don't hang). */
async function canDownloadVSCode() {
  if (process.env.AGENT_GATE_NO_DOWNLOAD === '1') return false;
  try {
    const ctl = AbortSignal.timeout(3000);
    const res = await fetch('https://update.code.visualstudio.com/api/releases/stable', { signal: ctl });
    return res.ok;
  } catch {
    return false;
  }
}

if (!process.argv.includes('--no-build')) execFileSync(process.execPath, [join(repoRoot, 'scripts', 'build.mjs')], { stdio: 'inherit' });
if (!existsSync(join(repoRoot, 'dist', 'extension.js'))) {
  console.error('integration: dist/extension.js is missing; run `npm run build`');
  process.exit(1);
}
rmSync(outDir, { recursive: true, force: true });
await build({
  entryPoints: [join(repoRoot, 'test/integration/suite/*.ts')],
  outdir: outDir,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'inline',
  external: ['vscode', 'mocha', 'node-pty'],
  logLevel: 'warning',
  absWorkingDir: repoRoot,
});

// Desktop VS Code needs a display: an X server ($DISPLAY) or xvfb-run to make one.
const canShowDesktop = !!process.env.DISPLAY || !!which('xvfb-run');
let vscodeExecutablePath = canShowDesktop ? desktopVSCodeExecutable() : undefined;
let mode = vscodeExecutablePath ? 'desktop' : 'code-server';
if (mode === 'code-server' && canShowDesktop && (await canDownloadVSCode())) {
  try {
    vscodeExecutablePath = await downloadAndUnzipVSCode({ cachePath: join(repoRoot, '.vscode-test') });
    mode = 'desktop';
  } catch (e) {
    console.log(`integration: could not download VS Code (${e instanceof Error ? e.message : String(e)}); using code-server`);
  }
}
if (mode === 'code-server') {
  provision({ log: (l) => console.log(l) });
  vscodeExecutablePath = join(repoRoot, 'test', 'integration', 'code-server-shim.mjs');
}
console.log(`integration: running in ${mode === 'code-server' ? 'code-server (through code-server-shim.mjs)' : `desktop VS Code ${vscodeExecutablePath}`}`);

if (mode === 'desktop' && !process.env.DISPLAY) {
  const r = spawnSync('xvfb-run', ['-a', process.execPath, ...process.argv.slice(1), '--no-build'], { stdio: 'inherit', env: { ...process.env, AGENT_GATE_VSCODE_EXECUTABLE: vscodeExecutablePath } });
  process.exit(r.status ?? 1);
}

const profile = mkdtempSync(join(tmpdir(), 'agent-gate-vscode-'));
try {
  await runTests({
    vscodeExecutablePath,
    extensionDevelopmentPath: repoRoot,
    extensionTestsPath: join(outDir, 'index.js'),
    launchArgs: [sampleWorkspace, '--disable-extensions', `--user-data-dir=${join(profile, 'user-data')}`, `--extensions-dir=${join(profile, 'extensions')}`],
    extensionTestsEnv: { AGENT_GATE_TEST: '1' },
  });
} catch (e) {
  console.error(`integration: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
} finally {
  rmSync(profile, { recursive: true, force: true });
}
