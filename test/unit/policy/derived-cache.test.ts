// The derived-data cache (derived-cache.ts) on a real directory tree: after each kind of change a start with the
// cache decides exactly as one without it (the resolved programs, the execute set, the verdicts), and a file
// that is not a sound entry of ours is never used.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { DerivedCache } from '../../../src/core/policy/derived-cache';
import { defaultEvaluationContext, PolicyEvaluator } from '../../../src/core/policy/evaluator';
import { planExecuteSet } from '../../../src/core/policy/execute-set';
import { loadPolicyText } from '../../../src/core/policy/load';
import type { ExecFacts } from '../../../src/core/exec/facts';
import type { Policy } from '../../../src/core/policy/types';
import { derivedCacheUsable, planLaunch } from '../../../src/core/session/launch';

const root = realpathSync(mkdtempSync(join(tmpdir(), 'gate-derived-')));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Past the coarse-timestamp window: the fixture was just made, and a test need not wait 2 s to store. */
const later = (): bigint => BigInt(Date.now() + 3000) * 1_000_000n;

let t: string;
let cacheDir: string;
let bin1: string;
let bin2: string;

function program(file: string, body: string): void {
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
}

beforeEach(() => {
  t = mkdtempSync(join(root, 't-'));
  cacheDir = join(t, 'state', 'derived-cache');
  bin1 = join(t, 'bin1');
  bin2 = join(t, 'bin2');
  mkdirSync(bin1);
  mkdirSync(bin2);
  mkdirSync(join(t, 'ws'));
  program(join(bin1, 'tool'), 'echo tool');
  program(join(bin1, 'gdpx'), 'echo gdpx one');
});

function policyText(extra = ''): string {
  return [
    '[meta]\nversion = 1\ndefault_action = "allow"\n',
    '[[rule]]\nid = "no-gdpx"\naction = "deny"\nexe_basename = "gdpx"\n',
    '[[rule]]\nid = "no-other"\naction = "deny"\nexe = "${WORKSPACE}/../bin2/other"\n',
    extra,
    `[filesystem]\nwrite_globs = ["\${WORKSPACE}/**"]\nexecute_globs = ["${bin1}/**", "${bin2}/**", "/usr/**"]\n`,
  ].join('\n');
}

function load(text = policyText()): Policy {
  const loaded = loadPolicyText(text, join(t, 'ws', '.gate.toml'), { workspace: join(t, 'ws'), env: {} });
  if (!loaded.policy) throw new Error(JSON.stringify(loaded.diagnostics));
  return loaded.policy;
}

function pathEnv(): string {
  return `${bin1}:${bin2}:/usr/bin`;
}

interface Outcome {
  plan: unknown;
  sizes: number[];
  verdicts: string[];
}

function facts(file: string): ExecFacts {
  const st = statSync(file, { bigint: true });
  const real = realpathSync(file);
  return {
    requestId: 1, tid: 1, pid: 1, ppid: 1, uid: 1000, syscall: 'execve', requestedPath: file,
    exe: { path: real, dev: st.dev.toString(), ino: st.ino.toString(), size: Number(st.size), sha256: createHash('sha256').update(readFileSync(real)).digest('hex') },
    argv: [file], argvTruncated: false, cwd: '/', parent: null,
  };
}

function outcome(ev: PolicyEvaluator, plan: ReturnType<typeof planExecuteSet>, probes: string[]): Outcome {
  const { ms: _ms, ...p } = plan;
  return {
    plan: p,
    sizes: [...(ev.contentSizes?.() ?? [])].sort(),
    verdicts: probes.map((f) => {
      const d = ev.evaluate(facts(f));
      return `${d.action} ${d.ruleId} ${d.layer}`;
    }),
  };
}

/** A start without the cache. */
function fresh(policy: Policy, probes: string[]): Outcome {
  const ev = new PolicyEvaluator(policy, defaultEvaluationContext(policy.filesystem, pathEnv()));
  return outcome(ev, planExecuteSet(policy, ev), probes);
}

/** A start with it: open, evaluate, plan, save (as launch.ts and the session do). */
function cached(policy: Policy, probes: string[], save = true): { cache: DerivedCache; out: Outcome } {
  const cache = DerivedCache.open(cacheDir, { policy, path: pathEnv(), cwd: join(t, 'ws'), workspace: join(t, 'ws') });
  const ev = new PolicyEvaluator(policy, cache.context(defaultEvaluationContext(policy.filesystem, pathEnv())));
  const out = outcome(ev, cache.planExecuteSet(policy, ev), probes);
  if (save) cache.save(later());
  return { cache, out };
}

function entries(): string[] {
  try {
    return readdirSync(cacheDir).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
}

describe('derived-data cache', () => {
  it('stores a start and answers the next one from it, deciding the same', () => {
    const policy = load();
    const probes = [join(bin1, 'gdpx'), join(bin1, 'tool')];
    const first = cached(policy, probes);
    expect(first.cache.state).toBe('miss');
    expect(first.cache.lastSaveSkipped).toBeNull();
    expect(entries()).toHaveLength(1);
    expect(statSync(join(cacheDir, entries()[0] as string)).mode & 0o777).toBe(0o600);
    const second = cached(load(), probes);
    expect(second.cache.state).toBe('hit');
    expect(second.cache.lastSaveSkipped).toBe('unchanged');
    expect(second.out).toEqual(fresh(load(), probes));
    expect(second.out.verdicts[0]).toBe('deny no-gdpx rule');
    expect((second.out.plan as { excluded: { path: string }[] }).excluded.map((e) => e.path)).toEqual([join(bin1, 'gdpx')]);
  });

  it('a program rewritten in place (same inode, same directory) is resolved again', () => {
    cached(load(), []);
    const copy = join(t, 'ws', 'copy');
    writeFileSync(join(bin1, 'gdpx'), '#!/bin/sh\necho gdpx two, longer\n'); // same inode
    program(copy, 'echo gdpx two, longer');
    const probes = [copy];
    const again = cached(load(), probes);
    expect(again.cache.state).toBe('stale');
    expect(again.out).toEqual(fresh(load(), probes));
    // The copy of the new content has the denied program's size: its hash is compared (sizes), as fresh.
    expect(again.out.sizes).toContain(statSync(join(bin1, 'gdpx')).size);
  });

  it('a new program in a PATH directory is found', () => {
    cached(load(), []);
    program(join(bin2, 'gdpx'), 'echo another gdpx');
    const probes = [join(bin2, 'gdpx')];
    const again = cached(load(), probes);
    expect(again.cache.state).toBe('stale');
    expect(again.out).toEqual(fresh(load(), probes));
    expect((again.out.plan as { excluded: { path: string }[] }).excluded.map((e) => e.path).sort()).toEqual([join(bin1, 'gdpx'), join(bin2, 'gdpx')]);
  });

  it('a retargeted symlink on the way (an alternatives link outside every listed directory) is followed again', () => {
    const alt = join(t, 'alt');
    const impl = join(t, 'impl');
    mkdirSync(alt);
    mkdirSync(impl);
    program(join(impl, 'gdpx-a'), 'echo a');
    program(join(impl, 'gdpx-b'), 'echo b, which is longer');
    rmSync(join(bin1, 'gdpx'));
    symlinkSync(join(alt, 'gdpx'), join(bin1, 'gdpx'));
    symlinkSync(join(impl, 'gdpx-a'), join(alt, 'gdpx'));
    const policy = policyText().replace('"/usr/**"]', `"/usr/**", "${impl}/**"]`);
    cached(load(policy), []);
    // Retargeted the way update-alternatives does: a new link renamed over the old one.
    symlinkSync(join(impl, 'gdpx-b'), join(alt, 'gdpx.new'));
    renameSync(join(alt, 'gdpx.new'), join(alt, 'gdpx'));
    const probes = [join(impl, 'gdpx-a'), join(impl, 'gdpx-b')];
    const again = cached(load(policy), probes);
    expect(again.cache.state).toBe('stale');
    expect(again.out).toEqual(fresh(load(policy), probes));
    expect((again.out.plan as { excluded: { path: string }[] }).excluded.map((e) => e.path)).toEqual([join(impl, 'gdpx-b')]);
  });

  it('a program named by exe appearing later is found', () => {
    cached(load(), []);
    program(join(bin2, 'other'), 'echo other');
    const probes = [join(bin2, 'other')];
    const again = cached(load(), probes);
    expect(again.out).toEqual(fresh(load(), probes));
    expect(again.out.verdicts[0]).toBe('deny no-other rule');
  });

  it('a policy edit or another PATH is another key', () => {
    cached(load(), []);
    const edited = load(policyText('[[rule]]\nid = "no-tool"\naction = "deny"\nexe_basename = "tool"\n'));
    const probes = [join(bin1, 'tool')];
    const again = cached(edited, probes);
    expect(again.cache.state).toBe('miss');
    expect(again.out).toEqual(fresh(edited, probes));
    expect(again.out.verdicts[0]).toBe('deny no-tool rule');
    const otherPath = DerivedCache.open(cacheDir, { policy: load(), path: `${bin2}:/usr/bin`, cwd: join(t, 'ws'), workspace: join(t, 'ws') });
    expect(otherPath.state).toBe('miss');
  });

  it('a corrupted, foreign, symlinked or group-writable file is not used, and recomputed', () => {
    const probes = [join(bin1, 'gdpx')];
    const first = cached(load(), probes);
    const file = first.cache.file;
    const good = readFileSync(file, 'utf8');
    const expectRecomputed = (state: string): void => {
      const r = cached(load(), probes, false);
      expect(r.cache.state).toBe(state);
      expect(r.out).toEqual(fresh(load(), probes));
    };
    writeFileSync(file, good.slice(0, good.length / 2));
    expectRecomputed('unreadable');
    // Another key's entry under this name (a copy): not used.
    writeFileSync(file, good.replace(/"key":"[0-9a-f]+"/, `"key":"${'0'.repeat(64)}"`));
    expectRecomputed('unreadable');
    // A well-formed entry whose dependency stamps do not hold now (an old entry, a forged one).
    writeFileSync(file, good.replace(/"f:(\d+):/, '"f:1$1:'));
    expectRecomputed('stale');
    // A plan of the wrong shape.
    writeFileSync(file, good.replace(/"grants":\[/, '"grants":[7,'));
    expectRecomputed('unreadable');
    // Not followed when it is a symlink (O_NOFOLLOW), even to a good copy.
    writeFileSync(join(t, 'good.json'), good, { mode: 0o600 });
    rmSync(file);
    symlinkSync(join(t, 'good.json'), file);
    expectRecomputed('unreadable');
    rmSync(file);
    writeFileSync(file, good, { mode: 0o600 });
    chmodSync(file, 0o620);
    expectRecomputed('unreadable');
    chmodSync(file, 0o600);
    chmodSync(cacheDir, 0o777);
    expectRecomputed('unreadable');
    chmodSync(cacheDir, 0o700);
    expect(cached(load(), probes, false).cache.state).toBe('hit');
  });

  it('stores nothing while a recorded time is within 2 s of now (coarse timestamps)', () => {
    const policy = load();
    const cache = DerivedCache.open(cacheDir, { policy, path: pathEnv(), cwd: join(t, 'ws'), workspace: join(t, 'ws') });
    const ev = new PolicyEvaluator(policy, cache.context(defaultEvaluationContext(policy.filesystem, pathEnv())));
    cache.planExecuteSet(policy, ev);
    cache.save(); // now: bin1 and its programs were made a moment ago
    expect(cache.lastSaveSkipped).toMatch(/^racy: /);
    expect(entries()).toHaveLength(0);
  });

  it('keeps no plan for an evaluator that did not resolve through it', () => {
    const policy = load();
    const cache = DerivedCache.open(cacheDir, { policy, path: pathEnv(), cwd: join(t, 'ws'), workspace: join(t, 'ws') });
    const ev = new PolicyEvaluator(policy, defaultEvaluationContext(policy.filesystem, pathEnv()));
    cache.planExecuteSet(policy, ev);
    cache.save(later());
    expect(cache.lastSaveSkipped).toBe('unchanged');
  });

  it('is not used where the agent may write: unsealed writes, a write grant over or inside its directory', () => {
    const policy = load();
    expect(derivedCacheUsable(cacheDir, policy.filesystem)).toBeNull();
    expect(derivedCacheUsable(join(t, 'ws', 'state'), policy.filesystem)).toMatch(/may write/);
    expect(derivedCacheUsable(t, policy.filesystem)).toMatch(/may write/); // a grant inside it
    expect(derivedCacheUsable(cacheDir, { ...policy.filesystem, handled: 'rx' })).toMatch(/not sealed/);
    // Through planLaunch: a cache directory the run's grants reach is never opened.
    const policyFile = join(t, 'policy.toml');
    writeFileSync(policyFile, policyText());
    const base = { argv: ['/bin/true'], agent: null, workspace: join(t, 'ws'), policyFile, env: { PATH: pathEnv() }, supervisorPath: '/bin/true' };
    const inWs = planLaunch({ ...base, derivedCacheDir: join(t, 'ws', 'cache') });
    const outside = planLaunch({ ...base, derivedCacheDir: cacheDir });
    expect(inWs.ok && outside.ok).toBe(true);
    if (!inWs.ok || !outside.ok) return;
    expect(inWs.derived).toBeUndefined();
    expect(outside.derived).toBeDefined();
  });

  it('copies of a denied program under other names stay denied through a cached start', () => {
    const probes = [join(bin1, 'gdpx')];
    cached(load(), probes);
    const copy = join(t, 'ws', 'innocent');
    copyFileSync(join(bin1, 'gdpx'), copy);
    const again = cached(load(), [copy]);
    expect(again.cache.state).toBe('hit');
    const ev = new PolicyEvaluator(load(), defaultEvaluationContext(load().filesystem, pathEnv()));
    expect(again.out).toEqual(outcome(ev, planExecuteSet(load(), ev), [copy]));
  });
});
