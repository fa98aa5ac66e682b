// [env]: which inherited variables the agent loses, keeps and gets. The pure decision (env.ts), the loader's
// checks, and the wire lines that carry the result to the supervisor (which applies them to raw bytes).
import { describe, expect, it } from 'vitest';
import { textToHex } from '../../../src/core/exec/facts';
import { ENV_CHANNELS, EMPTY_ENV_POLICY, TOKEN_SHAPES, applyEnvPlan, decideEnvName, envBannerLine, envNameMatches, planEnvironment, valueHasUrlCredentials, valueTokenShape, type EnvPolicy } from '../../../src/core/policy/env';
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

describe('[env] remove_token_values: a token under an innocent name goes by its shape', () => {
  // Built from parts so that no scanner mistakes this file for a leak; each is the issuer's documented shape.
  const r = (alphabet: string, n: number, seed = 7): string => Array.from({ length: n }, (_, i) => alphabet[(i * 31 + seed) % alphabet.length]).join('');
  const AN = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const HEX = '0123456789abcdef';
  const jwtPart = (json: string): string => Buffer.from(json).toString('base64url');
  const tokens = {
    github: ['ghp_' + r(AN, 36), 'gho_' + r(AN, 36), 'ghs_' + r(AN, 36), 'github_pat_' + r(AN + '_', 82)],
    gitlab: ['glpat-' + r(AN, 20), 'glrt-' + r(AN + '_-', 27), 'gldt-' + r(AN, 20)],
    anthropic: ['sk-ant-api03-' + r(AN + '_-', 93) + 'AA', 'sk-ant-oat01-' + r(AN, 40)],
    openai: ['sk-proj-' + r(AN + '_-', 120), 'sk-svcacct-' + r(AN, 40), 'sk-' + r(AN, 20) + 'T3BlbkFJ' + r(AN, 20)],
    openrouter: ['sk-or-v1-' + r(HEX, 64)],
    'aws-access-key-id': ['AKIA' + r('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16), 'ASIA' + r('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16, 3)],
    'google-api-key': ['AIza' + r(AN + '_-', 35)],
    'google-oauth-secret': ['GOCSPX-' + r(AN, 28)],
    slack: ['xoxb-' + r('0123456789', 12) + '-' + r('0123456789', 13) + '-' + r(AN, 24), 'xoxp-1-' + r(AN, 30), 'xapp-1-A0' + r('ABCDEFGHIJ0123456789', 9) + '-' + r('0123456789', 13) + '-' + r(HEX, 64)],
    npm: ['npm_' + r(AN, 36)],
    pypi: ['pypi-AgEIcHlwaS5vcmc' + r(AN + '_-', 60)],
    huggingface: ['hf_' + r('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 34)],
    stripe: ['sk_live_' + r(AN, 24), 'rk_test_' + r(AN, 24)],
    'docker-hub': ['dckr_pat_' + r(AN + '_-', 27)],
    sendgrid: ['SG.' + r(AN, 22) + '.' + r(AN, 43)],
    digitalocean: ['dop_v1_' + r(HEX, 64)],
    shopify: ['shpat_' + r(HEX, 32)],
    vault: ['hvs.' + r(AN + '_-', 90)],
    grafana: ['glsa_' + r(AN, 32) + '_' + r(HEX, 8), 'glc_' + r(AN, 40)],
    sentry: ['sntryu_' + r(HEX, 64)],
    databricks: ['dapi' + r(HEX, 32)],
    linear: ['lin_api_' + r(AN, 40)],
    postman: ['PMAK-' + r(HEX, 24) + '-' + r(HEX, 34)],
    pulumi: ['pul-' + r(HEX, 40)],
    supabase: ['sbp_' + r(HEX, 40)],
    doppler: ['dp.pt.' + r(AN, 43)],
    'age-secret-key': ['AGE-SECRET-KEY-1' + r('QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L', 58)],
    'private-key': ['-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----', '-----BEGIN RSA PRIVATE KEY-----\nMIIE', '-----BEGIN PRIVATE KEY-----', '-----BEGIN ENCRYPTED PRIVATE KEY-----', '-----BEGIN PGP PRIVATE KEY BLOCK-----'],
    jwt: [`${jwtPart('{"alg":"HS256","typ":"JWT"}')}.${jwtPart('{"sub":"1234567890","name":"x"}')}.${r(AN + '_-', 43)}`, `${jwtPart('{"alg":"none"}')}.${jwtPart('{"sub":"1234567890"}')}.`],
  } satisfies Record<string, [string, ...string[]]>;
  it('has a test value for every shape', () => {
    expect(Object.keys(tokens).sort()).toEqual(TOKEN_SHAPES.map((t) => t.id).sort());
  });
  it.each(Object.entries(tokens) as [string, string[]][])('%s: alone, and inside a longer value (a header, a list, a config line)', (id, values) => {
    for (const v of values) {
      expect(valueTokenShape(v), v).toBe(id);
      expect(valueTokenShape(`Authorization: Bearer ${v}`), v).toBe(id);
      expect(valueTokenShape(`a,${v},b`), v).toBe(id);
      expect(valueTokenShape(`--token=${v}\n`), v).toBe(id);
    }
  });
  it('leaves ordinary values alone: paths, hashes, UUIDs, base64, short or embedded prefixes, public keys and certificates', () => {
    const ordinary = [
      '', '/usr/local/bin:/usr/bin:/bin', '/home/u/.cache/agent-gate/tools/npm', 'en_US.UTF-8', 'xterm-256color', 'di=01;34:ln=01;36:so=01;35',
      'ghp_short', 'ghp_' + 'a'.repeat(35), 'xghp_' + 'a'.repeat(36), 'ghp_' + 'a'.repeat(37), 'npm_config_cache', 'npm_' + 'a'.repeat(35), 'npm_run_build_' + 'a'.repeat(30),
      'sk-ant-kept', 'sk-kept', 'task-runner', 'disk-ant-' + 'a'.repeat(30), 'AKIA', 'AKIA' + 'a'.repeat(16), 'XAKIA' + 'A'.repeat(16), 'AKIA' + 'A'.repeat(17),
      'da39a3ee5e6b4b0d3255bfef95601890afd80709', '3f2a1c9e-8b7d-4e6f-9a1b-2c3d4e5f6a7b', Buffer.from('x'.repeat(60)).toString('base64'),
      '-----BEGIN PUBLIC KEY-----', '-----BEGIN CERTIFICATE-----', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI user@host', 'eyJhbGciOiJIUzI1NiJ9', 'eyJ.eyJ.x',
      'glpat-short', 'hf_' + 'a'.repeat(10), 'xoxb-1', 'sk_live_x', 'SG.abc.def', 'dapi', 'AIzaShort', 'hvs.x', 'pypi-token', 'ANTHROPIC_API_KEY',
    ];
    for (const v of ordinary) expect(valueTokenShape(v), v).toBeNull();
  });
  it('removes those variables whatever their names unless pass keeps them; names (never values) in the banner; off by default', () => {
    const env: Record<string, string> = { FOO: tokens.github[0], X: tokens.anthropic[0], AWS_HINT: tokens['aws-access-key-id'][0], DEPLOY: tokens['private-key'][0], PATH: '/usr/bin', ANTHROPIC_API_KEY: tokens.anthropic[1] };
    const on = policy({ removeTokenValues: true, pass: ['ANTHROPIC_API_KEY'] });
    const plan = planEnvironment(Object.keys(env), on, (k) => env[k]);
    expect(plan.removed).toEqual(['FOO', 'X', 'AWS_HINT', 'DEPLOY']);
    expect(plan.removedBy).toEqual(['token-value', 'token-value', 'token-value', 'token-value']);
    const line = envBannerLine(plan) ?? '';
    expect(line).toBe("removed from the agent's environment: FOO, X, AWS_HINT, DEPLOY (channels out of the gate; FOO, X, AWS_HINT, DEPLOY: a token's shape in the value, [env] remove_token_values; [env] pass keeps one)");
    for (const v of Object.values(env)) if (v !== '/usr/bin') expect(line).not.toContain(v.slice(0, 12));
    expect(planEnvironment(Object.keys(env), policy({}), (k) => env[k]).removed).toEqual([]);
    // A value that is both a URL with credentials and a token is named once, for the URL.
    const both = planEnvironment(['R'], policy({ removeTokenValues: true, removeUrlCredentials: true }), () => `https://x:${tokens.github[0]}@github.com/o/r`);
    expect(both.removedBy).toEqual(['url-credentials']);
  });
  it('is read from the policy, merged from a profile, and set by the strict policy only', () => {
    expect(loadPolicyText('[env]\nremove_token_values = true\n', '/p/.gate.toml', { env: {} }).policy?.env?.removeTokenValues).toBe(true);
    expect(loadPolicyText('[env]\nremove_token_values = "yes"\n', '/p/.gate.toml', { env: {} }).policy).toBeNull();
    expect(loadPolicyText('[env]\n', '/p/.gate.toml', { env: {} }).policy?.env?.removeTokenValues).toBeUndefined();
  });
});
