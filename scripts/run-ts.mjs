#!/usr/bin/env node
// Run a TypeScript entry point (benchmarks, dev tools): bundle it with esbuild into dist/run/ and execute it
// with the remaining arguments. Usage: node scripts/run-ts.mjs FILE.ts [ARGS…]. The shipped policies come
// parsed at build time, as in the CLI's bundle (src/core/policy/shipped-toml.ts), so benchmarks measure what
// the CLI does.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shippedTomlDefine } from './bundle-steps.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node scripts/run-ts.mjs FILE.ts [ARGS…]');
  process.exit(2);
}
const outfile = join(root, 'dist', 'run', basename(entry).replace(/\.ts$/, '.cjs'));
await build({ entryPoints: [entry], outfile, bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: 'inline', external: ['node-pty', 'vscode'], logLevel: 'warning', absWorkingDir: root, define: shippedTomlDefine(root) });
const r = spawnSync(process.execPath, ['--enable-source-maps', outfile, ...args], { stdio: 'inherit' });
process.exit(r.status ?? 1);
