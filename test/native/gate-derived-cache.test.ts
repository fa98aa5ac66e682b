// The derived-data cache (src/core/policy/derived-cache.ts) through `agent-gate run`: a start answered from the
// cache decides as one that computes everything — after a denied program appears in a PATH directory, after it
// is rewritten in place, with the cache file damaged — and a cache directory a write grant reaches is neither
// read nor written. Real CLI, real supervisor, real kernel; the cache's state is read from `-v`.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDirs, prepare, runCli, type CliRun } from './gate-progs/cli';

let dirs: ReturnType<typeof makeDirs>;
let stateHome: string;
let cacheDir: string;
let bin: string;
let binRoot: string;
let policy: string;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Past the 2 s in which a recorded time keeps the cache from being stored (coarse timestamps). */
const settle = (): Promise<void> => sleep(2200);

beforeAll(async () => {
  await prepare();
  dirs = makeDirs('derived');
  // The state home where no write grant of the test policy reaches (the workspace is under /tmp).
  fs.mkdirSync(path.join(os.homedir(), '.local', 'state'), { recursive: true });
  stateHome = fs.mkdtempSync(path.join(os.homedir(), '.local', 'state', 'gate-e2e-derived-'));
  cacheDir = path.join(stateHome, 'agent-gate', 'derived-cache');
  // On PATH, not writable by the agent, and not under /tmp: the execute set is split down to it, and a
  // directory listed for the split that changes all the time (/tmp on a shared machine) keeps the cache from
  // being stored.
  binRoot = fs.mkdtempSync(path.join(os.homedir(), '.gate-derived-'));
  bin = path.join(binRoot, 'bin');
  fs.mkdirSync(bin);
  policy = path.join(dirs.root, 'policy.toml');
  fs.writeFileSync(
    policy,
    `[meta]\nversion = 1\ndefault_action = "allow"\n\n[[rule]]\nid = "no-gdpx"\naction = "deny"\nreason = "test"\nexe_basename = "gdpx"\n\n` +
      `[filesystem]\nread_globs = ["/**"]\nwrite_globs = ["\${WORKSPACE}/**"]\nrequire_enforced = true\n`,
  );
}, 120_000);
afterAll(() => {
  dirs?.cleanup();
  if (stateHome) fs.rmSync(stateHome, { recursive: true, force: true });
  if (binRoot) fs.rmSync(binRoot, { recursive: true, force: true });
});

/** A start that stores the cache: after 2 s of quiet in what it records (retried: the home directory on the
 *  way to the PATH directory is shared with other tests). */
async function stored(): Promise<string> {
  let line = '';
  for (let i = 0; i < 4 && !/saved|hit/.test(line); i++) {
    await settle();
    line = (await run(['/bin/true'])).cacheLine;
  }
  // (A hit: a start since the last change already stored it.)
  expect(line).toMatch(/^derived-data cache: ((miss|stale), saved|hit)/);
  return line;
}

function script(file: string, body: string): void {
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`);
  fs.chmodSync(file, 0o755);
}

let n = 0;
async function run(argv: string[], o: { cache?: boolean; extra?: string[] } = {}): Promise<CliRun & { cacheLine: string }> {
  const r = await runCli(argv, {
    cwd: dirs.ws,
    policy,
    audit: dirs.audit(`run-${++n}`),
    extra: ['-v', '--on-ask', 'deny', ...(o.extra ?? [])],
    env: { XDG_STATE_HOME: stateHome, PATH: `${bin}:/usr/bin:/bin`, ...(o.cache === false ? { AGENT_GATE_DERIVED_CACHE: '0' } : {}) },
  });
  return { ...r, cacheLine: /derived-data cache: [^\n]*/.exec(r.stderr)?.[0] ?? '' };
}

/** What decides: each exec's verdict and rule, and the programs the kernel refuses. */
function verdicts(r: CliRun): unknown {
  return {
    code: r.code,
    stdout: r.stdout,
    decisions: r.decisions.map((d) => `${d.verdict} ${d.rule_id ?? '-'} ${d.exe}`),
    kernel: (r.start as { kernel_denies?: { programs: string[] } } | undefined)?.kernel_denies?.programs ?? [],
  };
}

/** The run with the cache, then the same without it: the same verdicts. */
async function same(argv: string[]): Promise<CliRun & { cacheLine: string }> {
  const cached = await run(argv);
  const computed = await run(argv, { cache: false });
  expect(computed.cacheLine).toMatch(/not used/);
  expect(verdicts(cached)).toEqual(verdicts(computed));
  return cached;
}

describe('derived-data cache through agent-gate run', () => {
  it('is stored, used, and recomputed when a PATH directory or a program in it changes', async () => {
    const first = await stored();
    const file = /\((\/[^)]+\.json)\)$/.exec(first)?.[1] as string;
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect((await run(['/bin/true'])).cacheLine).toMatch(/^derived-data cache: hit \(/);

    // A denied program appears in a PATH directory; a copy of it under another name is the same program.
    script(path.join(bin, 'gdpx'), 'echo gdpx one');
    fs.copyFileSync(path.join(bin, 'gdpx'), path.join(dirs.ws, 'innocent'));
    const after = await same([path.join(dirs.ws, 'innocent')]);
    expect(after.cacheLine).toMatch(/^derived-data cache: stale/);
    expect(after.stdout).toBe('');
    expect(after.decisions.map((d) => `${d.verdict} ${d.rule_id}`)).toEqual(['deny no-gdpx']);
    expect(verdicts(after)).toMatchObject({ kernel: [path.join(bin, 'gdpx')] });

    await stored();
    expect((await run(['/bin/true'])).cacheLine).toMatch(/^derived-data cache: hit/);
    // Rewritten in place (same inode, same directory entry): the old copy is no longer it, a copy of the new is.
    fs.writeFileSync(path.join(bin, 'gdpx'), '#!/bin/sh\necho gdpx two, which is longer\n');
    fs.copyFileSync(path.join(bin, 'gdpx'), path.join(dirs.ws, 'innocent2'));
    const old = await same([path.join(dirs.ws, 'innocent')]);
    expect(old.cacheLine).toMatch(/^derived-data cache: stale/);
    expect(old.stdout).toBe('gdpx one\n');
    const fresh = await same([path.join(dirs.ws, 'innocent2')]);
    expect(fresh.decisions.map((d) => `${d.verdict} ${d.rule_id}`)).toEqual(['deny no-gdpx']);

    // A damaged cache file: not used, the start computes.
    await stored();
    fs.writeFileSync(file, '{"format":1,"key":"');
    const damaged = await same([path.join(dirs.ws, 'innocent2')]);
    expect(damaged.cacheLine).toMatch(/^derived-data cache: unreadable/);
    expect(damaged.decisions.map((d) => `${d.verdict} ${d.rule_id}`)).toEqual(['deny no-gdpx']);
  }, 120_000);

  it('a cache directory the agent may write is neither read nor written', async () => {
    fs.mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    const planted = path.join(cacheDir, 'planted.json');
    fs.writeFileSync(planted, '{}', { mode: 0o600 });
    const before = fs.readdirSync(cacheDir).sort();
    await settle();
    const r = await run([path.join(dirs.ws, 'innocent2')], { extra: ['-w', `${cacheDir}/**`] });
    expect(r.stderr).toMatch(/cannot run .*innocent2: Permission denied/);
    expect(r.cacheLine).toMatch(/not used/);
    expect(r.decisions.map((d) => `${d.verdict} ${d.rule_id}`)).toEqual(['deny no-gdpx']);
    expect(fs.readdirSync(cacheDir).sort()).toEqual(before);
    expect(fs.readFileSync(planted, 'utf8')).toBe('{}');
  }, 60_000);
});
