// The facts the native supervisor gathers about one exec attempt, decoded from the wire (see
// docs/protocol.md). This is the single input type of the policy engine: the native side gathers facts,
// the engine decides, and neither re-implements the other.
//
// Paths and argv are bytes on Linux. They are decoded as UTF-8; any byte that is not part of valid UTF-8 is
// carried as the lone surrogate U+DC00+byte, i.e. U+DC80..U+DCFF ("surrogate escape", as Python does), so a non-UTF-8 name is
// never confused with a valid one and round-trips without loss (see bytesToText / textToBytes).

/** Identity of a file the kernel will run. */
export interface FileFacts {
  /** Canonical absolute path: every symlink resolved, as `readlink /proc/self/fd/N` reports it. */
  path: string;
  /** st_dev and st_ino, as decimal strings (st_dev is the kernel's encoded dev_t). */
  dev: string;
  ino: string;
  size: number;
  /** Content hash, lowercase hex, when the supervisor hashed the file (regular files it could read). */
  sha256?: string;
  /** Hard links to the file; 0 for an anonymous or deleted file (a memfd, O_TMPFILE, an unlinked file). */
  nlink?: number;
  /** An ELF with bytes after its own end (its section header table): the hash of the bytes up to that end, when
   *  a program the policy names has that size. It runs as that program (nothing past the end is mapped), so it
   *  is recognised as that program (red-team R34). */
  prefix?: { size: number; sha256: string };
}

/** One interpreter the kernel loads after the file asked for (docs/protocol.md, `interp=`). */
export interface InterpreterFacts extends FileFacts {
  /** The optional argument of a `#!` line. */
  arg?: string;
  /** The interpreter as written (in the `#!` line or PT_INTERP), before resolution. */
  name?: string;
  /** `script`: a `#!` interpreter; `misc`: a binfmt_misc handler's interpreter; `elf`: an ELF's PT_INTERP that
   *  is not the system's dynamic loader. */
  kind?: 'script' | 'misc' | 'elf';
  /** binfmt_misc flag P: the original argv[0] stays (after the file's name). */
  preserveArgv0?: boolean;
}

/** A file with no name left: a memfd, an O_TMPFILE file, a deleted file (or one the supervisor could not name). */
export function isAnonymous(f: FileFacts): boolean {
  return f.nlink === 0 || !f.path.startsWith('/');
}

export type ExecSyscall = 'execve' | 'execveat';

export interface ExecFacts {
  /** Supervisor-assigned id, unique within a session. */
  requestId: number;
  /** Thread id that made the call (the notification's pid) and its thread-group id. */
  tid: number;
  pid: number;
  ppid: number;
  uid: number;
  syscall: ExecSyscall;
  /** The path argument exactly as the program passed it (may be relative or empty for AT_EMPTY_PATH). */
  requestedPath: string;
  /** What the kernel will run: null when the path does not resolve to an existing file. */
  exe: FileFacts | null;
  /** argv as passed to the syscall; argv[0] is whatever the caller chose. */
  argv: string[];
  /** True when argv was cut at the supervisor's bound (element count or total bytes). */
  argvTruncated: boolean;
  cwd: string;
  /** The calling process's own executable and argv (the "parent" of the new program image). */
  parent: { exe: string; argv: string[] } | null;
  /** For a `#!` script: the interpreter the kernel will load, and the interpreter's optional argument (the first
   *  of `interpreters`). */
  interpreter?: InterpreterFacts;
  /** Every interpreter the kernel loads, in order: a `#!` chain (a script whose interpreter is a script…) and an
   *  ELF interpreter other than the system's loader. */
  interpreters?: InterpreterFacts[];
  /** When the image at the end of the chain is a dynamic loader: the program it will load. */
  loaderTarget?: FileFacts;
  /** When that program could not be resolved to one file (why). */
  loaderUnresolved?: string;
}

const DECODER = new TextDecoder('utf-8', { fatal: true });

/** Decode bytes to text, carrying invalid UTF-8 bytes as U+DC00+byte (U+DC80..U+DCFF) so nothing is lost. */
export function bytesToText(buf: Uint8Array): string {
  try {
    return DECODER.decode(buf);
  } catch {
    // Slow path: decode valid runs, escape the rest byte by byte.
    let out = '';
    let i = 0;
    while (i < buf.length) {
      const n = utf8SeqLen(buf, i);
      if (n > 0) {
        out += DECODER.decode(buf.subarray(i, i + n));
        i += n;
      } else {
        out += String.fromCharCode(0xdc00 + (buf[i] as number));
        i += 1;
      }
    }
    return out;
  }
}

/** Inverse of bytesToText. */
export function textToBytes(text: string): Buffer {
  // Nearly every text holds no escaped byte (no U+DC80–U+DCFF code unit at all): one UTF-8 encode.
  if (!/[\udc80-\udcff]/.test(text)) return Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  let run = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xdc80 && c <= 0xdcff && !(i > 0 && isHighSurrogate(text.charCodeAt(i - 1)))) {
      if (run) parts.push(Buffer.from(run, 'utf8'));
      run = '';
      parts.push(Buffer.from([c - 0xdc00]));
    } else {
      run += text[i];
    }
  }
  if (run) parts.push(Buffer.from(run, 'utf8'));
  return Buffer.concat(parts);
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

/** Length of the valid UTF-8 sequence starting at i, or 0 if the byte there does not start one. */
function utf8SeqLen(b: Uint8Array, i: number): number {
  const c = b[i] as number;
  if (c < 0x80) return 1;
  let n: number;
  let min: number;
  if (c >= 0xc2 && c <= 0xdf) { n = 2; min = 0x80; }
  else if (c >= 0xe0 && c <= 0xef) { n = 3; min = 0x800; }
  else if (c >= 0xf0 && c <= 0xf4) { n = 4; min = 0x10000; }
  else return 0;
  if (i + n > b.length) return 0;
  let cp = c & (0xff >> (n + 1));
  for (let k = 1; k < n; k++) {
    const cc = b[i + k] as number;
    if ((cc & 0xc0) !== 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

/** Hex (as used on the wire) to text. */
export function hexToText(hex: string): string {
  return bytesToText(Buffer.from(hex, 'hex'));
}

/** Text to hex (as used on the wire). */
export function textToHex(text: string): string {
  return textToBytes(text).toString('hex');
}

/** ld.so options that take a value, so the program path comes after them. */
const LOADER_OPTIONS_WITH_VALUE = new Set(['--library-path', '--preload', '--audit', '--argv0', '--inhibit-rpath', '--glibc-hwcaps-prepend', '--glibc-hwcaps-mask']);

/** Index in the dynamic loader's argv (`ld.so [OPTIONS] PROGRAM ARGS…`) of the program it is asked to run, or -1. */
export function loaderProgramIndex(argv: readonly string[]): number {
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i] as string;
    if (LOADER_OPTIONS_WITH_VALUE.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith('--')) continue;
    return i;
  }
  return -1;
}
