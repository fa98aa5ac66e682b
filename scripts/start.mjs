#!/usr/bin/env node
// `npm start`: try Agent Gate on the sample workspace.
//   - With a desktop VS Code (`code` on PATH): build, then open a new window with the extension loaded from
//     this checkout (--extensionDevelopmentPath).
//   - Otherwise: build and package the VSIX, provision code-server (cached in .vscode-test/), install the VSIX
//     into a profile kept in .vscode-test/start/, and serve VS Code on http://127.0.0.1:PORT until Ctrl-C.
// Options: --folder=PATH opens another folder; --port=N (or $PORT) picks the port; --check starts, checks the
// workbench answers, and stops (used to test this script).
/* global fetch */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { codeServerCli, startCodeServer } from './lib/code-server.mjs';
import { repoRoot, sampleWorkspace } from './lib/paths.mjs';
import { provision, runtimePaths } from './lib/provision.mjs';
import { desktopCodeCli } from './lib/vscode-desktop.mjs';

const opt = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const folder = resolve(opt('folder') ?? sampleWorkspace);
const check = process.argv.includes('--check');

function step(cmd, args, what) {
  const r = spawnSync(cmd, args, { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    console.error(`npm start: ${what} failed (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
}

if (process.env.CI === 'true' && !check) {
  console.error('npm start serves VS Code until Ctrl-C, so it is not for CI; CI runs `npm test` (or `npm start -- --check`).');
  process.exit(2);
}

const code = check ? undefined : desktopCodeCli();
if (code) {
  step(process.execPath, [join(repoRoot, 'scripts', 'build.mjs')], 'build');
  console.log(`Opening VS Code with Agent Gate from ${repoRoot} on ${folder}`);
  step(code, ['--new-window', `--extensionDevelopmentPath=${repoRoot}`, folder], 'code');
  process.exit(0);
}

step('npm', ['run', '--silent', 'package'], 'npm run package');
try {
  provision();
} catch (e) {
  console.error(`npm start: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}

const profileDir = join(runtimePaths().dir, 'start');
const extensionsDir = join(profileDir, 'extensions');
mkdirSync(extensionsDir, { recursive: true });
console.log('Installing dist/agent-gate-linux-x64.vsix into code-server…');
const inst = codeServerCli(['--install-extension', join(repoRoot, 'dist', 'agent-gate-linux-x64.vsix'), '--force', '--extensions-dir', extensionsDir, '--user-data-dir', join(profileDir, 'user-data')], {
  env: { ...process.env, XDG_CONFIG_HOME: join(profileDir, 'config') },
});
if (inst.status !== 0) {
  console.error(`npm start: installing the VSIX failed:\n${inst.stdout}${inst.stderr}`);
  process.exit(1);
}

const port = Number(opt('port') ?? process.env.PORT ?? 0) || undefined;
let server;
try {
  server = await startCodeServer({ port, profileDir, extensionsDir, folder, settings: { 'git.enabled': true }, reconnectionGraceSeconds: 600 });
} catch (e) {
  console.error(`npm start: code-server did not start: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
// Readable form: VS Code takes the folder path unescaped.
const url = `${server.url}?folder=${encodeURI(folder)}`;
console.log(`\nAgent Gate is running: ${url}\nOpen it in a browser; Ctrl-C stops it.`);

if (check) {
  const res = await fetch(url);
  const ok = res.ok && (await res.text()).includes('workbench');
  await server.stop();
  console.log(ok ? 'npm start --check: ok' : `npm start --check: ${url} answered ${res.status}`);
  process.exit(ok ? 0 : 1);
}

// Stay in the foreground; Ctrl-C (handled in lib/code-server.mjs) ends code-server's whole process group.
server.child.on('exit', (c, sig) => {
  console.error(`code-server exited (${c ?? sig})`);
  process.exit(c ?? 1);
});
