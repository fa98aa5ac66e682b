// node-pty, loaded when the first guarded terminal opens (never at activation: it is a native module). VS Code
// ships its own build, matching its Node: under vscode.env.appRoot in node_modules (code-server, VS Code on
// Linux) or node_modules.asar (desktop VS Code packs its modules in an asar archive and unpacks the native
// ones beside it). The project's own copy (a development checkout) is the fallback. Neither: an error naming
// every path tried and why each failed.
import * as path from 'node:path';
import type { PtyModuleLike } from '../../core/session/spawn';

export interface NodePtyCandidate {
  /** What to require(). */
  request: string;
  /** For messages. */
  where: string;
}

export function nodePtyCandidates(appRoot: string): NodePtyCandidate[] {
  return [
    { request: path.join(appRoot, 'node_modules', 'node-pty'), where: `VS Code's own (${path.join(appRoot, 'node_modules', 'node-pty')})` },
    { request: path.join(appRoot, 'node_modules.asar', 'node-pty'), where: `VS Code's own, packed (${path.join(appRoot, 'node_modules.asar', 'node-pty')})` },
    { request: 'node-pty', where: "the extension's own (node-pty from its node_modules)" },
  ];
}

let cached: PtyModuleLike | null = null;

/** Load node-pty (once). Throws an Error whose message names each place tried and what failed there. */
export function loadNodePty(
  appRoot: string,
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a native module found at run time, by path
  load: (request: string) => unknown = (r) => require(r),
): PtyModuleLike {
  if (cached) return cached;
  const failures: string[] = [];
  for (const c of nodePtyCandidates(appRoot)) {
    try {
      const mod = load(c.request) as Partial<PtyModuleLike> | null;
      if (mod && typeof mod.spawn === 'function') {
        cached = mod as PtyModuleLike;
        return cached;
      }
      failures.push(`${c.where}: loaded, but it has no spawn()`);
    } catch (e) {
      failures.push(`${c.where}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`cannot load node-pty, which guarded terminals run on. Tried:\n  ${failures.join('\n  ')}\nReinstall VS Code or the extension; nothing was started.`);
}
