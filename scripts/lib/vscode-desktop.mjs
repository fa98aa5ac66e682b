// Finding a desktop VS Code, when there is one. Inside a code-server or Remote terminal, the `code` on PATH is
// a remote CLI that talks to that server, not Electron, so it does not count.
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function which(cmd) {
  const r = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** The desktop `code` launcher on PATH, or undefined. */
export function desktopCodeCli() {
  const code = which('code');
  if (!code || process.env.VSCODE_IPC_HOOK_CLI) return undefined;
  const real = realpathSync(code);
  if (/code-server|remote-cli|\/server\/bin\//.test(real)) return undefined;
  return existsSync(desktopElectron(real) ?? '') ? code : undefined;
}

function desktopElectron(launcherRealPath) {
  // Debian/RPM/tarball layout: <root>/bin/code is a shell launcher, <root>/code the Electron binary.
  const electron = join(dirname(dirname(launcherRealPath)), 'code');
  return existsSync(electron) ? electron : undefined;
}

/** The desktop VS Code Electron binary (what @vscode/test-electron launches), or undefined. */
export function desktopVSCodeExecutable() {
  if (process.env.AGENT_GATE_VSCODE_EXECUTABLE) return process.env.AGENT_GATE_VSCODE_EXECUTABLE;
  const cli = desktopCodeCli();
  return cli ? desktopElectron(realpathSync(cli)) : undefined;
}
