// The agent's environment ([env] in .gate.toml): which inherited variables it loses, which it keeps, and which
// are set for it. A pure function of the variable names and the policy; the supervisor applies the result to
// its own environment before it starts the agent (docs/protocol.md, ENV_UNSET/ENV_SET), so values are never
// decoded or re-encoded on the way.
//
// The built-in list removes every variable that names a channel to something outside the gate: a process that
// runs commands, types into terminals, signs or authenticates for its caller, and that lives outside the gate
// (so what it does is neither gated nor audited). The sockets themselves are sealed too ([unix_sockets]); the
// variables go so that nothing in the agent's programs tries them, and so the start banner can say what went.
// Credentials for remote services (API keys, tokens) are not channels out of the gate on this machine — their
// use needs the network, which [network] governs — and agents need their own API keys: they are kept unless
// the policy removes them (`remove = ["GITHUB_TOKEN", …]`).

/** One class of variables the built-in list removes, and why (policies/README.md lists them). */
export interface EnvChannelClass {
  id: string;
  /** Name patterns: `*` any run of characters, `?` one character; case-sensitive, whole name. */
  patterns: readonly string[];
  why: string;
}

export const ENV_CHANNELS: readonly EnvChannelClass[] = [
  {
    id: 'ssh-agent',
    patterns: ['SSH_AUTH_SOCK', 'SSH_AGENT_PID'],
    why: "the user's ssh-agent signs with the user's keys for whoever connects",
  },
  {
    id: 'dbus',
    patterns: ['DBUS_SESSION_BUS_ADDRESS', 'DBUS_SYSTEM_BUS_ADDRESS', 'DBUS_STARTER_ADDRESS', 'DBUS_STARTER_BUS_TYPE', 'AT_SPI_BUS_ADDRESS', 'AT_SPI_BUS', 'ATSPI_BUS_ADDRESS'],
    why: 'the D-Bus bus starts services and relays method calls (UpdateActivationEnvironment, systemd --user, the accessibility bus drives other applications)',
  },
  {
    id: 'terminal-multiplexers',
    patterns: ['TMUX', 'TMUX_PANE', 'TMUX_TMPDIR', 'STY', 'SCREENDIR', 'ZELLIJ', 'ZELLIJ_*', 'KITTY_LISTEN_ON', 'WEZTERM_UNIX_SOCKET', 'ALACRITTY_SOCKET', 'NVIM', 'NVIM_LISTEN_ADDRESS', 'EMACS_SOCKET_NAME', 'EMACS_SERVER_FILE', 'KONSOLE_DBUS_*', 'GNOME_TERMINAL_SERVICE', 'TERMINATOR_DBUS_*'],
    why: 'terminal servers and editors run commands and type into the user\'s other terminals on request (tmux run-shell, screen -X stuff, kitty @, nvim --remote-send)',
  },
  {
    id: 'editor-ipc',
    // VS Code's terminal and extension host: VSCODE_IPC_HOOK_CLI (the `code` CLI's channel into the running
    // editor), VSCODE_GIT_IPC_HANDLE and VSCODE_GIT_ASKPASS_* (the git extension's credential helper), and
    // ELECTRON_RUN_AS_NODE, which turns the editor's own binary into a Node that runs any script (the askpass
    // helper is run that way). Dev Containers forward the same channels from the host (REMOTE_CONTAINERS_*).
    patterns: ['VSCODE_*', 'ELECTRON_RUN_AS_NODE', 'ELECTRON_NO_ATTACH_CONSOLE', 'REMOTE_CONTAINERS_IPC', 'REMOTE_CONTAINERS_SOCKETS', 'REMOTE_CONTAINERS_DISPLAY_SOCK', 'CODE_SERVER_*', 'CLAUDE_CODE_SSE_PORT', 'GEMINI_CLI_IDE_*'],
    why: "the editor's IPC (VSCODE_IPC_HOOK_CLI, the git and askpass handles, ELECTRON_RUN_AS_NODE, an IDE's local MCP server) opens files, runs tasks and commands in the editor and hands out git credentials",
  },
  {
    id: 'askpass',
    patterns: ['GIT_ASKPASS', 'SSH_ASKPASS', 'SSH_ASKPASS_REQUIRE', 'SUDO_ASKPASS'],
    why: 'askpass helpers ask the user, or the editor, for passwords and tokens',
  },
  {
    id: 'credential-agents',
    patterns: ['GPG_AGENT_INFO', 'GNOME_KEYRING_CONTROL', 'KRB5CCNAME'],
    why: 'agents and caches that sign or authenticate as the user (gpg-agent, the keyring, the Kerberos ticket cache)',
  },
  {
    id: 'container-and-vm-daemons',
    patterns: ['DOCKER_HOST', 'CONTAINER_HOST', 'PODMAN_HOST', 'BUILDKIT_HOST', 'LIBVIRT_DEFAULT_URI', 'WSL_INTEROP'],
    why: 'container, VM and WSL interop daemons run programs for their caller, outside the gate',
  },
  {
    id: 'display-and-session',
    patterns: ['DISPLAY', 'WAYLAND_DISPLAY', 'XAUTHORITY', 'WINDOWID', 'SESSION_MANAGER', 'XDG_RUNTIME_DIR', 'PULSE_SERVER', 'PIPEWIRE_REMOTE', 'I3SOCK', 'SWAYSOCK', 'HYPRLAND_INSTANCE_SIGNATURE', 'NIRI_SOCKET'],
    why: "the display server accepts synthetic keystrokes into the user's windows, and the window manager's IPC (i3-msg, swaymsg, hyprctl: `exec`) runs commands; XDG_RUNTIME_DIR is the directory of the user's session sockets (bus, gpg-agent, systemd --user); agents run headless",
  },
  {
    id: 'service-manager',
    patterns: ['NOTIFY_SOCKET', 'LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES', 'WATCHDOG_PID', 'WATCHDOG_USEC'],
    why: "systemd's notification socket and socket activation belong to the service that started the gate, not to the agent",
  },
  {
    id: 'loader',
    patterns: ['LD_*', 'GLIBC_TUNABLES'],
    why: "the dynamic loader's variables (LD_PRELOAD, LD_AUDIT, LD_LIBRARY_PATH…) make every program the agent runs load other code than the file the gate judged",
  },
  {
    id: 'gate',
    patterns: ['AGENT_GATE_*'],
    why: "the gate's own settings are for the gate, not for programs under it",
  },
];

/** [env] as written in the policy (after `${VAR}` expansion of `set` values). */
export interface EnvPolicy {
  /** Name patterns removed besides the built-in classes. */
  remove: readonly string[];
  /** Name patterns kept even when a built-in class or `remove` matches (so `remove = ["*"]` + `pass` is an allowlist). */
  pass: readonly string[];
  /** Variables set for the agent after removal, in order. */
  set: readonly (readonly [string, string])[];
  /** Remove a variable whose value holds a URL with userinfo (`remove_url_credentials`), unless `pass` keeps it. */
  removeUrlCredentials?: boolean;
  /** Remove a variable whose value holds a token of a known shape (`remove_token_values`), unless `pass` keeps it. */
  removeTokenValues?: boolean;
}

export const EMPTY_ENV_POLICY: EnvPolicy = { remove: [], pass: [], set: [] };

/** Why a name pattern is not usable, or null. Names are whatever the environment holds except '=' and NUL. */
export function envPatternProblem(pattern: string): string | null {
  if (pattern === '') return 'is empty';
  if (pattern.includes('=')) return "contains '=', which cannot be part of a variable name";
  if (pattern.includes('\0')) return 'contains a NUL character';
  return null;
}

const patternCache = new Map<string, RegExp>();

/** Whole-name, case-sensitive match of a shell-style pattern (`*`, `?`; everything else literal). */
export function envNameMatches(pattern: string, name: string): boolean {
  let re = patternCache.get(pattern);
  if (!re) {
    const body = [...pattern].map((c) => (c === '*' ? '[^]*' : c === '?' ? '[^]' : c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))).join('');
    re = new RegExp(`^${body}$`, 'u');
    patternCache.set(pattern, re);
  }
  return re.test(name);
}

/** What happens to one inherited variable. */
export interface EnvNameDecision {
  keep: boolean;
  /** 'pass' / 'remove' (the policy's keys, with the pattern), or the built-in class id; absent: kept, nothing matched. */
  by?: { key: 'pass' | 'remove'; pattern: string } | { key: 'builtin'; class: string };
}

export function decideEnvName(name: string, policy: EnvPolicy): EnvNameDecision {
  const pass = policy.pass.find((p) => envNameMatches(p, name));
  if (pass !== undefined) return { keep: true, by: { key: 'pass', pattern: pass } };
  const remove = policy.remove.find((p) => envNameMatches(p, name));
  if (remove !== undefined) return { keep: false, by: { key: 'remove', pattern: remove } };
  const cls = ENV_CHANNELS.find((c) => c.patterns.some((p) => envNameMatches(p, name)));
  if (cls) return { keep: false, by: { key: 'builtin', class: cls.id } };
  return { keep: true };
}

/**
 * Whether a value holds a URL with a user name or password (`scheme://user:secret@host`, `scheme://token@host`,
 * `redis://:pw@host`): the credential is inside the value whatever the variable is called (red-team R100:
 * PIP_INDEX_URL, HTTPS_PROXY, REDIS_URL, MONGODB_URI). Anywhere in the value (a list of URLs, a DSN after a
 * prefix); the userinfo is what lies between `//` and the first `@` before the next `/`, `?`, `#` or space.
 */
export function valueHasUrlCredentials(value: string): boolean {
  return /[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#@\s]+@/.test(value);
}

/** One shape of credential that a value can be recognised by, whatever the variable is called. */
export interface TokenShape {
  id: string;
  /** What it is, for policies/README.md and the tests. */
  what: string;
  re: RegExp;
}

// Not preceded by a letter or digit: a prefix inside a longer word is not a token's start. A trailing bound is
// only put where the issuer's length is fixed and documented (a longer run of the same alphabet is something else).
const B = '(?<![A-Za-z0-9])';
const E = '(?![A-Za-z0-9])';

/**
 * Credentials that announce themselves by a prefix or structure the issuer chose so that scanners find them
 * (the shapes gitleaks and GitHub's secret scanning look for). No entropy guessing: a random-looking value
 * with no known shape (an AWS secret access key, a Cloudflare token) is not recognised here — the strict
 * policy's name patterns catch those by name. Each regex is linear (no nested quantifiers) and runs over a
 * value bounded by the environment's size.
 */
export const TOKEN_SHAPES: readonly TokenShape[] = [
  { id: 'github', what: 'GitHub token (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_)', re: new RegExp(`${B}(?:gh[pousr]_[A-Za-z0-9]{36}${E}|github_pat_[A-Za-z0-9_]{82}${E})`) },
  { id: 'gitlab', what: 'GitLab token (glpat-, gldt-, glrt-, glptt-, glcbt-, glft-, glimt-, glsoat-, gloas-, glagent-)', re: new RegExp(`${B}gl(?:pat|dt|rt|ptt|cbt|ft|imt|soat|oas|agent)-[A-Za-z0-9_-]{20,}`) },
  { id: 'anthropic', what: 'Anthropic API key (sk-ant-)', re: new RegExp(`${B}sk-ant-[A-Za-z0-9_-]{20,}`) },
  { id: 'openai', what: 'OpenAI key (sk-proj-, sk-svcacct-, sk-admin-, the older sk-…T3BlbkFJ…)', re: new RegExp(`${B}sk-(?:(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,}|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})`) },
  { id: 'openrouter', what: 'OpenRouter key (sk-or-v1-)', re: new RegExp(`${B}sk-or-v1-[a-f0-9]{64}${E}`) },
  { id: 'aws-access-key-id', what: 'AWS access key id (AKIA, ASIA, ABIA, ACCA, A3T…)', re: new RegExp(`${B}(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16}${E}`) },
  { id: 'google-api-key', what: 'Google API key (AIza)', re: new RegExp(`${B}AIza[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-])`) },
  { id: 'google-oauth-secret', what: 'Google OAuth client secret (GOCSPX-)', re: new RegExp(`${B}GOCSPX-[A-Za-z0-9_-]{28}`) },
  { id: 'slack', what: 'Slack token (xoxb-, xoxp-, xoxa-, xoxr-, xoxs-, xoxe-, xapp-)', re: new RegExp(`${B}(?:xox[abeoprs]-[0-9A-Za-z-]{10,}|xapp-[0-9]-[A-Z0-9]+-[0-9]+-[a-z0-9]+)`) },
  { id: 'npm', what: 'npm access token (npm_)', re: new RegExp(`${B}npm_[A-Za-z0-9]{36}${E}`) },
  { id: 'pypi', what: 'PyPI upload token (pypi-AgEIcHlwaS5vcmc)', re: /pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}/ },
  { id: 'huggingface', what: 'Hugging Face token (hf_)', re: new RegExp(`${B}hf_[A-Za-z]{34}${E}`) },
  { id: 'stripe', what: 'Stripe secret or restricted key (sk_live_, rk_live_, sk_test_, rk_test_)', re: new RegExp(`${B}[sr]k_(?:live|test)_[A-Za-z0-9]{10,}`) },
  { id: 'docker-hub', what: 'Docker Hub token (dckr_pat_, dckr_oat_)', re: new RegExp(`${B}dckr_(?:pat|oat)_[A-Za-z0-9_-]{20,}`) },
  { id: 'sendgrid', what: 'SendGrid key (SG.)', re: new RegExp(`${B}SG\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}`) },
  { id: 'digitalocean', what: 'DigitalOcean token (dop_v1_, doo_v1_, dor_v1_)', re: new RegExp(`${B}do[opr]_v1_[a-f0-9]{64}${E}`) },
  { id: 'shopify', what: 'Shopify token (shpat_, shpca_, shppa_, shpss_)', re: new RegExp(`${B}shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}${E}`) },
  { id: 'vault', what: 'HashiCorp Vault token (hvs., hvb., hvr.)', re: new RegExp(`${B}hv[sbr]\\.[A-Za-z0-9_-]{24,}`) },
  { id: 'grafana', what: 'Grafana token (glc_, glsa_)', re: new RegExp(`${B}(?:glc_[A-Za-z0-9+/]{32,}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})`) },
  { id: 'sentry', what: 'Sentry token (sntrys_, sntryu_)', re: new RegExp(`${B}(?:sntrys_eyJ[A-Za-z0-9+/=_-]{20,}|sntryu_[a-f0-9]{64}${E})`) },
  { id: 'databricks', what: 'Databricks token (dapi)', re: new RegExp(`${B}dapi[a-f0-9]{32}(?:-[0-9])?${E}`) },
  { id: 'linear', what: 'Linear API key (lin_api_)', re: new RegExp(`${B}lin_api_[A-Za-z0-9]{40}${E}`) },
  { id: 'postman', what: 'Postman key (PMAK-)', re: new RegExp(`${B}PMAK-[a-f0-9]{24}-[a-f0-9]{34}${E}`) },
  { id: 'pulumi', what: 'Pulumi token (pul-)', re: new RegExp(`${B}pul-[a-f0-9]{40}${E}`) },
  { id: 'supabase', what: 'Supabase token (sbp_, sb_secret_)', re: new RegExp(`${B}(?:sbp_[a-f0-9]{40}${E}|sb_secret_[A-Za-z0-9_-]{20,})`) },
  { id: 'doppler', what: 'Doppler token (dp.pt., dp.st., dp.sa., dp.ct.)', re: new RegExp(`${B}dp\\.(?:pt|st|sa|ct|scim|audit)\\.[A-Za-z0-9]{40,}`) },
  { id: 'age-secret-key', what: 'age secret key (AGE-SECRET-KEY-1)', re: /AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}/ },
  { id: 'private-key', what: 'PEM or OpenSSH private key (-----BEGIN … PRIVATE KEY-----)', re: /-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----/ },
  // Header and payload are base64url JSON objects, so each starts with "ey" ('{"'); the signature may be empty
  // (alg "none"). A JWT is a bearer credential whoever issued it.
  { id: 'jwt', what: 'JSON Web Token (eyJ….eyJ….…)', re: new RegExp(`${B}eyJ[A-Za-z0-9_-]{10,}\\.eyJ[A-Za-z0-9_-]{10,}\\.[A-Za-z0-9_-]*`) },
];

/** The shape of the first known token in a value (never the token itself), or null. */
export function valueTokenShape(value: string): string | null {
  for (const s of TOKEN_SHAPES) if (s.re.test(value)) return s.id;
  return null;
}

/** The agent's environment for a set of inherited names: what to unset, what to set. */
export interface EnvPlan {
  /** Inherited names removed, in the order given. */
  removed: string[];
  /** The built-in class, 'remove' from the policy, 'url-credentials' or 'token-value' that removed each name, same order. */
  removedBy: string[];
  /** Set after removal (overrides an inherited value of the same name). */
  set: [string, string][];
}

/**
 * `valueOf` gives an inherited value, for `remove_url_credentials` and `remove_token_values` (the rules that look
 * at values; a name it cannot give a value for is decided by its name alone).
 */
export function planEnvironment(names: Iterable<string>, policy: EnvPolicy, valueOf?: (name: string) => string | undefined): EnvPlan {
  const plan: EnvPlan = { removed: [], removedBy: [], set: policy.set.map(([k, v]) => [k, v]) };
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) continue;
    seen.add(name);
    const by = envRemovedBy(name, policy, valueOf?.(name));
    if (by === null) continue;
    plan.removed.push(name);
    plan.removedBy.push(by);
  }
  return plan;
}

/** Why an inherited variable is removed ('remove', a built-in class id, 'url-credentials' or 'token-value'), or null. */
export function envRemovedBy(name: string, policy: EnvPolicy, value: string | undefined): string | null {
  const d = decideEnvName(name, policy);
  if (!d.keep) return d.by?.key === 'builtin' ? d.by.class : 'remove';
  if (d.by?.key === 'pass' || value === undefined) return null;
  if (policy.removeUrlCredentials && valueHasUrlCredentials(value)) return 'url-credentials';
  if (policy.removeTokenValues && valueTokenShape(value) !== null) return 'token-value';
  return null;
}

/**
 * The start banner's line about the environment (names only, never values), or null when nothing was removed.
 * `escape` makes each name safe to show (control characters, bidi overrides): names are bytes from outside.
 */
export function envBannerLine(plan: EnvPlan, escape: (s: string) => string = (s) => s): string | null {
  if (plan.removed.length === 0) return null;
  const by = (why: string): string[] => plan.removed.filter((_, i) => plan.removedBy[i] === why).map(escape);
  return `removed from the agent's environment: ${plan.removed.map(escape).join(', ')} (${envRemovedWhy(by('url-credentials'), by('token-value'))})`;
}

/** Why the banner's names went: channels, and the ones removed for their value (named; the value never is). */
export function envRemovedWhy(urlNames: readonly string[], tokenNames: readonly string[] = []): string {
  const url = urlNames.length ? `; ${urlNames.join(', ')}: a user or password in a URL, [env] remove_url_credentials` : '';
  const token = tokenNames.length ? `; ${tokenNames.join(', ')}: a token's shape in the value, [env] remove_token_values` : '';
  return `channels out of the gate${url}${token}; [env] pass keeps one`;
}

/** Apply a plan to a NodeJS-style environment (for callers that start a program themselves, and tests). */
export function applyEnvPlan(env: Readonly<Record<string, string | undefined>>, plan: EnvPlan): Record<string, string> {
  const out: Record<string, string> = {};
  const removed = new Set(plan.removed);
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !removed.has(k)) out[k] = v;
  for (const [k, v] of plan.set) out[k] = v;
  return out;
}

/** The PATH the agent's first program is searched in (the supervisor's execvp runs after the plan is applied,
 *  so an [env] `set` or `remove` of PATH applies to the search); undefined when the agent has none. */
export function agentSearchPath(env: Readonly<Record<string, string | undefined>>, policy: EnvPolicy | undefined): string | undefined {
  return applyEnvPlan(env, planEnvironment(Object.keys(env), policy ?? EMPTY_ENV_POLICY)).PATH;
}
