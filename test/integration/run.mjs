#!/usr/bin/env node
// `npm run test:integration`: run test/integration/suite in a real VS Code through @vscode/test-electron.
// Desktop VS Code is used when it is available (AGENT_GATE_VSCODE_EXECUTABLE, a desktop `code` on PATH, or a
// build that test-electron can download); otherwise code-server-shim.mjs stands in for the executable.
// Flags: --no-build skips `npm run build` (scripts/test-all.mjs has just built).
/* global fetch, AbortSignal */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, realpathSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import { runTests } from '@vscode/test-electron';
import { repoRoot, sampleWorkspace } from '../../scripts/lib/paths.mjs';
import { provision } from '../../scripts/lib/provision.mjs';

const outDir = join(repoRoot, 'dist', 'test', 'integration');

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** A desktop VS Code Electron binary, or undefined. The `code` on PATH inside a code-server terminal is a remote CLI, not Electron. */
function desktopVSCode() {
  if (process.env.AGENT_GATE_VSCODE_EXECUTABLE) return process.env.AGENT_GATE_VSCODE_EXECUTABLE;
  const code = which('code');
  if (!code) return undefined;
  const real = realpathSync(code);
  if (/code-server|remote-cli|server\/bin/.test(real)) return undefined;
  // Debian/RPM/tarball layout: <root>/bin/code is a launcher script, <root>/code the Electron binary.
  const electron = join(dirname(dirname(real)), 'code');
  return existsSync(electron) ? electron : undefined;
}

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

let vscodeExecutablePath = desktopVSCode();
let mode = vscodeExecutablePath ? 'desktop' : undefined;
if (!mode && (await canDownloadVSCode())) mode = 'download';
if (!mode) {
  provision({ log: (l) => console.log(l) });
  vscodeExecutablePath = join(repoRoot, 'test', 'integration', 'code-server-shim.mjs');
  mode = 'code-server';
}
console.log(`integration: running in ${mode === 'code-server' ? 'code-server (shim)' : mode === 'download' ? 'downloaded desktop VS Code' : vscodeExecutablePath}`);

// Desktop VS Code needs a display; re-run under xvfb-run when there is none.
if (mode !== 'code-server' && !process.env.DISPLAY && !process.env.AGENT_GATE_UNDER_XVFB) {
  if (!which('xvfb-run')) {
    console.error('integration: desktop VS Code needs a display: install xvfb (apt-get install xvfb) or set DISPLAY');
    process.exit(1);
  }
  const r = spawnSync('xvfb-run', ['-a', process.execPath, ...process.argv.slice(1), '--no-build'], { stdio: 'inherit', env: { ...process.env, AGENT_GATE_UNDER_XVFB: '1' } });
  process.exit(r.status ?? 1);
}

const profile = mkdtempSync(join(tmpdir(), 'agent-gate-vscode-'));
try {
  await runTests({
    ...(vscodeExecutablePath ? { vscodeExecutablePath } : {}),
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
