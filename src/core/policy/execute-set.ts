// The execute set: what Landlock lets the agent execute (docs/protocol.md, FS lines with `x`). The kernel
// checks it for every execve and every interpreter it loads (#!, PT_INTERP), but not for what a program maps
// itself (the dynamic loader's program, LD_PRELOAD, dlopen): the policy engine judges the loader's program
// against the same set, and refuses, with an execute set, a file that has no name to be in it (a memfd, an
// O_TMPFILE file, a deleted file).
import { realpathSync } from 'node:fs';
import type { FilesystemPolicy } from './types';
import { isUnder } from './landlock';

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
