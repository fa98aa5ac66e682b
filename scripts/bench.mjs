#!/usr/bin/env node
// `npm run bench [-- --quick]`: build, then run the policy benchmark (bench/policy-bench.ts: evaluations per
// second of the policy engine alone) and the gate benchmark (bench/gate-bench.ts: real workloads ungated,
// gated and under strace), and print both tables. The gate benchmark's strace column needs strace
// (setup: apt-get install -y strace; without it the column is skipped and says so).
// Keep the machine otherwise idle: the gate benchmark compares wall times on 2 shared cores.
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const quick = process.argv.includes('--quick');
// The machine's load before anything here runs (the policy benchmark, run first, loads a core for a while).
const loadBefore = os.loadavg()[0];

function run(title, args) {
  console.log(`\n=== ${title} ===`);
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env: { ...process.env, AGENT_GATE_BENCH_LOAD_BEFORE: String(loadBefore) } });
  if (r.status !== 0) {
    console.error(`${title} failed (exit ${r.status ?? r.signal})`);
    return false;
  }
  return true;
}

let ok = run('build', [join(root, 'scripts', 'build.mjs')]);
if (ok) {
  const policyOk = run('policy engine benchmark', [join(root, 'scripts', 'run-ts.mjs'), 'bench/policy-bench.ts', ...(quick ? ['100000'] : [])]);
  const gateOk = run('gate benchmark', [join(root, 'scripts', 'run-ts.mjs'), 'bench/gate-bench.ts', ...(quick ? ['--quick'] : [])]);
  ok = policyOk && gateOk;
}
process.exit(ok ? 0 : 1);
