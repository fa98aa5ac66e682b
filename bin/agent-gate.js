#!/usr/bin/env node
'use strict';
// Thin launcher for the bundled CLI, so `npx agent-gate` works from a checkout after `npm ci`.
const path = require('node:path');
const fs = require('node:fs');
const cli = path.join(__dirname, '..', 'dist', 'cli.js');
if (!fs.existsSync(cli)) {
  process.stderr.write('agent-gate: the CLI is not built yet; run `npm run build` in ' + path.dirname(__dirname) + '\n');
  process.exit(126);
}
require(cli);
