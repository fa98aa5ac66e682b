// Matching one rule key against one exec.
//
// ── Names, symlinks and copies ────────────────────────────────────────────────────────────────────────────
// Two requirements pull against each other: a program named the way users know it must match
// (`exe_basename = "sh"` matches /bin/sh, a link to dash; `python3` matches /usr/bin/python3.11), and an agent
// must never make an allow rule match a different program by giving it an allowed name
// (`ln -s /usr/bin/curl ./git`, `cp /usr/bin/curl ./git`). The rule:
//
// • The exec is identified by its canonical path (facts.exe.path: every symlink resolved by the supervisor),
//   its file identity (dev+ino) and, where the supervisor hashed it, its content (sha256 + size).
// • `exe = "/bin/sh"`: the value is canonicalised at load time (realpath: /usr/bin/dash here). It matches
//   the same canonical path, the same file (dev+ino: a hard link), or the same content (a copy IS the same
//   program). A value that does not exist at load time stays literal (with a warning).
// • `exe_glob`: the glob's static prefix is canonicalised at load time (`/bin/*` → `/usr/bin/*`) and the
//   glob is matched against the canonical path.
// • `exe_basename = N` matches when
//   (a) the file is the same file, or has the same content, as a program installed under the name N —
//       found at load time through PATH plus /usr/local/sbin, /usr/local/bin, /usr/sbin, /usr/bin, /sbin,
//       /bin, following symlinks (the known program's hash is computed lazily, once, and only when an
//       exec's file has its size but is a different file and carries a hash); or
//   (b) the canonical path's file name is N and the file is in a trusted place: somewhere the agent cannot
//       write — outside every write grant when Landlock seals writes, and otherwise under /usr, /bin,
//       /sbin, /lib, /lib64, /opt, /nix/store or /snap.
//   The agent can plant files only where it can write. A file it could not have written carries its own
//   name honestly; a symlink it made resolves to the real program's path; a copy it made is known only by
//   its content — so `cp /usr/bin/curl ./git` is curl (matches `curl`, never `git`).
// • Fail closed on names: the name the program was *requested* by (basename of facts.requestedPath, and for
//   `exe`/`exe_glob` the requested path made absolute) also counts for deny and ask rules — over-matching a
//   deny is safe. Allow rules never match on the requested name or argv[0]. For `_not` keys it is the other
//   way round (an allow rule's `exe_basename_not = "curl"` also refuses a program *called* curl), so a name
//   can only ever make a rule stricter.
// ──────────────────────────────────────────────────────────────────────────────────────────────────────────
import { basename, posix } from 'node:path';
import picomatch from 'picomatch';
import { GuardedRegex } from './regex-guard';
import type { ExecFacts, FileFacts } from '../exec/facts';
import type { RuleKeySpec } from './load';
import { isUnder } from './landlock';

export const TRUSTED_SYSTEM_ROOTS = ['/usr', '/bin', '/sbin', '/lib', '/lib64', '/opt', '/nix/store', '/snap'];
export const STANDARD_PROGRAM_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** A program found at load time, identified the way an exec is. */
export interface ProgramIdentity {
  /** Canonical path. */
  path: string;
  dev: string;
  ino: string;
  size: number;
}

/** What the matcher may learn about the machine; injectable for tests. */
export interface EvaluationContext {
  /** PATH used to find the programs behind exe_basename names. */
  path: string;
  /** Directories the agent can write (trust decisions). */
  writableGrants: string[];
  /** True when Landlock restricts writes, so writableGrants is the whole writable set. */
  filesystemSealed: boolean;
  /** realpath + stat of a regular file; null when it does not exist or is not a regular file. */
  statProgram(path: string): ProgramIdentity | null;
  /** sha256 (lowercase hex) of a file, or null when unreadable. */
  hashProgram(path: string): string | null;
  /** Canonical form of a path whose tail may not exist: realpath of the longest existing prefix. */
  canonicalize(path: string): string;
  /** The programs an exe_basename name resolves to (resolveProgramName), when the context knows them
   *  already (the derived-data cache, derived-cache.ts); absent: looked up in every PATH directory. */
  resolveName?(name: string): ProgramIdentity[];
}

/** Per-exec precomputed view, so each key test is a few comparisons. */
export class ExecView {
  readonly exe: FileFacts | null;
  readonly argvJoined: string;
  private exeBaseCache: string | undefined;
  private devInoCache: string | undefined;
  private requestedBaseCache: string | undefined;
  private requestedAbsCache: string | undefined;
  private hostsCache: string[] | undefined;
  private parentArgvCache: string | undefined;
  private trustedCache: boolean | undefined;

  // Derived strings are computed on first use: most execs are decided from the memoised program plan
  // (see PolicyEvaluator.evaluateSingle) and never need them.
  constructor(readonly facts: ExecFacts) {
    this.exe = facts.exe;
    this.argvJoined = facts.argv.join(' ');
  }

  get exeBase(): string {
    return (this.exeBaseCache ??= this.exe ? basename(this.exe.path) : '');
  }

  get devIno(): string {
    return (this.devInoCache ??= this.exe ? `${this.exe.dev}:${this.exe.ino}` : '');
  }

  get requestedBase(): string {
    return (this.requestedBaseCache ??= this.facts.requestedPath ? basename(this.facts.requestedPath) : '');
  }

  get requestedAbs(): string {
    return (this.requestedAbsCache ??= this.facts.requestedPath ? posix.resolve(this.facts.cwd || '/', this.facts.requestedPath) : '');
  }

  hosts(): string[] {
    if (this.hostsCache === undefined) this.hostsCache = extractUrlHosts(this.facts.argv);
    return this.hostsCache;
  }

  parentArgvJoined(): string {
    if (this.parentArgvCache === undefined) this.parentArgvCache = this.facts.parent ? this.facts.parent.argv.join(' ') : '';
    return this.parentArgvCache;
  }

  trusted(ctx: EvaluationContext): boolean {
    if (this.trustedCache === undefined) {
      const p = this.exe?.path ?? '';
      this.trustedCache = p !== '' && (ctx.filesystemSealed
        ? !ctx.writableGrants.some((w) => isUnder(p, w))
        : TRUSTED_SYSTEM_ROOTS.some((r) => isUnder(p, r)));
    }
    return this.trustedCache;
  }
}

// Any scheme, not only http(s): `curl https://github.com ftp://evil.example` must not pass an allowlist
// of github.com because the second URL is not http. (Stricter than Faraday's http(s)-only extraction.)
const URL_IN_ARG = /\b[a-z][a-z0-9+.-]*:\/\/([^\s/?#"'<>\\]*)/gi;

/**
 * Hosts of every `scheme://` URL anywhere in argv (after argv[0]): lowercase, without userinfo or port.
 * This is argv-level evidence only: a program may also take hosts from bare arguments or config files;
 * Landlock's [network] ports are the kernel boundary.
 */
export function extractUrlHosts(argv: readonly string[]): string[] {
  const hosts: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.includes('://')) continue;
    for (const m of a.matchAll(URL_IN_ARG)) {
      let authority = m[1] ?? '';
      const at = authority.lastIndexOf('@');
      if (at >= 0) authority = authority.slice(at + 1);
      let host: string;
      if (authority.startsWith('[')) {
        const close = authority.indexOf(']');
        host = close > 0 ? authority.slice(0, close + 1) : authority;
      } else {
        host = authority.replace(/:\d*$/, '');
      }
      hosts.push(host.toLowerCase().replace(/\.$/, ''));
    }
  }
  return hosts;
}

export function hostAllowed(host: string, patterns: readonly string[]): boolean {
  for (const p of patterns) {
    if (p.startsWith('*.')) {
      if (host.endsWith(p.slice(1)) && host.length > p.length - 1) return true;
    } else if (host === p) {
      return true;
    }
  }
  return false;
}

/** A compiled key: `strict` tests identity only; `byName` tests the requested name (fail-closed extra). */
export interface KeyTest {
  keyName: string;
  negated: boolean;
  isExePart: boolean;
  strict(v: ExecView): boolean;
  byName: ((v: ExecView) => boolean) | null;
  /** Sizes of the programs this key knows by content: a file of another size can never match by hash. */
  contentSizes?: readonly number[];
}

/** Known programs behind a set of names or paths, with lazy content hashes. */
class KnownPrograms {
  private readonly devIno = new Set<string>();
  private readonly bySize = new Map<number, ProgramIdentity[]>();
  private readonly hashes = new Map<string, string | null>();

  constructor(
    programs: ProgramIdentity[],
    private readonly ctx: EvaluationContext,
  ) {
    for (const p of programs) {
      this.devIno.add(`${p.dev}:${p.ino}`);
      const list = this.bySize.get(p.size) ?? [];
      list.push(p);
      this.bySize.set(p.size, list);
    }
  }

  get sizes(): number[] {
    return [...this.bySize.keys()];
  }

  matches(v: ExecView): boolean {
    const exe = v.exe;
    if (!exe) return false;
    if (this.devIno.has(v.devIno)) return true;
    if (exe.sha256 !== undefined && this.sameContent(exe.size, exe.sha256)) return true;
    // A named program with bytes appended after its ELF end runs as that program (R34).
    return exe.prefix !== undefined && exe.prefix.sha256 !== '' && this.sameContent(exe.prefix.size, exe.prefix.sha256);
  }

  private sameContent(size: number, sha256: string): boolean {
    const same = this.bySize.get(size);
    if (!same) return false;
    for (const p of same) {
      let h = this.hashes.get(p.path);
      if (h === undefined) {
        h = this.ctx.hashProgram(p.path);
        this.hashes.set(p.path, h);
      }
      if (h !== null && h === sha256) return true;
    }
    return false;
  }
}

const searchDirs = new WeakMap<EvaluationContext, string[]>();

export function resolveProgramName(name: string, ctx: EvaluationContext): ProgramIdentity[] {
  return ctx.resolveName ? ctx.resolveName(name) : lookUpProgramName(name, ctx);
}

/** resolveProgramName without the context's own answer: each PATH directory (then the standard ones) asked. */
export function lookUpProgramName(name: string, ctx: EvaluationContext): ProgramIdentity[] {
  let dirs = searchDirs.get(ctx);
  if (!dirs) {
    dirs = [...new Set([...ctx.path.split(':').filter((d) => d.startsWith('/')), ...STANDARD_PROGRAM_DIRS])];
    searchDirs.set(ctx, dirs);
  }
  const found = new Map<string, ProgramIdentity>();
  for (const dir of dirs) {
    const id = ctx.statProgram(posix.join(dir, name));
    if (id) found.set(`${id.dev}:${id.ino}`, id);
  }
  return [...found.values()];
}

/** Compile one rule key into its tests, resolving names and paths through the context (load time). */
export function compileKeyTest(key: RuleKeySpec, ctx: EvaluationContext): KeyTest {
  const base = { keyName: key.keyName, negated: key.negated };
  switch (key.name) {
    case 'exe_basename': {
      const names = new Set(key.strings);
      const known = new KnownPrograms(key.strings.flatMap((n) => resolveProgramName(n, ctx)), ctx);
      return {
        ...base,
        isExePart: true,
        strict: (v) => known.matches(v) || (names.has(v.exeBase) && v.trusted(ctx)),
        byName: (v) => names.has(v.requestedBase),
        contentSizes: known.sizes,
      };
    }
    case 'exe': {
      const paths = new Set<string>(key.strings);
      const programs: ProgramIdentity[] = [];
      for (const s of key.strings) {
        const id = ctx.statProgram(s);
        if (id) {
          programs.push(id);
          paths.add(id.path);
        }
      }
      const known = new KnownPrograms(programs, ctx);
      return {
        ...base,
        isExePart: true,
        strict: (v) => v.exe !== null && (paths.has(v.exe.path) || known.matches(v)),
        byName: (v) => paths.has(v.requestedAbs),
        contentSizes: known.sizes,
      };
    }
    case 'exe_glob': {
      const canonical = key.strings.map((g) => globMatcher(canonicalizeGlob(g, ctx)));
      const literal = key.strings.map((g) => globMatcher(g));
      return {
        ...base,
        isExePart: true,
        strict: (v) => v.exe !== null && canonical.some((m) => m(v.exe!.path)),
        byName: (v) => v.requestedAbs !== '' && (literal.some((m) => m(v.requestedAbs)) || canonical.some((m) => m(v.requestedAbs))),
      };
    }
    case 'argv_regex': {
      const re = anyOf(key.regexes);
      return { ...base, isExePart: false, strict: (v) => re.test(v.argvJoined), byName: null };
    }
    case 'argv_contains': {
      const set = new Set(key.strings);
      return {
        ...base,
        isExePart: false,
        strict: (v) => {
          const argv = v.facts.argv;
          for (let i = 1; i < argv.length; i++) if (set.has(argv[i] as string)) return true;
          return false;
        },
        byName: null,
      };
    }
    case 'argv_host_in': {
      const patterns = key.strings;
      return {
        ...base,
        isExePart: false,
        strict: (v) => {
          const hosts = v.hosts();
          return hosts.length > 0 && hosts.every((h) => hostAllowed(h, patterns));
        },
        byName: null,
      };
    }
    case 'cwd_glob': {
      const ms = key.matchers;
      return { ...base, isExePart: false, strict: (v) => ms.some((m) => m(v.facts.cwd)), byName: null };
    }
    case 'uid': {
      const set = new Set(key.numbers);
      return { ...base, isExePart: false, strict: (v) => set.has(v.facts.uid), byName: null };
    }
    case 'parent_exe': {
      const paths = new Set<string>(key.strings);
      for (const s of key.strings) paths.add(ctx.canonicalize(s));
      return { ...base, isExePart: false, strict: (v) => v.facts.parent !== null && paths.has(v.facts.parent.exe), byName: null };
    }
    case 'parent_argv': {
      const re = anyOf(key.regexes);
      return { ...base, isExePart: false, strict: (v) => v.facts.parent !== null && re.test(v.parentArgvJoined()), byName: null };
    }
  }
}

/** picomatch's regex for a glob (dotfiles included), called directly: no per-call option handling. */
export function globMatcher(glob: string): (s: string) => boolean {
  const re = picomatch.makeRe(glob, { dot: true });
  return (s) => re.test(s);
}

/**
 * One regex for an any-of list: one scan of argv instead of one per pattern. Only when no pattern uses
 * backreferences or named groups (joining would renumber or duplicate them); otherwise test each in turn.
 */
export function anyOf(regexes: RegExp[]): { test(s: string): boolean } {
  // Each test is bounded in time (regex-guard.ts): it may throw RegexBudgetExceeded.
  if (regexes.length === 1) return new GuardedRegex((regexes[0] as RegExp).source);
  if (regexes.every((r) => !/\\[1-9]|\\k<|\(\?<[A-Za-z_]/.test(r.source))) {
    try {
      return new GuardedRegex(regexes.map((r) => `(?:${r.source})`).join('|'));
    } catch {
      // fall through
    }
  }
  const each = regexes.map((r) => new GuardedRegex(r.source));
  return { test: (s) => each.some((r) => r.test(s)) };
}

/** `/bin/*` → `/usr/bin/*` on a merged-/usr system: canonicalise the glob's static directory prefix. */
export function canonicalizeGlob(glob: string, ctx: EvaluationContext): string {
  const scan = picomatch.scan(glob);
  if (!scan.isGlob) return ctx.canonicalize(glob);
  const prefix = scan.base || '/';
  const canon = ctx.canonicalize(prefix);
  if (canon === prefix) return glob;
  return canon.replace(/\/$/, '') + glob.slice(prefix.length);
}
