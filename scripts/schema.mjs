#!/usr/bin/env node
// `npm run schema`: write policies/gate.schema.json from the policy vocabulary (src/core/policy/vocabulary.ts).
// `--check` only compares and exits 1 when the committed file is stale (the unit test does the same).
import { build } from 'esbuild';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { repoRoot } from './lib/paths.mjs';

const out = join(repoRoot, 'dist', 'run', 'schema.cjs');
await build({ entryPoints: [join(repoRoot, 'src/core/policy/schema.ts')], outfile: out, bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'warning', absWorkingDir: repoRoot });
const { policyJsonSchemaText } = createRequire(import.meta.url)(out);
const file = join(repoRoot, 'policies', 'gate.schema.json');
const text = policyJsonSchemaText();
let current = '';
try {
  current = readFileSync(file, 'utf8');
} catch {
  // first generation
}
if (process.argv.includes('--check')) {
  if (current !== text) {
    console.error('policies/gate.schema.json is stale: run `npm run schema`');
    process.exit(1);
  }
  console.log('policies/gate.schema.json is up to date');
} else if (current === text) {
  console.log('policies/gate.schema.json is up to date');
} else {
  writeFileSync(file, text);
  console.log('wrote policies/gate.schema.json');
}
