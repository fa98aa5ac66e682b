// The session's own directory: the one place the agent may make sockets and FIFOs, and its TMPDIR (red-team
// R31). A socket or FIFO the agent could make where the policy lets it write (/tmp, ~/.cache, the workspace)
// could sit where a program outside the gate connects — the user's ssh-agent socket in /tmp/ssh-*, tmux's in
// /tmp/tmux-UID, git's credential cache in ~/.cache/git — and that program would then talk to the agent. So
// Landlock's MAKE_SOCK and MAKE_FIFO are granted in this directory only (native/src/landlock.c: the 's' right,
// and why its directories cannot be moved out). The directory's own Landlock rule moves with it when it is
// renamed, so it is made where the agent can write neither it nor any directory above it; and TMPDIR (and
// TMUX_TMPDIR: tmux does not read TMPDIR; SQLITE_TMPDIR, which SQLite tries before TMPDIR) point at it, so the
// agent's programs make their sockets — Python's multiprocessing, a test's server, its own tmux — and their
// temporary files where they may (the default policy grants no shared /tmp: red-team R60).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isUnder, realpathOfNearest } from './canonical';
import type { FilesystemPolicy } from '../policy/types';
import { defaultAuditDirectory } from '../audit/paths';

/** Longest directory that still leaves room for the socket names programs make in TMPDIR: Python's
 *  multiprocessing adds 28 characters (`/pymp-XXXXXXXX/listener-XXXXXXXX`) and falls back to /tmp, where
 *  the agent may make no socket, when TMPDIR + 28 does not fit in sun_path (108 bytes with its NUL). */
export const SOCKET_DIR_MAX_LENGTH = 79;

/** Variables that name the directory for the agent (set before the policy's [env] set, which wins). */
export const SOCKET_DIR_VARIABLES = ['TMPDIR', 'TMUX_TMPDIR', 'SQLITE_TMPDIR'] as const;

export interface SocketDir {
  /** The directory made for this session (mode 0700), or null: none could be made (sockets nowhere). */
  path: string | null;
  /** Landlock letters for its grant (docs/protocol.md): 'rws', plus 'x' when the agent may run programs
   *  from its usual temporary directory. */
  rights: string;
  warnings: string[];
}

/** Where the directory may go, best first: the CLI's state directory (on disk: the agent's temporary files
 *  can be large), the user's runtime directory (short, but a small tmpfs the user's session services share:
 *  only when the state directory's path leaves no room for socket names), the audit log's directory. Each
 *  must be out of the agent's reach (socketParentProblem). */
export function socketDirCandidates(env: NodeJS.ProcessEnv, auditPath: string): string[] {
  const out: string[] = [defaultAuditDirectory(env)];
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime && path.isAbsolute(runtime)) out.push(path.join(runtime, 'agent-gate'));
  out.push(path.dirname(path.resolve(auditPath)));
  return [...new Set(out)];
}

/** Why `parent` may not hold the session's directory under these grants, or null. Its rule moves with it on a
 *  rename (Landlock rules belong to the inode), so a parent the agent can write would let it rename the
 *  directory to /tmp/ssh-X and bind there. Writes not sealed: nothing is out of reach, any parent does. */
export function socketParentProblem(parent: string, fsPolicy: FilesystemPolicy, realpath: (p: string) => string = realpathOfNearest): string | null {
  if (!fsPolicy.enabled || !fsPolicy.handled.includes('w')) return null;
  const real = realpath(parent);
  for (const g of fsPolicy.grants) {
    if (g.rights.includes('w') && isUnder(real, realpath(g.path))) return `${parent} is inside the write grant ${g.path} (${g.source})`;
  }
  return null;
}

/** The grant's letters: 'x' too when execution is sealed and the agent may run programs from where its
 *  temporary files went before (`go run` and test runners build and run programs in TMPDIR). */
export function socketDirRights(fsPolicy: FilesystemPolicy, env: NodeJS.ProcessEnv): string {
  const tmp = env.TMPDIR && path.isAbsolute(env.TMPDIR) ? env.TMPDIR : '/tmp';
  const x = fsPolicy.enabled && fsPolicy.handled.includes('x') && fsPolicy.grants.some((g) => g.rights.includes('x') && isUnder(tmp, g.path));
  return x ? 'rwxs' : 'rws';
}

/** Make the session's directory in the first candidate that is out of the agent's reach and short enough for
 *  socket paths under it (else in the first one out of reach, with a warning). */
export function makeSocketDir(fsPolicy: FilesystemPolicy, candidates: readonly string[], env: NodeJS.ProcessEnv): SocketDir {
  const rights = socketDirRights(fsPolicy, env);
  const skipped: string[] = [];
  const safe = candidates.filter((parent) => {
    const problem = socketParentProblem(parent, fsPolicy);
    if (problem) skipped.push(problem);
    return problem === null;
  });
  // `/s-XXXXXX` is 9 characters.
  const fits = safe.filter((parent) => path.resolve(parent).length + 9 <= SOCKET_DIR_MAX_LENGTH);
  for (const parent of [...fits, ...safe.filter((p) => !fits.includes(p))]) {
    try {
      fs.mkdirSync(parent, { recursive: true, mode: 0o700 });
      const dir = fs.mkdtempSync(path.join(parent, 's-'));
      const warnings =
        dir.length > SOCKET_DIR_MAX_LENGTH
          ? [`the agent's socket and temporary directory ${dir} is ${dir.length} characters long: socket paths under it may not fit (108 bytes), and Python's multiprocessing then tries /tmp, where the agent may make no socket; set XDG_RUNTIME_DIR or XDG_STATE_HOME to a shorter directory`]
          : [];
      return { path: dir, rights, warnings };
    } catch (e) {
      skipped.push(`${parent}: ${(e as Error).message}`);
    }
  }
  return {
    path: null,
    rights,
    warnings: [`no directory for the agent's sockets and temporary files could be made out of its reach (${skipped.join('; ')}): the agent can make no socket or FIFO anywhere, and TMPDIR is left as it was`],
  };
}

/** Remove the directory once nothing of the session runs any more (a process still running could swap a
 *  directory for a symlink while it is removed). Best effort; a warning when it stays. */
export function removeSocketDir(dir: string): string | null {
  try {
    fs.rmSync(dir, { recursive: true, force: true });
    return null;
  } catch (e) {
    return `could not remove the agent's temporary directory ${dir}: ${(e as Error).message}`;
  }
}


