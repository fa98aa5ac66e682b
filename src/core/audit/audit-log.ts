// The append-only JSONL audit log, chained: every line carries, as its last field, `"prev"`: the sha256 (hex)
// of the line before it (of 64 zeros for the first line), so a line rewritten, removed or moved breaks the
// chain at the next one (`agent-gate audit verify`, ./verify.ts). The hash of the last line — the chain's
// head — is also kept outside the log (the head file, in the CLI's state directory or the extension's
// storage), so a log cut short or rewritten whole is told apart too.
//
// While a session runs the supervisor writes the log (native/src/audit.c, docs/protocol.md "The audit log":
// every record is on disk before the kernel is answered, whoever decided); this class writes what comes
// before and after it, and the whole log for a link that does not write it (tests' doubles). Both repair a
// partial last line (a write cut short) before they add to a log, and compute the chain the same way.
//
// Writes are synchronous: a decision record is written before the kernel is answered and a failed write
// denies the exec (fail closed). No fsync per record: the record must exist before the exec proceeds, not
// survive a power cut.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AuditRecord } from './records';

export class AuditWriteError extends Error {
  constructor(
    readonly file: string,
    override readonly cause: unknown,
  ) {
    super(`cannot write the audit log ${file}: ${describe(cause)}`);
    this.name = 'AuditWriteError';
  }
}

/** How long a deferred (cached-verdict) record may wait in memory before it is written. */
export const DEFERRED_FLUSH_MS = 20;

/** The `prev` of a log's first line. */
export const GENESIS = '0'.repeat(64);

/** The chain's link for a line: sha256 of its bytes, without the newline. */
export function lineHash(line: Buffer | string): string {
  return createHash('sha256').update(line).digest('hex');
}

/** A JSON record (one object, no newline) with `"prev":"…"` as its last field. */
export function chainJson(json: string, prev: string): string {
  if (json.length < 2 || json[json.length - 1] !== '}') throw new Error('a record must be one JSON object');
  return `${json.slice(0, -1)}${json.length > 2 ? ',' : ''}"prev":"${prev}"}`;
}

/** The head file: where a log's last hash is kept, outside the agent's reach. */
export interface ChainHead {
  /** The log, as an absolute path. */
  log: string;
  /** sha256 of its last line. */
  head: string;
  /** Its size in bytes when that was its last line. */
  size: number;
  /** Seconds since the epoch when the head was written. */
  time: number;
}

/** Where the head of `log` is kept in `dir` (one file per log; the name keeps the log's for people). */
export function chainHeadFile(dir: string, log: string): string {
  const abs = path.resolve(log);
  return path.join(dir, `${path.basename(abs)}.${lineHash(abs).slice(0, 16)}.head.json`);
}

/** Read a head file; null when there is none. Throws on a file that is not one. */
export function readChainHead(file: string): ChainHead | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const h = JSON.parse(text) as ChainHead;
  if (typeof h.head !== 'string' || !/^[0-9a-f]{64}$/.test(h.head) || typeof h.size !== 'number' || typeof h.log !== 'string') {
    throw new Error(`${file} is not an audit log head file`);
  }
  return h;
}

/** Write a head file whole (a temporary file renamed over it), its directory made 0700. */
export function writeChainHead(file: string, head: ChainHead): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(head) + '\n', { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/**
 * The last whole line of the file open at `fd` (size `size`): its hash, and the size with a partial last line
 * cut off (a write cut short leaves one; nothing answered depends on it). Reads backwards in chunks.
 */
export function tailOf(fd: number, size: number): { head: string; size: number; cut: number } {
  const chunk = Buffer.allocUnsafe(64 * 1024);
  const newlines: number[] = [];
  for (let pos = size; pos > 0 && newlines.length < 2; ) {
    const n = Math.min(chunk.length, pos);
    pos -= n;
    fs.readSync(fd, chunk, 0, n, pos);
    for (let i = n - 1; i >= 0 && newlines.length < 2; i--) if (chunk[i] === 0x0a) newlines.push(pos + i);
  }
  let end = size;
  let cut = 0;
  if (size > 0 && newlines[0] !== size - 1) {
    end = newlines.length > 0 ? (newlines[0] as number) + 1 : 0;
    cut = size - end;
    newlines.shift();
    // The newline before the (now) last line, when the second one was not found yet.
    for (let pos = end - 1; newlines.length < 1 && pos > 0; ) {
      const n = Math.min(chunk.length, pos);
      pos -= n;
      fs.readSync(fd, chunk, 0, n, pos);
      for (let i = n - 1; i >= 0; i--) {
        if (chunk[i] === 0x0a) {
          newlines.push(pos + i);
          break;
        }
      }
    }
    newlines.unshift(end - 1);
  }
  if (end === 0) return { head: GENESIS, size: 0, cut };
  const start = newlines.length > 1 ? (newlines[1] as number) + 1 : 0;
  const hash = createHash('sha256');
  for (let pos = start; pos < end - 1; ) {
    const n = Math.min(chunk.length, end - 1 - pos);
    fs.readSync(fd, chunk, 0, n, pos);
    hash.update(chunk.subarray(0, n));
    pos += n;
  }
  return { head: hash.digest('hex'), size: end, cut };
}

export class AuditLog {
  private closed = false;
  /** Records appended with `append` and not yet written (flushed within the current event-loop turn). */
  private pending: string[] = [];
  private flushScheduled = false;
  /** sha256 of the last line written (GENESIS for an empty log). */
  private headHash = GENESIS;
  private size = 0;
  private readonly regular: boolean;
  /** Called when a deferred flush fails (nobody is waiting on it to report the error). */
  onDeferredError: ((err: AuditWriteError) => void) | null = null;
  /** What opening or resuming had to repair (a partial last line cut off), for the user. */
  repairs: string[] = [];

  private constructor(
    readonly file: string,
    private readonly fd: number,
    st: fs.Stats,
  ) {
    this.regular = st.isFile();
    if (this.regular) this.readTail(st.size);
  }

  /**
   * Open (creating) the log for appending. The parent directory is created 0700 and the file 0600: the log
   * holds every command the agent ran. O_NOFOLLOW refuses a symlink planted at the log's path. The chain
   * continues from the last line already there.
   */
  static open(file: string): AuditLog {
    const abs = path.resolve(file);
    try {
      fs.mkdirSync(path.dirname(abs), { recursive: true, mode: 0o700 });
      const { O_RDWR, O_APPEND, O_CREAT, O_NOFOLLOW, O_CLOEXEC } = fs.constants as typeof fs.constants & { O_CLOEXEC?: number };
      const fd = fs.openSync(abs, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | (O_CLOEXEC ?? 0), 0o600);
      const st = fs.fstatSync(fd);
      if (!st.isFile() && !st.isCharacterDevice() && !st.isFIFO()) {
        fs.closeSync(fd);
        throw new Error('not a regular file');
      }
      return new AuditLog(abs, fd, st);
    } catch (err) {
      throw err instanceof AuditWriteError ? err : new AuditWriteError(abs, err);
    }
  }

  /** The file's device and inode (what the supervisor must find at the same path). */
  identity(): { dev: string; ino: string; regular: boolean } {
    const st = fs.fstatSync(this.fd, { bigint: true });
    return { dev: st.dev.toString(), ino: st.ino.toString(), regular: this.regular };
  }

  /** The chain's head now, and the log's size. */
  get head(): { head: string; size: number } {
    return { head: this.headHash, size: this.size };
  }

  private readTail(size: number): void {
    let t: ReturnType<typeof tailOf>;
    try {
      t = tailOf(this.fd, size);
    } catch (err) {
      throw new AuditWriteError(this.file, err);
    }
    if (t.cut > 0) {
      fs.ftruncateSync(this.fd, t.size);
      this.repairs.push(`the audit log ${this.file} ended in a partial line (${t.cut} bytes, a write cut short): it was removed`);
    }
    this.headHash = t.head;
    this.size = t.size;
  }

  /**
   * Take the log back after someone else wrote to it (the supervisor): the chain continues from the last line
   * on disk, a partial one cut off. Throws AuditWriteError when the log cannot be read.
   */
  resume(): void {
    if (this.closed || !this.regular) return;
    this.flushDeferredNow();
    this.readTail(fs.fstatSync(this.fd).size);
  }

  /**
   * Append one record now (with any deferred ones before it, in one write). Throws AuditWriteError when it
   * could not be written in full (nothing of it stays in the log): the caller must then treat the decision as
   * unrecorded.
   */
  write(record: AuditRecord): void {
    if (this.closed) throw new AuditWriteError(this.file, new Error('the log is closed'));
    this.pending.push(JSON.stringify(record));
    this.flush();
  }

  /**
   * Append a record that nothing waits on (a verdict the supervisor already applied from its cache): it is
   * written with the next `write`, or within DEFERRED_FLUSH_MS, so a burst of cached records costs one
   * write instead of one each. Order with `write` is kept.
   */
  append(record: AuditRecord): void {
    this.appendJson(JSON.stringify(record));
  }

  /** `append` for a record already serialized (one JSON object on one line, no newline, no "prev"). */
  appendJson(json: string): void {
    if (this.closed) return;
    this.pending.push(json);
    if (this.pending.length >= 256) {
      this.flushDeferred();
      return;
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // Records arrive one per event-loop turn during an exec burst; a short timer (not setImmediate)
      // is what lets many share one write.
      setTimeout(() => this.flushDeferred(), DEFERRED_FLUSH_MS);
    }
  }

  /** Write every deferred record now, chained. Throws AuditWriteError on failure. */
  flush(): void {
    if (this.pending.length === 0) return;
    const records = this.pending;
    this.pending = [];
    let head = this.headHash;
    const lines: string[] = [];
    for (const json of records) {
      const line = chainJson(json, head);
      head = lineHash(line);
      lines.push(line);
    }
    const text = Buffer.from(lines.join('\n') + '\n', 'utf8');
    this.writeText(text);
    this.headHash = head;
    this.size += text.length;
  }

  private flushDeferredNow(): void {
    try {
      this.flush();
    } catch (err) {
      this.onDeferredError?.(err instanceof AuditWriteError ? err : new AuditWriteError(this.file, err));
    }
  }

  private flushDeferred(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    this.flushDeferredNow();
  }

  private writeText(text: Buffer): void {
    try {
      let off = 0;
      while (off < text.length) {
        const n = fs.writeSync(this.fd, text, off, text.length - off);
        if (n <= 0) throw new Error('short write');
        off += n;
      }
    } catch (err) {
      // Never leave part of a line: cut the log back to where it was.
      if (this.regular) {
        try {
          fs.ftruncateSync(this.fd, this.size);
        } catch {
          // reported with the write's error
        }
      }
      throw new AuditWriteError(this.file, err);
    }
  }

  /** Append one record; return the error instead of throwing (for the verdict path). */
  tryWrite(record: AuditRecord): AuditWriteError | null {
    try {
      this.write(record);
      return null;
    } catch (err) {
      return err instanceof AuditWriteError ? err : new AuditWriteError(this.file, err);
    }
  }

  /** Keep the chain's head in `headFile` (outside the agent's reach). Returns the error, if any. */
  saveHead(headFile: string): Error | null {
    try {
      this.flush();
      writeChainHead(headFile, { log: this.file, head: this.headHash, size: this.size, time: Math.floor(Date.now() / 1000) });
      return null;
    } catch (err) {
      return err as Error;
    }
  }

  close(): void {
    if (this.closed) return;
    this.flushDeferred();
    this.closed = true;
    try {
      // A supervisor killed mid-session leaves its reservation past the end: truncating to the size frees it.
      if (this.regular) fs.ftruncateSync(this.fd, fs.fstatSync(this.fd).size);
    } catch {
      // best effort
    }
    try {
      fs.closeSync(this.fd);
    } catch {
      // Closing can only fail for a bad fd; nothing is lost.
    }
  }
}

/** Read a JSONL audit log (for tests, benchmarks and `explain`-style tools). Malformed lines throw. */
export function readAuditLog(file: string): AuditRecord[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: AuditRecord[] = [];
  let lineNo = 0;
  for (const line of text.split('\n')) {
    lineNo++;
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as AuditRecord);
    } catch (err) {
      throw new Error(`${file}:${lineNo}: not a JSON record: ${describe(err)}`);
    }
  }
  return out;
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
