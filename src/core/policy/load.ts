// Load a `.gate.toml`: parse (smol-toml), validate every key with file:line:column diagnostics, and compile
// what evaluation needs (regexes, globs) once, so evaluating an exec never parses or compiles anything.
import { readFileSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';
// smol-toml ships ESM-only type declarations beside its CommonJS build, and this package compiles as
// CommonJS: declare the two members used and take the code from `require` (esbuild bundles it).
interface SmolToml {
  parse: (text: string) => Record<string, unknown>;
  TomlError: abstract new (...args: never[]) => Error & { line: number; column: number };
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parse, TomlError } = require('smol-toml') as SmolToml;

/** Plain TOML parse (no validation), for tools and tests that need the raw document. A shipped file's text
 *  comes parsed at build time (shipped-toml.ts). */
export function parseToml(text: string): Record<string, unknown> {
  return shippedDocument(text) ?? parse(text);
}
import picomatch from 'picomatch';
import { shippedDocument } from './shipped-toml';
import type { Action, AgentSection, BinaryAction, Diagnostic, DiagnosticCode, Fix, LoadedPolicy, Policy } from './types';
import {
  ARGV_MATCH_KEYS,
  EXE_MATCH_KEYS,
  POLICY_FORMAT,
  SUPPORTED_VERSIONS,
  UNSAFE_KEYS,
  defaultOf,
  describeType,
  didYouMean,
  isMatchKey,
  tableKeys,
  type KeySpec,
  type MatchKey,
  type TableSpec,
} from './vocabulary';
import { TomlPositionIndex, type SourceSpan } from './toml-positions';
import { FixBuilder } from './fixes';
import { tomlKey } from './toml-text';
import { enableRegexBacktrackLimit, findCatastrophicRegex } from './regex-safety';
import { expandVariables, type VariableEnv } from './variables';
import { envPatternProblem, type EnvPolicy } from './env';
import { ipBytes, resolvConfServers, unixAllowProblem, type LoopbackPolicy, type UnixSocketPolicy } from './sockets';
import {
  compileFilesystemSpec,
  compileNetworkSpec,
  type CliGrants,
  type FilesystemSpec,
  type GlobSource,
  type NetworkSpec,
} from './landlock';

export interface LoadOptions {
  /** Environment for `${VAR}` expansion (default process.env). */
  env?: VariableEnv;
  /** Value of `${WORKSPACE}` (default: the directory holding the policy file). */
  workspace?: string;
  /** Extra Landlock grants from the command line (-r/-w/-a). */
  cliGrants?: CliGrants;
  /** For tests: whether a path exists (bootstrap grants) and its canonical path (exe values). */
  exists?: (path: string) => boolean;
  /** For tests: the entries of / (a read grant on / is split around /dev). */
  readdir?: (path: string) => string[];
  realpath?: (path: string) => string | null;
  /** For tests: the text of /etc/resolv.conf (the default DNS servers of [network] dns). */
  resolvConf?: () => string;
}

export interface RuleKeySpec {
  /** The key as written, e.g. 'exe_basename_not'. */
  keyName: string;
  name: MatchKey;
  negated: boolean;
  /** String values after `${VAR}` expansion (exe, exe_basename, globs, argv_contains, hosts, parent_exe). */
  strings: string[];
  numbers: number[];
  regexes: RegExp[];
  /** For cwd_glob: compiled matchers. */
  matchers: ((s: string) => boolean)[];
}

export interface RuleSpec {
  id: string;
  action: Action;
  reason: string;
  index: number;
  keys: RuleKeySpec[];
  examplesMatch: string[];
  examplesNoMatch: string[];
  header: SourceSpan;
  /** The file the rule is written in, when it is not the policy's own (a rule an agent profile added). */
  file?: string;
  /** True when a key or the id of this rule had an error (the policy then does not load). */
  broken: boolean;
}

/** The compiled parts of a Policy, kept out of the public shape so a Policy stays plain data. */
export interface PolicyInternals {
  rules: RuleSpec[];
  fsSpec: FilesystemSpec;
  netSpec: NetworkSpec;
  env: VariableEnv;
  positions: TomlPositionIndex;
}

const internals = new WeakMap<Policy, PolicyInternals>();

/** Register a Policy built from loaded ones (merge.ts), so the engine can evaluate it. */
export function registerPolicy(policy: Policy, parts: PolicyInternals): Policy {
  internals.set(policy, parts);
  return policy;
}

/** A copy of a loaded policy with some of its plain data changed (e.g. grants dropped), evaluated the same way. */
export function derivePolicy(from: Policy, changed: Policy): Policy {
  return registerPolicy(changed, policyInternals(from));
}

export function policyInternals(policy: Policy): PolicyInternals {
  const p = internals.get(policy);
  if (!p) throw new Error('this Policy was not produced by loadPolicyText/loadPolicyFile; load it through the policy engine');
  return p;
}

/** Defaults for absent keys, from the vocabulary (vocabulary.ts): the one place they are written. */
export const DEFAULTS = {
  defaultAction: defaultOf<Action>('meta', 'default_action'),
  onPolicyError: defaultOf<BinaryAction>('meta', 'on_policy_error'),
  onSupervisorTimeoutMs: defaultOf<number>('meta', 'on_supervisor_timeout_ms'),
  approvalTimeoutMs: defaultOf<number>('approval', 'timeout_ms'),
  approvalOnTimeout: defaultOf<BinaryAction>('approval', 'on_timeout'),
  maxPending: defaultOf<number>('approval', 'max_pending'),
  maxPerMinute: defaultOf<number>('approval', 'max_per_minute'),
  fsRequireEnforced: defaultOf<boolean>('filesystem', 'require_enforced'),
  noBootstrapReads: defaultOf<boolean>('filesystem', 'no_bootstrap_reads'),
  netRequireEnforced: defaultOf<boolean>('network', 'require_enforced'),
  allowRootWithoutFilesystem: defaultOf<boolean>('session', 'allow_root_without_filesystem'),
  keepLeftovers: defaultOf<boolean>('session', 'keep_leftovers'),
};

export { SUPPORTED_VERSIONS };

type Table = Record<string, unknown>;

export function loadPolicyFile(path: string, options: LoadOptions = {}): LoadedPolicy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const msg = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message;
    return {
      policy: null,
      diagnostics: [{ severity: 'error', code: 'unreadable', message: `cannot read policy: ${msg}`, file: path, line: 1, column: 1 }],
    };
  }
  return loadPolicyText(text, path, options);
}

export function loadPolicyText(text: string, file: string, options: LoadOptions = {}): LoadedPolicy {
  // Before any of the policy's regexes runs on an argv the agent chose (see regex-safety.ts).
  enableRegexBacktrackLimit();
  return new PolicyLoader(text, file, options).load();
}

function defaultRealpath(p: string): string | null {
  try {
    return realpathSync(p);
  } catch {
    return null;
  }
}

class PolicyLoader {
  private readonly diagnostics: Diagnostic[] = [];
  /** Indexes of rules with an error in one of their keys (kept out of the shadowing analysis). */
  private readonly brokenRules = new Set<number>();
  // The position index (file:line:column of every key) and the fix builder are made on first use: a policy
  // that loads without a diagnostic never needs them, and the index was ~40 % of a load (agent-gate run's
  // start-up, issue 12).
  private positionIndex: TomlPositionIndex | undefined;
  private fixBuilder: FixBuilder | undefined;
  private readonly env: VariableEnv;

  constructor(
    private readonly text: string,
    private readonly file: string,
    private readonly options: LoadOptions,
  ) {
    const base = options.env ?? process.env;
    this.env = { ...base, WORKSPACE: options.workspace ?? base.WORKSPACE ?? dirname(file) };
  }

  load(): LoadedPolicy {
    let doc: Table;
    try {
      doc = parseToml(this.text);
    } catch (e) {
      if (e instanceof TomlError) {
        let first = e.message.split('\n')[0]?.replace(/^Invalid TOML document: /, '') ?? e.message;
        // smol-toml blames the newline for a string left open at the end of its line: say what happened.
        const rest = this.text.split('\n')[e.line - 1]?.slice(e.column - 1) ?? '';
        let range = { line: e.line, column: e.column, ...syntaxErrorEnd(this.text, e.line, e.column) };
        if (/control characters/.test(first) && /^\r?$/.test(rest)) {
          first = `string not closed on this line (a string that spans lines is written """…""" or '''…''')`;
          // Underline the string from its opening quote.
          const lineText = this.text.split('\n')[e.line - 1] ?? '';
          const open = Math.max(lineText.lastIndexOf('"', e.column - 2), lineText.lastIndexOf("'", e.column - 2));
          if (open >= 0) range = { line: e.line, column: open + 1, endLine: e.line, endColumn: e.column };
        }
        this.diagnostics.push({ severity: 'error', code: 'syntax', message: `TOML syntax: ${first}`, file: this.file, ...range });
      } else {
        this.diagnostics.push({ severity: 'error', code: 'syntax', message: `TOML syntax: ${(e as Error).message}`, file: this.file, line: 1, column: 1 });
      }
      return { policy: null, diagnostics: this.diagnostics };
    }
    if (this.rejectUnsafeKeys(doc, [])) return this.finish(null);

    // Structure first (known keys, types, enums, ranges): wrong values are removed from `doc`, so the code
    // below reads only values of the right type.
    this.checkTable(doc, [], POLICY_FORMAT);
    const meta = doc.meta as Table | undefined;
    const fsTable = doc.filesystem as Table | undefined;
    const netTable = doc.network as Table | undefined;
    const approval = doc.approval as Table | undefined;
    const envPolicy = this.envPolicy(doc.env as Table | undefined);
    const agent = doc.agent === undefined ? undefined : this.agentSection(doc.agent as Table);
    const session = doc.session as Table | undefined;

    const version = (meta?.version as number | undefined) ?? defaultOf<number>('meta', 'version');
    if (!SUPPORTED_VERSIONS.includes(version)) {
      this.error('unsupported-version', ['meta', 'version'], `policy version ${version} is not supported (this Agent Gate reads version ${SUPPORTED_VERSIONS.join(', ')}); update Agent Gate or set version = 1`, 'value');
    }

    const rules = this.rules(doc);
    this.findShadowedRules(rules);
    this.warnCallerControlledAllows(rules);

    const fsSpec = this.filesystemSpec(fsTable);
    const netSpec: NetworkSpec = {
      present: netTable !== undefined,
      connectTcpPorts: (netTable?.connect_tcp_ports as number[] | undefined) ?? [],
      bindTcpPorts: (netTable?.bind_tcp_ports as number[] | undefined) ?? [],
      requireEnforced: (netTable?.require_enforced as boolean | undefined) ?? DEFAULTS.netRequireEnforced,
      dns: (netTable?.dns as boolean | undefined) ?? false,
      dnsServers: this.dnsServers(netTable),
    };
    const unixSockets = this.unixSockets(doc.unix_sockets as Table | undefined);
    const loopbackTable = doc.loopback as Table | undefined;
    const loopback: LoopbackPolicy = {
      sealed: (loopbackTable?.sealed as boolean | undefined) ?? defaultOf<boolean>('loopback', 'sealed'),
      connectPorts: (loopbackTable?.connect_ports as number[] | undefined) ?? [],
      acceptPorts: (loopbackTable?.accept_ports as number[] | undefined) ?? [],
    };
    if (netSpec.present && netSpec.connectTcpPorts.length > 0 && netTable?.dns === undefined) {
      this.warning('no-dns', ['network', 'connect_tcp_ports'], '[network] lets TCP out but does not set dns: host names resolve only from /etc/hosts (UDP is sealed). Add dns = true to allow the resolvers of /etc/resolv.conf, or dns = false to say it is meant', 'key');
    }
    const fsCompiled = compileFilesystemSpec(fsSpec, this.options.cliGrants ?? {}, {
      env: this.env,
      ...(this.options.exists ? { exists: this.options.exists } : {}),
      ...(this.options.readdir ? { readdir: this.options.readdir } : {}),
    });
    this.diagnostics.push(...fsCompiled.diagnostics);
    this.warnAllowGlobsOverWritable(rules, fsCompiled.filesystem.enabled && fsCompiled.filesystem.handled.includes('w')
      ? fsCompiled.filesystem.grants.filter((g) => g.rights.includes('w')).map((g) => g.path)
      : []);

    if (this.diagnostics.some((d) => d.severity === 'error')) return this.finish(null);
    const policy: Policy = {
      file: this.file,
      meta: {
        version,
        defaultAction: (meta?.default_action as Action | undefined) ?? DEFAULTS.defaultAction,
        onPolicyError: (meta?.on_policy_error as BinaryAction | undefined) ?? DEFAULTS.onPolicyError,
        onSupervisorTimeoutMs: (meta?.on_supervisor_timeout_ms as number | undefined) ?? DEFAULTS.onSupervisorTimeoutMs,
      },
      filesystem: fsCompiled.filesystem,
      network: compileNetworkSpec(netSpec),
      approval: {
        timeoutMs: (approval?.timeout_ms as number | undefined) ?? DEFAULTS.approvalTimeoutMs,
        onTimeout: (approval?.on_timeout as BinaryAction | undefined) ?? DEFAULTS.approvalOnTimeout,
        maxPending: (approval?.max_pending as number | undefined) ?? DEFAULTS.maxPending,
        maxPerMinute: (approval?.max_per_minute as number | undefined) ?? DEFAULTS.maxPerMinute,
      },
      session: {
        allowRootWithoutFilesystem: (session?.allow_root_without_filesystem as boolean | undefined) ?? DEFAULTS.allowRootWithoutFilesystem,
        keepLeftovers: (session?.keep_leftovers as boolean | undefined) ?? DEFAULTS.keepLeftovers,
      },
      ruleIds: rules.map((r) => r.id),
      env: envPolicy,
      unixSockets,
      loopback,
      ...(agent ? { agent } : {}),
    };
    const positions = (): TomlPositionIndex => this.positions;
    internals.set(policy, {
      rules,
      fsSpec,
      netSpec,
      env: this.env,
      get positions(): TomlPositionIndex {
        return positions();
      },
    });
    return this.finish(policy);
  }

  private get positions(): TomlPositionIndex {
    return (this.positionIndex ??= new TomlPositionIndex(this.text));
  }

  private get fixes(): FixBuilder {
    return (this.fixBuilder ??= new FixBuilder(this.positions));
  }

  private finish(policy: Policy | null): LoadedPolicy {
    const order = (d: Diagnostic): number => d.line * 100000 + d.column;
    this.diagnostics.sort((a, b) => order(a) - order(b));
    return { policy, diagnostics: this.diagnostics };
  }

  // ---- diagnostics helpers

  private push(severity: Diagnostic['severity'], code: DiagnosticCode, path: (string | number)[], message: string, part: 'key' | 'value' = 'key', element?: number, ruleId?: string, fixes?: Fix[]): void {
    if (severity === 'error' && path[0] === 'rule' && typeof path[1] === 'number') this.brokenRules.add(path[1]);
    const span = this.positions.locate(path, part, element);
    this.diagnostics.push({
      severity,
      code,
      message,
      file: this.file,
      line: span.line,
      column: span.column,
      endLine: span.endLine,
      endColumn: span.endColumn,
      ...(ruleId !== undefined ? { ruleId } : {}),
      ...(fixes?.length ? { fixes } : {}),
    });
  }

  private error(code: DiagnosticCode, path: (string | number)[], message: string, part: 'key' | 'value' = 'key', element?: number, ruleId?: string, fixes?: Fix[]): void {
    this.push('error', code, path, message, part, element, ruleId, fixes);
  }

  private warning(code: DiagnosticCode, path: (string | number)[], message: string, part: 'key' | 'value' = 'key', element?: number, ruleId?: string, fixes?: Fix[]): void {
    this.push('warning', code, path, message, part, element, ruleId, fixes);
  }

  private unknownKey(path: (string | number)[], known: readonly string[]): void {
    const name = String(path[path.length - 1]);
    const suggestion = didYouMean(name, known);
    const where = path.length > 1 ? ` in [${path.filter((p) => typeof p === 'string').slice(0, -1).join('.')}]` : '';
    const range = suggestion === undefined ? undefined : this.fixes.nameRange(path);
    const fixes = range ? [{ title: `Change to '${suggestion}'`, range, newText: tomlKey(suggestion as string), preferred: true }] : [];
    this.error('unknown-key', path, `unknown key '${name}'${where}${suggestion ? `; did you mean '${suggestion}'?` : `; known keys: ${known.join(', ')}`}`, 'key', undefined, undefined, fixes);
  }

  /** Reject __proto__ and friends anywhere: a consumer spreading the parsed object could be polluted. */
  private rejectUnsafeKeys(value: unknown, path: (string | number)[]): boolean {
    let found = false;
    if (Array.isArray(value)) {
      value.forEach((v, i) => {
        if (this.rejectUnsafeKeys(v, [...path, i])) found = true;
      });
    } else if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
      for (const [k, v] of Object.entries(value as Table)) {
        if (UNSAFE_KEYS.has(k)) {
          this.error('unsafe-key', [...path, k], `key '${k}' is not allowed (it could alter object prototypes); rename it`);
          found = true;
        } else if (this.rejectUnsafeKeys(v, [...path, k])) {
          found = true;
        }
      }
    }
    return found;
  }

  /**
   * Check a table against its vocabulary spec, recursing into sub-tables and arrays of tables: unknown keys
   * (with "did you mean"), types, enums and ranges. A wrong value is deleted from the table, so later code
   * sees only good ones.
   */
  private checkTable(t: Table, path: (string | number)[], table: TableSpec, ruleId?: string): void {
    const keys = tableKeys(table);
    const names = path.filter((p): p is string => typeof p === 'string');
    for (const [key, value] of Object.entries(t)) {
      const spec = keys[key] ?? table.otherKeys;
      const at = [...path, key];
      if (!spec) {
        this.unknownKey(at, Object.keys(keys));
        delete t[key];
        continue;
      }
      if (spec.type === 'table') {
        if (!isTable(value)) {
          this.error('wrong-type', at, `'${key}' must be a table: write [${[...names, key].join('.')}] on its own line followed by its keys`, 'key', undefined, ruleId);
          delete t[key];
        } else {
          this.checkTable(value, at, spec.table ?? { keys: {} }, ruleId);
        }
      } else if (spec.type === 'table-array') {
        if (!Array.isArray(value) || !value.every(isTable)) {
          this.error('wrong-type', at, `'${key}' must be an array of tables: write each one as [[${[...names, key].join('.')}]] followed by its keys`, 'key', undefined, ruleId);
          delete t[key];
        } else {
          value.forEach((el, i) => this.checkTable(el, [...at, i], spec.table ?? { keys: {} }, typeof el.id === 'string' ? el.id : ruleId));
        }
      } else if (!this.checkValue(value, spec, at, ruleId)) {
        delete t[key];
      }
    }
  }

  private checkValue(value: unknown, spec: KeySpec, path: (string | number)[], ruleId?: string): boolean {
    const name = String(path[path.length - 1]);
    const wrongType = (): false => {
      this.error('wrong-type', path, `'${name}' must be ${describeType(spec)}, not ${typeName(value)}`, 'value', undefined, ruleId);
      return false;
    };
    const checkScalar = (v: unknown, element?: number): boolean => {
      const isInt = typeof v === 'number' && Number.isInteger(v);
      const wantsInt = spec.type === 'int' || spec.type === 'int-list' || spec.type === 'int-or-list';
      if (spec.type === 'bool') return typeof v === 'boolean';
      if (wantsInt) {
        if (typeof v === 'bigint') {
          this.error('bad-value', path, `'${name}' = ${String(v)} is out of range`, 'value', element, ruleId);
          return true; // reported
        }
        if (!isInt) return false;
        if ((spec.min !== undefined && (v) < spec.min) || (spec.max !== undefined && (v) > spec.max)) {
          this.error('bad-value', path, `'${name}' = ${v} is out of range (${spec.min ?? '-∞'}..${spec.max ?? '∞'})`, 'value', element, ruleId);
        }
        return true;
      }
      if (typeof v !== 'string') return false;
      const allowed = spec.enum as readonly string[] | undefined;
      if (allowed && !allowed.includes(v)) {
        this.error('bad-value', path, `'${name}' = "${v}" is not one of ${allowed.map((e) => `"${e}"`).join(', ')}`, 'value', element, ruleId);
      }
      return true;
    };
    const isList = spec.type.endsWith('-list') || spec.type.endsWith('-or-list');
    if (Array.isArray(value)) {
      if (!isList) return wrongType();
      for (let i = 0; i < value.length; i++) {
        if (!checkScalar(value[i], i)) {
          this.error('wrong-type', path, `'${name}' must be ${describeType(spec)}; element ${i + 1} is ${typeName(value[i])}`, 'value', i, ruleId);
          return false;
        }
      }
      if (value.length === 0 && isMatchKey(name)) {
        this.warning('empty-list', path, `'${name}' is an empty list, which matches nothing${name.endsWith('_not') ? ' (so its _not form matches everything)' : ''}; remove the key or give it values`, 'value', undefined, ruleId);
      }
      return true;
    }
    if (spec.type.endsWith('-list') && !spec.type.endsWith('-or-list')) return wrongType();
    if (!checkScalar(value)) return wrongType();
    return true;
  }

  // ---- [unix_sockets] and DNS

  private unixSockets(t: Table | undefined): UnixSocketPolicy {
    const allow: string[] = [];
    ((t?.allow as string[] | undefined) ?? []).forEach((raw, i) => {
      const exp = expandVariables(raw);
      const unset = exp.names.filter((n) => this.env[n] === undefined);
      if (unset.length) {
        this.error('unset-variable', ['unix_sockets', 'allow'], `\${${unset[0]}} in [unix_sockets] allow is not set in the environment; set it or write the path out`, 'value', i);
        return;
      }
      const glob = exp.expand(this.env);
      const problem = unixAllowProblem(glob);
      if (problem) {
        this.error('bad-value', ['unix_sockets', 'allow'], `[unix_sockets] allow entry "${glob}" ${problem}`, 'value', i);
        return;
      }
      allow.push(glob);
    });
    return {
      sealed: !allow.includes('/**'),
      allow,
      requireEnforced: (t?.require_enforced as boolean | undefined) ?? defaultOf<boolean>('unix_sockets', 'require_enforced'),
    };
  }

  private dnsServers(net: Table | undefined): string[] {
    const listed = net?.dns_servers as string[] | undefined;
    if (listed !== undefined) {
      return listed.filter((a, i) => {
        const ok = ipBytes(a) !== null;
        if (!ok) this.error('bad-value', ['network', 'dns_servers'], `[network] dns_servers entry "${a}" is not an IP address`, 'value', i);
        return ok;
      });
    }
    if (net?.dns !== true) return [];
    let text = '';
    try {
      text = this.options.resolvConf ? this.options.resolvConf() : readFileSync('/etc/resolv.conf', 'utf8');
    } catch {
      // No resolv.conf: no resolver to allow (the check below says so).
    }
    const servers = resolvConfServers(text);
    if (servers.length === 0) this.warning('no-dns', ['network', 'dns'], 'dns = true but /etc/resolv.conf names no nameserver: list the resolvers in dns_servers', 'value');
    return servers;
  }

  // ---- [agent] (agent profiles)

  private agentSection(t: Table): AgentSection {
    const strings = (key: string): string[] => (t[key] as string[] | undefined) ?? [];
    /** ${VAR} expanded; an absolute path where `absolute`, else null (reported). */
    const path = (value: string, at: (string | number)[], element: number | undefined, absolute: boolean): string | null => {
      const exp = expandVariables(value);
      const unset = exp.unset(this.env);
      if (unset.length) {
        this.error('unset-variable', at, `\${${unset[0]}} in [agent] is not set in the environment; set it or write the path out`, 'value', element);
        return null;
      }
      const v = exp.expand(this.env);
      if (absolute && !v.startsWith('/')) {
        this.error('not-absolute', at, `'${v}' must be an absolute path`, 'value', element);
        return null;
      }
      if (v.split('/').includes('..')) {
        this.error('dotdot-glob', at, `'${v}' contains '..'; write the path without it`, 'value', element);
        return null;
      }
      return v;
    };
    const paths = (key: string, absolute: boolean): string[] =>
      strings(key).flatMap((v, i) => {
        const p = path(v, ['agent', key], i, absolute);
        return p === null ? [] : [p];
      });
    // A JSON file starts as `{}` (an empty file is not valid JSON), any other as empty.
    const createFiles = paths('create_files', true).map((p): [string, string] => [p, p.endsWith('.json') ? '{}\n' : '']);
    return {
      id: (t.id as string | undefined) ?? '',
      name: (t.name as string | undefined) ?? ((t.id as string | undefined) ?? ''),
      commands: strings('commands'),
      executables: paths('executables', false),
      prependArgs: strings('prepend_args'),
      createFiles,
      neverWrite: paths('never_write', true),
      notes: strings('notes'),
      ...(typeof t.docs === 'string' ? { docs: t.docs } : {}),
      file: this.file,
    };
  }

  // ---- [env]

  private envPolicy(t: Table | undefined): EnvPolicy {
    const patterns = (key: 'remove' | 'pass'): string[] => {
      const list = (t?.[key] as string[] | undefined) ?? [];
      return list.filter((p, i) => {
        const problem = envPatternProblem(p);
        if (problem) this.error('bad-value', ['env', key], `[env] ${key} entry "${p}" ${problem}; write a variable name or a pattern such as "AWS_*"`, 'value', i);
        return !problem;
      });
    };
    const set: [string, string][] = [];
    for (const [name, value] of Object.entries((t?.set as Table | undefined) ?? {})) {
      const problem = envPatternProblem(name) ?? (/[*?]/.test(name) ? 'is a pattern; set takes variable names' : null);
      if (problem) {
        this.error('bad-value', ['env', 'set', name], `[env] set: the name "${name}" ${problem}`);
        continue;
      }
      const exp = expandVariables(value as string);
      const unset = exp.unset(this.env);
      if (unset.length) {
        this.error('unset-variable', ['env', 'set', name], `\${${unset[0]}} in [env] set.${name} is not set in the environment; set it or write the value out`, 'value');
        continue;
      }
      const v = exp.expand(this.env);
      if (v.includes('\0')) {
        this.error('bad-value', ['env', 'set', name], `[env] set.${name} contains a NUL character, which an environment value cannot hold`, 'value');
        continue;
      }
      set.push([name, v]);
    }
    return { remove: patterns('remove'), pass: patterns('pass'), set, ...(t?.remove_url_credentials === true ? { removeUrlCredentials: true } : {}), ...(t?.remove_token_values === true ? { removeTokenValues: true } : {}) };
  }

  // ---- rules

  private rules(doc: Table): RuleSpec[] {
    // checkTable has already removed a `rule` that is not an array of tables, and every bad key.
    const raw = doc.rule as Table[] | undefined;
    if (raw === undefined) return [];
    const rules: RuleSpec[] = [];
    const seen = new Map<string, number>();
    raw.forEach((t, index) => {
      const path = ['rule', index];
      const positions = (): TomlPositionIndex => this.positions;
      // Missing means not written at all: a key with a wrong value was reported and removed by checkTable.
      const missing = (key: string): boolean => t[key] === undefined && this.positions.key([...path, key]) === undefined;
      if (missing('id')) {
        this.error('missing-key', path, `rule #${index + 1} has no 'id'; give every rule a unique id = "…" (it names the rule in the audit log)`);
      }
      // Keep checking a rule without a usable id, so all its problems are reported at once.
      const id = typeof t.id === 'string' ? t.id : `#${index + 1}`;
      if (id.trim() === '') {
        this.error('bad-value', [...path, 'id'], `rule #${index + 1} has an empty id`, 'value');
      }
      const dup = typeof t.id === 'string' ? seen.get(id) : undefined;
      if (dup !== undefined) {
        const fixes = this.fixes.duplicateId(index, id, new Set(raw.map((r) => r.id).filter((x): x is string => typeof x === 'string')));
        this.error('duplicate-id', [...path, 'id'], `duplicate rule id '${id}' (first used by rule #${dup + 1}); ids must be unique`, 'value', undefined, id, fixes);
      } else {
        seen.set(id, index);
      }
      if (missing('action')) {
        this.error('missing-key', path, `rule '${id}' has no 'action'; add action = "allow", "deny" or "ask"`, 'key', undefined, id);
      }
      const keys: RuleKeySpec[] = [];
      for (const [keyName, value] of Object.entries(t)) {
        if (!isMatchKey(keyName)) continue;
        const compiled = this.compileKey(keyName, value, [...path, keyName], id);
        if (compiled) keys.push(compiled);
      }
      rules.push({
        id,
        action: (t.action as Action | undefined) ?? 'deny',
        reason: typeof t.reason === 'string' ? t.reason : '',
        index,
        keys,
        examplesMatch: (t.examples_match as string[] | undefined) ?? [],
        examplesNoMatch: (t.examples_no_match as string[] | undefined) ?? [],
        get header(): SourceSpan {
          return positions().locate(path);
        },
        // A rule with a rejected key would look broader than written: keep it out of shadowing analysis.
        broken: this.brokenRules.has(index) || typeof t.id !== 'string',
      });
    });
    return rules;
  }

  private compileKey(keyName: string, value: unknown, path: (string | number)[], ruleId: string): RuleKeySpec | null {
    const negated = keyName.endsWith('_not');
    const name = keyName.replace(/_not$/, '') as MatchKey;
    const values = (Array.isArray(value) ? value : [value]) as (string | number)[];
    const spec: RuleKeySpec = { keyName, name, negated, strings: [], numbers: [], regexes: [], matchers: [] };
    let ok = true;
    values.forEach((v, i) => {
      const element = Array.isArray(value) ? i : undefined;
      const err = (code: DiagnosticCode, message: string, fixes?: Fix[]): void => {
        this.error(code, path, message, 'value', element, ruleId, fixes);
        ok = false;
      };
      if (name === 'uid') {
        spec.numbers.push(v as number);
        return;
      }
      let s = v as string;
      if (name === 'argv_regex' || name === 'parent_argv') {
        let re: RegExp;
        try {
          re = new RegExp(s);
        } catch (e) {
          const hint = /\(\?P</.test(s) ? " (Python's (?P<name>…) is written (?<name>…) in JavaScript)" : '';
          err('bad-regex', `invalid regular expression in '${keyName}': ${(e as Error).message.replace(/^Invalid regular expression: /, '')}${hint}`, this.fixes.badRegex(path, element, s));
          return;
        }
        const risk = findCatastrophicRegex(s);
        if (risk) {
          err('catastrophic-regex', `'${keyName}' ${risk.message}; rewrite it without nested repetition (e.g. (a+)+ → a+)`);
          return;
        }
        spec.regexes.push(re);
        spec.strings.push(s);
        return;
      }
      if (name === 'exe' || name === 'exe_glob' || name === 'cwd_glob' || name === 'parent_exe') {
        const exp = expandVariables(s);
        const unset = exp.unset(this.env);
        if (unset.length) {
          err('unset-variable', `\${${unset[0]}} in '${keyName}' is not set in the environment; set it or write the path out`);
          return;
        }
        s = exp.expand(this.env);
        if (!s.startsWith('/')) {
          err('not-absolute', `'${keyName}' = "${s}" must be an absolute path${name === 'exe' ? "; to match a program by name use 'exe_basename'" : ''}`);
          return;
        }
        if (name === 'exe_glob' || name === 'cwd_glob') {
          if (s.split('/').includes('..')) {
            err('dotdot-glob', `'${keyName}' = "${s}" contains '..'; write the path without it`);
            return;
          }
          if (name === 'cwd_glob') spec.matchers.push(picomatch(s, { dot: true }));
        } else if (name === 'exe' && !negated) {
          const real = (this.options.realpath ?? defaultRealpath)(s);
          if (real === null) {
            this.warning('exe-not-found', path, `'${s}' does not exist here; the rule will match that literal path only`, 'value', element, ruleId);
          }
        }
      }
      if (name === 'exe_basename' && (s.includes('/') || s === '')) {
        err('bad-value', `'${keyName}' = "${s}" must be a file name without '/'; to match a path use 'exe' or 'exe_glob'`);
        return;
      }
      if (name === 'argv_host_in') {
        const host = s.toLowerCase();
        if (!/^(\*\.)?[a-z0-9_.\-[\]:]+$/.test(host) || host.includes('//')) {
          err('bad-value', `'${keyName}' entry "${s}" is not a host name; write a bare host ("github.com") or "*.github.com" for its subdomains`);
          return;
        }
        s = host.replace(/\.$/, '');
      }
      spec.strings.push(s);
    });
    return ok ? spec : null;
  }

  /**
   * A rule is unreachable when an earlier rule matches every exec it matches. Checked for the simple
   * cases: the earlier rule has no match keys, or each of its keys also appears in the later rule with a
   * broader (superset) value list — for _not keys a subset. Only literal equality of values counts.
   */
  private findShadowedRules(rules: RuleSpec[]): void {
    for (let b = 0; b < rules.length; b++) {
      const later = rules[b] as RuleSpec;
      for (let a = 0; a < b; a++) {
        const earlier = rules[a] as RuleSpec;
        if (earlier.broken || later.broken || !covers(earlier, later)) continue;
        const why = earlier.keys.length === 0 ? `'${earlier.id}' has no match keys, so it matches every exec` : `'${earlier.id}' matches everything this rule matches`;
        // Moving the later rule just above the earlier one helps unless it would then hide that rule, or
        // one of the rules in between, in turn.
        const between = rules.slice(a, b);
        const movable = !between.some((r) => !r.broken && covers(later, r));
        const fixes = this.fixes.shadowedRule(later, earlier, movable);
        this.warning('shadowed-rule', ['rule', later.index], `rule '${later.id}' can never match: ${why} and comes first (first match wins); move it above '${earlier.id}' or remove it`, 'key', undefined, later.id, fixes);
        break;
      }
    }
  }

  // ---- filesystem

  private filesystemSpec(t: Table | undefined): FilesystemSpec {
    const sources = (key: string): GlobSource[] => {
      const list = (t?.[key] as string[] | undefined) ?? [];
      const file = this.file;
      const positions = (): TomlPositionIndex => this.positions;
      // The grant's place in the file, found when a diagnostic or `-v` asks for it.
      return list.map((glob, i) => ({
        glob,
        origin: key,
        get at(): NonNullable<GlobSource['at']> {
          const span = positions().locate(['filesystem', key], 'value', i);
          return { file, line: span.line, column: span.column, endLine: span.endLine, endColumn: span.endColumn };
        },
      }));
    };
    return {
      present: t !== undefined,
      read: sources('read_globs'),
      write: sources('write_globs'),
      allow: sources('allow_globs'),
      execute: sources('execute_globs'),
      createDirs: sources('create_dirs'),
      executePresent: t?.execute_globs !== undefined,
      requireEnforced: (t?.require_enforced as boolean | undefined) ?? DEFAULTS.fsRequireEnforced,
      noBootstrapReads: (t?.no_bootstrap_reads as boolean | undefined) ?? DEFAULTS.noBootstrapReads,
    };
  }

  /**
   * An allow rule that names no program and rests only on facts the calling process sets (its argv, its
   * cwd, its parent's argv, or which program is asking) allows whatever program the caller chooses:
   * `exec -a make python3 …` makes a caller's argv read `make …`. SECURITY.md has the table of keys.
   */
  private warnCallerControlledAllows(rules: RuleSpec[]): void {
    for (const rule of rules) {
      if (rule.action !== 'allow' || rule.broken) continue;
      if (rule.keys.some((k) => !k.negated && (EXE_MATCH_KEYS as readonly string[]).includes(k.name))) continue;
      const caller = rule.keys.filter((k) => (CALLER_CONTROLLED_KEYS as readonly string[]).includes(k.name));
      if (caller.length === 0) continue;
      const names = [...new Set(caller.map((k) => k.keyName))];
      const parentOnly = caller.every((k) => k.name === 'parent_exe');
      const why = parentOnly
        ? 'parent_exe names the program that asks, and a program can be made to run anything (make with a Makefile the agent wrote, env, xargs, a shell)'
        : 'the caller sets these itself (exec -a NAME, chdir, its own argv), so they hold for any program it chooses';
      this.warning(
        'caller-controlled-allow',
        ['rule', rule.index, (caller[0] as RuleKeySpec).keyName],
        `allow rule '${rule.id}' names no program and rests only on ${names.join(', ')}: ${why}; add exe_basename, exe or exe_glob to say which programs it allows`,
        'key',
        undefined,
        rule.id,
      );
    }
  }

  /** An allow rule whose exe_glob covers a place the agent can write lets it run anything it plants there. */
  private warnAllowGlobsOverWritable(rules: RuleSpec[], writable: string[]): void {
    if (writable.length === 0) return;
    for (const rule of rules) {
      if (rule.action !== 'allow') continue;
      for (const key of rule.keys) {
        if (key.name !== 'exe_glob' || key.negated) continue;
        key.strings.forEach((glob, i) => {
          const m = picomatch(glob, { dot: true });
          const hit = writable.find((w) => m(`${w === '/' ? '' : w}/agent-gate-probe`) || m(`${w === '/' ? '' : w}/a/b/agent-gate-probe`));
          if (hit) {
            this.warning('allow-glob-writable', ['rule', rule.index, key.keyName], `allow rule '${rule.id}': exe_glob "${glob}" covers ${hit}, which the agent can write, so it could plant any program there and run it; narrow the glob or use exe_basename`, 'value', key.strings.length > 1 ? i : undefined, rule.id);
          }
        });
      }
    }
  }
}

/**
 * Rule keys whose facts the process that calls exec chooses itself (SECURITY.md, "Rule keys"): argv (any
 * program can pass any argv, and `exec -a` sets argv[0]), its working directory, its own argv as its parent
 * sees it (`parent_argv`: the caller's argv, rewritable in its memory), and which program is asking
 * (`parent_exe`: true, but a program can be made to exec anything).
 */
export const CALLER_CONTROLLED_KEYS = ['argv_regex', 'argv_contains', 'argv_host_in', 'cwd_glob', 'parent_argv', 'parent_exe'] as const;

function covers(earlier: RuleSpec, later: RuleSpec): boolean {
  // Deny/ask rules also match by the requested name (see matcher.ts), so an earlier allow rule with
  // program keys does not cover a later deny/ask rule with the same keys.
  const earlierHasExe = earlier.keys.some((k) => (EXE_MATCH_KEYS as readonly string[]).includes(k.name));
  if (earlier.action === 'allow' && later.action !== 'allow' && earlierHasExe) return false;
  // An allow rule with argv keys does not match a truncated argv; a later deny/ask rule still does.
  const earlierHasArgv = earlier.keys.some((k) => (ARGV_MATCH_KEYS as readonly string[]).includes(k.name));
  if (earlier.action === 'allow' && later.action !== 'allow' && earlierHasArgv) return false;
  for (const k of earlier.keys) {
    const l = later.keys.find((x) => x.keyName === k.keyName);
    if (!l) return false;
    const ev = k.name === 'uid' ? k.numbers : k.strings;
    const lv = l.name === 'uid' ? l.numbers : l.strings;
    const subset = (xs: (string | number)[], ys: (string | number)[]): boolean => xs.every((x) => ys.includes(x));
    if (k.negated ? !subset(ev, lv) : !subset(lv, ev)) return false;
    // argv_host_in: "every URL host in the list" — a later list that is a subset is narrower.
  }
  return true;
}

/**
 * smol-toml gives only where a syntax error starts: underline the rest of the word there (so an editor shows
 * a visible squiggle), or the character before it at the end of a line.
 */
function syntaxErrorEnd(text: string, line: number, column: number): { endLine: number; endColumn: number } {
  const lineText = text.split('\n')[line - 1]?.replace(/\r$/, '') ?? '';
  const rest = lineText.slice(column - 1);
  const word = /^\S+/.exec(rest)?.[0].length ?? 0;
  if (word > 0) return { endLine: line, endColumn: column + word };
  return { endLine: line, endColumn: column + (rest.length > 0 ? 1 : 0) };
}

function isTable(v: unknown): v is Table {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);
}

function typeName(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  if (v instanceof Date) return 'a date';
  if (typeof v === 'object') return 'a table';
  if (typeof v === 'number') return Number.isInteger(v) ? `the integer ${v}` : `the number ${v}`;
  if (typeof v === 'string') return `the string "${v}"`;
  if (typeof v === 'boolean') return `${v}`;
  return typeof v;
}
