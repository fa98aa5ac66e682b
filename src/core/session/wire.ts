// Pure encode/decode of the supervisor ⇄ broker protocol lines (docs/protocol.md). No I/O here: the link
// (supervisor-link.ts) frames lines and calls these. Every byte-carrying value is hex on the wire and is
// decoded losslessly (bytesToText: an invalid UTF-8 byte b becomes U+DC00+b, see src/core/exec/facts.ts).
import { bytesToText, textToHex, type ExecFacts, type FileFacts, type InterpreterFacts } from '../exec/facts';
import type { DecisionRecord } from '../audit/records';
import type { BinaryAction } from '../policy/types';
import { ipBytes } from '../policy/sockets';
import type { EnforcementReport, ExecEvent, Leftovers, SocketRefusal, SocketRequest, SupervisorConfig } from './types';

/** What a TERMINAL hold holds (pty_relay in native/src/pty.c): the agent's own pty ('own'); nothing, because
 *  the agent writes to the user's terminal itself ('shared'); nothing, because it has no terminal ('none'). */
export type TerminalRelay = 'own' | 'shared' | 'none';

export const PROTOCOL_VERSION = 1;
/** Longest line either side accepts (the supervisor bounds argv at 1 MiB, hex doubles it). */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;

/** A malformed line: the session must end fail-closed. */
export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

export type SupervisorMessage =
  | { type: 'HELLO'; version: number; pid: number; abi: number; notif: boolean; killable: boolean; envNames?: string[] }
  | { type: 'REPORT'; report: EnforcementReport }
  | { type: 'WARN'; message: string }
  | { type: 'READY'; pid: number }
  | { type: 'STARTED'; pid: number }
  | { type: 'FATAL'; message: string }
  | { type: 'EXEC'; event: ExecEvent }
  | { type: 'RECORD'; record: DecisionRecord; json: string }
  | { type: 'TIMEOUT'; id: number; action: BinaryAction; piped: number }
  | { type: 'SOCKET'; request: SocketRequest }
  | { type: 'SOCKET_REFUSED'; refusal: SocketRefusal }
  /** The supervisor did what a TERMINAL line asked (held or resumed its relay). */
  | { type: 'TERMINAL'; owner: 'broker' | 'agent'; relay?: TerminalRelay }
  | { type: 'EXIT'; id: number; code: number; signal: number; stats: SupervisorStats; leftovers?: Leftovers }
  | { type: 'BYE'; head: string; size: number }
  /** From the keeper (native/src/keeper.c), after the supervisor exited: how it exited, and what of the session
   *  the keeper had to end (count, names, and what could not be ended). */
  | { type: 'REAPED'; code: number; signal: number; ended: number; remaining: number; names: string[]; stuck?: string };

/**
 * Counters the supervisor reports on EXIT (all optional): n_asked (decided by the broker), n_cached
 * (answered from the identity cache), n_local (answered by the supervisor because the kernel would fail
 * them anyway, e.g. PATH probes), and decision latency percentiles in µs (asked_p50_us, asked_p99_us,
 * cached_p50_us, cached_p99_us) measured from NOTIF_RECV to just before NOTIF_SEND.
 */
export type SupervisorStats = Record<string, number>;

const HEX_RE = /^(?:[0-9a-f]{2})*$/;
const NON_ASCII_RE = /[\x80-\xff]/;
/** Hex of ASCII bytes (first digit 0-7): the common case, which needs no UTF-8 decoding. */
const ASCII_HEX_RE = /^(?:[0-7][0-9a-f])*$/;
/** Reused for decoding ASCII values (a fresh Buffer per value costs more than the decoding). */
const scratch = Buffer.alloc(64 * 1024);

function hexValue(key: string, value: string): string {
  if (ASCII_HEX_RE.test(value)) {
    if (value.length <= 2 * scratch.length) return scratch.toString('latin1', 0, scratch.write(value, 0, 'hex'));
    return Buffer.from(value, 'hex').toString('latin1');
  }
  if (!HEX_RE.test(value)) throw new WireError(`${key}= is not lowercase hex of whole bytes`);
  return bytesToText(Buffer.from(value, 'hex'));
}

function digits(value: string, max: number): boolean {
  const n = value.length;
  if (n < 1 || n > max) return false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

function intValue(key: string, value: string | undefined): number {
  if (value === undefined || !digits(value, 16)) throw new WireError(`${key}= must be a decimal integer`);
  return Number(value);
}

function decString(key: string, value: string | undefined): string {
  // dev/ino are kept as decimal strings: st_dev can exceed 2^53.
  if (value === undefined || !digits(value, 20)) throw new WireError(`${key}= must be a decimal integer`);
  return value;
}

function actionValue(key: string, value: string | undefined): BinaryAction {
  if (value === 'allow' || value === 'deny') return value;
  throw new WireError(`${key}= must be allow or deny`);
}

function flagValue(key: string, value: string | undefined): boolean {
  if (value === '1') return true;
  if (value === '0') return false;
  throw new WireError(`${key}= must be 0 or 1`);
}

/** Split "TYPE a b=c …" into the type, bare words and key=value pairs (repeated keys kept in order). */
function tokens(line: string): { type: string; words: string[]; pairs: [string, string][] } {
  const parts = line.split(' ');
  const type = parts[0] ?? '';
  const words: string[] = [];
  const pairs: [string, string][] = [];
  for (let i = 1; i < parts.length; i++) {
    const p = parts[i] as string;
    if (p === '') continue;
    const eq = p.indexOf('=');
    if (eq < 0) words.push(p);
    else pairs.push([p.slice(0, eq), p.slice(eq + 1)]);
  }
  return { type, words, pairs };
}

function single(pairs: [string, string][]): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of pairs) if (!m.has(k)) m.set(k, v);
  return m;
}

function envNamesValue(hex: string): string[] {
  if (!/^(?:[0-9a-f]{2})*$/.test(hex)) throw new WireError('env must be lowercase hex');
  if (hex === '') return [];
  const bytes = Buffer.from(hex, 'hex');
  const names: string[] = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === 0) {
      if (i > start) names.push(bytesToText(bytes.subarray(start, i)));
      start = i + 1;
    }
  }
  return names;
}

/** Decode one line sent by the supervisor (without its '\n'). Throws WireError. */
export function decodeSupervisorLine(line: string): SupervisorMessage {
  if (line.length > MAX_LINE_BYTES) throw new WireError('line too long');
  if (line.startsWith('EXEC ')) return { type: 'EXEC', event: decodeExec(line) };
  if (line.startsWith('RECORD ')) return decodeRecord(line);
  const { type, words, pairs } = tokens(line);
  switch (type) {
    case 'EXEC':
      return { type, event: decodeExec(line) };
    case 'HELLO': {
      const m = single(pairs);
      return {
        type,
        version: intValue('version', words[0]),
        pid: intValue('pid', m.get('pid')),
        abi: intValue('abi', m.get('abi')),
        notif: flagValue('notif', m.get('notif')),
        killable: flagValue('killable', m.get('killable')),
        // The supervisor's environment names (raw bytes, NUL-separated), as lossless text (bytesToText).
        ...(m.has('env') ? { envNames: envNamesValue(m.get('env') as string) } : {}),
      };
    }
    case 'REPORT': {
      const report: EnforcementReport = {};
      for (const [k, v] of pairs) report[k] = v;
      return { type, report };
    }
    case 'WARN':
    case 'FATAL':
      return { type, message: hexValue('msg', single(pairs).get('msg') ?? '') };
    case 'READY': {
      const pid = single(pairs).get('pid');
      return { type, pid: pid === undefined ? 0 : intValue('pid', pid) };
    }
    case 'STARTED':
      return { type, pid: intValue('pid', single(pairs).get('pid')) };
    case 'TIMEOUT': {
      const m = single(pairs);
      const piped = m.get('piped');
      return { type, id: intValue('id', m.get('id')), action: actionValue('action', m.get('action')), piped: piped === undefined ? 0 : intValue('piped', piped) };
    }
    case 'SOCKET': {
      const m = single(pairs);
      const canon = m.get('canon');
      return {
        type,
        request: {
          requestId: intValue('id', m.get('id')),
          tid: intValue('tid', m.get('tid')),
          pid: intValue('pid', m.get('pid')),
          op: 'connect',
          type: m.get('type') ?? 'stream',
          name: hexValue('name', m.get('name') ?? ''),
          abstract: flagValue('abstract', m.get('abstract') ?? '0'),
          canonical: canon === undefined ? null : hexValue('canon', canon),
        },
      };
    }
    case 'SOCKET_REFUSED': {
      const m = single(pairs);
      const addr = m.get('addr');
      const port = m.get('port');
      return {
        type,
        refusal: {
          tid: intValue('tid', m.get('tid')),
          pid: intValue('pid', m.get('pid')),
          op: m.get('op') ?? '?',
          family: m.get('family') ?? '?',
          address: addr === undefined ? null : hexValue('addr', addr),
          port: port === undefined ? null : intValue('port', port),
          reason: hexValue('reason', m.get('reason') ?? ''),
        },
      };
    }
    case 'BYE': {
      const m = single(pairs);
      return { type, head: sha('head', m.get('head') ?? ''), size: intValue('size', m.get('size')) };
    }
    case 'TERMINAL': {
      const m = single(pairs);
      const owner = m.get('owner');
      if (owner !== 'broker' && owner !== 'agent') throw new WireError(`TERMINAL: bad owner '${String(owner).slice(0, 20)}'`);
      const relay = m.get('relay');
      if (relay !== undefined && relay !== 'own' && relay !== 'shared' && relay !== 'none') throw new WireError(`TERMINAL: bad relay '${relay.slice(0, 20)}'`);
      return { type, owner, ...(relay ? { relay } : {}) };
    }
    case 'EXIT': {
      const m = single(pairs);
      const stats: SupervisorStats = {};
      for (const [k, v] of m) if (k !== 'id' && k !== 'code' && k !== 'signal' && !k.startsWith('leftover') && /^\d{1,15}$/.test(v)) stats[k] = Number(v);
      const left = m.get('leftovers');
      return {
        type,
        id: intValue('id', m.get('id')),
        code: intValue('code', m.get('code')),
        signal: intValue('signal', m.get('signal')),
        stats,
        ...(left === undefined
          ? {}
          : {
              leftovers: {
                count: intValue('leftovers', left),
                kept: flagValue('leftovers_kept', m.get('leftovers_kept') ?? '0'),
                remaining: intValue('leftovers_remaining', m.get('leftovers_remaining') ?? '0'),
                names: pairs.filter(([k]) => k === 'leftover').map(([k, v]) => hexValue(k, v)),
                ...(m.has('leftovers_stuck') ? { stuck: hexValue('leftovers_stuck', m.get('leftovers_stuck') ?? '') } : {}),
              },
            }),
      };
    }
    case 'REAPED': {
      const m = single(pairs);
      return {
        type,
        code: intValue('code', m.get('code')),
        signal: intValue('signal', m.get('signal')),
        ended: intValue('ended', m.get('ended')),
        remaining: intValue('remaining', m.get('remaining') ?? '0'),
        names: pairs.filter(([k]) => k === 'leftover').map(([k, v]) => hexValue(k, v)),
        ...(m.has('stuck') ? { stuck: hexValue('stuck', m.get('stuck') ?? '') } : {}),
      };
    }
    default:
      throw new WireError(`unknown message type '${type.slice(0, 40)}'`);
  }
}

interface FileFields {
  path?: string;
  dev?: string;
  ino?: string;
  size?: number;
  sha256?: string;
  nlink?: number;
  prefix?: { size: number; sha256: string };
}

interface InterpFields extends FileFields {
  arg?: string;
  name?: string;
  kind?: 'script' | 'misc' | 'elf';
  preserveArgv0?: boolean;
}

function fileFacts(f: FileFields, what: string): FileFacts | null {
  if (f.path === undefined) return null;
  if (f.dev === undefined || f.ino === undefined || f.size === undefined) {
    throw new WireError(`${what} without dev/ino/size`);
  }
  const out: FileFacts = { path: f.path, dev: f.dev, ino: f.ino, size: f.size };
  if (f.sha256 !== undefined) out.sha256 = f.sha256;
  if (f.nlink !== undefined) out.nlink = f.nlink;
  if (f.prefix !== undefined) {
    if (f.prefix.sha256 === '' || f.prefix.size <= 0) throw new WireError(`${what}: prefix_size and prefix_sha256 go together`);
    out.prefix = f.prefix;
  }
  return out;
}

function interpreterFacts(f: InterpFields): InterpreterFacts {
  const out: InterpreterFacts = fileFacts(f, 'interp') as FileFacts;
  if (f.arg !== undefined) out.arg = f.arg;
  if (f.name !== undefined) out.name = f.name;
  if (f.kind !== undefined) out.kind = f.kind;
  if (f.preserveArgv0) out.preserveArgv0 = true;
  return out;
}

function sha(key: string, v: string): string {
  if (!/^[0-9a-f]{64}$/.test(v)) throw new WireError(`${key}= must be 64 lowercase hex digits`);
  return v;
}

/**
 * RECORD (a cached verdict the supervisor recorded itself): `RECORD allow|deny {…}`, the decision record as
 * one line of JSON. It is parsed here (JSON.parse is native: cheap) so a malformed one ends the session
 * instead of reaching the log.
 */
function decodeRecord(line: string): SupervisorMessage {
  const sp = line.indexOf(' ', 7);
  const verdict = sp < 0 ? '' : line.slice(7, sp);
  if (verdict !== 'allow' && verdict !== 'deny') throw new WireError('RECORD needs allow or deny');
  let json = line.slice(sp + 1);
  // Lines are framed as latin1 (one char per byte); the supervisor writes valid UTF-8 as it is (only stray
  // bytes are escaped, as \udcXX), so a line with non-ASCII in it is read again as UTF-8.
  if (NON_ASCII_RE.test(json)) json = Buffer.from(json, 'latin1').toString('utf8');
  let record: DecisionRecord;
  try {
    record = JSON.parse(json) as DecisionRecord;
  } catch {
    throw new WireError('RECORD is not one JSON object');
  }
  if (
    typeof record !== 'object' || record === null || record.type !== 'decision' || record.verdict !== verdict ||
    record.cached !== true || typeof record.request !== 'number' || !Array.isArray(record.argv)
  ) {
    throw new WireError('RECORD is not a cached decision record');
  }
  return { type: 'RECORD', record, json };
}

/** EXEC is the per-exec hot path: one pass over the line (no split, no pair array). */
function decodeExec(line: string): ExecEvent {
  let id: number | undefined;
  let tid = 0;
  let pid = 0;
  let ppid = 0;
  let uid = 0;
  let syscall: ExecFacts['syscall'] = 'execve';
  let requestedPath = '';
  let cwd = '';
  const exe: FileFields = {};
  // One group per interpreter: `interp=` starts it, the interp_* keys after it belong to it.
  const interps: InterpFields[] = [];
  let interp: InterpFields = {};
  const ld: FileFields = {};
  let ldUnresolved: string | undefined;
  const argv: string[] = [];
  let argvTruncated = false;
  let pexe: string | undefined;
  const pargv: string[] = [];
  let t = 0;
  let cachedAction: BinaryAction | undefined;
  let lat = 0;
  let piped = 0;

  const end = line.length;
  let pos = line.indexOf(' ');
  if (pos < 0) pos = end;
  while (pos < end) {
    // One token: [pos+1, next space); empty tokens (repeated spaces) and bare words are skipped.
    const start = pos + 1;
    let stop = line.indexOf(' ', start);
    if (stop < 0) stop = end;
    pos = stop;
    const eq = line.indexOf('=', start);
    if (eq < 0 || eq >= stop) continue;
    const k = line.slice(start, eq);
    const v = line.slice(eq + 1, stop);
    switch (k) {
      case 'id': id = intValue(k, v); break;
      case 'tid': tid = intValue(k, v); break;
      case 'pid': pid = intValue(k, v); break;
      case 'ppid': ppid = intValue(k, v); break;
      case 'uid': uid = intValue(k, v); break;
      case 'sc':
        if (v !== 'execve' && v !== 'execveat') throw new WireError('sc= must be execve or execveat');
        syscall = v;
        break;
      case 'path': requestedPath = hexValue(k, v); break;
      case 'cwd': cwd = hexValue(k, v); break;
      case 'exe': exe.path = hexValue(k, v); break;
      case 'dev': exe.dev = decString(k, v); break;
      case 'ino': exe.ino = decString(k, v); break;
      case 'size': exe.size = intValue(k, v); break;
      case 'sha256': exe.sha256 = sha(k, v); break;
      case 'prefix_size': exe.prefix = { size: intValue(k, v), sha256: exe.prefix?.sha256 ?? '' }; break;
      case 'prefix_sha256': exe.prefix = { size: exe.prefix?.size ?? 0, sha256: sha(k, v) }; break;
      case 'nlink': exe.nlink = intValue(k, v); break;
      case 'argv': argv.push(hexValue(k, v)); break;
      case 'argv_trunc': argvTruncated = flagValue(k, v); break;
      case 'pexe': pexe = hexValue(k, v); break;
      case 'pargv': pargv.push(hexValue(k, v)); break;
      case 'interp':
        if (interps.length >= 8) throw new WireError('too many interp= groups');
        interp = { path: hexValue(k, v) };
        interps.push(interp);
        break;
      case 'interp_dev': interp.dev = decString(k, v); break;
      case 'interp_ino': interp.ino = decString(k, v); break;
      case 'interp_size': interp.size = intValue(k, v); break;
      case 'interp_sha256': interp.sha256 = sha(k, v); break;
      case 'interp_prefix_size': interp.prefix = { size: intValue(k, v), sha256: interp.prefix?.sha256 ?? '' }; break;
      case 'interp_prefix_sha256': interp.prefix = { size: interp.prefix?.size ?? 0, sha256: sha(k, v) }; break;
      case 'interp_nlink': interp.nlink = intValue(k, v); break;
      case 'interp_arg': interp.arg = hexValue(k, v); break;
      case 'interp_name': interp.name = hexValue(k, v); break;
      case 'interp_kind':
        if (v !== 'script' && v !== 'misc' && v !== 'elf') throw new WireError('interp_kind= must be script, misc or elf');
        interp.kind = v;
        break;
      case 'interp_p': interp.preserveArgv0 = flagValue(k, v); break;
      case 'ld': ld.path = hexValue(k, v); break;
      case 'ld_dev': ld.dev = decString(k, v); break;
      case 'ld_ino': ld.ino = decString(k, v); break;
      case 'ld_size': ld.size = intValue(k, v); break;
      case 'ld_sha256': ld.sha256 = sha(k, v); break;
      case 'ld_prefix_size': ld.prefix = { size: intValue(k, v), sha256: ld.prefix?.sha256 ?? '' }; break;
      case 'ld_prefix_sha256': ld.prefix = { size: ld.prefix?.size ?? 0, sha256: sha(k, v) }; break;
      case 'ld_nlink': ld.nlink = intValue(k, v); break;
      case 'ld_unresolved': ldUnresolved = hexValue(k, v); break;
      case 't': t = intValue(k, v); break;
      case 'cached': cachedAction = actionValue(k, v); break;
      case 'lat': lat = intValue(k, v); break;
      case 'piped': piped = intValue(k, v); break;
      default: break; // unknown keys are ignored (forward compatibility)
    }
  }
  if (id === undefined) throw new WireError('EXEC without id');
  const facts: ExecFacts = {
    requestId: id,
    tid,
    pid,
    ppid,
    uid,
    syscall,
    requestedPath,
    exe: fileFacts(exe, 'exe'),
    argv,
    argvTruncated,
    cwd,
    parent: pexe === undefined ? null : { exe: pexe, argv: pargv },
  };
  if (interps.length > 0) {
    const chain = interps.map(interpreterFacts);
    facts.interpreter = chain[0];
    facts.interpreters = chain;
  }
  const loaderTarget = fileFacts(ld, 'ld');
  if (loaderTarget) facts.loaderTarget = loaderTarget;
  if (ldUnresolved !== undefined) facts.loaderUnresolved = ldUnresolved;
  return {
    facts,
    receivedAtUs: t,
    cached: cachedAction === undefined ? null : { action: cachedAction, latencyUs: lat },
    ...(piped > 0 ? { piped } : {}),
  };
}

function fileFields(prefix: string, name: string, f: FileFacts): string {
  let s = ` ${name}=${textToHex(f.path)} ${prefix}dev=${f.dev} ${prefix}ino=${f.ino} ${prefix}size=${f.size}`;
  if (f.nlink !== undefined) s += ` ${prefix}nlink=${f.nlink}`;
  if (f.sha256 !== undefined) s += ` ${prefix}sha256=${f.sha256}`;
  if (f.prefix !== undefined) s += ` ${prefix}prefix_size=${f.prefix.size} ${prefix}prefix_sha256=${f.prefix.sha256}`;
  return s;
}

/** Encode an EXEC line as the supervisor would (for tests and tools; the inverse of decodeSupervisorLine). */
export function encodeExecLine(event: ExecEvent): string {
  const f = event.facts;
  let s = `EXEC id=${f.requestId} tid=${f.tid} pid=${f.pid} ppid=${f.ppid} uid=${f.uid} sc=${f.syscall} flags=0`;
  s += ` path=${textToHex(f.requestedPath)} cwd=${textToHex(f.cwd)}`;
  if (f.exe) s += fileFields('', 'exe', f.exe);
  for (const a of f.argv) s += ` argv=${textToHex(a)}`;
  if (f.argvTruncated) s += ' argv_trunc=1';
  if (f.parent) {
    s += ` pexe=${textToHex(f.parent.exe)}`;
    for (const a of f.parent.argv) s += ` pargv=${textToHex(a)}`;
  }
  for (const i of f.interpreters ?? (f.interpreter ? [f.interpreter] : [])) {
    s += fileFields('interp_', 'interp', i);
    if (i.kind !== undefined) s += ` interp_kind=${i.kind}`;
    if (i.preserveArgv0) s += ' interp_p=1';
    if (i.name !== undefined) s += ` interp_name=${textToHex(i.name)}`;
    if (i.arg !== undefined) s += ` interp_arg=${textToHex(i.arg)}`;
  }
  if (f.loaderTarget) s += fileFields('ld_', 'ld', f.loaderTarget);
  if (f.loaderUnresolved !== undefined) s += ` ld_unresolved=${textToHex(f.loaderUnresolved)}`;
  s += ` t=${event.receivedAtUs}`;
  if (event.cached) s += ` cached=${event.cached.action} lat=${event.cached.latencyUs}`;
  if (event.piped) s += ` piped=${event.piped}`;
  return s;
}

const RIGHTS_RE = /^[rwxls]*$/;

const rightsSeen = new Map<string, string>();

function rights(r: string): string {
  const seen = rightsSeen.get(r);
  if (seen !== undefined) return seen;
  if (!RIGHTS_RE.test(r)) throw new WireError(`bad rights '${r}' (subset of rwxls)`);
  const out = [...new Set(r)].join('');
  if (rightsSeen.size < 64) rightsSeen.set(r, out);
  return out;
}

function absPath(p: string): string {
  if (!p.startsWith('/')) throw new WireError(`'${p}' is not an absolute path`);
  return textToHex(p);
}

/** absPath of many paths at once: one UTF-8 encoding of them all, cut by each one's byte length (a Buffer per
 *  path was most of CONFIG's cost: ~900 FS lines of the execute set). Paths with a surrogate code unit (an
 *  escaped byte, or one that could pair with the next path's) are encoded one by one. */
const SURROGATE = /[\ud800-\udfff]/;

function absPaths(paths: readonly string[]): string[] {
  for (const p of paths) if (!p.startsWith('/')) throw new WireError(`'${p}' is not an absolute path`);
  if (paths.some((p) => SURROGATE.test(p))) return paths.map((p) => textToHex(p));
  const hex = Buffer.from(paths.join(''), 'utf8').toString('hex');
  const out: string[] = [];
  let at = 0;
  for (const p of paths) {
    const n = 2 * Buffer.byteLength(p, 'utf8');
    out.push(hex.slice(at, at + n));
    at += n;
  }
  return out;
}

/** The broker's CONFIG … START block, every line '\n'-terminated. */
/** The audit log handed to the supervisor (AUDIT, docs/protocol.md "The audit log"): it writes every record
 *  while the session runs. `dev`/`ino` name the file the broker opened; `headFile` keeps the chain's end. */
export interface AuditHandOff {
  path: string;
  dev: string;
  ino: string;
  /** Bytes kept allocated ahead of the end of the log. */
  reserve: number;
  /** The agent can write to the log's filesystem: refuse to start when no space can be reserved. */
  requireReserve: boolean;
  headFile?: string;
  /** The redaction prefilter's literals (SECRET_LITERALS): a cached exec whose strings hold one is asked. */
  redact: readonly string[];
}

export function encodeConfig(
  config: SupervisorConfig,
  hashUnder: readonly string[],
  opts: { records?: boolean; session?: string; hashSizes?: readonly number[]; audit?: AuditHandOff; argv?: readonly string[] } = {},
): string {
  const lines = [`CONFIG ${PROTOCOL_VERSION}`];
  if (config.fs) {
    const hex = absPaths(config.fs.grants.map((g) => g.path));
    config.fs.grants.forEach((g, i) => lines.push(`FS rights=${rights(g.rights)} path=${hex[i] as string}`));
    lines.push(`FS_HANDLED rights=${rights(config.fs.handled)}`);
  }
  // The session's socket directory ('s'): sent whether or not [filesystem] seals, since sockets and FIFOs are
  // made nowhere else either way (native/src/landlock.c).
  if (config.socketDir) lines.push(`FS rights=${rights(config.socketDir.rights)} path=${absPath(config.socketDir.path)}`);
  if (config.net) {
    lines.push(`NET_HANDLED connect=${config.net.connect ? 1 : 0} bind=${config.net.bind ? 1 : 0}`);
    for (const p of config.net.ports) {
      if (!Number.isInteger(p.port) || p.port < 0 || p.port > 65535) throw new WireError(`bad TCP port ${p.port}`);
      lines.push(`NET port=${p.port} connect=${p.connect ? 1 : 0} bind=${p.bind ? 1 : 0}`);
    }
  }
  for (const server of config.net?.dns ?? []) {
    const bytes = ipBytes(server);
    if (!bytes) throw new WireError(`bad DNS server address '${server}'`);
    lines.push(`NET_DNS addr=${bytes.toString('hex')} port=53`);
  }
  if (config.loopback) {
    lines.push('LOOPBACK_SEALED');
    const ports = new Map<number, { connect: boolean; accept: boolean }>();
    for (const p of config.loopback.connectPorts) ports.set(p, { connect: true, accept: ports.get(p)?.accept ?? false });
    for (const p of config.loopback.acceptPorts) ports.set(p, { connect: ports.get(p)?.connect ?? false, accept: true });
    for (const [port, p] of [...ports].sort((a, b) => a[0] - b[0])) {
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new WireError(`bad port ${port}`);
      lines.push(`LOOPBACK_PORT port=${port} connect=${p.connect ? 1 : 0} accept=${p.accept ? 1 : 0}`);
    }
    for (const server of config.loopback.resolvers) {
      const bytes = ipBytes(server);
      if (!bytes) throw new WireError(`bad DNS server address '${server}'`);
      lines.push(`LOOPBACK_DNS addr=${bytes.toString('hex')} port=53`);
    }
  }
  if (config.unix) {
    lines.push('UNIX_SEALED');
    for (const g of config.unix.grants) lines.push(`UNIX_GRANT path=${absPath(g)}`);
  }
  lines.push(`REQUIRE fs=${config.require.fs ? 1 : 0} net=${config.require.net ? 1 : 0}${config.require.unix ? ' unix=1' : ''}`);
  const ms = Math.max(0, Math.floor(config.timeout.ms));
  lines.push(`TIMEOUT ms=${ms} action=${config.timeout.action}`);
  for (const h of hashUnder) lines.push(`HASH_UNDER path=${absPath(h)}`);
  if (opts.hashSizes) {
    for (const n of opts.hashSizes) if (!Number.isSafeInteger(n) || n < 0) throw new WireError(`bad file size ${n}`);
    lines.push(['HASH_SIZES', ...opts.hashSizes.map((n) => `size=${n}`)].join(' '));
  }
  if (opts.argv && opts.argv.length > 0) {
    // The agent's command line as bytes (text carries bytes that are not UTF-8 as U+DC80..U+DCFF).
    for (const a of opts.argv) if (a.includes('\0')) throw new WireError('an argument cannot hold a NUL byte');
    lines.push(['ARGV', ...opts.argv.map((a) => `arg=${textToHex(a)}`)].join(' '));
  }
  for (const name of config.envPlan?.removed ?? []) lines.push(`ENV_UNSET name=${envHex(name, 'name')}`);
  for (const [name, value] of config.envPlan?.set ?? []) lines.push(`ENV_SET name=${envHex(name, 'name')} value=${envHex(value, 'value')}`);
  if (config.keepLeftovers) lines.push('LEFTOVERS keep=1');
  for (const p of config.protect ?? []) lines.push(`PROTECT path=${absPath(p)}`);
  if (opts.records) lines.push('RECORDS');
  if (opts.session !== undefined) lines.push(`JSON_RECORDS session=${textToHex(opts.session)}`);
  const a = opts.audit;
  if (a) {
    if (!/^\d+$/.test(a.dev) || !/^\d+$/.test(a.ino) || !Number.isSafeInteger(a.reserve) || a.reserve < 0) throw new WireError('bad AUDIT values');
    let line = `AUDIT path=${absPath(a.path)} dev=${a.dev} ino=${a.ino} reserve=${a.reserve} require_reserve=${a.requireReserve ? 1 : 0}`;
    if (a.headFile !== undefined) line += ` head_file=${absPath(a.headFile)}`;
    lines.push(line);
    for (const lit of a.redact) lines.push(`REDACT lit=${textToHex(lit)}`);
  }
  lines.push('START');
  return lines.join('\n') + '\n';
}

function envHex(text: string, what: 'name' | 'value'): string {
  if (text.includes('\0')) throw new WireError(`an environment ${what} cannot hold a NUL byte`);
  if (what === 'name' && (text === '' || text.includes('='))) throw new WireError(`bad environment variable name '${text}'`);
  return textToHex(text);
}

/**
 * `origin`: with cache, the JSON the supervisor splices into the records of later hits (originJson). `record`:
 * the decision's record (one JSON object), when the supervisor writes the audit log: it is written before the
 * kernel is answered.
 */
export function encodeVerdict(id: number, action: BinaryAction, cache: boolean, origin?: string, record?: string): string {
  let s = `VERDICT id=${id} action=${action}`;
  if (cache) s += origin === undefined ? ' cache=1' : ` cache=1 origin=${textToHex(origin)}`;
  if (record !== undefined) s += ` record=${Buffer.from(record, 'utf8').toString('hex')}`;
  return `${s}\n`;
}

/** A record for the audit log the supervisor writes (one JSON object, no newline). */
export function encodeLog(record: string): string {
  return `LOG record=${Buffer.from(record, 'utf8').toString('hex')}\n`;
}

export function encodeHold(id: number): string {
  return `HOLD id=${id}\n`;
}

/** Who owns the agent's terminal (a broker prompting on that terminal takes it while it reads). */
export function encodeTerminal(owner: 'broker' | 'agent'): string {
  return `TERMINAL owner=${owner}\n`;
}

/** FLUSH: the supervisor forgets its cached verdicts (the broker's policy changed). */
export function encodeFlush(): string {
  return 'FLUSH\n';
}
