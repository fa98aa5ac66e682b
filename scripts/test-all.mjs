#!/usr/bin/env node
// `npm test`: every layer, in order, with one tally at the end.
//   build → provision (cached) → vitest unit + native → integration (real extension host) → UI (Chromium on
//   code-server) → package + VSIX.
// Prints a line per layer (counts and elapsed time, informational) and, last, exactly "N passed, N failed".
// A layer that cannot run or report counts as one failure, so the exit status and the last line agree.
// Flags: --only=static,unit,native,agents,integration,ui,vsix runs a subset (build always runs).
// `agents` is the real agents from npm (installed once into .cache/agents) and the workloads suite.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { repoRoot } from './lib/paths.mjs';
import { provision } from './lib/provision.mjs';
import { installAgents } from './install-agents.mjs';

const onlyArg = process.argv.find((a) => a.startsWith('--only='));
const only = onlyArg ? new Set(onlyArg.slice('--only='.length).split(',')) : undefined;
const wanted = (name) => !only || only.has(name);
const tmp = mkdtempSync(join(tmpdir(), 'agent-gate-test-all-'));
const results = [];

const fmtTime = (ms) => (ms >= 60_000 ? `${Math.floor(ms / 60_000)} min ${((ms % 60_000) / 1000).toFixed(0)} s` : `${(ms / 1000).toFixed(1)} s`);
const banner = (s) => console.log(`\n=== ${s} ===`);

/** Run a command with inherited stdin closed, echoing its output; resolves with exit code and captured stdout. */
function exec(cmd, args, { env } = {}) {
  return new Promise((resolve) => {
    // Output is piped through us: keep colours only when we are on a terminal.
    const colour = process.stdout.isTTY ? { FORCE_COLOR: '1' } : { NO_COLOR: '1' };
    const child = spawn(cmd, args, { cwd: repoRoot, env: { ...process.env, ...colour, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.stderr.on('data', (d) => process.stderr.write(d));
    child.on('error', (e) => resolve({ code: 127, out: out + `\n${e.message}` }));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), out }));
  });
}

function record(layer, { passed = 0, failed = 0, skipped = 0, ms, note }) {
  results.push({ layer, passed, failed, skipped, ms, note });
}
function couldNotRun(layer, ms, why) {
  record(layer, { failed: 1, ms, note: `could not run: ${why}` });
}

/** Counts from a node:test TAP file ("# pass N" …). */
function tapCounts(file) {
  const text = readFileSync(file, 'utf8');
  const n = (k) => Number(new RegExp(`^# ${k} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
  const c = { passed: n('pass'), failed: n('fail') + (n('cancelled') || 0), skipped: (n('skipped') || 0) + (n('todo') || 0) };
  return Number.isNaN(c.passed) || Number.isNaN(c.failed) ? undefined : c;
}

async function nodeTestLayer(layer, files, extraEnv) {
  banner(layer);
  const t0 = Date.now();
  const tap = join(tmp, `${layer}.tap`);
  const r = await exec(process.execPath, ['--test', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...files], { env: extraEnv });
  let counts;
  try {
    counts = tapCounts(tap);
  } catch {
    counts = undefined;
  }
  if (!counts) return couldNotRun(layer, Date.now() - t0, `node --test exited ${r.code} without a report`);
  if (r.code !== 0 && counts.failed === 0) counts.failed = 1; // e.g. a crashed hook
  record(layer, { ...counts, ms: Date.now() - t0 });
}

// 1. Build: everything else uses its output.
banner('build');
{
  const t0 = Date.now();
  const r = await exec('npm', ['run', '--silent', 'build']);
  if (r.code !== 0) {
    couldNotRun('build', Date.now() - t0, `npm run build exited ${r.code}`);
    finish();
  }
  console.log(`build: ${fmtTime(Date.now() - t0)}`);
}

// 1b. Static checks: the type-checker and the linter must be clean; each counts as one check.
if (wanted('static')) {
  for (const [layer, script] of [['typecheck', 'typecheck'], ['lint', 'lint']]) {
    banner(layer);
    const t0 = Date.now();
    const r = await exec('npm', ['run', '--silent', script]);
    record(layer, { passed: r.code === 0 ? 1 : 0, failed: r.code === 0 ? 0 : 1, ms: Date.now() - t0, note: 'one check' });
  }
}

// 2. Provision code-server, Node 24 and Chromium (seconds when cached).
let provisioned = false;
if (['integration', 'ui', 'vsix'].some(wanted)) {
  banner('provision');
  const t0 = Date.now();
  try {
    provision({ log: (l) => console.log(l) });
    provisioned = true;
  } catch (e) {
    console.error(`provision failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  console.log(`provision: ${fmtTime(Date.now() - t0)}`);
}

// 3. vitest: unit and native projects in one run, split by folder from the JSON report.
// 2b. The real agents the agents suite runs, from npm into .cache/agents (seconds when cached).
let agentsReady = false;
if (wanted('agents')) {
  banner('install agents');
  const t0 = Date.now();
  const r = installAgents({ log: (l) => console.log(l) });
  console.log(`agents: ${r.note} (${fmtTime(Date.now() - t0)})`);
  if (r.ok) agentsReady = true;
  else couldNotRun('agents', Date.now() - t0, r.note);
}

if (wanted('unit') || wanted('native') || agentsReady) {
  const projects = ['unit', 'native', ...(agentsReady ? ['agents'] : [])].filter(wanted);
  banner(`vitest (${projects.join(' + ')})`);
  const t0 = Date.now();
  const json = join(tmp, 'vitest.json');
  const r = await exec(process.execPath, [join(repoRoot, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...projects.flatMap((p) => ['--project', p]), '--reporter=default', '--reporter=json', `--outputFile.json=${json}`]);
  const ms = Date.now() - t0;
  let report;
  try {
    report = JSON.parse(readFileSync(json, 'utf8'));
  } catch {
    for (const p of projects) couldNotRun(p, ms, `vitest exited ${r.code} without a JSON report`);
  }
  if (report) {
    const shared = projects.length > 1 ? `one vitest run for ${projects.join(' + ')}` : undefined;
    const per = Object.fromEntries(projects.map((p) => [p, { passed: 0, failed: 0, skipped: 0, ms, note: shared }]));
    for (const file of report.testResults) {
      const project = relative(repoRoot, file.name).split('/')[1];
      const c = per[project];
      if (!c) continue;
      let fileFailed = 0;
      for (const a of file.assertionResults) {
        if (a.status === 'passed') c.passed++;
        else if (a.status === 'failed') fileFailed++;
        else c.skipped++;
      }
      // A file that failed to load or failed in a hook has no failed assertion of its own: count it once.
      if (file.status === 'failed' && fileFailed === 0) fileFailed = 1;
      c.failed += fileFailed;
    }
    for (const p of projects) {
      if (r.code !== 0 && per[p].failed === 0 && projects.every((q) => per[q].failed === 0)) per[p].failed = 1;
      record(p, per[p]);
    }
  }
}

// 4. Integration suite inside a real extension host (test-electron → desktop VS Code or the code-server shim).
if (wanted('integration')) {
  banner('integration');
  const t0 = Date.now();
  if (!provisioned) couldNotRun('integration', 0, 'runtime not provisioned');
  else {
    const r = await exec(process.execPath, [join(repoRoot, 'test', 'integration', 'run.mjs'), '--no-build']);
    const m = /AGENT_GATE_MOCHA_RESULT (\{.*\})/.exec(r.out);
    if (!m) couldNotRun('integration', Date.now() - t0, `runner exited ${r.code} without a result`);
    else {
      const c = JSON.parse(m[1]);
      if (r.code !== 0 && c.failed === 0) c.failed = 1;
      record('integration', { ...c, ms: Date.now() - t0 });
    }
  }
}

// 5. UI: Chromium drives the workbench (command palette, views).
if (wanted('ui')) {
  if (!provisioned) couldNotRun('ui', 0, 'runtime not provisioned');
  else await nodeTestLayer('ui', ['test/ui/ui.test.mjs']);
}

// 6. Package the VSIX, check it and install it.
if (wanted('vsix')) {
  banner('package');
  const t0 = Date.now();
  const r = await exec('npm', ['run', '--silent', 'package']);
  if (r.code !== 0) couldNotRun('vsix', Date.now() - t0, `npm run package exited ${r.code}`);
  else if (!provisioned) couldNotRun('vsix', Date.now() - t0, 'runtime not provisioned');
  else {
    const size = readFileSync(join(repoRoot, 'dist', 'agent-gate-linux-x64.vsix')).length;
    console.log(`package: dist/agent-gate-linux-x64.vsix, ${(size / 1024).toFixed(0)} KiB, ${fmtTime(Date.now() - t0)}`);
    await nodeTestLayer('vsix', ['test/vsix/vsix.test.mjs', 'test/vsix/policy-editor.test.mjs', 'test/vsix/guarded-terminal.test.mjs']);
  }
}

finish();

function finish() {
  rmSync(tmp, { recursive: true, force: true });
  console.log('\n=== summary ===');
  let passed = 0;
  let failed = 0;
  for (const r of results) {
    passed += r.passed;
    failed += r.failed;
    const skipped = r.skipped ? `, ${r.skipped} skipped` : '';
    const time = r.ms === undefined ? '' : `  (${fmtTime(r.ms)})`;
    console.log(`${r.layer.padEnd(12)} ${r.passed} passed, ${r.failed} failed${skipped}${time}${r.note ? `  — ${r.note}` : ''}`);
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed > 0 ? 1 : 0);
}
