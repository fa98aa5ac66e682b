// [env]: which inherited variables the agent loses, keeps and gets. The pure decision (env.ts), the loader's
// checks, and the wire lines that carry the result to the supervisor (which applies them to raw bytes).
import { describe, expect, it } from 'vitest';
import { textToHex } from '../../../src/core/exec/facts';
import { ENV_CHANNELS, EMPTY_ENV_POLICY, applyEnvPlan, decideEnvName, envBannerLine, envNameMatches, planEnvironment, valueHasUrlCredentials, type EnvPolicy } from '../../../src/core/policy/env';
import { loadPolicyText } from '../../../src/core/policy/index';
import { decodeSupervisorLine, encodeConfig } from '../../../src/core/session/wire';

const policy = (over: Partial<EnvPolicy> = {}): EnvPolicy => ({ ...EMPTY_ENV_POLICY, ...over });

describe('[env]: the built-in list removes every channel out of the gate', () => {
  // One or more real names per class: each must go by default.
  const removed: Record<string, string[]> = {
    'ssh-agent': ['SSH_AUTH_SOCK', 'SSH_AGENT_PID'],
    dbus: ['DBUS_SESSION_BUS_ADDRESS', 'DBUS_SYSTEM_BUS_ADDRESS', 'AT_SPI_BUS_ADDRESS', 'AT_SPI_BUS', 'ATSPI_BUS_ADDRESS'],
    'terminal-multiplexers': ['TMUX', 'TMUX_PANE', 'TMUX_TMPDIR', 'STY', 'SCREENDIR', 'ZELLIJ_SESSION_NAME', 'KITTY_LISTEN_ON', 'WEZTERM_UNIX_SOCKET', 'NVIM', 'EMACS_SOCKET_NAME'],
    'editor-ipc': ['VSCODE_IPC_HOOK_CLI', 'VSCODE_GIT_IPC_HANDLE', 'VSCODE_GIT_ASKPASS_NODE', 'VSCODE_GIT_ASKPASS_MAIN', 'VSCODE_GIT_ASKPASS_EXTRA_ARGS', 'VSCODE_NONCE', 'VSCODE_INJECTION', 'VSCODE_PID', 'ELECTRON_RUN_AS_NODE', 'REMOTE_CONTAINERS_IPC', 'CODE_SERVER_PARENT_PID', 'CLAUDE_CODE_SSE_PORT'],
    askpass: ['GIT_ASKPASS', 'SSH_ASKPASS', 'SUDO_ASKPASS'],
    'credential-agents': ['GPG_AGENT_INFO', 'KRB5CCNAME', 'GNOME_KEYRING_CONTROL'],
    'container-and-vm-daemons': ['DOCKER_HOST', 'CONTAINER_HOST', 'PODMAN_HOST', 'BUILDKIT_HOST', 'WSL_INTEROP'],
    'display-and-session': ['DISPLAY', 'WAYLAND_DISPLAY', 'XAUTHORITY', 'XDG_RUNTIME_DIR', 'SESSION_MANAGER', 'WINDOWID', 'I3SOCK', 'SWAYSOCK', 'HYPRLAND_INSTANCE_SIGNATURE'],
    'service-manager': ['NOTIFY_SOCKET', 'LISTEN_FDS', 'LISTEN_PID'],
    loader: ['LD_PRELOAD', 'LD_AUDIT', 'LD_LIBRARY_PATH', 'LD_DEBUG', 'GLIBC_TUNABLES'],
    gate: ['AGENT_GATE_DEBUG', 'AGENT_GATE_SUPERVISOR', 'AGENT_GATE_LANDLOCK_ABI_MAX'],
  };
  it('has a test name for every class', () => {
    expect(Object.keys(removed).sort()).toEqual(ENV_CHANNELS.map((c) => c.id).sort());
  });
  it.each(Object.entries(removed))('%s', (cls, names) => {
    for (const name of names) expect(decideEnvName(name, EMPTY_ENV_POLICY), name).toEqual({ keep: false, by: { key: 'builtin', class: cls } });
  });
  it('keeps what agents and builds need, API keys and tokens included', () => {
    for (const name of ['PATH', 'HOME', 'USER', 'LANG', 'TERM', 'SHELL', 'TMPDIR', 'PWD', 'ANTHROPIC_API_KEY', 'OPENAI_API_KEY', 'GEMINI_API_KEY', 'GITHUB_TOKEN', 'NODE_OPTIONS', 'PYTHONPATH', 'HTTPS_PROXY', 'GNUPGHOME', 'SSH_CONNECTION', 'TERM_PROGRAM', 'XDG_CONFIG_HOME', 'LDFLAGS', 'LD', 'TMUXINATOR_CONFIG', 'DISPLAYNAME', 'vscode_lower']) {
      expect(decideEnvName(name, EMPTY_ENV_POLICY), name).toEqual({ keep: true });
    }
  });
});

describe('[env]: patterns, pass and remove', () => {
  it('matches whole names, case-sensitively, with * and ?', () => {
    expect(envNameMatches('AWS_*', 'AWS_SECRET_ACCESS_KEY')).toBe(true);
    expect(envNameMatches('AWS_*', 'MY_AWS_KEY')).toBe(false);
    expect(envNameMatches('AWS_*', 'aws_key')).toBe(false);
    expect(envNameMatches('?AR', 'BAR')).toBe(true);
    expect(envNameMatches('?AR', 'BBAR')).toBe(false);
    expect(envNameMatches('A.B', 'AxB')).toBe(false);
    expect(envNameMatches('A[1]', 'A[1]')).toBe(true);
    expect(envNameMatches('*', '')).toBe(true);
    expect(envNameMatches('X*', 'X\u{dcff}\n')).toBe(true);
  });
  it('remove adds to the built-in list; pass keeps a name whatever else matches', () => {
    const p = policy({ remove: ['GITHUB_TOKEN', 'AWS_*'], pass: ['SSH_AUTH_SOCK', 'AWS_REGION'] });
    expect(decideEnvName('GITHUB_TOKEN', p)).toEqual({ keep: false, by: { key: 'remove', pattern: 'GITHUB_TOKEN' } });
    expect(decideEnvName('AWS_SECRET_ACCESS_KEY', p)).toEqual({ keep: false, by: { key: 'remove', pattern: 'AWS_*' } });
    expect(decideEnvName('AWS_REGION', p)).toEqual({ keep: true, by: { key: 'pass', pattern: 'AWS_REGION' } });
    expect(decideEnvName('SSH_AUTH_SOCK', p)).toEqual({ keep: true, by: { key: 'pass', pattern: 'SSH_AUTH_SOCK' } });
    expect(decideEnvName('TMUX', p).keep).toBe(false);
  });
  it('remove = ["*"] with pass is an allowlist', () => {
    const plan = planEnvironment(['PATH', 'HOME', 'ANTHROPIC_API_KEY', 'GITHUB_TOKEN', 'TMUX', 'PATH'], policy({ remove: ['*'], pass: ['PATH', 'HOME', 'ANTHROPIC_*'] }));
    expect(plan.removed).toEqual(['GITHUB_TOKEN', 'TMUX']);
    expect(plan.removedBy).toEqual(['remove', 'remove']);
  });
  it('plans set after removal, and applies to a NodeJS environment', () => {
    const plan = planEnvironment(['TMUX', 'LD_PRELOAD', 'PATH'], policy({ set: [['GIT_TERMINAL_PROMPT', '0'], ['PATH', '/bin']] }));
    expect(plan).toEqual({ removed: ['TMUX', 'LD_PRELOAD'], removedBy: ['terminal-multiplexers', 'loader'], set: [['GIT_TERMINAL_PROMPT', '0'], ['PATH', '/bin']] });
    expect(applyEnvPlan({ TMUX: 'x', LD_PRELOAD: 'y', PATH: '/usr/bin', HOME: '/h' }, plan)).toEqual({ PATH: '/bin', HOME: '/h', GIT_TERMINAL_PROMPT: '0' });
  });
  it('the banner names what was removed, escaped, and is silent when nothing was', () => {
    expect(envBannerLine(planEnvironment(['PATH'], EMPTY_ENV_POLICY))).toBeNull();
    const line = envBannerLine(planEnvironment(['SSH_AUTH_SOCK', 'TMUX', 'LD_\x1b[2J'], EMPTY_ENV_POLICY), (s) => s.split('\x1b').join('\\e'));
    expect(line).toBe("removed from the agent's environment: SSH_AUTH_SOCK, TMUX, LD_\\e[2J (channels out of the gate; [env] pass keeps one)");
  });
});

describe('[env] in .gate.toml', () => {
  const load = (text: string) => loadPolicyText(text, '/w/.gate.toml', { env: { HOME: '/home/me' }, exists: () => true });
  it('loads remove, pass and set (with ${VAR})', () => {
    const r = load('[env]\nremove = ["GITHUB_TOKEN", "AWS_*"]\npass = ["SSH_AUTH_SOCK"]\nset = { GIT_TERMINAL_PROMPT = "0", CACHE = "${HOME}/.cache" }\n');
    expect(r.diagnostics).toEqual([]);
    expect(r.policy?.env).toEqual({ remove: ['GITHUB_TOKEN', 'AWS_*'], pass: ['SSH_AUTH_SOCK'], set: [['GIT_TERMINAL_PROMPT', '0'], ['CACHE', '/home/me/.cache']] });
  });
  it('a policy without [env] still gets the built-in list', () => {
    expect(load('').policy?.env).toEqual({ remove: [], pass: [], set: [] });
  });
  it.each([
    ['[env]\nremove = ["A=B"]\n', 'bad-value', /contains '='/],
    ['[env]\npass = [""]\n', 'bad-value', /is empty/],
    ['[env]\nset = { "A*" = "x" }\n', 'bad-value', /is a pattern/],
    ['[env]\nset = { "" = "x" }\n', 'bad-value', /is empty/],
    ['[env]\nset = { A = "${NOPE}" }\n', 'unset-variable', /\$\{NOPE\}/],
    ['[env]\nset = { A = "x\\u0000y" }\n', 'bad-value', /NUL/],
    ['[env]\nset = { A = 1 }\n', 'wrong-type', /must be a string/],
    ['[env]\nremove = "TOKEN"\n', 'wrong-type', /list of strings/],
    ['[env]\nremov = ["X"]\n', 'unknown-key', /did you mean 'remove'/],
  ])('rejects %j', (text, code, message) => {
    const r = load(text);
    expect(r.policy).toBeNull();
    expect(r.diagnostics.find((d) => d.code === code)?.message).toMatch(message);
    expect(r.diagnostics[0]?.line).toBeGreaterThanOrEqual(2);
  });
});

describe('[env] on the wire', () => {
  it('HELLO carries the names the supervisor has, raw bytes included', () => {
    const names = Buffer.concat([Buffer.from('PATH'), Buffer.from([0]), Buffer.from('SSH_AUTH_SOCK'), Buffer.from([0]), Buffer.from([0x57, 0xff])]);
    const m = decodeSupervisorLine(`HELLO 1 pid=9 abi=7 notif=1 killable=1 env=${names.toString('hex')}`);
    expect(m).toMatchObject({ type: 'HELLO', envNames: ['PATH', 'SSH_AUTH_SOCK', 'W\u{dcff}'] });
    expect(decodeSupervisorLine('HELLO 1 pid=9 abi=7 notif=1 killable=1 env=')).toMatchObject({ envNames: [] });
    expect(() => decodeSupervisorLine('HELLO 1 pid=9 abi=7 notif=1 killable=1 env=0')).toThrow();
  });
  it('CONFIG unsets exact bytes and sets values', () => {
    const text = encodeConfig(
      { fs: null, net: null, require: { fs: false, net: false }, timeout: { ms: 0, action: 'deny' }, envPlan: { removed: ['SSH_AUTH_SOCK', 'W\u{dcff}'], removedBy: [], set: [['A', 'b c=d\u00e9']] } },
      [],
    );
    expect(text).toContain(`ENV_UNSET name=${textToHex('SSH_AUTH_SOCK')}\n`);
    expect(text).toContain('ENV_UNSET name=57ff\n');
    expect(text).toContain(`ENV_SET name=41 value=${Buffer.from('b c=d\u00e9').toString('hex')}\n`);
    expect(() => encodeConfig({ fs: null, net: null, require: { fs: false, net: false }, timeout: { ms: 0, action: 'deny' }, envPlan: { removed: ['A=B'], removedBy: [], set: [] } }, [])).toThrow();
  });
});

describe('[env] remove_url_credentials: a credential inside a URL goes by its value (red-team R100)', () => {
  it('finds a user or password in a URL anywhere in the value, and nothing else', () => {
    for (const v of ['https://user:tok@pypi.example/simple', 'http://u:p@proxy:3128', 'redis://:pw@cache:6379/0', 'https://ghp_x@github.com/o/r.git',
      'mongodb+srv://app:pw@cluster0.example.net/db', 'https://pypi.org/simple https://me:tok@extra.example/simple']) expect(valueHasUrlCredentials(v), v).toBe(true);
    for (const v of ['https://pypi.org/simple', 'http://proxy:3128', 'redis://cache:6379', 'https://registry.npmjs.org/@scope%2fpkg', 'https://x.example/a@b',
      'git@github.com:o/r.git', 'user@example.com', 'https://x.example/?q=a@b', '']) expect(valueHasUrlCredentials(v), v).toBe(false);
  });
  it('removes those variables whatever their names unless pass keeps them; names only without the key; the banner names them', () => {
    const env: Record<string, string> = { PIP_INDEX_URL: 'https://u:t@idx.example/simple', HTTPS_PROXY: 'http://u:p@proxy:3128', NO_CREDS_URL: 'https://idx.example/', KEPT_PROXY: 'http://u:p@p:1' };
    const on = policy({ removeUrlCredentials: true, pass: ['KEPT_PROXY'] });
    const plan = planEnvironment(Object.keys(env), on, (k) => env[k]);
    expect(plan.removed).toEqual(['PIP_INDEX_URL', 'HTTPS_PROXY']);
    expect(plan.removedBy).toEqual(['url-credentials', 'url-credentials']);
    expect(envBannerLine(plan)).toBe("removed from the agent's environment: PIP_INDEX_URL, HTTPS_PROXY (channels out of the gate; PIP_INDEX_URL, HTTPS_PROXY: a user or password in a URL, [env] remove_url_credentials; [env] pass keeps one)");
    expect(planEnvironment(Object.keys(env), policy({}), (k) => env[k]).removed).toEqual([]);
    expect(planEnvironment(Object.keys(env), on).removed).toEqual([]);
  });
  it('is read from the policy; a value of another type is an error', () => {
    const loaded = loadPolicyText('[env]\nremove_url_credentials = true\n', '/p/.gate.toml', { env: {} });
    expect(loaded.policy?.env?.removeUrlCredentials).toBe(true);
    expect(loadPolicyText('[env]\nremove_url_credentials = "yes"\n', '/p/.gate.toml', { env: {} }).policy).toBeNull();
  });
});
