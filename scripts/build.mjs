#!/usr/bin/env node
// Build everything a user or the VSIX needs: the extension bundle, the CLI bundle and the native supervisor.
// esbuild bundles smol-toml and picomatch in; `vscode` is provided by the host and node-pty is taken from
// VS Code's own install at run time (see src/extension), so both stay external.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, chmodSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shareToESM, shippedTomlDefine } from './bundle-steps.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  logLevel: 'warning',
  absWorkingDir: root,
  // The shipped policies and profiles parsed now (src/core/policy/shipped-toml.ts).
  define: shippedTomlDefine(root),
};

mkdirSync(join(root, 'dist'), { recursive: true });
await Promise.all([
  build({ ...common, entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js', external: ['vscode', 'node-pty'] }),
  // The CLI is the bundle, and dist/cli.js a small loader that runs it with V8's code cache (src/cli/loader.ts).
  build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli-bundle.js', external: ['node-pty'] }),
  build({ ...common, entryPoints: ['src/cli/loader.ts'], outfile: 'dist/cli.js', sourcemap: false }),
  // The policy editor checks in a worker thread, so the extension host never waits for it.
  build({ ...common, entryPoints: ['src/extension/policy/check-worker.ts'], outfile: 'dist/policy-check-worker.js' }),
]);

// The CLI's start-up is the one that counts (issue 12); the extension bundle is left as esbuild makes it.
shareToESM(join(root, 'dist', 'cli-bundle.js'));

// A new bundle: the old one's code caches go (they are named after it, so they would only take room).
for (const f of readdirSync(join(root, 'dist'))) if (/^cli-bundle\..*\.v8cache$/.test(f)) rmSync(join(root, 'dist', f), { force: true });

execFileSync('make', ['-s', '-C', join(root, 'native')], { stdio: 'inherit' });
const bin = join(root, 'dist', 'agent-gate-supervisor');
// Copy then rename: overwriting a supervisor that is running (a test, a session) fails with ETXTBSY.
const tmpBin = `${bin}.${process.pid}.tmp`;
copyFileSync(join(root, 'native', 'build', 'agent-gate-supervisor'), tmpBin);
chmodSync(tmpBin, 0o755);
renameSync(tmpBin, bin);
