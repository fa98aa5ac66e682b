#!/usr/bin/env node
// `npm run provision`: install (once) what the VS Code tests and `npm start` need. See scripts/lib/provision.mjs.
// Flags: --force reinstalls Node 24 and code-server.
import { provision } from './lib/provision.mjs';

try {
  provision({ force: process.argv.includes('--force') });
} catch (e) {
  console.error(`provision failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
