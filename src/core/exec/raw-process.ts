// This process's command line, environment and working directory as the bytes they are. Node decodes them as
// UTF-8 and replaces what is not with U+FFFD (so `agent-gate run -- echo $'caf\xe9'` would print `caf�`); the
// kernel's copies in /proc/self are intact. Text here keeps every byte (bytesToText: a byte that is not part
// of valid UTF-8 becomes U+DC80..U+DCFF), and the wire turns it back into the same bytes (textToHex).
import * as fs from 'node:fs';
import { bytesToText } from './facts';

function splitNul(buf: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0) {
      parts.push(buf.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < buf.length) parts.push(buf.subarray(start));
  return parts;
}

/**
 * The arguments after the script (what process.argv.slice(2) holds), as bytes. Node's own options come between
 * the program and the script in /proc/self/cmdline, so the user's arguments are its last process.argv.length - 2
 * entries. Falls back to process.argv when /proc cannot be read or disagrees in length.
 */
export function rawArguments(argv: readonly string[] = process.argv, cmdline = '/proc/self/cmdline'): string[] {
  const wanted = argv.length - 2;
  try {
    const parts = splitNul(fs.readFileSync(cmdline));
    if (wanted >= 0 && parts.length >= wanted + 2) {
      const raw = parts.slice(parts.length - wanted).map(bytesToText);
      // Sanity: where Node's text is valid UTF-8 it must be the same argument.
      if (raw.every((r, i) => r === argv[i + 2] || (argv[i + 2] ?? '').includes('\ufffd') || r.includes('\ufffd'))) return raw;
    }
  } catch {
    // no /proc: what Node has
  }
  return argv.slice(2);
}

/** Whether Node can hand this text to a child process unchanged (valid UTF-8, no lone surrogates). */
export function spawnable(text: string): boolean {
  return !/[\ud800-\udfff]/.test(text.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''));
}

export interface RawEnvironment {
  /** What a spawned process can be given as is (every variable that is valid UTF-8). */
  env: NodeJS.ProcessEnv;
  /** The others, as text that keeps their bytes: set for the agent over the protocol (ENV_SET). */
  raw: [string, string][];
}

/** This process's environment, split into what Node can pass on and what it cannot. */
export function rawEnvironment(environ = '/proc/self/environ', fallback: NodeJS.ProcessEnv = process.env): RawEnvironment {
  let parts: Buffer[];
  try {
    parts = splitNul(fs.readFileSync(environ));
  } catch {
    return { env: { ...fallback }, raw: [] };
  }
  const env: NodeJS.ProcessEnv = { ...fallback };
  const raw: [string, string][] = [];
  for (const p of parts) {
    const eq = p.indexOf(0x3d);
    if (eq <= 0) continue;
    const name = bytesToText(p.subarray(0, eq));
    const value = bytesToText(p.subarray(eq + 1));
    if (spawnable(name) && spawnable(value)) continue;
    raw.push([name, value]);
    // Node's copy of it, decoded with replacement characters: not passed on.
    delete env[p.subarray(0, eq).toString('utf8')];
  }
  return { env, raw };
}

/** The current directory as bytes (process.cwd() replaces what is not UTF-8). */
export function rawCwd(link = '/proc/self/cwd'): string {
  try {
    return bytesToText(fs.readlinkSync(link, { encoding: 'buffer' }));
  } catch {
    return process.cwd();
  }
}
