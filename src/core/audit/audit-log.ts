// The append-only JSONL audit log. The session writes a decision record *before* it answers the kernel and
// denies the exec when the write fails (fail closed), so the write is synchronous: one writeSync of one line
// on an O_APPEND fd costs a few microseconds, well under the ~100 µs a verdict round trip costs, and a
// batching writer would only move the same wait elsewhere (the flush would still have to precede the verdict).
// No fsync per record: the record must exist before the exec proceeds, not survive a power cut.
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

export class AuditLog {
  private closed = false;
  /** Lines appended with `append` and not yet written (flushed within the current event-loop turn). */
  private pending: string[] = [];
  private flushScheduled = false;
  /** Called when a deferred flush fails (nobody is waiting on it to report the error). */
  onDeferredError: ((err: AuditWriteError) => void) | null = null;

  private constructor(
    readonly file: string,
    private readonly fd: number,
  ) {}

  /**
   * Open (creating) the log for appending. The parent directory is created 0700 and the file 0600: the log
   * holds every command the agent ran. O_NOFOLLOW refuses a symlink planted at the log's path.
   */
  static open(file: string): AuditLog {
    const abs = path.resolve(file);
    try {
      fs.mkdirSync(path.dirname(abs), { recursive: true, mode: 0o700 });
      const { O_WRONLY, O_APPEND, O_CREAT, O_NOFOLLOW, O_CLOEXEC } = fs.constants as typeof fs.constants & { O_CLOEXEC?: number };
      const fd = fs.openSync(abs, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | (O_CLOEXEC ?? 0), 0o600);
      const st = fs.fstatSync(fd);
      if (!st.isFile() && !st.isCharacterDevice() && !st.isFIFO()) {
        fs.closeSync(fd);
        throw new Error('not a regular file');
      }
      return new AuditLog(abs, fd);
    } catch (err) {
      throw new AuditWriteError(abs, err);
    }
  }

  /**
   * Append one record now (with any deferred ones before it, in one write). Throws AuditWriteError when it
   * could not be written in full: the caller must then treat the decision as unrecorded.
   */
  write(record: AuditRecord): void {
    if (this.closed) throw new AuditWriteError(this.file, new Error('the log is closed'));
    const text = JSON.stringify(record) + '\n';
    if (this.pending.length > 0) {
      this.pending.push(text);
      this.flush();
      return;
    }
    this.writeText(text);
  }

  /**
   * Append a record that nothing waits on (a verdict the supervisor already applied from its cache): it is
   * written with the next `write`, or within DEFERRED_FLUSH_MS, so a burst of cached records costs one
   * write instead of one each. Order with `write` is kept.
   */
  append(record: AuditRecord): void {
    this.appendJson(JSON.stringify(record));
  }

  /** `append` for a record already serialized (one line of JSON, no newline). */
  appendJson(json: string): void {
    if (this.closed) return;
    this.pending.push(json + '\n');
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

  /** Write every deferred record now. Throws AuditWriteError on failure. */
  flush(): void {
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.writeText(text);
  }

  private flushDeferred(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    try {
      this.flush();
    } catch (err) {
      this.onDeferredError?.(err instanceof AuditWriteError ? err : new AuditWriteError(this.file, err));
    }
  }

  private writeText(text: string): void {
    const line = Buffer.from(text, 'utf8');
    try {
      let off = 0;
      while (off < line.length) {
        const n = fs.writeSync(this.fd, line, off, line.length - off);
        if (n <= 0) throw new Error('short write');
        off += n;
      }
    } catch (err) {
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

  close(): void {
    if (this.closed) return;
    this.flushDeferred();
    this.closed = true;
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
