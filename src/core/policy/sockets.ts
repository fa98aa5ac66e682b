// [unix_sockets] and the DNS part of [network]: which unix sockets outside the gate the agent may connect to,
// and which resolvers it may query. Pure functions; the supervisor asks the broker (SOCKET … VERDICT,
// docs/protocol.md) only about a unix socket that was not made in this session, and decides the rest itself
// from CONFIG (ports, resolvers), so policy matching stays here.
import picomatch from 'picomatch';
import { isIP } from 'node:net';

export interface UnixSocketPolicy {
  /** False when allow covers every pathname socket ("/**"): nothing to mediate. */
  sealed: boolean;
  /** Globs (after ${VAR} expansion): absolute for socket files, "@…" for abstract names. */
  allow: string[];
  requireEnforced: boolean;
}

export const DEFAULT_UNIX_SOCKETS: UnixSocketPolicy = { sealed: true, allow: [], requireEnforced: true };

/** [loopback]: services on this host outside the gate (red-team R59). The supervisor lets a connect (or a
 *  datagram) to an address of this host through when the port is served only by the session's own sockets,
 *  by a resolver (DNS), or named in connectPorts; and hands the agent a connection from this host only when
 *  the session made it, or on a port in acceptPorts. */
export interface LoopbackPolicy {
  /** False: neither direction is checked ([loopback] sealed = false). */
  sealed: boolean;
  /** Ports of services outside the gate on this host the agent may use (TCP and UDP). */
  connectPorts: number[];
  /** Ports of the agent's listeners that clients outside the gate on this host may reach (a browser on a dev server). */
  acceptPorts: number[];
}

export const DEFAULT_LOOPBACK: LoopbackPolicy = { sealed: true, connectPorts: [], acceptPorts: [] };

/** Why an allow entry (already expanded) is not usable, or null. */
export function unixAllowProblem(glob: string): string | null {
  if (glob.startsWith('@')) return glob.length > 1 ? null : 'names no abstract socket (write @name or @prefix*)';
  if (!glob.startsWith('/')) return 'must be an absolute path to a socket file, or @name for an abstract socket';
  if (glob.split('/').includes('..')) return "contains '..'; write the path without it";
  return null;
}

const matchers = new Map<string, (s: string) => boolean>();
function matcher(glob: string): (s: string) => boolean {
  let m = matchers.get(glob);
  if (!m) {
    m = picomatch(glob, { dot: true });
    matchers.set(glob, m);
  }
  return m;
}

/** A connect to a unix socket that no process of this session made (the supervisor's SOCKET request). */
export interface UnixSocketRequest {
  /** The name as the agent gave it: a path (maybe relative, maybe through symlinks) or an abstract name. */
  name: string;
  abstract: boolean;
  /** For a path: the canonical path of the socket file the supervisor holds (what is matched). */
  canonical: string | null;
}

export interface UnixSocketDecision {
  allow: boolean;
  /** The allow entry that matched. */
  pattern: string | null;
  reason: string;
}

/** Display form of the target: the canonical path, or @name. */
export function unixSocketTarget(req: UnixSocketRequest): string {
  return req.abstract ? `@${req.name}` : (req.canonical ?? req.name);
}

export function decideUnixSocket(policy: UnixSocketPolicy, req: UnixSocketRequest): UnixSocketDecision {
  const target = unixSocketTarget(req);
  // A path is matched by what it resolved to (the agent controls the name it asks by, not the file).
  const subject = req.abstract ? `@${req.name}` : req.canonical;
  const pattern = subject === null ? undefined : policy.allow.find((g) => (g.startsWith('@') === req.abstract ? matcher(g)(subject) : false));
  if (pattern !== undefined) return { allow: true, pattern, reason: `${target} is allowed by [unix_sockets] allow "${pattern}"` };
  return {
    allow: false,
    pattern: null,
    reason: `${target} was not made by the agent in this session: a process outside the gate listens there; [unix_sockets] allow names the sockets an agent may use`,
  };
}

/**
 * Landlock's RESOLVE_UNIX grants (ABI 9) for the allow list: path-beneath, so a glob becomes its static
 * prefix (as filesystem globs do); abstract names have no path (Landlock's scoping refuses them all).
 */
export function unixSocketGrants(policy: UnixSocketPolicy): string[] {
  const out = new Set<string>();
  for (const g of policy.allow) {
    if (!g.startsWith('/')) continue;
    const scan = picomatch.scan(g);
    const base = scan.isGlob ? scan.base || '/' : g;
    out.add('/' + base.split('/').filter((s) => s !== '' && s !== '.').join('/'));
  }
  return [...out].sort();
}

/** The nameserver addresses of a resolv.conf text (IPv4 and IPv6; an IPv6 zone such as %eth0 is dropped). */
export function resolvConfServers(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    const addr = m?.[1]?.replace(/%.*$/, '');
    if (addr && isIP(addr) && !out.includes(addr)) out.push(addr);
  }
  return out;
}

/** An IP address as the bytes the supervisor compares (4 or 16; an IPv4-mapped IPv6 address as IPv4). */
export function ipBytes(addr: string): Buffer | null {
  const v = isIP(addr);
  if (v === 4) return Buffer.from(addr.split('.').map(Number));
  if (v !== 6) return null;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  if (mapped) return ipBytes(mapped[1] as string);
  // Expand "::" and a trailing dotted quad into eight 16-bit words.
  const words = (s: string): number[] =>
    s === ''
      ? []
      : s.split(':').flatMap((w) => {
          if (!w.includes('.')) return [parseInt(w, 16)];
          const b = Buffer.from(w.split('.').map(Number));
          return [b.readUInt16BE(0), b.readUInt16BE(2)];
        });
  const [head = '', tail] = addr.split('::');
  const h = words(head);
  const t = tail === undefined ? [] : words(tail);
  const all = tail === undefined ? h : [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t];
  if (all.length !== 8) return null;
  const buf = Buffer.alloc(16);
  all.forEach((w, i) => buf.writeUInt16BE(w, i * 2));
  return buf;
}
