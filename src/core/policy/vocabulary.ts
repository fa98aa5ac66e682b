// The `.gate.toml` vocabulary: every section and key of the policy format, in one place. From it come
//   • the loader's structural checks (load.ts: known keys, types, enums, ranges, defaults),
//   • the JSON Schema for editors (schema.ts → policies/gate.schema.json, `npm run schema`),
//   • the editor's completion, hover and snippets (src/extension/policy/),
// so they cannot drift. To add a key or a section, add it here (see CONTRIBUTING.md, "To add a policy key").
//
// The document root is a table whose keys are the sections; a section is a key of type 'table' ([name]) or
// 'table-array' ([[name]]), and tables nest the same way. A key marked `match` is a rule match key: it gets
// a `_not` form automatically, and its group says which part of the exec it looks at.

export type ValueType =
  | 'string'
  | 'int'
  | 'bool'
  | 'string-list'
  | 'int-list'
  | 'string-or-list'
  | 'int-or-list'
  /** A table: [name] as a section, or `name = { … }` / [parent.name] inside one. */
  | 'table'
  /** An array of tables: [[name]]. */
  | 'table-array';

/** Which part of an exec a rule match key looks at (see Decision.cacheable and the shadowing analysis). */
export type MatchGroup = 'program' | 'argv' | 'context';

export interface KeySpec {
  type: ValueType;
  /** One paragraph for users: hover text, completion documentation, the schema's description. */
  doc: string;
  /** Allowed values. Strings are checked by the loader; integer enums (version) by their own check. */
  enum?: readonly string[] | readonly number[];
  /** What each enum value means (completion documentation). */
  enumDocs?: Readonly<Record<string, string>>;
  /** Integer bounds, inclusive (for lists: of each element). */
  min?: number;
  max?: number;
  /** The value used when the key is absent; the loader takes its defaults from here. */
  default?: string | number | boolean | readonly string[] | readonly number[];
  /** The key must be present (the schema's `required`; the loader says so with its own message). */
  required?: boolean;
  /**
   * JSON Schema pattern of each string (and minLength), for editors. The loader checks the same constraint
   * in load.ts with a message that says what to write instead; schema.test.ts keeps the two in agreement.
   */
  pattern?: string;
  minLength?: number;
  /**
   * A valid value written as TOML, e.g. '"git"' or '[443]': what completion inserts after `key = `, and
   * what the vocabulary test writes for this key. Needed when enum, default and type do not give one.
   */
  example?: string;
  /** Rule match keys only: the part of the exec it tests. Gets a `_not` form. */
  match?: MatchGroup;
  /** For a `_not` form: the key it negates (set by the vocabulary itself, never by hand). */
  negates?: string;
  /** For 'table' and 'table-array': the table's keys. */
  table?: TableSpec;
  /** Sections only: a VS Code snippet (TextMate syntax) that starts a new one, header included. */
  snippet?: string;
}

export interface TableSpec {
  keys: Readonly<Record<string, KeySpec>>;
  /** Keys not listed are allowed with this spec (a map, e.g. variable names to values); default: an error. */
  otherKeys?: KeySpec;
}

export const ACTIONS = ['allow', 'deny', 'ask'] as const;
export const BINARY_ACTIONS = ['allow', 'deny'] as const;

const ACTION_DOCS = {
  allow: 'The exec proceeds.',
  deny: 'The exec fails with EACCES: the agent sees "Permission denied".',
  ask: "The exec waits for the user's approval (see [approval] for the timeout and rate limits).",
};

/** An absolute path, or one that starts with ${VAR} or ${VAR:-default} (expanded at load time). */
const ABSOLUTE = '^(/|\\$\\{[A-Za-z_][A-Za-z0-9_]*(\\}|:-))';

// ---- rule match keys: `as const satisfies` keeps the names as a type (MatchKey), so adding a key here
// makes the compiler ask for its matcher (matcher.ts compileKeyTest).
const MATCH_KEY_SPECS = {
  exe: {
    type: 'string-or-list',
    example: '"/usr/bin/git"',
    match: 'program',
    pattern: ABSOLUTE,
    doc: 'Absolute path of the program. Resolved with realpath at load time (/bin/sh means /usr/bin/dash on merged-/usr systems); matches the same canonical path, the same file (hard link) or the same content (a copy). ${VAR} is expanded from the environment.',
  },
  exe_basename: {
    type: 'string-or-list',
    example: '"git"',
    match: 'program',
    pattern: '^[^/]+$',
    doc: 'File name of the program, e.g. "git". Matches the program installed under that name (found through PATH and the standard bin directories, by file identity or content) or a file of that name in a place the agent cannot write. A copy or symlink the agent makes under an allowed name does not match an allow rule.',
  },
  exe_glob: {
    type: 'string-or-list',
    example: '"/usr/bin/*"',
    match: 'program',
    pattern: ABSOLUTE,
    doc: 'Glob over the canonical path of the program: * stops at /, ** crosses it. ${VAR} is expanded at load time; the static prefix is canonicalised (/bin/* means /usr/bin/*).',
  },
  argv_regex: {
    type: 'string-or-list',
    example: "'^git (status|log)( |$)'",
    match: 'argv',
    doc: 'JavaScript regular expression searched in argv joined with single spaces (argv[0] as invoked). Not anchored unless the pattern anchors. Nested quantifiers such as (a+)+ are rejected.',
  },
  argv_contains: {
    type: 'string-or-list',
    example: '"--force"',
    match: 'argv',
    doc: 'True when any argument after argv[0] equals one of these strings.',
  },
  argv_host_in: {
    type: 'string-or-list',
    example: '["github.com", "*.githubusercontent.com"]',
    match: 'argv',
    pattern: '^(\\*\\.)?[A-Za-z0-9_.\\-\\[\\]:]+$',
    doc: 'True when argv holds at least one http:// or https:// URL and the host of every URL (of any scheme) is in this list (exact host, or *.example.com for subdomains; case-insensitive; ports ignored). A second URL to another host makes it false.',
  },
  cwd_glob: {
    type: 'string-or-list',
    example: '"${WORKSPACE}/**"',
    match: 'context',
    pattern: ABSOLUTE,
    doc: 'Glob over the working directory of the exec.',
  },
  uid: {
    type: 'int-or-list',
    example: '0',
    match: 'context',
    min: 0,
    max: 4294967295,
    doc: 'User id of the process making the exec.',
  },
  parent_exe: {
    type: 'string-or-list',
    example: '"/usr/bin/make"',
    match: 'context',
    pattern: ABSOLUTE,
    doc: 'Absolute path of the parent program (the process that calls exec).',
  },
  parent_argv: {
    type: 'string-or-list',
    example: "'^make( |$)'",
    match: 'context',
    doc: 'JavaScript regular expression searched in the parent process argv joined with single spaces.',
  },
} as const satisfies Record<string, KeySpec>;

export type MatchKey = keyof typeof MATCH_KEY_SPECS;

/** The whole format. Sections appear in completion in this order. */
export const POLICY_FORMAT = {
  keys: {
    meta: {
      type: 'table',
      doc: 'Policy version and defaults.',
      snippet: '[meta]\nversion = 1\ndefault_action = "${1|deny,ask,allow|}"\n$0',
      table: {
        keys: {
          version: { type: 'int', enum: [1], default: 1, doc: 'Format version; 1.' },
          default_action: {
            type: 'string',
            enum: ACTIONS,
            enumDocs: ACTION_DOCS,
            default: 'deny',
            doc: 'Action for an exec that no rule matches.',
          },
          on_policy_error: {
            type: 'string',
            enum: BINARY_ACTIONS,
            enumDocs: { allow: 'Let the exec run (fail open).', deny: 'Refuse the exec (fail closed).' },
            default: 'deny',
            doc: 'What an evaluation error or a supervisor timeout means ("deny": fail closed).',
          },
          on_supervisor_timeout_ms: {
            type: 'int',
            min: 1,
            max: 600_000,
            default: 1000,
            doc: 'Deadline in milliseconds for a non-ask decision; past it the exec gets on_policy_error.',
          },
        },
      },
    },
    rule: {
      type: 'table-array',
      doc: 'Rules, evaluated top to bottom; the first rule whose match keys all match decides. Keys in a rule are ANDed, a list value means any-of, a _not suffix negates; a rule with no match key matches every exec.',
      snippet: '[[rule]]\nid = "${1:rule-id}"\naction = "${2|allow,deny,ask|}"\nreason = "${3:why this rule exists}"\nexe_basename = "${4:program}"\n$0',
      table: {
        keys: {
          id: {
            type: 'string',
            required: true,
            minLength: 1,
            example: '"allow-git-status"',
            doc: 'Unique rule id; names the rule in explanations and the audit log.',
          },
          action: {
            type: 'string',
            required: true,
            enum: ACTIONS,
            enumDocs: ACTION_DOCS,
            doc: 'What happens to an exec this rule matches.',
          },
          reason: { type: 'string', example: '"read-only git"', doc: 'Text shown to the user and written to the audit log when this rule decides.' },
          examples_match: {
            type: 'string-list',
            example: '["git status"]',
            doc: 'Command lines this rule must match; `agent-gate check` verifies them.',
          },
          examples_no_match: {
            type: 'string-list',
            example: '["git push"]',
            doc: 'Command lines this rule must not match; `agent-gate check` verifies them.',
          },
          ...MATCH_KEY_SPECS,
        },
      },
    },
    filesystem: {
      type: 'table',
      doc: 'Landlock filesystem sealing. Each glob is granted as its static directory prefix (widening is reported by agent-gate check). Absent, and without -r/-w/-a, the filesystem is not sealed.',
      snippet: '[filesystem]\nread_globs = ["${1:/**}"]\nwrite_globs = ["\\${WORKSPACE}/**", "/tmp/**"$2]\nrequire_enforced = ${3|true,false|}\n$0',
      table: {
        keys: {
          read_globs: { type: 'string-list', default: [], example: '["/**"]', doc: 'Paths the agent may read.' },
          write_globs: { type: 'string-list', default: [], example: '["${WORKSPACE}/**", "/tmp/**"]', doc: 'Paths the agent may write (create, modify, delete).' },
          allow_globs: { type: 'string-list', default: [], example: '["${HOME}/.cache/**"]', doc: 'Paths the agent may read and write.' },
          execute_globs: {
            type: 'string-list',
            example: '["${WORKSPACE}/node_modules/.bin/**"]',
            doc: 'Paths the agent may execute from. When present, execution is restricted by Landlock too (system directories are granted automatically unless no_bootstrap_reads).',
          },
          create_dirs: {
            type: 'string-list',
            default: [],
            example: '["${HOME}/.npm"]',
            pattern: ABSOLUTE,
            doc: 'Directories made (with their parents, mode 0700) before the agent starts when they do not exist, so the write grants on them apply: Landlock grants only paths that exist, and a tool that finds its cache directory missing would fail to create it. ${VAR} and ${VAR:-default} are expanded.',
          },
          require_enforced: {
            type: 'bool',
            default: true,
            doc: 'Refuse to run (exit 126) when the kernel cannot enforce the whole seal.',
          },
          no_bootstrap_reads: {
            type: 'bool',
            default: false,
            doc: 'Do not add the automatic grants for system libraries, /proc and /dev files.',
          },
        },
      },
    },
    network: {
      type: 'table',
      doc: 'Network sealing. When present, TCP may connect to and bind only the listed ports (Landlock ABI 4+, and the supervisor for connect), and everything Landlock cannot check is refused: UDP (except DNS with dns = true), raw and packet sockets, MPTCP, SCTP, TCP fast open, other socket families, listen(2) on an unbound socket.',
      snippet: '[network]\nconnect_tcp_ports = [${1:443}]\nbind_tcp_ports = [$2]\n$0',
      table: {
        keys: {
          connect_tcp_ports: { type: 'int-list', min: 0, max: 65535, default: [], example: '[443]', doc: 'TCP ports the agent may connect to.' },
          bind_tcp_ports: { type: 'int-list', min: 0, max: 65535, default: [], example: '[8080]', doc: 'TCP ports the agent may bind, and listen on (listen(2) on a socket not bound to one of them is refused: it would take an ephemeral port). 0 allows any ephemeral port.' },
          dns: {
            type: 'bool',
            default: false,
            doc: 'Let programs query the DNS resolvers (UDP, and TCP, to port 53 of dns_servers). Without it, names resolve only from /etc/hosts: with [network], UDP to anything else, raw and packet sockets, MPTCP, SCTP and TCP fast open are refused.',
          },
          dns_servers: {
            type: 'string-list',
            example: '["127.0.0.53"]',
            pattern: '^[0-9a-fA-F.:]+$',
            doc: 'The resolvers dns = true allows (IPv4 or IPv6 addresses). Default: the nameserver lines of /etc/resolv.conf when the policy is loaded.',
          },
          require_enforced: {
            type: 'bool',
            default: true,
            doc: 'Refuse to run when the kernel cannot enforce port sealing.',
          },
        },
      },
    },
    unix_sockets: {
      type: 'table',
      doc: "Unix sockets outside the gate (tmux, D-Bus, ssh-agent, docker, an editor's or an agent's own daemon started earlier): a pathname or abstract socket that was not made (bound and listening) by the agent's own processes in this session is refused, unless allow names it. Sockets the agent makes still work. Absent: nothing outside is allowed. Datagram unix sockets are refused while the supervisor seals (kernels before Landlock ABI 9).",
      snippet: '[unix_sockets]\nallow = ["${1:/var/run/docker.sock}"]\n$0',
      table: {
        keys: {
          allow: {
            type: 'string-list',
            default: [],
            example: '["/var/run/docker.sock", "@/tmp/.X11-unix/X*"]',
            pattern: '^(/|@|\\$\\{[A-Za-z_][A-Za-z0-9_]*\\})',
            doc: 'Sockets the agent may connect to besides its own: globs over the canonical path of the socket file (symlinks resolved; * stops at /, ** crosses it), or @name for an abstract socket. ${VAR} is expanded. "/**" turns the sealing off.',
          },
          require_enforced: {
            type: 'bool',
            default: true,
            doc: 'Refuse to run when the kernel can neither mediate connect(2) (pidfd_getfd, Linux 5.6, and unix sock_diag) nor seal with Landlock (ABI 9).',
          },
        },
      },
    },
    loopback: {
      type: 'table',
      doc: "Services on this host outside the gate (a Node inspector, Jupyter, code-server, VS Code's Remote-SSH server, Gradle and Bazel daemons, Chrome's remote debugging, docker on tcp): a TCP connect or UDP datagram to an address of this host (127.0.0.0/8, ::1, 0.0.0.0, its interfaces' addresses) reaches only what the agent's own processes serve in this session, the DNS resolvers, and the ports connect_ports names. The other way, a client outside the gate on this host (a browser) never reaches the agent's listeners, except on the ports accept_ports names. Absent: sealed, nothing outside allowed. TCP fast open is refused while this is sealed.",
      snippet: '[loopback]\nconnect_ports = [${1:5432}]\naccept_ports = [$2]\n$0',
      table: {
        keys: {
          connect_ports: { type: 'int-list', min: 1, max: 65535, default: [], example: '[5432, 6379]', doc: 'Ports of services outside the gate on this host the agent may connect (or send datagrams) to, e.g. a database the user runs. Each one runs whatever that service does for the agent, outside the gate.' },
          accept_ports: { type: 'int-list', min: 1, max: 65535, default: [], example: '[3000]', doc: "Ports on which clients outside the gate on this host may reach the agent's listeners, e.g. a dev server the user opens in a browser. A client there may be talking to the agent, not to what it expects." },
          sealed: { type: 'bool', default: true, doc: 'false: services on this host are not sealed in either direction (what an agent could reach before; red-team R59).' },
        },
      },
    },
    env: {
      type: 'table',
      doc: "The agent's environment. Variables that name a channel to something outside the gate (SSH_AUTH_SOCK, DBUS_SESSION_BUS_ADDRESS, TMUX, VSCODE_IPC_HOOK_CLI and the other VSCODE_*, GIT_ASKPASS, DISPLAY, XDG_RUNTIME_DIR, DOCKER_HOST…), the dynamic loader's LD_* and the gate's own AGENT_GATE_* are always removed, and the start banner names them; API keys and tokens are kept. Patterns match whole variable names: * any run of characters, ? one character, case-sensitive.",
      snippet: '[env]\nremove = [${1:"GITHUB_TOKEN"}]\npass = [$2]\n$0',
      table: {
        keys: {
          remove: {
            type: 'string-list',
            default: [],
            example: '["GITHUB_TOKEN", "AWS_*"]',
            pattern: '^[^=]+$',
            doc: 'Variables removed from the agent\'s environment besides the built-in channels, e.g. tokens it does not need. remove = ["*"] with pass makes an allowlist.',
          },
          pass: {
            type: 'string-list',
            default: [],
            example: '["SSH_AUTH_SOCK"]',
            pattern: '^[^=]+$',
            doc: 'Variables kept even when the built-in list or remove would drop them, e.g. SSH_AUTH_SOCK for an agent that must sign.',
          },
          set: {
            type: 'table',
            example: '{ GIT_TERMINAL_PROMPT = "0" }',
            doc: 'Variables set for the agent (after removal), e.g. GIT_TERMINAL_PROMPT = "0" so git fails instead of waiting for a password nobody types. ${VAR} is expanded from the environment the gate was started in.',
            table: { keys: {}, otherKeys: { type: 'string', example: '"0"', doc: 'The value.' } },
          },
          remove_url_credentials: {
            type: 'bool',
            default: false,
            doc: 'Remove every variable whose value holds a URL with a user name or password in it (https://user:token@host, a proxy\'s http://user:pass@host, redis://:pw@host), whatever its name — PIP_INDEX_URL, HTTPS_PROXY, REDIS_URL, MONGODB_URI — unless pass keeps it. The start banner names them (never their values).',
          },
          remove_token_values: {
            type: 'bool',
            default: false,
            doc: 'Remove every variable whose value holds a credential of a known shape, whatever its name: GitHub (ghp_, github_pat_…), GitLab (glpat-…), Anthropic (sk-ant-), OpenAI (sk-proj-…), AWS access key ids (AKIA…), Slack (xoxb-…), npm (npm_…), PyPI, Stripe, Google (AIza…), a PEM private key, a JWT and more (policies/README.md) — by prefix and structure, no entropy guessing — unless pass keeps it. The strict policy sets it; the agent\'s own key, passed by name, stays. The start banner names them (never their values).',
          },
        },
      },
    },
    approval: {
      type: 'table',
      doc: 'How ask verdicts are handled.',
      snippet: '[approval]\ntimeout_ms = ${1:120000}\non_timeout = "${2|deny,allow|}"\n$0',
      table: {
        keys: {
          timeout_ms: {
            type: 'int',
            min: 1,
            max: 86_400_000,
            default: 120_000,
            doc: 'How long an approval request waits for the user, in milliseconds.',
          },
          on_timeout: {
            type: 'string',
            enum: BINARY_ACTIONS,
            enumDocs: { allow: 'An unanswered request is allowed.', deny: 'An unanswered request is denied.' },
            default: 'deny',
            doc: 'What an unanswered request becomes.',
          },
          max_pending: {
            type: 'int',
            min: 1,
            max: 10_000,
            default: 5,
            doc: 'Requests waiting at once; more are denied with a reason that says so.',
          },
          max_per_minute: {
            type: 'int',
            min: 1,
            max: 100_000,
            default: 30,
            doc: 'Requests per minute; more are denied with a reason that says so.',
          },
        },
      },
    },
    session: {
      type: 'table',
      doc: 'How the agent\'s session runs: what a root agent may do without filesystem sealing, and what happens to the processes it leaves running.',
      snippet: '[session]\nkeep_leftovers = ${1|false,true|}\n$0',
      table: {
        keys: {
          allow_root_without_filesystem: {
            type: 'bool',
            default: false,
            doc: 'Let an agent running as root start without [filesystem] write sealing. Refused by default: root that can write anywhere can make the kernel or other services run its programs outside the gate (kernel.core_pattern, /etc/cron.d, systemd units). The CLI flag --allow-root-without-filesystem does the same for one run.',
          },
          keep_leftovers: {
            type: 'bool',
            default: false,
            doc: 'When the agent exits, leave running the processes it started that are still there (daemons, setsid\'d or double-forked ones) instead of ending them. The session goes on while any of them runs: their programs are still judged by the gate and the workspace files still guarded, and it ends (end record, the CLI returns) when the last one exits, or when you interrupt agent-gate or close the terminal, which ends them. The end record counts them either way. The CLI flag --keep-leftovers does the same for one run.',
          },
        },
      },
    },
    agent: {
      type: 'table',
      doc: 'An agent profile (policies/agents/*.toml): how to find the agent and what it needs. A profile is merged into the policy in force when the agent runs (agent-gate run --agent NAME, or detected from the program): its write grants and [env] are added, its allow rules apply after the policy\'s own rules, its deny and ask rules before them.',
      snippet: '[agent]\nid = "${1:name}"\nname = "${2:Display name}"\ncommands = ["${3:command}"]\n$0',
      table: {
        keys: {
          id: {
            type: 'string',
            required: true,
            pattern: '^[a-z][a-z0-9-]*$',
            example: '"claude"',
            doc: 'The profile\'s name, as given to --agent.',
          },
          name: { type: 'string', example: '"Claude Code"', doc: 'The agent\'s name, for the start banner.' },
          commands: {
            type: 'string-list',
            default: [],
            example: '["claude"]',
            pattern: '^[^/]+$',
            doc: 'Command names that start the agent: `agent-gate run -- claude` picks the profile that lists `claude`.',
          },
          executables: {
            type: 'string-list',
            default: [],
            example: '["@anthropic-ai/claude-code/bin/claude.exe"]',
            doc: 'The files the agent runs as itself: a path inside node_modules (where its npm package is installed, found from the program started) or an absolute path, * matching within one path segment. Found when the session starts, they are allowed by identity (path, file and content, so a copy the agent changed is not), and a program that resolves to one picks this profile.',
          },
          prepend_args: {
            type: 'string-list',
            default: [],
            example: '["--no-daemon"]',
            doc: 'Arguments put right after the program name when the gate starts the agent (e.g. telling an agent with its own sandbox to leave sandboxing to the gate). The start banner shows them.',
          },
          create_files: {
            type: 'string-list',
            default: [],
            example: '["${HOME}/.claude.json"]',
            pattern: ABSOLUTE,
            doc: 'State files made before the agent starts when they do not exist (empty; `{}` for a .json file, which JSON readers take as empty), so a grant on the file applies: Landlock grants only paths that exist. ${VAR} and ${VAR:-default} are expanded.',
          },
          never_write: {
            type: 'string-list',
            default: [],
            example: '["${HOME}/.ssh"]',
            doc: 'Places the agent must never be able to write (its own hooks, other tools\' credentials, shell start-up files): a warning names every write grant that covers one.',
          },
          notes: {
            type: 'string-list',
            default: [],
            example: '["Codex runs without its own sandbox: the gate is the sandbox."]',
            doc: 'What the user is told when the profile is used (one line each, on the start banner with -v).',
          },
          docs: { type: 'string', example: '"https://docs.example/agent"', doc: 'Where the agent documents its state and variables.' },
        },
      },
    },
  },
} as const satisfies TableSpec;

export type SectionName = keyof typeof POLICY_FORMAT.keys;

// ---- derived views (everything below is computed from POLICY_FORMAT)

/** The keys of a table as the loader accepts them: listed keys plus the `_not` form of every match key. */
export function tableKeys(table: TableSpec): Record<string, KeySpec> {
  const out: Record<string, KeySpec> = {};
  for (const [name, spec] of Object.entries(table.keys)) {
    out[name] = spec;
    if (spec.match) {
      out[`${name}_not`] = { ...spec, negates: name, doc: `Negation of ${name}: matches when ${name} with these values would not. ${spec.doc}` };
    }
  }
  return out;
}

/** A section's spec (its KeySpec at the document root). */
export function sectionSpec(name: SectionName): KeySpec {
  return POLICY_FORMAT.keys[name];
}

function sectionTable(name: SectionName): TableSpec {
  const t = (POLICY_FORMAT.keys[name] as KeySpec).table;
  if (!t) throw new Error(`section ${name} has no table`);
  return t;
}

/** The spec of a key at a path of names, e.g. ['rule', 'exe_not'] or ['meta']; undefined when unknown. */
export function keyAt(path: readonly string[]): KeySpec | undefined {
  let table: TableSpec | undefined = POLICY_FORMAT;
  let spec: KeySpec | undefined;
  for (const name of path) {
    if (!table) return undefined;
    spec = tableKeys(table)[name] ?? table.otherKeys;
    if (!spec) return undefined;
    table = spec.table;
  }
  return spec;
}

/** The table a path of names leads to ([] is the document root). */
export function tableAt(path: readonly string[]): TableSpec | undefined {
  if (path.length === 0) return POLICY_FORMAT;
  return keyAt(path)?.table;
}

/** The default of a key, typed by the caller (the vocabulary guarantees it matches the key's type). */
export function defaultOf<T>(section: SectionName, key: string): T {
  const spec = tableKeys(sectionTable(section))[key];
  if (spec?.default === undefined) throw new Error(`${section}.${key} has no default in the vocabulary`);
  return spec.default as T;
}

export const TOP_LEVEL_KEYS = Object.keys(POLICY_FORMAT.keys) as SectionName[];
export const META_KEYS = tableKeys(sectionTable('meta'));
export const RULE_KEYS = tableKeys(sectionTable('rule'));
export const FILESYSTEM_KEYS = tableKeys(sectionTable('filesystem'));
export const NETWORK_KEYS = tableKeys(sectionTable('network'));
export const APPROVAL_KEYS = tableKeys(sectionTable('approval'));
export const SESSION_KEYS = tableKeys(sectionTable('session'));

const matchKeysOf = (group: MatchGroup): MatchKey[] =>
  (Object.keys(MATCH_KEY_SPECS) as MatchKey[]).filter((k) => MATCH_KEY_SPECS[k].match === group);

/** Keys that identify the program: the "exe-part" of a rule (see Decision.cacheable). */
export const EXE_MATCH_KEYS: readonly MatchKey[] = matchKeysOf('program');
/** Keys over argv, which a truncated argv cannot satisfy for an allow rule. */
export const ARGV_MATCH_KEYS: readonly MatchKey[] = matchKeysOf('argv');
/** Keys over the exec's context (cwd, uid, parent), which inline examples do not have. */
export const CONTEXT_MATCH_KEYS: readonly MatchKey[] = matchKeysOf('context');
export const MATCH_KEYS: readonly MatchKey[] = Object.keys(MATCH_KEY_SPECS) as MatchKey[];

export function isMatchKey(name: string): boolean {
  return (MATCH_KEYS as readonly string[]).includes(name.replace(/_not$/, ''));
}

/** Versions this engine reads (meta.version's enum). */
export const SUPPORTED_VERSIONS: readonly number[] = META_KEYS.version?.enum as readonly number[];

/** Keys that must never appear in a parsed TOML object (prototype pollution in consumers). */
export const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** How a value of this type is described in messages and hover ("a list of strings"). */
export function describeType(spec: KeySpec): string {
  const names: Record<ValueType, string> = {
    string: 'a string',
    int: 'an integer',
    bool: 'true or false',
    'string-list': 'a list of strings',
    'int-list': 'a list of integers',
    'string-or-list': 'a string or a list of strings',
    'int-or-list': 'an integer or a list of integers',
    table: 'a table',
    'table-array': 'an array of tables',
  };
  return names[spec.type];
}

/** A valid value for a key, written as TOML: its example, else its first enum value, default or a type sample. */
export function exampleValue(spec: KeySpec): string {
  if (spec.example !== undefined) return spec.example;
  if (spec.enum?.length) return JSON.stringify(spec.enum[0]);
  if (spec.default !== undefined) return JSON.stringify(spec.default);
  const samples: Record<ValueType, string> = {
    string: '""',
    int: String(spec.min ?? 0),
    bool: 'true',
    'string-list': '[]',
    'int-list': '[]',
    'string-or-list': '""',
    'int-or-list': String(spec.min ?? 0),
    table: '{}',
    'table-array': '[]',
  };
  return samples[spec.type];
}

/** Suggest the closest known key for a typo, or undefined when nothing is close. */
export function didYouMean(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(name.toLowerCase(), k);
    if (d < bestDistance) {
      bestDistance = d;
      best = k;
    }
  }
  const limit = Math.max(2, Math.floor(name.length / 3));
  return bestDistance <= limit ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j] as number;
      prev[j] = Math.min(
        (prev[j] as number) + 1,
        (prev[j - 1] as number) + 1,
        diag + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      diag = tmp;
    }
  }
  return prev[b.length] as number;
}
