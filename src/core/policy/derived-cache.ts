// The derived-data cache: what a start learns from the machine about a loaded policy — the programs its rules
// name (resolved in every PATH directory), the canonical paths of its globs, and the execute set split around
// the programs it always denies (execute-set.ts) — kept between runs so a repeat start skips the ~1500
// stat/realpath/getdents calls and the work on their answers (docs/performance.md "Start-up").
//
// Soundness (SECURITY.md "The derived-data cache"):
//   - key: sha256 of everything the computation reads that is not a file: the cache format, this code's own
//     file (dev, ino, size, mtime, ctime), Node's version, the kernel release, uid/gid, PATH, cwd, the
//     workspace, /proc/self/mountinfo, and the merged policy as the engine sees it (rules with their expanded
//     strings and regexes, the filesystem grants, meta) — so a policy or profile edit, a CLI grant, another
//     PATH is another key;
//   - dependencies: every path the computation consulted — each directory listed, each program resolved, each
//     component of every path resolved, symlinks on the way included (the walk is realpath's) — with its lstat
//     (dev, ino, mode, size, mtime ns, ctime ns). A retargeted symlink is a new inode in a changed directory; a
//     program rewritten in place changes its size/mtime/ctime; a new program in a PATH directory changes the
//     directory's. ctime cannot be set by an unprivileged process. An entry is used only when every
//     dependency lstats the same now;
//   - kernels before 6.13 stamp files with a coarse clock: a change in the same tick as the recording would
//     not show, so nothing is stored while a recorded time is within 2 s of now (the next start recomputes);
//   - any doubt (a file that does not parse, another format, an lstat error other than "absent", a file not
//     ours or writable by others) means recompute: the cache never widens what a fresh start would decide.
// Where the cache lives, and that no write grant covers it, is the caller's (launch.ts): it is used only
// when the policy seals writes and no write grant reaches its directory.
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { posix } from 'node:path';
import type { PolicyEvaluator } from './evaluator';
import { planExecuteSet, DEFAULT_PLAN_IO, type ExecutePlan, type PlanIo } from './execute-set';
import { policyInternals } from './load';
import { lookUpProgramName, type EvaluationContext, type ProgramIdentity } from './matcher';
import type { Grant, Policy } from './types';

const FORMAT = 1;
/** Timestamps this close to now may hide a change made in the same clock tick (coarse timestamps). */
const RACY_NS = 2_000_000_000n;
/** Entries kept in the directory (one per policy, PATH and workspace seen); the oldest go first. */
const KEEP = 16;

type StoredPlan = Omit<ExecutePlan, 'ms'>;

interface Entry {
  format: number;
  key: string;
  /** path → lstat stamp ("dev:ino:mode:size:mtimeNs:ctimeNs"), or "absent". */
  deps: Record<string, string>;
  resolve: Record<string, ProgramIdentity[]>;
  stat: Record<string, ProgramIdentity | null>;
  canon: Record<string, string>;
  /** Execute plans by the digest of the filesystem policy they were made for. */
  plans: Record<string, StoredPlan>;
}

export interface DerivedCacheInputs {
  policy: Policy;
  /** PATH the evaluator resolves names in. */
  path: string;
  cwd: string;
  workspace: string;
}

/** How the last open went, for tests and the benchmark. */
export type DerivedCacheState = 'hit' | 'miss' | 'stale' | 'unreadable';

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * How much of a path's lstat a dependency holds:
 *   - 'path': a component on the way to something (a directory, the file a grant names): only that it is
 *     still there, the same kind of thing with the same mode (dev, ino, mode) — what is in a directory is
 *     told by the next component's own stamp; a symlink is stamped whole (a new link is a new ctime);
 *   - 'node': the thing itself (a program: its size and times too; a directory: as 'path');
 *   - 'listing': a directory whose entries were read: whole, times included.
 * "absent" when the path does not exist, "error:CODE" when it cannot be told. A whole stamp starts "f:".
 */
export type StampKind = 'path' | 'node' | 'listing';

export function stampOf(p: string, kind: StampKind): { stamp: string; st: fs.BigIntStats | null } {
  try {
    const st = fs.lstatSync(p, { bigint: true, throwIfNoEntry: false });
    if (!st) return { stamp: 'absent', st: null };
    const whole = kind === 'listing' || st.isSymbolicLink() || (kind === 'node' && !st.isDirectory());
    if (!whole) return { stamp: `${st.isDirectory() ? 'd' : 'n'}:${st.dev}:${st.ino}:${st.mode}`, st };
    return { stamp: `f:${st.dev}:${st.ino}:${st.mode}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`, st };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { stamp: code === 'ENOTDIR' ? 'absent' : `error:${code ?? 'unknown'}`, st: null };
  }
}

/** The kind a stored stamp is checked as (a whole stamp of a directory was a listing). */
function kindOf(stamp: string): StampKind {
  return stamp.startsWith('f:') ? 'listing' : 'path';
}

/** The engine's view of a policy, as the key's input: what the resolution and the split depend on. */
function policyDigest(policy: Policy): string {
  const fsPol = policy.filesystem;
  const rules = policyInternals(policy).rules.map((r) => [
    r.id,
    r.action,
    r.keys.map((k) => [k.keyName, k.name, k.negated, k.strings, k.numbers, k.regexes.map((re) => [re.source, re.flags])]),
  ]);
  return JSON.stringify([policy.meta, fsDigest(policy), fsPol.createDirs ?? [], rules]);
}

function fsDigest(policy: Policy): string {
  const f = policy.filesystem;
  return JSON.stringify([f.enabled, f.handled, f.grants.map((g) => [g.path, g.rights, g.source, g.widened, !!g.everywhere])]);
}

function selfStamp(): string {
  // The running code (the CLI bundle, or this module under tests): another build is another key.
  return stampOf(__filename, 'node').stamp;
}

function readMountinfo(): string {
  try {
    return fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return '';
  }
}

/**
 * One start's use of the cache: open it (key, read, validate), hand the evaluator a context and the session an
 * execute planner that answer from the entry or compute and record, then save what was new.
 */
export class DerivedCache {
  state: DerivedCacheState = 'miss';
  /** Why the last save did not write, for tests ('racy', 'doubt', 'unchanged', an error). */
  lastSaveSkipped: string | null = null;
  private readonly stamps = new Map<string, string>();
  private readonly stats = new Map<string, fs.BigIntStats | null>();
  private readonly chains = new Map<string, string | null>();
  private readonly listings = new Map<string, Set<string> | null>();
  private entry: Entry;
  private dirty = false;
  private saved = false;
  /** Inside a name's lookup: the stat answers it asks are not kept on their own. */
  private depth = 0;
  /** The context handed out: a plan is kept only for an evaluator that resolved its names through it (so
   *  every name's lookup is a recorded dependency). */
  private ctx: EvaluationContext | null = null;

  private constructor(
    readonly dir: string,
    readonly key: string,
    loaded: Entry | null,
  ) {
    this.entry = loaded ?? { format: FORMAT, key, deps: {}, resolve: {}, stat: {}, canon: {}, plans: {} };
    if (loaded) for (const [p, s] of Object.entries(loaded.deps)) this.stamps.set(p, s);
  }

  get file(): string {
    return posix.join(this.dir, `${this.key.slice(0, 32)}.json`);
  }

  /** The cache of `dir` for these inputs: the stored entry when it is valid now, else an empty one. */
  static open(dir: string, inputs: DerivedCacheInputs): DerivedCache {
    const key = sha256(
      JSON.stringify([
        FORMAT,
        selfStamp(),
        process.version,
        process.arch,
        os.release(),
        process.getuid?.() ?? -1,
        process.getgid?.() ?? -1,
        inputs.path,
        inputs.cwd,
        inputs.workspace,
        sha256(readMountinfo()),
        policyDigest(inputs.policy),
      ]),
    );
    const probe = new DerivedCache(dir, key, null);
    const { entry, state } = probe.read();
    const cache = entry ? new DerivedCache(dir, key, entry) : probe;
    cache.state = state;
    return cache;
  }

  private read(): { entry: Entry | null; state: DerivedCacheState } {
    let text: string;
    try {
      // The directory and the file must be ours and writable by nobody else; the file is not followed if it
      // is a symlink (O_NOFOLLOW).
      const d = fs.lstatSync(this.dir, { throwIfNoEntry: false });
      if (!d) return { entry: null, state: 'miss' };
      if (!d.isDirectory() || d.uid !== process.getuid?.() || (d.mode & 0o022) !== 0) return { entry: null, state: 'unreadable' };
      let fd: number;
      try {
        fd = fs.openSync(this.file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
      } catch (e) {
        return { entry: null, state: (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'miss' : 'unreadable' };
      }
      try {
        const st = fs.fstatSync(fd);
        if (!st.isFile() || st.uid !== process.getuid?.() || (st.mode & 0o022) !== 0) return { entry: null, state: 'unreadable' };
        text = fs.readFileSync(fd, 'utf8');
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      return { entry: null, state: 'unreadable' };
    }
    let e: Entry;
    try {
      e = JSON.parse(text) as Entry;
    } catch {
      return { entry: null, state: 'unreadable' };
    }
    if (!isEntry(e) || e.format !== FORMAT || e.key !== this.key) return { entry: null, state: 'unreadable' };
    for (const [p, stamp] of Object.entries(e.deps)) {
      if (stampOf(p, kindOf(stamp)).stamp !== stamp) return { entry: null, state: 'stale' };
    }
    return { entry: e, state: 'hit' };
  }

  /** lstat of `p`, recorded as a dependency (see StampKind); a stronger kind replaces a weaker one. */
  private lstat(p: string, kind: StampKind = 'path'): fs.BigIntStats | null {
    const had = this.stamps.get(p);
    if (this.stats.has(p) && had !== undefined && (kind === 'path' || had.startsWith('f:') || had === 'absent' || had.startsWith('error:'))) {
      return this.stats.get(p) ?? null;
    }
    const { stamp, st } = stampOf(p, kind);
    if (had !== stamp && !(had?.startsWith('f:') && !stamp.startsWith('f:'))) {
      this.stamps.set(p, stamp);
      this.dirty = true;
    }
    this.stats.set(p, st);
    return st;
  }

  /** A directory whose entries the computation reads: resolved, and stamped whole. */
  private listed(p: string): string | null {
    const dir = this.chain(p);
    if (dir !== null) this.lstat(dir, 'listing');
    return dir;
  }

  /**
   * Resolve `p` as realpath(3) does, recording the lstat of every path on the way (each component, each
   * symlink and what it points to). Returns the canonical path, or null when it does not resolve.
   */
  private chain(p: string): string | null {
    const memo = this.chains.get(p);
    if (memo !== undefined) return memo;
    let todo = p.split('/').filter((s) => s.length > 0);
    let cur = '/';
    this.lstat('/');
    let links = 0;
    let result: string | null = null;
    walk: {
      while (todo.length > 0) {
        const name = todo.shift() as string;
        if (name === '.') continue;
        if (name === '..') {
          cur = posix.dirname(cur);
          continue;
        }
        const next = cur === '/' ? `/${name}` : `${cur}/${name}`;
        const st = this.lstat(next);
        if (!st) break walk;
        if (st.isSymbolicLink()) {
          if (++links > 40) break walk;
          let target: string;
          try {
            target = fs.readlinkSync(next);
          } catch {
            break walk;
          }
          todo = [...target.split('/').filter((s) => s.length > 0), ...todo];
          if (target.startsWith('/')) cur = '/';
          continue;
        }
        if (todo.length > 0 && !st.isDirectory()) break walk;
        cur = next;
      }
      result = cur;
    }
    this.chains.set(p, result);
    return result;
  }

  /** A program's path as a dependency: its directory (whose listing says whether the name is there), and
   *  the whole path when it is. */
  private programDeps(p: string): void {
    const dir = this.listed(posix.dirname(p));
    if (dir === null) return;
    let names = this.listings.get(dir);
    if (names === undefined) {
      try {
        names = new Set(fs.readdirSync(dir));
      } catch {
        names = null;
      }
      this.listings.set(dir, names);
    }
    if (names && !names.has(posix.basename(p))) return;
    const real = this.chain(p);
    if (real !== null) this.lstat(real, 'node');
  }

  /** The evaluator's context: answers from the entry, else from `base`, recorded with their dependencies. */
  context(base: EvaluationContext): EvaluationContext {
    const e = this.entry;
    const live = (): boolean => !this.saved;
    const ctx: EvaluationContext = {
      ...base,
      statProgram: (p) => {
        if (Object.hasOwn(e.stat, p)) return e.stat[p] ?? null;
        if (!live()) return base.statProgram(p);
        this.programDeps(p);
        const id = base.statProgram(p);
        if (this.depth === 0) {
          e.stat[p] = id;
          this.dirty = true;
        }
        return id;
      },
      canonicalize: (p) => {
        if (Object.hasOwn(e.canon, p)) return e.canon[p] as string;
        if (!live()) return base.canonicalize(p);
        // The longest existing prefix and each component of it.
        let head = p;
        while (head !== '/' && head !== '.' && this.chain(head) === null) head = posix.dirname(head);
        const c = base.canonicalize(p);
        e.canon[p] = c;
        this.dirty = true;
        return c;
      },
      resolveName: (name) => {
        if (Object.hasOwn(e.resolve, name)) return e.resolve[name] as ProgramIdentity[];
        this.depth++;
        try {
          const ids = lookUpProgramName(name, ctx);
          if (live()) {
            e.resolve[name] = ids;
            this.dirty = true;
          }
          return ids;
        } finally {
          this.depth--;
        }
      },
    };
    this.ctx = ctx;
    return ctx;
  }

  /** planExecuteSet, from the entry when it holds a plan for this filesystem policy. */
  planExecuteSet(policy: Policy, evaluator: PolicyEvaluator): ExecutePlan {
    const t0 = performance.now();
    const k = sha256(fsDigest(policy));
    const stored = this.entry.plans[k];
    // (Not copied: nothing changes a plan, and the entry is written again only with what this start added.)
    if (stored && evaluator.context === this.ctx) return { ...stored, ms: performance.now() - t0 };
    if (this.saved || evaluator.context !== this.ctx) return planExecuteSet(policy, evaluator);
    const io: PlanIo = {
      lstat: (p) => {
        this.chain(posix.dirname(p));
        this.lstat(p, 'node');
        return DEFAULT_PLAN_IO.lstat(p);
      },
      readdir: (p) => {
        this.listed(p);
        return DEFAULT_PLAN_IO.readdir(p);
      },
      readdirTypes: (p) => {
        this.listed(p);
        return (DEFAULT_PLAN_IO.readdirTypes as NonNullable<PlanIo['readdirTypes']>)(p);
      },
      realpath: (p) => {
        this.chain(p);
        return DEFAULT_PLAN_IO.realpath(p);
      },
      // In the key.
      mountinfo: () => DEFAULT_PLAN_IO.mountinfo(),
    };
    const plan = planExecuteSet(policy, evaluator, io);
    const { ms: _ms, ...keep } = plan;
    this.entry.plans[k] = structuredClone(keep);
    this.dirty = true;
    return plan;
  }

  /**
   * Write what this start learnt, when it is safe to: nothing recorded in the last 2 s (coarse timestamps),
   * no dependency that could not be told. Atomic (a temporary file renamed into place), 0600. Best effort:
   * a cache that cannot be written is recomputed next time. Later questions go to the machine.
   */
  save(now: bigint = BigInt(Date.now()) * 1_000_000n): void {
    if (this.saved) return;
    this.saved = true;
    if (!this.dirty) {
      this.lastSaveSkipped = 'unchanged';
      return;
    }
    for (const [p, s] of this.stamps) {
      if (s.startsWith('error:')) {
        this.lastSaveSkipped = `doubt: ${p} (${s})`;
        return;
      }
      if (!s.startsWith('f:')) continue;
      const [, , , , , m, c] = s.split(':');
      if (now - BigInt(m as string) < RACY_NS || now - BigInt(c as string) < RACY_NS) {
        this.lastSaveSkipped = `racy: ${p}`;
        return;
      }
    }
    this.entry.deps = Object.fromEntries(this.stamps);
    const tmp = posix.join(this.dir, `.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      fs.writeFileSync(tmp, JSON.stringify(this.entry), { mode: 0o600, flag: 'wx' });
      fs.renameSync(tmp, this.file);
      this.lastSaveSkipped = null;
      this.prune();
    } catch (e) {
      this.lastSaveSkipped = (e as Error).message;
      try {
        fs.unlinkSync(tmp);
      } catch {
        // not made
      }
    }
  }

  private prune(): void {
    const files = fs
      .readdirSync(this.dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => ({ f: posix.join(this.dir, f), t: fs.statSync(posix.join(this.dir, f), { throwIfNoEntry: false })?.mtimeMs ?? 0 }));
    if (files.length <= KEEP) return;
    files.sort((a, b) => b.t - a.t);
    for (const { f } of files.slice(KEEP)) fs.rmSync(f, { force: true });
  }
}

function isEntry(e: unknown): e is Entry {
  if (typeof e !== 'object' || e === null) return false;
  const o = e as Record<string, unknown>;
  const obj = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!obj(o.deps) || !obj(o.resolve) || !obj(o.stat) || !obj(o.canon) || !obj(o.plans)) return false;
  const id = (v: unknown): boolean => {
    const i = v as Record<string, unknown>;
    return obj(v) && typeof i.path === 'string' && typeof i.dev === 'string' && typeof i.ino === 'string' && typeof i.size === 'number';
  };
  const plan = (v: unknown): boolean => {
    const p = v as Record<string, unknown>;
    const fsPart = p.fs as Record<string, unknown> | null;
    return (
      obj(v) &&
      Array.isArray(p.excluded) &&
      Array.isArray(p.warnings) &&
      (fsPart === null || (obj(fsPart) && typeof fsPart.handled === 'string' && Array.isArray(fsPart.grants) && fsPart.grants.every((g: unknown) => obj(g) && typeof (g as Grant).path === 'string' && typeof (g as Grant).rights === 'string')))
    );
  };
  return (
    Object.values(o.deps as object).every((s) => typeof s === 'string') &&
    Object.values(o.resolve as object).every((l) => Array.isArray(l) && l.every(id)) &&
    Object.values(o.stat as object).every((v) => v === null || id(v)) &&
    Object.values(o.canon as object).every((v) => typeof v === 'string') &&
    Object.values(o.plans as object).every(plan)
  );
}
