// Path questions the session's placement checks share (audit log, socket directory, accepted-policy store).
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Whether `p` is `root` or below it (both canonical). */
export function isUnder(p: string, root: string): boolean {
  if (root === '/') return p.startsWith('/');
  return p === root || (p.startsWith(root) && p.charCodeAt(root.length) === 47);
}

/** Real paths of directories, for the questions of one synchronous run (see realpathOfNearest). */
export type RealpathMemo = Map<string, string>;

/**
 * Canonical path of `p`, resolving symlinks in the part that exists (the file or directory may not exist yet).
 * With a memo, a series of questions asked together (the workspace guard's ~130 paths at start, nearly all
 * absent and in a few directories) costs a `lstat` each and one realpath per directory: an entry that is not a
 * symlink is its directory's real path and its name, and a missing one costs no exception. The memo must not
 * outlive the synchronous run that asks (a directory's real path can change between runs).
 */
export function realpathOfNearest(p: string, memo?: RealpathMemo): string {
  if (memo) return realpathMemo(path.resolve(p), memo);
  const abs = path.resolve(p);
  let head = abs;
  const tail: string[] = [];
  for (;;) {
    try {
      // realpath(3): one call where fs.realpathSync walks the path in JS, an lstat per component (this runs
      // for every grant, several times, at each start).
      return path.join(fs.realpathSync.native(head), ...tail.reverse());
    } catch {
      const parent = path.dirname(head);
      if (parent === head) return abs;
      tail.push(path.basename(head));
      head = parent;
    }
  }
}

function realpathMemo(abs: string, memo: RealpathMemo): string {
  const known = memo.get(abs);
  if (known !== undefined) return known;
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(abs, { throwIfNoEntry: false });
  } catch {
    st = undefined; // ENOTDIR, EACCES, ELOOP: realpath(3) fails on it as well
  }
  const parent = path.dirname(abs);
  let real: string | null = null;
  if (st && parent === abs) real = abs;
  else if (st && !st.isSymbolicLink()) real = path.join(realpathMemo(parent, memo), path.basename(abs));
  else if (st) {
    try {
      real = fs.realpathSync.native(abs);
    } catch {
      real = null; // a dangling symlink: as a missing entry
    }
  }
  if (real === null) real = parent === abs ? abs : path.join(realpathMemo(parent, memo), path.basename(abs));
  memo.set(abs, real);
  return real;
}
