// Path questions the session's placement checks share (audit log, socket directory, accepted-policy store).
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Whether `p` is `root` or below it (both canonical). */
export function isUnder(p: string, root: string): boolean {
  if (root === '/') return p.startsWith('/');
  return p === root || (p.startsWith(root) && p.charCodeAt(root.length) === 47);
}

/** Canonical path of `p`, resolving symlinks in the part that exists (the file or directory may not exist yet). */
export function realpathOfNearest(p: string): string {
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
