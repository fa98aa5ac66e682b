// Exec-gating cost on this machine: N × fork+exec of /bin/true, ungated vs gated (identity cache on, and
// every exec asked), interleaved, medians; plus the supervisor's decision latency percentiles.
// Run: node scripts/run-ts.mjs test/native/helpers/bench.ts [N] [ROUNDS]
import { spawnSync } from 'node:child_process';
import { buildNative, prog, runGated } from './gate';

export interface GateBench {
  iterations: number;
  rounds: number;
  ungatedMs: number;
  cachedMs: number;
  askedMs: number;
  /** gated ÷ ungated wall time of the loop (medians). */
  cachedRatio: number;
  askedRatio: number;
  /** Supervisor-side decision latency, µs (NOTIF_RECV → just before NOTIF_SEND), median of the rounds. */
  askedP50Us: number;
  askedP99Us: number;
  cachedP50Us: number;
  cachedP99Us: number;
  /** CPU per exec, µs (medians of the rounds): the supervisor's (its EXIT cpu_us) and this Node process's
   * (process.cpuUsage from the first exec to the end: link, decode, the test's decide callback). Less noisy than wall
   * time on a shared machine. */
  cachedSupervisorCpuUs: number;
  askedSupervisorCpuUs: number;
  cachedNodeCpuUs: number;
  askedNodeCpuUs: number;
}

function elapsedMs(stdout: string): number {
  const m = /elapsed_us=(\d+)/.exec(stdout);
  if (!m) throw new Error(`forkexec did not report: ${stdout}`);
  return Number(m[1]) / 1000;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

async function gated(n: number, cache: boolean): Promise<{ ms: number; stats: Record<string, number>; nodeCpuUs: number }> {
  // From the first exec on: the start-up (spawn, handshake, first-time compilation) is not per exec.
  let c0: NodeJS.CpuUsage | undefined;
  const r = await runGated({
    argv: [prog('forkexec'), String(n), '/bin/true'],
    decide: () => ({ action: 'allow', cache }),
    onEvent: () => void (c0 ??= process.cpuUsage()),
  });
  const c = process.cpuUsage(c0);
  return { ms: elapsedMs(r.stdout), stats: r.link.stats ?? {}, nodeCpuUs: c.user + c.system };
}

export async function benchGate(iterations = 2000, rounds = 5): Promise<GateBench> {
  buildNative();
  const ungated: number[] = [];
  const cached: number[] = [];
  const asked: number[] = [];
  const lat: Record<string, number[]> = { asked_p50_us: [], asked_p99_us: [], cached_p50_us: [], cached_p99_us: [] };
  const cpu: Record<string, number[]> = { cs: [], as: [], cn: [], an: [] };
  // Warm-up (page cache, the Node side's first decisions).
  await gated(200, false);
  for (let i = 0; i < rounds; i++) {
    const u = spawnSync(prog('forkexec'), [String(iterations), '/bin/true'], { encoding: 'utf8' });
    ungated.push(elapsedMs(u.stdout));
    const c = await gated(iterations, true);
    cached.push(c.ms);
    const a = await gated(iterations, false);
    asked.push(a.ms);
    for (const k of ['asked_p50_us', 'asked_p99_us']) lat[k]?.push(a.stats[k] ?? NaN);
    for (const k of ['cached_p50_us', 'cached_p99_us']) lat[k]?.push(c.stats[k] ?? NaN);
    cpu.cs?.push((c.stats.cpu_us ?? NaN) / iterations);
    cpu.as?.push((a.stats.cpu_us ?? NaN) / iterations);
    cpu.cn?.push(c.nodeCpuUs / iterations);
    cpu.an?.push(a.nodeCpuUs / iterations);
  }
  const u = median(ungated);
  return {
    iterations,
    rounds,
    ungatedMs: u,
    cachedMs: median(cached),
    askedMs: median(asked),
    cachedRatio: median(cached) / u,
    askedRatio: median(asked) / u,
    askedP50Us: median(lat.asked_p50_us ?? []),
    askedP99Us: median(lat.asked_p99_us ?? []),
    cachedP50Us: median(lat.cached_p50_us ?? []),
    cachedP99Us: median(lat.cached_p99_us ?? []),
    cachedSupervisorCpuUs: median(cpu.cs ?? []),
    askedSupervisorCpuUs: median(cpu.as ?? []),
    cachedNodeCpuUs: median(cpu.cn ?? []),
    askedNodeCpuUs: median(cpu.an ?? []),
  };
}

if (require.main === module) {
  const n = Number(process.argv[2] ?? 2000);
  const rounds = Number(process.argv[3] ?? 5);
  void benchGate(n, rounds).then((r) => console.log(JSON.stringify(r, null, 2)));
}
