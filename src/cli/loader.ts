// dist/cli.js: loads the CLI bundle (dist/cli-bundle.js) with V8's code cache, so a start does not parse and
// compile the bundle's functions again (Node 20 has no module.enableCompileCache). The cache is V8 bytecode:
// whoever can write it chooses what the CLI runs, outside the gate. So it lives beside the bundle, in the
// directory the bundle itself is trusted from (an agent that could write there could rewrite the bundle
// anyway; SECURITY.md "The CLI's code cache"), is written whole under another name and renamed into place,
// and V8 refuses one made by another V8 version or with other flags (then the bundle compiles as it would
// without a cache, and the cache is made again). V8 compares only the source's length, so the cache is named
// after the bundle's sha256: a rebuilt or upgraded bundle never runs an older one's bytecode. Issue 12:
// `agent-gate run` start-up.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import Module, { createRequire } from 'node:module';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { enableRegexBacktrackLimit } from '../core/policy/regex-safety';

const bundle = path.join(__dirname, 'cli-bundle.js');
/** The built-in modules the bundle's top level loads (test/native/gate-code-cache.test.ts keeps this list
 *  whole), and those `run` loads later (its socket server loads cluster; timing, perf_hooks). Not
 *  worker_threads: only a policy regex that needs the time-limited worker loads it (regex-guard.ts), and
 *  loading it on every start cost more than compiling it then. */
const PRELOAD = ['node:child_process', 'node:crypto', 'node:events', 'node:fs', 'node:fs/promises', 'node:net', 'node:os', 'node:path', 'node:tty', 'node:v8', 'node:vm'];
const PRELOAD_RUN = ['node:cluster', 'node:perf_hooks'];
const CACHE_NAME = /^cli-bundle\.([0-9a-f]{16})\..*\.v8cache$/;

function readCache(cacheFile: string): Buffer | undefined {
  try {
    return fs.readFileSync(cacheFile);
  } catch {
    return undefined;
  }
}

/** The cache of what this process compiled, made at its end (so it holds the functions `run` needed, not
 *  only the top level), then renamed into place. Best effort: a directory we cannot write keeps no cache. */
function writeCache(script: vm.Script, cacheFile: string, sha: string): void {
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o644, flag: 'wx' });
    fs.renameSync(tmp, cacheFile);
    // The caches of bundles that are gone.
    for (const f of fs.readdirSync(__dirname)) {
      const m = CACHE_NAME.exec(f);
      if (m && m[1] !== sha) fs.rmSync(path.join(__dirname, f), { force: true });
    }
  } catch {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // nothing was written
    }
  }
}

function load(): void {
  // Node's built-in modules come compiled from a code cache in its binary, which V8 accepts only under the
  // flags Node was started with: once the flags below are set, each built-in loaded is compiled from source
  // (~20 ms of CPU for those the CLI loads). So the ones the bundle loads are loaded first.
  const command = process.argv[2];
  const preload = createRequire(__filename);
  for (const m of command === 'run' ? [...PRELOAD, ...PRELOAD_RUN] : PRELOAD) preload(m);
  // The cache is accepted only under the V8 flags it was made with, and the bundle sets these when it first
  // checks a policy regex: set them first.
  enableRegexBacktrackLimit();
  const bytes = fs.readFileSync(bundle);
  const source = bytes.toString('utf8');
  const sha = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  // One file per bundle, Node version and architecture: two Node versions taking turns (a terminal's and an
  // editor's) do not each throw the other's cache away.
  const cacheFile = path.join(__dirname, `cli-bundle.${sha}.${process.version}-${process.arch}.v8cache`);
  const cachedData = readCache(cacheFile);
  const script = new vm.Script(Module.wrap(source), { filename: bundle, ...(cachedData ? { cachedData } : {}) });
  // `run` makes the cache: its start-up is the one that counts, and the cache then holds what it compiled.
  if ((cachedData === undefined || script.cachedDataRejected === true) && command === 'run') process.once('exit', () => writeCache(script, cacheFile, sha));
  const m = new Module(bundle, module);
  m.filename = bundle;
  m.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(__dirname);
  const fn = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: Module, filename: string, dirname: string) => void;
  fn.call(m.exports, m.exports, createRequire(bundle), m, bundle, __dirname);
}

load();
