// End to end: the agent's environment ([env]). Variables that name a channel out of the gate are gone from
// what the agent's programs see, class by class; [env] remove/pass/set do what they say; the start banner and
// the session's start record name what was removed (names, never values). Real CLI, supervisor and kernel:
// the agent prints its own environment.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDirs, prepare, runCli, type CliRun } from './gate-progs/cli';

let dirs: ReturnType<typeof makeDirs>;
let n = 0;

beforeAll(async () => {
  await prepare();
  dirs = makeDirs('env');
});
afterAll(() => dirs?.cleanup());

function policyFile(envTable: string): string {
  const file = path.join(dirs.ws, `env-${++n}.toml`);
  fs.writeFileSync(file, `[meta]\nversion = 1\ndefault_action = "allow"\n[filesystem]\nread_globs = ["/**"]\nwrite_globs = ["\${WORKSPACE}/**"]\n${envTable}`);
  return file;
}

/** Run `env -0` under the gate with these extra variables; the agent's environment as a map. */
async function agentEnv(extra: Record<string, string>, envTable = ''): Promise<{ run: CliRun; env: Map<string, string> }> {
  const run = await runCli(['/usr/bin/env', '-0'], { policy: policyFile(envTable), audit: dirs.audit(`env-${n}`), cwd: dirs.ws, env: extra });
  expect(run.code, run.stderr).toBe(0);
  const env = new Map<string, string>();
  for (const entry of run.stdout.split('\0').filter(Boolean)) {
    const eq = entry.indexOf('=');
    env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return { run, env };
}

// One variable per channel class (env.ts ENV_CHANNELS), set to a value a real session would have.
const CHANNELS: Record<string, string> = {
  SSH_AUTH_SOCK: '/tmp/ssh-XXXX/agent.1234',
  SSH_AGENT_PID: '1234',
  DBUS_SESSION_BUS_ADDRESS: 'unix:path=/run/user/0/bus',
  TMUX: '/tmp/tmux-0/default,4242,0',
  TMUX_PANE: '%3',
  STY: '1234.pts-0.host',
  NVIM: '/run/user/0/nvim.1.0',
  KITTY_LISTEN_ON: 'unix:/tmp/kitty',
  VSCODE_IPC_HOOK_CLI: '/run/user/0/vscode-ipc-1.sock',
  VSCODE_GIT_IPC_HANDLE: '/run/user/0/vscode-git-1.sock',
  VSCODE_GIT_ASKPASS_MAIN: '/opt/code/askpass-main.js',
  VSCODE_GIT_ASKPASS_NODE: '/opt/code/code',
  VSCODE_GIT_ASKPASS_EXTRA_ARGS: '--ms-enable-electron-run-as-node',
  // The editor's binary as a Node that runs any script (how VS Code runs its askpass helper).
  ELECTRON_RUN_AS_NODE: '1',
  REMOTE_CONTAINERS_IPC: '/tmp/vscode-remote-containers-ipc-1.sock',
  GIT_ASKPASS: '/opt/code/askpass.sh',
  SSH_ASKPASS: '/usr/lib/ssh/x11-ssh-askpass',
  GPG_AGENT_INFO: '/run/user/0/gnupg/S.gpg-agent:0:1',
  KRB5CCNAME: 'KCM:',
  DOCKER_HOST: 'unix:///var/run/docker.sock',
  PODMAN_HOST: 'unix:///run/podman/podman.sock',
  CONTAINER_HOST: 'unix:///run/user/0/podman/podman.sock',
  BUILDKIT_HOST: 'unix:///run/buildkit/buildkitd.sock',
  // Window managers' IPC runs commands (i3-msg exec, swaymsg exec, hyprctl dispatch exec).
  I3SOCK: '/run/user/0/i3/ipc-socket.1',
  SWAYSOCK: '/run/user/0/sway-ipc.0.1.sock',
  HYPRLAND_INSTANCE_SIGNATURE: 'abcdef_1_2',
  WINDOWID: '52428807',
  TMUX_TMPDIR: '/run/user/0',
  SCREENDIR: '/run/screen/S-root',
  WSL_INTEROP: '/run/WSL/1_interop',
  DISPLAY: ':0',
  WAYLAND_DISPLAY: 'wayland-0',
  XDG_RUNTIME_DIR: '/run/user/0',
  NOTIFY_SOCKET: '/run/systemd/notify',
  // Empty: the CLI's own node would load them otherwise (what matters is that the agent does not get them).
  LD_PRELOAD: '',
  LD_AUDIT: '',
  LD_LIBRARY_PATH: '/tmp/lib',
  GLIBC_TUNABLES: 'glibc.malloc.check=3',
  AGENT_GATE_TEST_KNOB: '1',
};
const KEPT: Record<string, string> = {
  ANTHROPIC_API_KEY: 'sk-ant-test',
  OPENAI_API_KEY: 'sk-test',
  GITHUB_TOKEN: 'ghp_test',
  MY_PROJECT_SETTING: 'a b=c',
  TERM: 'xterm-256color',
};

describe('gate: the agent\'s environment', () => {
  it('every class of channel out of the gate is removed, the rest is kept, and the banner and start record say which (names only)', async () => {
    const { run, env } = await agentEnv({ ...CHANNELS, ...KEPT });
    // TMUX_TMPDIR goes as inherited, and comes back naming the session's own directory (gate-socket-squat).
    for (const name of Object.keys(CHANNELS)) if (name !== 'TMUX_TMPDIR') expect(env.has(name), name).toBe(false);
    expect(env.get('TMUX_TMPDIR')).toBe(env.get('TMPDIR'));
    expect(env.get('TMPDIR')).toMatch(/\/agent-gate\/s-[^/]+$/);
    for (const [name, value] of Object.entries(KEPT)) expect(env.get(name), name).toBe(value);
    expect(env.get('PATH')).toBe(process.env.PATH);
    // The banner's third line (audit log; what was removed).
    const banner = run.stderr.split('\n').find((l) => l.includes("removed from the agent's environment: "));
    expect(banner).toBeDefined();
    for (const name of Object.keys(CHANNELS)) expect(banner, name).toContain(name);
    for (const name of Object.keys(KEPT)) expect(banner).not.toContain(name);
    // Values never appear: not on the terminal, not in the audit log (the distinctive ones: ':0' is in every time).
    for (const value of Object.values(CHANNELS).filter((v) => v.length >= 6)) {
      expect(run.stderr).not.toContain(value);
      expect(JSON.stringify(run.records)).not.toContain(value);
    }
    expect(run.start?.env_removed).toEqual(expect.arrayContaining(Object.keys(CHANNELS)));
    expect(run.start?.env_removed).not.toContain('ANTHROPIC_API_KEY');
  });

  it('[env] remove adds names and patterns, pass keeps a channel the user wants, set adds variables', async () => {
    const { run, env } = await agentEnv(
      { ...CHANNELS, ...KEPT, AWS_SECRET_ACCESS_KEY: 'aws', AWS_REGION: 'eu-west-1' },
      '[env]\nremove = ["GITHUB_TOKEN", "AWS_*"]\npass = ["SSH_AUTH_SOCK", "AWS_REGION"]\nset = { GIT_TERMINAL_PROMPT = "0", TMUX = "overridden" }\n',
    );
    expect(env.has('GITHUB_TOKEN')).toBe(false);
    expect(env.has('AWS_SECRET_ACCESS_KEY')).toBe(false);
    expect(env.get('AWS_REGION')).toBe('eu-west-1');
    expect(env.get('SSH_AUTH_SOCK')).toBe(CHANNELS.SSH_AUTH_SOCK);
    expect(env.get('GIT_TERMINAL_PROMPT')).toBe('0');
    // set wins over the inherited value it replaces (TMUX was also removed by the built-in list).
    expect(env.get('TMUX')).toBe('overridden');
    expect(env.get('ANTHROPIC_API_KEY')).toBe(KEPT.ANTHROPIC_API_KEY);
    expect(run.start?.env_removed).toEqual(expect.arrayContaining(['GITHUB_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'LD_PRELOAD']));
    expect(run.start?.env_removed).not.toContain('SSH_AUTH_SOCK');
  });

  it('remove = ["*"] with pass is an allowlist, and set PATH applies to the search for the program', async () => {
    const bin = path.join(dirs.ws, 'bin');
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(path.join(bin, 'printenv-here'), '#!/bin/sh\nexec /usr/bin/env -0\n', { mode: 0o755 });
    const file = policyFile(`[env]\nremove = ["*"]\npass = ["HOME", "ANTHROPIC_*"]\nset = { PATH = "${bin}:/usr/bin:/bin" }\n`);
    const run = await runCli(['printenv-here'], { policy: file, audit: dirs.audit(`env-${n}`), cwd: dirs.ws, env: { ...KEPT } });
    expect(run.code, run.stderr).toBe(0);
    const names = run.stdout.split('\0').filter(Boolean).map((e) => e.slice(0, e.indexOf('='))).sort();
    // sh itself adds PWD; nothing else survives but what pass names and set adds, and the session's own
    // temporary directory (the one place it may make sockets: gate-socket-squat).
    expect(names.filter((k) => k !== 'PWD' && k !== 'SHLVL' && k !== '_')).toEqual(['ANTHROPIC_API_KEY', 'HOME', 'PATH', 'SQLITE_TMPDIR', 'TMPDIR', 'TMUX_TMPDIR']);
  });

  it('nothing removed: no banner line', async () => {
    const clean: Record<string, string | undefined> = {};
    for (const k of Object.keys(process.env)) if (/^(SSH_|DBUS_|TMUX|VSCODE_|ELECTRON_|REMOTE_CONTAINERS_|CODE_SERVER_|DISPLAY|WAYLAND|XDG_RUNTIME|LD_|AGENT_GATE_|GIT_ASKPASS|KRB5|DOCKER_HOST|NOTIFY_SOCKET)/.test(k)) clean[k] = undefined;
    const run = await runCli(['/usr/bin/true'], { policy: policyFile(''), audit: dirs.audit(`env-clean`), cwd: dirs.ws, env: clean });
    expect(run.code).toBe(0);
    expect(run.stderr).not.toContain('removed from the agent');
    expect(run.start?.env_removed).toBeUndefined();
  });
});
