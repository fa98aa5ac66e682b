// End to end: a burst of execs from parallel loops is decided and recorded exactly once each — no lost
// records, no duplicates — through the real CLI, policy engine, supervisor (with its identity cache) and
// kernel.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { denyCurlPolicy, makeDirs, prepare, prog, runCli } from './gate-progs/cli';

let dirs: ReturnType<typeof makeDirs>;
beforeAll(async () => {
  await prepare();
  dirs = makeDirs('burst');
  fs.writeFileSync(path.join(dirs.ws, '.gate.toml'), denyCurlPolicy());
});
afterAll(() => dirs?.cleanup());

describe('gate: burst', () => {
  it('10 000 execs from 2 parallel loops → exactly 10 000 decision records', async () => {
    const loops = `${prog('forkexec')} 5000 /bin/true & ${prog('forkexec')} 5000 /bin/true & wait`;
    const r = await runCli(['bash', '-c', loops], { audit: dirs.audit('burst'), cwd: dirs.ws });
    expect(r.code).toBe(0);
    expect(r.stdout.match(/RESULT forkexec ok/g)).toHaveLength(2);
    const trues = r.decisions.filter((d) => d.exe === '/usr/bin/true');
    expect(trues).toHaveLength(10_000);
    expect(new Set(trues.map((d) => d.request)).size).toBe(10_000);
    expect(trues.every((d) => d.verdict === 'allow')).toBe(true);
    // The rest are the agent's bash and the two loop programs.
    expect(r.decisions).toHaveLength(10_003);
    // Most are answered from the supervisor's identity cache after the first decision.
    expect(trues.filter((d) => d.cached).length).toBeGreaterThan(9_000);
    expect(r.end).toMatchObject({ exit_code: 0, stats: { decisions: 10_003, denied: 0 } });

    // Latencies and times are the supervisor's clock mapped to the wall clock: every asked decision took
    // some time (a socket round trip at least), none took longer than the session, and each cached record's
    // time (when the supervisor decided it) lies within the session.
    const start = Date.parse(r.start?.time ?? '');
    const end = Date.parse(r.end?.time ?? '');
    expect(end).toBeGreaterThanOrEqual(start);
    for (const d of r.decisions) {
      expect(Number.isInteger(d.latency_us) && d.latency_us >= 0).toBe(true);
      expect(d.latency_us).toBeLessThanOrEqual((end - start) * 1000 + 1000);
      if (!d.cached) expect(d.latency_us).toBeGreaterThan(0);
      const t = Date.parse(d.time);
      expect(t).toBeGreaterThanOrEqual(start);
      expect(t).toBeLessThanOrEqual(end);
    }
  });
});
