#!/usr/bin/env node
// Install the real agents the agents suite runs (test/agents/agents.json) from the npm registry into
// .cache/agents (git-ignored), once: a stamp records what is installed, so later runs take no time.
// Exit 0 when they are there (installed now or before), 1 with the reason when npm could not install them.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './lib/paths.mjs';

export const agentsDir = join(repoRoot, '.cache', 'agents');
const manifest = JSON.parse(readFileSync(join(repoRoot, 'test', 'agents', 'agents.json'), 'utf8')).packages;
const stamp = join(agentsDir, 'installed.json');
const bins = ['claude', 'codex', 'gemini'];

function installed() {
  try {
    return JSON.stringify(JSON.parse(readFileSync(stamp, 'utf8'))) === JSON.stringify(manifest) && bins.every((b) => existsSync(join(agentsDir, 'node_modules', '.bin', b)));
  } catch {
    return false;
  }
}

export function installAgents({ log = console.log } = {}) {
  if (installed()) return { ok: true, note: `already in ${agentsDir}` };
  mkdirSync(agentsDir, { recursive: true });
  writeFileSync(join(agentsDir, 'package.json'), JSON.stringify({ private: true, description: 'Agents for npm run test:agents (scripts/install-agents.mjs)' }, null, 2));
  const specs = Object.entries(manifest).map(([name, version]) => `${name}@${version}`);
  log(`installing ${specs.join(' ')} into ${agentsDir} (a few hundred MB, once)`);
  // Claude Code's postinstall links its native binary in place of bin/claude.exe: scripts must run.
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...specs], { cwd: agentsDir, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, npm_config_engine_strict: 'false' } });
  if (r.status !== 0) return { ok: false, note: `npm install exited ${r.status ?? r.signal}` };
  if (!bins.every((b) => existsSync(join(agentsDir, 'node_modules', '.bin', b)))) return { ok: false, note: `npm install left no ${bins.join('/')} in node_modules/.bin` };
  writeFileSync(stamp, JSON.stringify(manifest));
  return { ok: true, note: `installed in ${agentsDir}` };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop())) {
  const r = installAgents();
  console.log(`agents: ${r.note}`);
  process.exit(r.ok ? 0 : 1);
}
