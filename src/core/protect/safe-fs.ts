// File operations of the workspace guard in directories the agent can write (red-team R44).
//
// The guard runs as the user, outside the gate. Whatever path it opens, writes, chmods, renames or removes in
// the workspace could have been re-pointed by the agent a moment before: a symlink planted at a temporary
// name, or a directory on the way replaced by a symlink to ~/.ssh, would make the guard read or write there
// for it (a confused deputy). So every operation goes through the descriptor of its parent directory, reached
// one component at a time without following a symlink (O_NOFOLLOW on each, from a real path learnt before the
// agent ran), and names the entry as /proc/self/fd/N/NAME: the kernel resolves N to that very directory and
// looks NAME up in it, never re-walking the path. New files are made with O_CREAT|O_EXCL under an
// unpredictable name (a planted symlink there makes the open fail, it is never followed) and renamed into
// place; files are read through an O_NOFOLLOW descriptor.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
/** O_PATH (Linux, x86_64 and arm64): a descriptor that only names the directory; no read permission needed. */
const O_PATH = 0o10000000;

export class SafeFs {
  /** Anchored directory → its real path. */
  private readonly anchored = new Map<string, string>();

  /** Trust the symlinks on the way to dir as they are now (call before the agent runs). */
  anchor(dir: string): void {
    const abs = path.resolve(dir);
    // Once per directory, and a missing one without realpath's exception.
    if (this.anchored.has(abs) || !fs.existsSync(abs)) return;
    try {
      this.anchored.set(abs, fs.realpathSync(abs));
    } catch {
      // not there (yet): its parent's anchor applies
    }
  }

  /** p with the longest anchored prefix replaced by its real path (looked up ancestor by ancestor: a big
   *  workspace anchors thousands of directories at the start, a sorted list searched for each was most of the
   *  guard's start). */
  private real(p: string): string {
    const abs = path.resolve(p);
    for (let a = abs; ; a = path.dirname(a)) {
      const r = this.anchored.get(a);
      if (r !== undefined) return a === abs ? r : path.join(r, abs.slice(a.length));
      if (a === path.dirname(a)) return abs;
    }
  }

  /** An O_PATH descriptor of directory dir, every component opened without following a symlink (create:
   *  missing ones are made, mode 0755). Throws (ELOOP, ENOTDIR, ENOENT) when it cannot be reached that way. */
  openDir(dir: string, create = false): number {
    let fd = fs.openSync('/', O_PATH | O_DIRECTORY);
    try {
      for (const c of this.real(dir).split('/').filter(Boolean)) {
        const name = `/proc/self/fd/${fd}/${c}`;
        let next: number;
        try {
          next = fs.openSync(name, O_PATH | O_DIRECTORY | O_NOFOLLOW);
        } catch (e) {
          if (!create || (e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
          fs.mkdirSync(name, { mode: 0o755 });
          next = fs.openSync(name, O_PATH | O_DIRECTORY | O_NOFOLLOW);
        }
        fs.closeSync(fd);
        fd = next;
      }
      return fd;
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** fn with p named through its parent's descriptor (/proc/self/fd/N/NAME). */
  at<T>(p: string, fn: (name: string, dir: string) => T, create = false): T {
    this.dropLooks();
    const fd = this.openDir(path.dirname(path.resolve(p)), create);
    try {
      const dir = `/proc/self/fd/${fd}`;
      return fn(`${dir}/${path.basename(p)}`, dir);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** While looks() runs: the directories reached so far, by real path (a descriptor, or why it could not be). */
  private looking: Map<string, number | Error> | null = null;

  /**
   * fn, whose looks (lstat, readdir, readlink, readFile) share the directories they reach: each is reached
   * once, one component at a time without following a symlink, from its parent's descriptor, instead of a
   * walk from `/` per look (the final check looks at ~130 paths in a handful of directories). For looks only:
   * a change (rm, mkdir, replace, at()) closes them first and walks afresh, so nothing is written through a
   * descriptor older than the change.
   */
  looks<T>(fn: () => T): T {
    if (this.looking) return fn();
    this.looking = new Map();
    try {
      return fn();
    } finally {
      this.dropLooks();
      this.looking = null;
    }
  }

  private dropLooks(): void {
    if (!this.looking) return;
    for (const v of this.looking.values()) if (typeof v === 'number') fs.closeSync(v);
    this.looking.clear();
  }

  /** The descriptor of a directory by its real path, reached as openDir does (looks() only; not to be closed). */
  private lookDir(real: string, seen: Map<string, number | Error>): number {
    const had = seen.get(real);
    if (typeof had === 'number') return had;
    if (had) throw had;
    let fd: number;
    try {
      fd = real === '/' ? fs.openSync('/', O_PATH | O_DIRECTORY) : fs.openSync(`/proc/self/fd/${this.lookDir(path.dirname(real), seen)}/${path.basename(real)}`, O_PATH | O_DIRECTORY | O_NOFOLLOW);
    } catch (e) {
      seen.set(real, e as Error);
      throw e;
    }
    seen.set(real, fd);
    return fd;
  }

  /** fn with p named through its parent's descriptor, for a look (shared while looks() runs). */
  private look<T>(p: string, fn: (name: string) => T): T {
    if (!this.looking) return this.at(p, fn);
    const fd = this.lookDir(this.real(path.dirname(path.resolve(p))), this.looking);
    return fn(`/proc/self/fd/${fd}/${path.basename(p)}`);
  }

  lstat(p: string): fs.Stats | null {
    try {
      return this.look(p, (name) => fs.lstatSync(name));
    } catch {
      return null;
    }
  }

  readdir(dir: string): string[] {
    try {
      if (this.looking) return fs.readdirSync(`/proc/self/fd/${this.lookDir(this.real(dir), this.looking)}`);
      const fd = this.openDir(dir);
      try {
        return fs.readdirSync(`/proc/self/fd/${fd}`);
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      return [];
    }
  }

  readlink(p: string): string {
    return this.look(p, (name) => fs.readlinkSync(name));
  }

  /** A regular file's content, read through an O_NOFOLLOW descriptor (never a FIFO's wait). */
  readFile(p: string): Buffer {
    return this.look(p, (name) => {
      const fd = fs.openSync(name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
      try {
        if (!fs.fstatSync(fd).isFile()) throw Object.assign(new Error(`${p} is not a regular file`), { code: 'EINVAL' });
        return fs.readFileSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    });
  }

  /** Remove p (recursively when it is a directory; a symlink itself, never what it points to). */
  rm(p: string): void {
    this.at(p, (name) => fs.rmSync(name, { force: true, recursive: true }));
  }

  /** p as a directory with this mode (made if missing, parents too). */
  mkdir(p: string, mode: number): void {
    this.at(
      p,
      (name) => {
        try {
          fs.mkdirSync(name, { mode });
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
        const fd = fs.openSync(name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        try {
          fs.fchmodSync(fd, mode);
        } finally {
          fs.closeSync(fd);
        }
      },
      true,
    );
  }

  /** Put a file (content, mode) or a symlink at p in one step: made beside it under a fresh name, renamed over
   *  it (a directory in the way is removed first). A descriptor the agent holds on the old file changes
   *  nothing here. */
  replace(p: string, what: { content: Buffer; mode: number; owner?: { uid: number; gid: number }; sync?: boolean } | { symlink: string }): void {
    this.at(
      p,
      (name, dir) => {
        const tmp = `${dir}/.agent-gate-restore-${randomBytes(12).toString('hex')}`;
        if ('symlink' in what) {
          fs.symlinkSync(what.symlink, tmp);
        } else {
          const fd = fs.openSync(tmp, 'wx', what.mode);
          try {
            fs.writeSync(fd, what.content);
            fs.fchmodSync(fd, what.mode);
            const o = what.owner;
            if (o && o.uid >= 0 && (o.uid !== process.getuid?.() || o.gid !== process.getgid?.())) {
              try {
                fs.fchownSync(fd, o.uid, o.gid);
              } catch {
                // Not ours to give (an unprivileged gate): the file stays the user's, who runs the agent.
              }
            }
            if (what.sync) fs.fsyncSync(fd);
          } catch (e) {
            fs.closeSync(fd);
            fs.rmSync(tmp, { force: true });
            throw e;
          }
          fs.closeSync(fd);
        }
        try {
          if (fs.lstatSync(name, { throwIfNoEntry: false })?.isDirectory()) fs.rmSync(name, { force: true, recursive: true });
          fs.renameSync(tmp, name);
        } catch (e) {
          fs.rmSync(tmp, { force: true });
          throw e;
        }
      },
      true,
    );
  }
}
