// dist/cli.js, the loader that runs the CLI bundle with V8's code cache (src/cli/loader.ts): the first `run`
// makes the cache beside the bundle, later starts use it as it is, and a cache V8 refuses (made for another
// bundle, damaged) is never run: the bundle compiles as without a cache, the run behaves the same, and the
// cache is made again. Built here like scripts/build.mjs does, into a directory of its own (with the shipped
// policies beside it, as in dist/).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildNative, ROOT, SUPERVISOR } from './helpers/gate';

// The build, the policies and the audit logs where no write grant of the default policy reaches (not under
// /tmp): as an installed CLI is.
const base = fs.mkdtempSync(path.join(os.homedir(), '.gate-code-cache-'));
const dist = path.join(base, 'dist');
const state = path.join(base, 'state');
const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'gate-code-cache-ws-'));

beforeAll(async () => {
  buildNative();
  fs.mkdirSync(dist);
  fs.mkdirSync(state);
  fs.cpSync(path.join(ROOT, 'policies'), path.join(base, 'policies'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(base, 'package.json'));
  const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'warning', absWorkingDir: ROOT } as const;
  await build({ ...common, entryPoints: [path.join(ROOT, 'src', 'cli', 'main.ts')], outfile: path.join(dist, 'cli-bundle.js'), external: ['node-pty'] });
  await build({ ...common, entryPoints: [path.join(ROOT, 'src', 'cli', 'loader.ts')], outfile: path.join(dist, 'cli.js') });
}, 120_000);
afterAll(() => {
  fs.rmSync(base, { recursive: true, force: true });
  fs.rmSync(ws, { recursive: true, force: true });
});

const cacheFile = (): string => {
  const sha = createHash('sha256').update(fs.readFileSync(path.join(dist, 'cli-bundle.js'))).digest('hex').slice(0, 16);
  return path.join(dist, `cli-bundle.${sha}.${process.version}-${process.arch}.v8cache`);
};

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(dist, 'cli.js'), ...args], { cwd: ws, encoding: 'utf8', env: { ...process.env, CI: '1' }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function gateRun(program: string[]): { code: number | null; stdout: string; stderr: string } {
  const audit = path.join(state, `audit-${Date.now()}-${Math.random().toString(16).slice(2)}.jsonl`);
  return cli(['run', '-q', '--on-ask', 'deny', '--audit', audit, '--supervisor', SUPERVISOR, '--', ...program]);
}

describe('the CLI loader and its code cache', () => {
  it('other commands run the bundle and leave no cache; the first run makes it, later runs keep it', () => {
    expect(cli(['--version']).stdout).toMatch(/^agent-gate \d/);
    expect(fs.existsSync(cacheFile())).toBe(false);

    const first = gateRun(['/bin/sh', '-c', 'echo hello; exit 3']);
    expect(first.stderr).toBe('');
    expect(first.stdout).toBe('hello\n');
    expect(first.code).toBe(3);
    const made = fs.statSync(cacheFile());
    expect(made.size).toBeGreaterThan(10_000);
    // Nothing is left half-written beside it.
    expect(fs.readdirSync(dist).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    // Accepted as it is: not made again.
    const second = gateRun(['/bin/sh', '-c', 'echo again']);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe('again\n');
    expect(fs.statSync(cacheFile()).mtimeMs).toBe(made.mtimeMs);
  });

  it('every public built-in module a run loads is loaded before the V8 flags are set (Node\'s own code cache for them is refused after)', () => {
    // A preload that notes which modules are loaded when the loader first sets a V8 flag, and at the end.
    const probe = path.join(base, 'probe.js');
    const out = path.join(base, 'modules.json');
    fs.writeFileSync(
      probe,
      `const v8 = require('v8'); const set = v8.setFlagsFromString; let atFlags = null;
       v8.setFlagsFromString = (f) => { atFlags ??= process.moduleLoadList.slice(); return set(f); };
       process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify({ atFlags, atExit: process.moduleLoadList })));`,
    );
    const audit = path.join(state, `audit-probe-${Date.now()}.jsonl`);
    const r = spawnSync(process.execPath, ['--require', probe, path.join(dist, 'cli.js'), 'run', '-q', '--on-ask', 'deny', '--audit', audit, '--supervisor', SUPERVISOR, '--', '/bin/echo', 'probed'], {
      cwd: ws,
      encoding: 'utf8',
      env: { ...process.env, CI: '1' },
      timeout: 60_000,
    });
    expect(r.stdout).toBe('probed\n');
    const { atFlags, atExit } = JSON.parse(fs.readFileSync(out, 'utf8')) as { atFlags: string[] | null; atExit: string[] };
    expect(atFlags).not.toBeNull();
    const publicModules = (l: string[]): string[] => l.filter((m) => m.startsWith('NativeModule ') && !m.startsWith('NativeModule internal/'));
    const before = new Set(publicModules(atFlags as string[]));
    const late = publicModules(atExit).filter((m) => !before.has(m));
    expect(late).toEqual([]);
    // The run loaded what the bundle needs (the check above is not vacuous).
    expect(before.has('NativeModule net')).toBe(true);
    expect(before.has('NativeModule child_process')).toBe(true);
  });

  it('a damaged cache, or one made for another bundle, is refused by V8, never run, and made again', () => {
    // Damaged: random bytes of the same length.
    fs.writeFileSync(cacheFile(), Buffer.from(Array.from({ length: fs.statSync(cacheFile()).size }, () => Math.floor(Math.random() * 256))));
    const damaged = fs.readFileSync(cacheFile());
    const r = gateRun(['/bin/echo', 'still gated']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('still gated\n');
    expect(r.code).toBe(0);
    expect(fs.readFileSync(cacheFile()).equals(damaged)).toBe(false);

    // Another bundle's cache (the --version start of a bundle with a different length).
    const other = path.join(base, 'other.js');
    fs.writeFileSync(other, `${fs.readFileSync(path.join(dist, 'cli-bundle.js'), 'utf8')}\n// another bundle\n`);
    const made = spawnSync(process.execPath, ['-e', `const vm=require('vm'),fs=require('fs');const s=new vm.Script(require('module').wrap(fs.readFileSync(${JSON.stringify(other)},'utf8')));fs.writeFileSync(${JSON.stringify(cacheFile())},s.createCachedData())`]);
    expect(made.status).toBe(0);
    const foreign = fs.readFileSync(cacheFile());
    const again = gateRun(['/bin/echo', 'once more']);
    expect(again.stderr).toBe('');
    expect(again.stdout).toBe('once more\n');
    expect(fs.readFileSync(cacheFile()).equals(foreign)).toBe(false);
  });

  it('a rebuilt bundle of the same length never runs the old bytecode: its cache has another name', () => {
    const old = cacheFile();
    expect(fs.existsSync(old)).toBe(true);
    const file = path.join(dist, 'cli-bundle.js');
    const text = fs.readFileSync(file, 'utf8');
    // Same length, other behaviour: --version prints another word.
    fs.writeFileSync(file, text.replace('`agent-gate ${version}', '`agent-GATE ${version}'));
    expect(fs.statSync(file).size).toBe(Buffer.byteLength(text));
    expect(cli(['--version']).stdout).toMatch(/^agent-GATE \d/);
    const r = gateRun(['/bin/echo', 'rebuilt']);
    expect(r.stdout).toBe('rebuilt\n');
    expect(fs.existsSync(cacheFile())).toBe(true);
    // The old bundle's cache went when the new one's was made.
    expect(fs.existsSync(old)).toBe(false);
  });
});
