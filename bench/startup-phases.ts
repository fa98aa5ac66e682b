// Where `agent-gate run -- /bin/true` spends Node's CPU before the supervisor has its configuration: each
// phase of the start timed in a fresh process (the first run is what a user waits for: nothing is warm),
// medians over N processes. Usage: node scripts/run-ts.mjs bench/startup-phases.ts [N] (needs no build).
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import { applyAgentProfile } from '../src/core/agents/profiles';
import { PolicyEvaluator } from '../src/core/policy/evaluator';
import { planExecuteSet } from '../src/core/policy/execute-set';
import { createEvaluator, defaultPolicyPath } from '../src/core/policy/index';
import { loadRunPolicy } from '../src/core/session/launch';
import { supervisorConfig } from '../src/core/session/session';
import { encodeConfig } from '../src/core/session/wire';

const PHASES = ['policy load', 'agent detection', 'evaluator', 'execute set', 'supervisor config'] as const;

function once(): Record<string, number> {
  const t: Record<string, number> = {};
  const cpu = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  // Node's own start and this bundle's modules, before the first phase.
  t['node and modules'] = cpu();
  let c = t['node and modules'];
  const lap = (name: string): void => {
    const n = cpu();
    t[name] = n - c;
    c = n;
  };
  const ws = process.cwd();
  const loaded = loadRunPolicy(defaultPolicyPath(), { workspace: ws, env: process.env });
  if (!loaded.ok) throw new Error(loaded.error);
  lap('policy load');
  const applied = applyAgentProfile(loaded.policy, { argv: ['/bin/true'], cwd: ws, workspace: ws, env: process.env });
  if (!applied.ok) throw new Error(applied.error);
  lap('agent detection');
  const ev = createEvaluator(applied.policy);
  lap('evaluator');
  const plan = ev instanceof PolicyEvaluator ? planExecuteSet(applied.policy, ev) : null;
  lap('execute set');
  encodeConfig(supervisorConfig(applied.policy, plan), []);
  lap('supervisor config');
  return t;
}

if (process.argv[2] === '--child') {
  process.stdout.write(JSON.stringify(once()));
} else {
  const n = Number(process.argv[2] ?? 10);
  const runs: Record<string, number>[] = [];
  for (let i = 0; i < n; i++) {
    const r = spawnSync(process.execPath, [__filename, '--child'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    runs.push(JSON.parse(r.stdout) as Record<string, number>);
  }
  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
  };
  console.log(`CPU ms per phase, medians of ${n} fresh processes (load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')})`);
  for (const p of ['node and modules', ...PHASES]) console.log(`${p.padEnd(20)} ${median(runs.map((r) => r[p] ?? 0)).toFixed(1).padStart(6)}`);
  console.log(`${'phases'.padEnd(20)} ${median(runs.map((r) => PHASES.reduce((a, p) => a + (r[p] ?? 0), 0))).toFixed(1).padStart(6)}`);
  console.log(`${'total'.padEnd(20)} ${median(runs.map((r) => Object.values(r).reduce((a, b) => a + b, 0))).toFixed(1).padStart(6)}`);
}
