// Gather ExecFacts in Node, without the supervisor: what `agent-gate explain` and tests evaluate. It finds
// the program the way execvp(3) does, then identifies it as the supervisor would (canonical path, dev/ino,
// size, sha256, `#!` interpreter, dynamic-loader target).
import { createHash } from 'node:crypto';
import { accessSync, closeSync, constants, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { basename, posix } from 'node:path';
import { isUnder } from '../policy/landlock';
import { loaderProgramIndex, type ExecFacts, type FileFacts } from './facts';

/**
 * Which files the supervisor hashes (native/src/facts.c file_facts_of, told by HASH_UNDER and HASH_SIZES): a
 * file under one of `under` (the places the agent can write, where a name proves nothing) whose size is one of
 * `sizes` (the programs the policy knows by content), and there the prefix of an ELF with bytes appended
 * (R34). Any other file is known by its path and dev/ino alone: a program in a place the agent cannot write
 * carries its own name, even when its bytes are another's (pyenv's shims: one script under every name, R96).
 * `agent-gate explain` identifies the program by this rule so that it answers what `run` decides.
 */
export interface HashRule {
  under: readonly string[];
  sizes: readonly number[];
}

/** glibc's execvp default when PATH is unset (confstr _CS_PATH). */
export const DEFAULT_PATH = '/bin:/usr/bin';

export interface LocalFactsOptions {
  cwd?: string;
  /** PATH for the program search (default process.env.PATH). */
  path?: string;
  uid?: number;
  parent?: { exe: string; argv: string[] } | null;
  /** Compute sha256 of the program and interpreter: always (true, the default), never, or as the supervisor
   *  would in a session (a HashRule). */
  hash?: boolean | HashRule;
}

/**
 * Resolve a program like execvp: a name containing '/' is taken relative to cwd; otherwise PATH is searched
 * for an executable regular file (an empty PATH entry means the current directory). Returns the path as it
 * would be passed to execve (not canonicalised), or null when nothing is found.
 */
export function resolveProgram(program: string, cwd: string, pathEnv: string = process.env.PATH ?? DEFAULT_PATH): string | null {
  if (program === '') return null;
  if (program.includes('/')) {
    const p = posix.resolve(cwd, program);
    return isRegularFile(p) ? p : null;
  }
  for (const dir of pathEnv.split(':')) {
    const candidate = posix.resolve(cwd, dir === '' ? '.' : dir, program);
    if (isExecutableFile(candidate)) return candidate;
  }
  return null;
}

function isRegularFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function isExecutableFile(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const hashCache = new Map<string, string | null>();

/** Identify a file as the supervisor does: canonical path, dev/ino, size, optional sha256 (and, by a HashRule,
 *  the prefix hash of an ELF with bytes appended). */
export function localFileFacts(path: string, hash: boolean | HashRule = true): FileFacts | null {
  try {
    const real = realpathSync(path);
    const st = statSync(real, { bigint: true });
    if (!st.isFile()) return null;
    const facts: FileFacts = { path: real, dev: st.dev.toString(), ino: st.ino.toString(), size: Number(st.size) };
    if (typeof hash === 'object') {
      if (!hash.under.some((u) => isUnder(real, u))) return facts;
      const prefix = elfPrefix(real, facts.size, hash.sizes);
      if (prefix) facts.prefix = prefix;
      if (!hash.sizes.includes(facts.size)) return facts;
    }
    if (hash) {
      // The same file is often hashed many times in one process (a policy's examples name node, git, curl
      // again and again; /usr/bin/node is ~100 MB): keep each hash while the file is unchanged.
      const key = `${real}\0${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
      let h = hashCache.get(key);
      if (h === undefined) {
        h = sha256File(real);
        if (hashCache.size > 256) hashCache.clear();
        hashCache.set(key, h);
      }
      if (h) facts.sha256 = h;
    }
    return facts;
  } catch {
    return null;
  }
}

/** R34, as facts.c prefix_hash: an ELF (little-endian) whose section header table ends before the file does
 *  runs as the ELF up to that end; its hash when that end is a size the policy knows by content. */
function elfPrefix(path: string, size: number, sizes: readonly number[]): { size: number; sha256: string } | undefined {
  if (size < 64) return undefined;
  const h = Buffer.alloc(64);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    if (readSync(fd, h, 0, 64, 0) !== 64 || h.readUInt32BE(0) !== 0x7f454c46 || h[5] !== 1) return undefined;
    const end = h[4] === 2 ? Number(h.readBigUInt64LE(0x28)) + h.readUInt16LE(0x3c) * h.readUInt16LE(0x3a) : h[4] === 1 ? h.readUInt32LE(0x20) + h.readUInt16LE(0x30) * h.readUInt16LE(0x2e) : 0;
    if (end < 64 || end >= size || !sizes.includes(end)) return undefined;
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let off = 0; off < end; ) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, end - off), off);
      if (n <= 0) return undefined;
      hash.update(buf.subarray(0, n));
      off += n;
    }
    return { size: end, sha256: hash.digest('hex') };
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** sha256 of a file's content, streamed in 1 MiB reads; null when it cannot be read. */
export function sha256File(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      hash.update(buf.subarray(0, n));
    }
    return hash.digest('hex');
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** The `#!` line of a script: interpreter path and its single optional argument (as Linux splits it). */
export function readShebang(path: string): { interpreter: string; arg?: string } | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const buf = Buffer.alloc(256);
    const n = readSync(fd, buf, 0, buf.length, 0);
    if (n < 2 || buf[0] !== 0x23 || buf[1] !== 0x21) return null;
    const nl = buf.subarray(0, n).indexOf(0x0a);
    const line = buf.subarray(2, nl < 0 ? n : nl).toString('utf8').trim();
    if (line === '') return null;
    const m = /^(\S+)(?:\s+(.*))?$/.exec(line);
    if (!m) return null;
    const arg = m[2]?.trim();
    return arg ? { interpreter: m[1] as string, arg } : { interpreter: m[1] as string };
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

export function isDynamicLoader(canonicalPath: string): boolean {
  const b = basename(canonicalPath);
  return /^ld-linux[\w.-]*\.so(\.\d+)*$/.test(b) || /^ld\.so(\.\d+)*$/.test(b) || /^ld-musl-[\w]+\.so(\.\d+)*$/.test(b);
}

/** Facts for `argv` as if the calling process ran execvp(argv[0], argv). */
export function gatherLocalFacts(argv: string[], options: LocalFactsOptions = {}): ExecFacts {
  const cwd = options.cwd ?? process.cwd();
  const pathEnv = options.path ?? process.env.PATH ?? DEFAULT_PATH;
  const hash = options.hash ?? true;
  const program = argv[0] ?? '';
  const requestedPath = resolveProgram(program, cwd, pathEnv) ?? program;
  const exe = localFileFacts(requestedPath, hash);
  const facts: ExecFacts = {
    requestId: 0,
    tid: process.pid,
    pid: process.pid,
    ppid: process.ppid,
    uid: options.uid ?? (typeof process.getuid === 'function' ? process.getuid() : 0),
    syscall: 'execve',
    requestedPath,
    exe,
    argv,
    argvTruncated: false,
    cwd,
    parent: options.parent ?? null,
  };
  if (!exe) return facts;
  const shebang = readShebang(exe.path);
  if (shebang) {
    const interp = localFileFacts(shebang.interpreter, hash);
    if (interp) facts.interpreter = shebang.arg !== undefined ? { ...interp, arg: shebang.arg } : interp;
  } else if (isDynamicLoader(exe.path)) {
    const i = loaderProgramIndex(argv);
    const target = i < 0 ? null : localFileFacts(posix.resolve(cwd, argv[i] as string), hash);
    if (target) facts.loaderTarget = target;
  }
  return facts;
}
