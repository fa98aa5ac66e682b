// The execute set: what Landlock lets the agent execute (docs/protocol.md, FS lines with `x`). The kernel
// checks it for every execve and every interpreter it loads (#!, PT_INTERP), but not for what a program maps
// itself (the dynamic loader's program, LD_PRELOAD, dlopen): the policy engine judges the loader's program
// against the same set, and refuses, with an execute set, a file that has no name to be in it (a memfd, an
// O_TMPFILE file, a deleted file).
import { lstatSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { posix } from 'node:path';
import picomatch from 'picomatch';
import type { FileFacts } from '../exec/facts';
import type { PolicyEvaluator } from './evaluator';
import { isUnder } from './landlock';
import { canonicalizeGlob, resolveProgramName } from './matcher';
import type { FilesystemPolicy, Grant, Policy } from './types';

export interface ExecuteSet {
  /** The policy names an execute set (`execute_globs`): files outside it, and files without a name, are refused. */
  readonly explicit: boolean;
  /** Landlock restricts execution (an execute set, or grants that leave denied programs out). */
  readonly handled: boolean;
  /** Whether the kernel would let this canonical path be executed. */
  covers(path: string): boolean;
}

/** Everything is executable: no execute right is handled. */
export const OPEN_EXECUTE_SET: ExecuteSet = { explicit: false, handled: false, covers: () => true };

function canonical(path: string): string {
  try {
    return realpathSync.native(path);
  } catch {
    return path;
  }
}

/**
 * The execute set of a filesystem policy's grants. Landlock resolves a grant's path when the rule is added
 * (a grant on /bin is a grant on /usr/bin here), so the grants are compared by their canonical paths. A grant
 * on a directory covers its subtree; on a file, that file.
 */
export function executeSetOf(fs: FilesystemPolicy, explicit: boolean, realpath: (p: string) => string = canonical): ExecuteSet {
  if (!fs.enabled || !fs.handled.includes('x')) return explicit ? { ...OPEN_EXECUTE_SET, explicit } : OPEN_EXECUTE_SET;
  // A grant on a file covers that path only (nothing is under a file).
  const roots = fs.grants.filter((g) => g.rights.includes('x')).map((g) => realpath(g.path));
  return { explicit, handled: true, covers: (path) => roots.some((r) => isUnder(path, r)) };
}

// ── Denies the kernel enforces ──────────────────────────────────────────────────────────────────────────
// A verdict the broker sends with CONTINUE can be raced: another thread swaps the path after the supervisor
// read it, and the kernel runs the other file (SECURITY.md). A deny that depends only on the program
// (a rule with program keys and nothing else, that no earlier rule could turn into an allow or an ask) is
// made the kernel's: Landlock's execute set is built from grants that leave those files out. Landlock grants
// whole subtrees, so each directory on the way to a denied file is split into its entries: every other entry
// keeps its execute right (a subdirectory as a subtree, a file by itself), the denied file gets none. The
// kernel then refuses the file however the exec reaches it — a swapped path, a symlink, /proc/self/fd, a #!
// line — because Landlock checks the file it opens, not the name it was given. Hard links of a denied file
// in the split directories, and the same file seen through another mount (a bind mount), are left out too.


/** What planExecuteSet needs from the machine (injectable for tests). */
export interface PlanIo {
  /** lstat: null when missing. */
  lstat(path: string): { dev: number; ino: number; size: number; nlink: number; dir: boolean; file: boolean; link: boolean } | null;
  readdir(path: string): string[];
  /** readdir with each entry's type from the directory itself (d_type: no stat per entry); 'unknown' when
   *  the filesystem does not say. Optional: without it every entry is lstat'ed. */
  readdirTypes?(path: string): { name: string; type: 'dir' | 'file' | 'link' | 'other' | 'unknown' }[];
  realpath(path: string): string | null;
  mountinfo(): string;
}

export const DEFAULT_PLAN_IO: PlanIo = {
  lstat(path) {
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (!st) return null;
    return { dev: st.dev, ino: st.ino, size: st.size, nlink: st.nlink, dir: st.isDirectory(), file: st.isFile(), link: st.isSymbolicLink() };
  },
  readdir: (path) => readdirSync(path),
  readdirTypes: (path) =>
    readdirSync(path, { withFileTypes: true }).map((d) => ({
      name: d.name,
      type: d.isDirectory() ? 'dir' : d.isFile() ? 'file' : d.isSymbolicLink() ? 'link' : d.isBlockDevice() || d.isCharacterDevice() || d.isFIFO() || d.isSocket() ? 'other' : 'unknown',
    })),
  realpath(path) {
    try {
      return realpathSync.native(path);
    } catch {
      return null;
    }
  },
  mountinfo: () => readFileSync('/proc/self/mountinfo', 'utf8'),
};

export interface ExecutePlan {
  /** The filesystem part of the supervisor's config (docs/protocol.md FS lines), or null to keep the policy's. */
  fs: { handled: string; grants: Grant[] } | null;
  /** The files the kernel refuses to execute, and the rule that denies each. */
  excluded: { path: string; ruleId: string }[];
  /** Landlock rules the supervisor will add (FS lines), and what the split added to them. */
  rules: number;
  splitRules: number;
  warnings: string[];
  /** Time taken to plan (ms). */
  ms: number;
}

const GLOB_WALK_MAX = 20_000;

/** Files under a glob's static base (canonical), for exe_glob candidates: a bounded walk. */
function globFiles(glob: string, io: PlanIo, evaluator: PolicyEvaluator): string[] {
  const canon = canonicalizeGlob(glob, evaluator.context);
  const scan = picomatch.scan(canon);
  const base = scan.isGlob ? scan.base || '/' : canon;
  const match = picomatch(canon, { dot: true });
  const out: string[] = [];
  let seen = 0;
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = io.readdir(dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (++seen > GLOB_WALK_MAX) return;
      const p = posix.join(dir, name);
      const st = io.lstat(p);
      if (!st) continue;
      if (st.dir) {
        if (/\*\*/.test(canon) || p.split('/').length < canon.split('/').length) walk(p);
      } else if (st.file && match(p)) {
        out.push(p);
      } else if (st.link && match(p)) {
        const real = io.realpath(p);
        if (real) out.push(real);
      }
    }
  };
  const st = io.lstat(base);
  if (st?.file) return match(base) ? [base] : [];
  if (st?.dir) walk(base);
  return out;
}

interface Mount {
  dev: string;
  root: string;
  point: string;
}

function parseMountinfo(text: string): Mount[] {
  const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  const out: Mount[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    out.push({ dev: f[2] as string, root: unescape(f[3] as string), point: unescape(f[4] as string) });
  }
  return out;
}

function majorMinor(dev: number): string {
  // Linux's dev_t encoding (new_decode_dev), as /proc/self/mountinfo prints it.
  const d = BigInt(dev);
  const major = Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn));
  const minor = Number((d & 0xffn) | ((d >> 12n) & ~0xffn));
  return `${major}:${minor}`;
}

/** Other paths of the same file through other mounts of its filesystem (bind mounts). */
function mountAliases(path: string, dev: number, mounts: Mount[]): string[] {
  const mm = majorMinor(dev);
  const same = mounts.filter((m) => m.dev === mm);
  if (same.length < 2) return [];
  // The mount the canonical path goes through: the deepest mount point above it.
  let own: Mount | undefined;
  for (const m of same) if (isUnder(path, m.point) && (!own || m.point.length > own.point.length)) own = m;
  if (!own) return [];
  const inFs = posix.join(own.root, posix.relative(own.point, path));
  const out: string[] = [];
  for (const m of same) {
    if (m === own || !isUnder(inFs, m.root)) continue;
    out.push(posix.join(m.point, posix.relative(m.root, inFs)));
  }
  return out;
}

/**
 * The execute set the supervisor applies: the policy's (or, without execute_globs, everything), minus every
 * file a program-only deny rule always denies. Returns fs null when nothing is left out (the policy's grants
 * stand as they are).
 */
export function planExecuteSet(policy: Policy, evaluator: PolicyEvaluator, io: PlanIo = DEFAULT_PLAN_IO): ExecutePlan {
  const t0 = performance.now();
  const warnings: string[] = [];
  const fsPolicy = policy.filesystem;
  const explicit = fsPolicy.enabled && fsPolicy.handled.includes('x');

  // 1. Candidates: the files the program keys of deny rules name.
  const candidates = new Map<string, { path: string; dev: number; ino: number; size: number; nlink: number }>();
  const addCandidate = (p: string): void => {
    const real = io.realpath(p);
    if (!real || candidates.has(real)) return;
    const st = io.lstat(real);
    if (st?.file) candidates.set(real, { path: real, dev: st.dev, ino: st.ino, size: st.size, nlink: st.nlink });
  };
  for (const rule of evaluator.rules) {
    if (rule.spec.action !== 'deny' || rule.otherTests.length > 0) continue;
    for (const key of rule.spec.keys) {
      if (key.negated) continue;
      if (key.name === 'exe') key.strings.forEach(addCandidate);
      else if (key.name === 'exe_basename') for (const n of key.strings) for (const id of resolveProgramName(n, evaluator.context)) addCandidate(id.path);
      else if (key.name === 'exe_glob') for (const g of key.strings) globFiles(g, io, evaluator).forEach(addCandidate);
    }
  }
  // 2. Those every exec of which is denied.
  const excluded = new Map<string, { path: string; ruleId: string; dev: number; ino: number; nlink: number; alias?: boolean }>();
  for (const c of candidates.values()) {
    const file: FileFacts = { path: c.path, dev: String(c.dev), ino: String(c.ino), size: c.size };
    const ruleId = evaluator.alwaysDeniedBy(file);
    if (ruleId) excluded.set(c.path, { path: c.path, ruleId, dev: c.dev, ino: c.ino, nlink: c.nlink });
  }
  // 3. The same files under other names: other mounts of their filesystem (hard links come in step 5).
  if (excluded.size > 0) {
    let mounts: Mount[] = [];
    try {
      mounts = parseMountinfo(io.mountinfo());
    } catch {
      warnings.push('cannot read /proc/self/mountinfo: a denied program reachable through a bind mount stays racy');
    }
    for (const e of [...excluded.values()]) {
      for (const alias of mountAliases(e.path, e.dev, mounts)) {
        const st = io.lstat(alias);
        if (st && st.ino === e.ino && st.dev === e.dev) excluded.set(alias, { ...e, path: alias, alias: true });
      }
    }
  }
  const result = (fs: ExecutePlan['fs'], splitRules: number): ExecutePlan => ({
    fs,
    excluded: [...excluded.values()].map((e) => ({ path: e.path, ruleId: e.ruleId })),
    rules: (fs ?? (fsPolicy.enabled ? fsPolicy : { grants: [] })).grants.length,
    splitRules,
    warnings,
    ms: performance.now() - t0,
  });
  if (excluded.size === 0) return result(null, 0);

  // 4. The execute roots: the policy's execute grants, or everything.
  const xGrants = explicit ? fsPolicy.grants.filter((g) => g.rights.includes('x')) : [];
  const roots = explicit ? xGrants.map((g) => io.realpath(g.path)).filter((p): p is string => p !== null) : ['/'];
  const paths = [...excluded.keys()];
  const underRoot = (p: string): boolean => roots.some((r) => isUnder(p, r));
  for (const p of paths) if (!underRoot(p)) excluded.delete(p); // outside the execute set: refused anyway
  if (excluded.size === 0) return result(null, 0);

  // 5. Split every root above an excluded file: each directory on the way gives its entries the right, but
  // not the entry toward the file; a hard link of an excluded file met on the way is left out as well.
  const leftOut = new Set(excluded.keys());
  // found: the paths of the file seen so far; links: those that are links of their own (a path through a bind
  // mount is the same link seen again).
  const byInode = new Map<string, { path: string; ruleId: string; nlink: number; found: number; links: number }>();
  for (const e of excluded.values()) {
    const k = `${e.dev}:${e.ino}`;
    const seen = byInode.get(k);
    if (seen) {
      seen.found++;
      if (!e.alias) seen.links++;
    } else byInode.set(k, { path: e.path, ruleId: e.ruleId, nlink: e.nlink, found: 1, links: e.alias ? 0 : 1 });
  }
  const split: Grant[] = [];
  const splitDirs = new Set<string>();
  const toward = (dir: string): boolean => [...leftOut].some((p) => p !== dir && isUnder(p, dir));
  // Hard links of an excluded file are looked for only while one may exist beyond those found (most have
  // one link): without that search, the directory's own entry types say all the split needs, and the
  // hundreds of entries of /usr/bin need no stat each (most of the split's start cost).
  // With a denied file also seen through a bind mount, its other links can be there too: always searched.
  const throughMounts = [...excluded.values()].some((e) => e.alias);
  const linksLeft = (): boolean => throughMounts || [...byInode.values()].some((l) => l.nlink > l.links);
  const splitDir = (dir: string): void => {
    splitDirs.add(dir);
    let entries: { name: string; type: 'dir' | 'file' | 'link' | 'other' | 'unknown' }[];
    try {
      entries = io.readdirTypes && !linksLeft() ? io.readdirTypes(dir) : io.readdir(dir).map((name) => ({ name, type: 'unknown' as const }));
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    } catch (e) {
      warnings.push(`cannot list ${dir} (${(e as Error).message}): its programs keep the execute right, so a denied one in it stays racy`);
      split.push({ path: dir, rights: 'x', source: 'execute set', widened: false });
      return;
    }
    for (const { name, type } of entries) {
      const p = posix.join(dir, name);
      if (leftOut.has(p)) continue;
      if (type === 'link') continue; // as below: a symlink gains nothing from a grant
      if (type === 'file' || type === 'other' || (type === 'dir' && !toward(p))) {
        split.push({ path: p, rights: 'x', source: 'execute set', widened: false });
        continue;
      }
      if (type === 'dir') {
        splitDir(p);
        continue;
      }
      const st = io.lstat(p);
      // A symlink gains nothing from a grant (Landlock checks the file it resolves to, at its own path).
      if (!st || st.link) continue;
      const link = st.file ? byInode.get(`${st.dev}:${st.ino}`) : undefined;
      if (link) {
        leftOut.add(p);
        excluded.set(p, { path: p, ruleId: link.ruleId, dev: st.dev, ino: st.ino, nlink: st.nlink });
        link.found++;
        link.links++;
        continue;
      }
      if (st.dir && toward(p)) splitDir(p);
      else split.push({ path: p, rights: 'x', source: 'execute set', widened: false });
    }
  };
  for (const root of [...new Set(roots)].sort()) {
    if (roots.some((r) => r !== root && isUnder(root, r))) continue; // inside another root: split there
    if (!toward(root)) continue;
    splitDir(root);
  }
  for (const l of byInode.values()) {
    if (l.nlink > l.found) {
      warnings.push(`${l.path} has ${l.nlink} hard links and ${l.found} were found where the execute set was split: a racing exec could still reach it through the others`);
    }
  }
  // 6. The config: the policy's grants without the execute right on the split roots (and on anything above
  // an excluded file), plus the split grants.
  const keep: Grant[] = [];
  for (const g of fsPolicy.enabled ? fsPolicy.grants : []) {
    const real = io.realpath(g.path) ?? g.path;
    if (g.rights.includes('x') && [...leftOut].some((p) => isUnder(p, real))) {
      const rights = g.rights.replace('x', '');
      if (rights) keep.push({ ...g, rights });
    } else {
      keep.push(g);
    }
  }
  const handled = fsPolicy.enabled ? (fsPolicy.handled.includes('x') ? fsPolicy.handled : `${fsPolicy.handled}x`) : 'x';
  return result({ handled, grants: [...keep, ...split] }, split.length);
}
