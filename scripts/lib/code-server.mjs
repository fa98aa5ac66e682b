// Start and stop a private code-server: fresh user-data, extensions and XDG config dirs under a temp dir, bound
// to 127.0.0.1 on a free port, in its own process group so that stopping it also ends the extension hosts,
// file watchers and pty hosts it leaves behind otherwise.
/* global fetch */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { runtimePaths } from './provision.mjs';

/** Settings for a test profile: no GPU in the terminal (text lands in the DOM), no welcome page, no trust prompt. */
export const testSettings = {
  'terminal.integrated.gpuAcceleration': 'off',
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'git.enabled': false,
  'chat.disableAIFeatures': true,
  'window.restoreWindows': 'none',
};

/** A TCP port that was free a moment ago (the OS picks it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

// Running servers: process-group id → temp profile to delete (undefined for a kept profile). On exit or a
// signal they are killed synchronously, since async cleanup never runs once process.exit() is called.
const live = new Map();
function killAllSync() {
  for (const [pgid, tmp] of live) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
  }
  live.clear();
}
let hooked = false;
function hookExit() {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      killAllSync();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

/** Run code-server's CLI (e.g. --install-extension) to completion with the runtime's Node 24. */
export function codeServerCli(args, opts = {}) {
  const p = runtimePaths();
  const r = spawnSync(p.node24, [p.codeServerEntry, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

async function waitForHealthz(url, child, timeoutMs, output) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`code-server exited early (${child.exitCode ?? child.signalCode}):\n${output()}`);
    try {
      const res = await fetch(new URL('healthz', url));
      if (res.ok) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`code-server did not answer ${url}healthz within ${timeoutMs / 1000} s:\n${output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * @param {{
 *   port?: number, host?: string, extensionsDir?: string, settings?: Record<string, unknown>,
 *   env?: Record<string, string>, smokeTestDriver?: boolean, folder?: string, log?: (l: string) => void,
 *   gallery?: boolean, startupTimeoutMs?: number, profileDir?: string, reconnectionGraceSeconds?: number
 * }} [opts]
 */
export async function startCodeServer(opts = {}) {
  // A port picked by freePort() can be taken by someone else before code-server binds it: pick another.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (e) {
      if (opts.port || attempt >= 3 || !(e instanceof Error) || !e.message.includes('EADDRINUSE')) throw e;
    }
  }
}

async function startOnce(opts) {
  hookExit();
  const p = runtimePaths();
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (await freePort());
  // A persistent profile (npm start) keeps the user's layout and settings between runs; tests get a fresh one.
  const tmp = opts.profileDir ?? mkdtempSync(join(tmpdir(), 'agent-gate-cs-'));
  const userDataDir = join(tmp, 'user-data');
  const extensionsDir = opts.extensionsDir ?? join(tmp, 'extensions');
  const xdgConfig = join(tmp, 'config');
  mkdirSync(join(userDataDir, 'User'), { recursive: true });
  mkdirSync(extensionsDir, { recursive: true });
  mkdirSync(xdgConfig, { recursive: true });
  const settingsFile = join(userDataDir, 'User', 'settings.json');
  if (!opts.profileDir || !existsSync(settingsFile)) writeFileSync(settingsFile, JSON.stringify({ ...testSettings, ...opts.settings }, null, 2) + '\n');

  const args = [
    p.codeServerEntry,
    '--auth', 'none',
    '--bind-addr', `${host}:${port}`,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    // Short by default so extension hosts don't outlive a test's browser for hours.
    '--reconnection-grace-time', String(opts.reconnectionGraceSeconds ?? 10),
    '--user-data-dir', userDataDir,
    '--extensions-dir', extensionsDir,
    '--ignore-last-opened',
  ];
  // The smoke-test driver lets the workbench URL's `payload` load an extension from source and run its tests,
  // reporting through window.codeAutomationLog/codeAutomationExit.
  if (opts.smokeTestDriver) args.push('--vscode-option', 'enable-smoke-test-driver');
  if (opts.folder) args.push(opts.folder);

  const env = {
    ...process.env,
    // No extension gallery in tests: nothing to fetch, and no "ENOTFOUND open-vsx.org" noise offline.
    ...(opts.gallery === false ? { EXTENSIONS_GALLERY: '{}' } : {}),
    ...opts.env,
    XDG_CONFIG_HOME: xdgConfig,
    // Child processes code-server spawns by name (e.g. `node` in terminals) keep working with Node 24 first.
    PATH: [join(p.node24Pkg, 'bin'), process.env.PATH ?? ''].join(delimiter),
  };
  delete env.PORT; // code-server reads $PORT; we pass --bind-addr explicitly
  delete env.PASSWORD;
  delete env.HASHED_PASSWORD;
  delete env.VSCODE_IPC_HOOK_CLI;

  const child = spawn(p.node24, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  live.set(child.pid, opts.profileDir ? undefined : tmp);
  let out = '';
  const keep = (d) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
    if (opts.log) for (const line of d.toString().split('\n')) if (line.trim()) opts.log(`[code-server] ${line}`);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);

  const url = `http://${host}:${port}/`;
  const stop = async () => {
    if (!live.has(child.pid)) return;
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      /* gone */
    }
    const exited = await new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve(true);
      const t = setTimeout(() => resolve(false), 5000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
    // Whatever survived in the group (extension hosts, pty hosts) goes too.
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* all gone */
    }
    void exited;
    live.delete(child.pid);
    // Guarded sessions are in sessions of their own, so the group kill does not reach them: their supervisors
    // end them when the extension host goes, and may still write their logs here for a moment.
    if (!opts.profileDir) {
      try {
        rmSync(tmp, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
      } catch (e) {
        process.stderr.write(`code-server: could not remove ${tmp}: ${e instanceof Error ? e.message : String(e)}\n`);
      }
    }
  };
  try {
    await waitForHealthz(url, child, opts.startupTimeoutMs ?? 60_000, () => out);
  } catch (e) {
    await stop();
    throw e;
  }
  return { url, host, port, pid: child.pid, tmp, userDataDir, extensionsDir, child, output: () => out, stop };
}

/** The workbench URL for a folder, optionally with a smoke-test `payload` (a list of [key, value] pairs). */
export function workbenchUrl(server, { folder, payload } = {}) {
  const u = new URL(server.url);
  if (folder) u.searchParams.set('folder', folder);
  if (payload) u.searchParams.set('payload', JSON.stringify(payload));
  return u.toString();
}

/** A vscode-remote URI for a path on the code-server machine, as the payload expects. */
export function remoteUri(server, absPath) {
  return `vscode-remote://${server.host}:${server.port}${absPath}`;
}
