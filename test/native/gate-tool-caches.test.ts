// End to end (issue 13 item 8, red-team R110): aider's repo-map cache `.aider.tags.cache.v*` holds pickles that
// aider loads as code on its next run, outside the gate when started there. A cache the session made or changed
// is removed when the session ends (aider rebuilds it); one it did not touch stays; the end record says so.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProtectedRecord } from '../../src/core/audit/records';
import { makeDirs, prepare, runCli, type CliRun } from './gate-progs/cli';

let dirs: ReturnType<typeof makeDirs>;
let n = 0;
beforeAll(async () => {
  await prepare();
  dirs = makeDirs('tool-caches');
});
afterAll(() => dirs?.cleanup());

function repo(): string {
  const ws = path.join(dirs.root, `repo-${++n}`);
  fs.mkdirSync(ws);
  execFileSync('git', ['init', '-q', ws]);
  return ws;
}

const run = (ws: string, script: string): Promise<CliRun> => runCli(['bash', '-c', script], { audit: dirs.audit(`caches-${n}`), cwd: ws, extra: ['--workspace', ws, '--on-ask', 'deny'] });
const cacheRecords = (r: CliRun): ProtectedRecord[] => r.records.filter((x): x is ProtectedRecord => x.type === 'protected' && x.path.includes('.aider.tags.cache'));

describe('gate: tool caches loaded as code (aider\'s repo map)', () => {
  it('a cache the agent made is removed at the end; the rest of its work is kept', async () => {
    const ws = repo();
    const r = await run(ws, 'mkdir -p .aider.tags.cache.v4/ab && printf "pickle" > .aider.tags.cache.v4/cache.db && echo work > app.py');
    expect(r.code, r.stderr).toBe(0);
    expect(fs.existsSync(path.join(ws, '.aider.tags.cache.v4'))).toBe(false);
    expect(fs.readFileSync(path.join(ws, 'app.py'), 'utf8')).toBe('work\n');
    const recs = cacheRecords(r);
    expect(recs.map((x) => [path.basename(x.path), x.change, x.reverted])).toEqual([['.aider.tags.cache.v4', 'created', true]]);
    expect(r.stderr).toContain("aider's repo-map cache");
  });

  it('a cache the user had is kept when the session does not touch it, removed when it changes an entry', async () => {
    const ws = repo();
    for (const v of ['v3', 'v4']) {
      fs.mkdirSync(path.join(ws, `.aider.tags.cache.${v}`, 'ab'), { recursive: true });
      fs.writeFileSync(path.join(ws, `.aider.tags.cache.${v}`, 'cache.db'), 'users');
      fs.writeFileSync(path.join(ws, `.aider.tags.cache.${v}`, 'ab', 'val.pickle'), 'users');
    }
    const r = await run(ws, 'printf "evil" > .aider.tags.cache.v3/ab/val.pickle; cat .aider.tags.cache.v4/cache.db >/dev/null');
    expect(r.code, r.stderr).toBe(0);
    expect(fs.existsSync(path.join(ws, '.aider.tags.cache.v3'))).toBe(false);
    expect(fs.readFileSync(path.join(ws, '.aider.tags.cache.v4', 'ab', 'val.pickle'), 'utf8')).toBe('users');
    expect(cacheRecords(r).map((x) => [path.basename(x.path), x.change])).toEqual([['.aider.tags.cache.v3', 'modified']]);
  });

  it('a package of a monorepo opened on its own: the cache at the repository\'s top too', async () => {
    const top = repo();
    const ws = path.join(top, 'packages', 'web');
    fs.mkdirSync(ws, { recursive: true });
    // The default policy grants the workspace only; a policy that grants the repository lets the agent reach it.
    const policy = path.join(dirs.root, `top-${n}.toml`);
    fs.writeFileSync(policy, `[meta]\nversion = 1\ndefault_action = "allow"\n[filesystem]\nread_globs = ["/**"]\nwrite_globs = ["${top}/**"]\n`);
    const r = await runCli(['bash', '-c', `mkdir ${top}/.aider.tags.cache.v4 && echo x > ${top}/.aider.tags.cache.v4/cache.db`], { policy, audit: dirs.audit(`caches-top-${n}`), cwd: ws, extra: ['--workspace', ws, '--on-ask', 'deny'] });
    expect(r.code, r.stderr).toBe(0);
    expect(fs.existsSync(path.join(top, '.aider.tags.cache.v4'))).toBe(false);
    expect(cacheRecords(r)).toHaveLength(1);
  });
});
