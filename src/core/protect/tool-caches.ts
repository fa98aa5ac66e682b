// Caches in the workspace that a tool outside the gate loads *as code* on its next ordinary start (red-team
// R110): aider's repo-map cache `.aider.tags.cache.v*` at the repository's top is a diskcache whose values are
// pickles, unpickled for every file of the repo map on each run — the agent's entry is a program aider runs.
// Not guarded like config (aider writes it all the time, gated too, and its SQLite file cannot be put back under
// a writer): a cache the session made or changed is removed at the session's end, once every process of the
// session has ended; aider rebuilds it on its next run.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ProtectedChange } from './guard';

const NAME = /^\.aider\.tags\.cache\.v\d+$/;
/** Entries looked at per cache for its fingerprint (beyond: the cache counts as changed). */
const MAX_ENTRIES = 20000;

/** Identity, size and times of everything in dir (no symlink followed), or null past MAX_ENTRIES. */
function fingerprint(dir: string): string | null {
  const h = createHash('sha256');
  let n = 0;
  const walk = (d: string, rel: string): boolean => {
    let names: string[];
    try {
      names = fs.readdirSync(d).sort();
    } catch {
      return true;
    }
    for (const name of names) {
      if (++n > MAX_ENTRIES) return false;
      let st: fs.BigIntStats | undefined;
      try {
        st = fs.lstatSync(path.join(d, name), { bigint: true, throwIfNoEntry: false });
      } catch {
        return false;
      }
      if (!st) continue;
      h.update(`${rel}/${name}\0${st.ino}\0${st.mode}\0${st.size}\0${st.mtimeNs}\0${st.ctimeNs}\n`);
      if (st.isDirectory() && !walk(path.join(d, name), `${rel}/${name}`)) return false;
    }
    return true;
  };
  let top: fs.BigIntStats | undefined;
  try {
    top = fs.lstatSync(dir, { bigint: true, throwIfNoEntry: false });
  } catch {
    return null;
  }
  if (!top) return null;
  h.update(`${top.ino}\0${top.mode}\0${top.mtimeNs}\0${top.ctimeNs}\n`);
  if (top.isDirectory() && !walk(dir, '')) return null;
  return h.digest('hex');
}

function cachesIn(root: string): string[] {
  try {
    return fs.readdirSync(root).filter((n) => NAME.test(n)).map((n) => path.join(root, n));
  } catch {
    return [];
  }
}

export class ToolCaches {
  private readonly before = new Map<string, string | null>();

  /** Record the caches of `roots` (the workspace, the repository's top) that the agent can write. */
  constructor(private readonly roots: readonly string[], private readonly writable: (p: string) => boolean, private readonly workspace: string) {
    for (const r of roots) if (writable(path.join(r, '.aider.tags.cache.v4'))) for (const c of cachesIn(r)) this.before.set(c, fingerprint(c));
  }

  /** At the session's end (its processes gone): each cache made or changed since the start is removed. */
  end(): ProtectedChange[] {
    const out: ProtectedChange[] = [];
    for (const r of this.roots) {
      if (!this.writable(path.join(r, '.aider.tags.cache.v4'))) continue;
      for (const c of cachesIn(r)) {
        const had = this.before.has(c);
        const was = this.before.get(c);
        if (had && was !== null && fingerprint(c) === was) continue;
        let reverted = true;
        let reason: string | undefined;
        try {
          fs.rmSync(c, { recursive: true, force: true });
        } catch (e) {
          reverted = false;
          reason = `could not remove it: ${(e as Error).message}`;
        }
        const note = `${path.relative(this.workspace, c) || c}: aider's repo-map cache, written inside the gate — its values are pickles aider loads as code on its next run: removed (aider rebuilds it)\n`;
        out.push({ path: c, rel: path.relative(this.workspace, c), class: 'agent-config', change: had ? 'modified' : 'created', diff: note, attempt: note, saved: {}, reverted, ...(reason ? { reason } : {}), times: 1, time: new Date().toISOString() });
      }
    }
    return out;
  }
}
