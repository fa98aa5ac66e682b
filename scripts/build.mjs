#!/usr/bin/env node
// Build everything a user or the VSIX needs: the extension bundle, the CLI bundle and the native supervisor.
// esbuild bundles smol-toml and picomatch in; `vscode` is provided by the host and node-pty is taken from
// VS Code's own install at run time (see src/extension), so both stay external.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, chmodSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  logLevel: 'warning',
  absWorkingDir: root,
};

mkdirSync(join(root, 'dist'), { recursive: true });
await Promise.all([
  build({ ...common, entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js', external: ['vscode', 'node-pty'] }),
  build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', external: ['node-pty'] }),
  // The policy editor checks in a worker thread, so the extension host never waits for it.
  build({ ...common, entryPoints: ['src/extension/policy/check-worker.ts'], outfile: 'dist/policy-check-worker.js' }),
]);

execFileSync('make', ['-s', '-C', join(root, 'native')], { stdio: 'inherit' });
const bin = join(root, 'dist', 'agent-gate-supervisor');
// Copy then rename: overwriting a supervisor that is running (a test, a session) fails with ETXTBSY.
const tmpBin = `${bin}.${process.pid}.tmp`;
copyFileSync(join(root, 'native', 'build', 'agent-gate-supervisor'), tmpBin);
chmodSync(tmpBin, 0o755);
renameSync(tmpBin, bin);
