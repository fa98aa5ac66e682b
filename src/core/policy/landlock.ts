// Compile [filesystem] and [network] into the Landlock grants the supervisor applies (docs/protocol.md).
//
// Landlock grants whole subtrees (path-beneath), not globs, so each glob becomes its longest static prefix:
// `/tmp/**` → /tmp (exact), `/etc/*.conf` → all of /etc (widened: reported as a 'widened-glob' warning,
// never silent). A `..` segment is an error: it would make the grant depend on how the path is resolved.
//
// Rights: read_globs 'r', write_globs 'w', allow_globs 'rw', execute_globs 'x'. Handled classes: 'rw' when
// the policy has [filesystem] or the CLI gave -r/-w/-a, plus 'x' when execute_globs is present (so policies
// without it never restrict execution at the Landlock layer; the exec gate still decides every exec).
//
// Bootstrap grants (unless no_bootstrap_reads): Faraday's list — /usr, /lib, /lib64, /bin, /sbin,
// /etc/ld.so.cache, /dev/null, /dev/urandom — read-only, plus what ordinary programs need to start and that
// reveals nothing private: /proc (not /proc/self: Landlock resolves that link once, in the supervisor, so
// it would name the supervisor), /sys/devices/system/cpu (CPU count), the name-service and TLS files under
// /etc (passwd, group, nsswitch.conf, hosts, resolv.conf, localtime, ssl, ca-certificates), and the terminal
// and null devices read+write (/dev/null, /dev/zero, /dev/full, /dev/tty) because shells write to them in
// nearly every script. /dev/tty is the agent's own terminal (its controlling terminal: a pty the supervisor
// made for it, which the supervisor grants by its /dev/pts path too); no other terminal is granted.
//
// Other terminals and devices: a read grant that covers /dev (on / or /dev itself) does not reach the rest
// of /dev. It is split: / into each of its entries but /dev, and /dev into the devices every program opens
// (DEV_EVERYDAY). The user's other terminals (/dev/pts/*: reading one steals what is typed there), virtual
// consoles and their screens, input devices, disks and memory then need a grant that names them. When execute is handled, /usr, /bin, /sbin, /lib and /lib64 also get 'x' so
// system programs and the dynamic loader still run. Bootstrap paths that do not exist are left out.
import { existsSync, readdirSync } from 'node:fs';
import picomatch from 'picomatch';
import type { Diagnostic, DiagnosticCode, FilesystemPolicy, Grant, NetworkPolicy } from './types';
import { expandVariables, type VariableEnv } from './variables';

/** Extra grants from the command line (`-r`, `-w`, `-a`), merged with the policy's. */
export interface CliGrants {
  read?: string[];
  write?: string[];
  allow?: string[];
}

/** A glob as written, and where (for diagnostics). */
export interface GlobSource {
  glob: string;
  /** Position of the glob in the policy, or undefined for CLI grants. */
  at?: { file: string; line: number; column: number; endLine?: number; endColumn?: number };
  /** What to call this glob's origin in a Grant.source, e.g. 'write_globs' or '--write'. */
  origin: string;
}

export interface FilesystemSpec {
  present: boolean;
  read: GlobSource[];
  write: GlobSource[];
  allow: GlobSource[];
  execute: GlobSource[];
  executePresent: boolean;
  requireEnforced: boolean;
  noBootstrapReads: boolean;
  /** create_dirs: made before the agent starts when missing (absent in specs built before the key existed). */
  createDirs?: GlobSource[];
}

export interface NetworkSpec {
  present: boolean;
  connectTcpPorts: number[];
  bindTcpPorts: number[];
  requireEnforced: boolean;
  dns?: boolean;
  dnsServers?: string[];
}

const BOOTSTRAP: readonly [string, string][] = [
  ['/usr', 'r'],
  ['/lib', 'r'],
  ['/lib64', 'r'],
  ['/lib32', 'r'],
  ['/bin', 'r'],
  ['/sbin', 'r'],
  ['/etc/ld.so.cache', 'r'],
  ['/etc/ld.so.conf', 'r'],
  ['/etc/ld.so.conf.d', 'r'],
  ['/etc/passwd', 'r'],
  ['/etc/group', 'r'],
  ['/etc/nsswitch.conf', 'r'],
  ['/etc/hosts', 'r'],
  ['/etc/resolv.conf', 'r'],
  ['/etc/localtime', 'r'],
  ['/etc/ssl', 'r'],
  ['/etc/ca-certificates', 'r'],
  ['/proc', 'r'],
  ['/sys/devices/system/cpu', 'r'],
  ['/dev/urandom', 'r'],
  ['/dev/random', 'r'],
  ['/dev/null', 'rw'],
  ['/dev/zero', 'rw'],
  ['/dev/full', 'rw'],
  ['/dev/tty', 'rw'],
];
const BOOTSTRAP_EXECUTE = ['/usr', '/bin', '/sbin', '/lib', '/lib64', '/lib32'];

/** What of /dev a read grant on / or /dev keeps: devices programs open every day that reach no one else's
 *  input or data (the agent's own terminal is /dev/tty). Not /dev/fd and /dev/std*: symlinks into
 *  /proc/self, which Landlock would resolve once, in the supervisor; a reopen through /proc/self/fd is
 *  checked against the file it reaches. */
export const DEV_EVERYDAY = ['null', 'zero', 'full', 'random', 'urandom', 'tty', 'shm', 'mqueue'];

export interface CompileFilesystemOptions {
  env: VariableEnv;
  /** For tests: whether a bootstrap path exists. */
  exists?: (path: string) => boolean;
  /** For tests: the entries of a directory (/ when a read grant on / is split). */
  readdir?: (path: string) => string[];
}

export interface CompiledGrant {
  grant: Grant | null;
  diagnostics: Diagnostic[];
}

/** Compile one glob to the grant Landlock can express. */
export function globToGrant(src: GlobSource, rights: string, env: VariableEnv): CompiledGrant {
  const diagnostics: Diagnostic[] = [];
  const diag = (severity: Diagnostic['severity'], code: DiagnosticCode, message: string): void => {
    // Read only for a diagnostic: finding the glob's place in the file costs a position index (load.ts).
    const at = src.at ?? { file: `(${src.origin})`, line: 1, column: 1 };
    diagnostics.push({ severity, code, message, ...at, file: at.file });
  };
  const expanded = expandVariables(src.glob);
  for (const name of expanded.unset(env)) {
    diag('error', 'unset-variable', `\${${name}} in '${src.glob}' is not set in the environment; set it or write the path out`);
  }
  if (diagnostics.length) return { grant: null, diagnostics };
  const glob = expanded.expand(env);
  if (!glob.startsWith('/')) {
    diag('error', 'not-absolute', `'${glob}' is not an absolute path; filesystem globs must start with '/' (or \${VAR} that expands to one)`);
    return { grant: null, diagnostics };
  }
  if (glob.split('/').includes('..')) {
    diag('error', 'dotdot-glob', `'${glob}' contains '..'; write the path without it so the grant is unambiguous`);
    return { grant: null, diagnostics };
  }
  const scan = picomatch.scan(glob);
  let path: string;
  let widened = false;
  if (!scan.isGlob) {
    path = glob;
  } else {
    path = scan.base || '/';
    widened = !(scan.glob === '**' || scan.glob === '**/*');
  }
  path = normalizeGrantPath(path);
  if (widened) {
    diag('warning', 'widened-glob', `'${src.glob}' is granted as all of ${path} (Landlock grants whole directories); split the glob or list literal paths for a narrower grant`);
  }
  return { grant: { path, rights, source: `${src.origin} ${src.glob}`, widened }, diagnostics };
}

function normalizeGrantPath(p: string): string {
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  return '/' + parts.join('/');
}

export function compileFilesystemSpec(
  spec: FilesystemSpec,
  cli: CliGrants,
  options: CompileFilesystemOptions,
): { filesystem: FilesystemPolicy; diagnostics: Diagnostic[] } {
  const exists = options.exists ?? existsSync;
  const cliSources = (list: string[] | undefined, origin: string): GlobSource[] =>
    (list ?? []).map((glob) => ({ glob, origin }));
  const cliRead = cliSources(cli.read, '--read');
  const cliWrite = cliSources(cli.write, '--write');
  const cliAllow = cliSources(cli.allow, '--allow');
  const enabled = spec.present || cliRead.length + cliWrite.length + cliAllow.length > 0;
  const diagnostics: Diagnostic[] = [];
  const grants: Grant[] = [];
  if (!enabled) return { filesystem: { enabled: false, grants: [], handled: '', requireEnforced: spec.requireEnforced }, diagnostics };
  const createDirs: string[] = [];
  for (const src of spec.createDirs ?? []) {
    const r = globToGrant(src, 'w', options.env);
    const problem = r.diagnostics.find((d) => d.severity === 'error');
    if (problem) diagnostics.push(problem);
    else if (r.grant && !r.grant.widened && !/[*?[\]{}]/.test(r.grant.path)) createDirs.push(r.grant.path);
    else diagnostics.push({ severity: 'error', code: 'bad-value', message: `create_dirs: '${src.glob}' must be a directory path, not a glob`, ...(src.at ?? { file: `(${src.origin})`, line: 1, column: 1 }) });
  }

  const handled = spec.executePresent ? 'rwx' : 'rw';
  const add = (sources: GlobSource[], rights: string): void => {
    for (const src of sources) {
      const r = globToGrant(src, rights, options.env);
      diagnostics.push(...r.diagnostics);
      if (r.grant) grants.push(r.grant);
    }
  };
  if (!spec.noBootstrapReads) {
    for (const [path, rights] of BOOTSTRAP) {
      if (!exists(path)) continue;
      const x = spec.executePresent && BOOTSTRAP_EXECUTE.includes(path) ? 'x' : '';
      grants.push({ path, rights: rights + x, source: 'bootstrap', widened: false });
    }
  }
  add(spec.read, 'r');
  add(spec.write, 'w');
  add(spec.allow, 'rw');
  add(spec.execute, 'x');
  add(cliRead, 'r');
  add(cliWrite, 'w');
  add(cliAllow, 'rw');
  const merged = mergeGrants(excludeOtherDevices(mergeGrants(grants), options.readdir ?? readdirOrEmpty, exists));
  return {
    filesystem: { enabled: true, ...unhandleGrantedEverywhere(merged, handled), requireEnforced: spec.requireEnforced, ...(createDirs.length ? { createDirs } : {}) },
    diagnostics,
  };
}

function readdirOrEmpty(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

/**
 * A read grant on / or /dev does not reach the rest of /dev (see the top of this file): its right to read
 * files moves to each entry of / but /dev, and to the everyday devices of /dev; listing directories ('l')
 * stays where it was. Other rights stay where they were
 * (write on / still means writes are not sealed). Landlock then handles reads (a path walk per open up to
 * the nearest granted directory).
 */
function excludeOtherDevices(grants: Grant[], readdir: (path: string) => string[], exists: (path: string) => boolean): Grant[] {
  const out: Grant[] = [];
  // The pieces go after every other grant, so that merging keeps the policy's order of paths.
  const pieces: Grant[] = [];
  for (const g of grants) {
    if ((g.path !== '/' && g.path !== '/dev') || !g.rights.includes('r')) {
      out.push(g);
      continue;
    }
    // Listing directories stays granted where it was (/dev/pts's names are no one's input).
    out.push({ ...g, rights: g.rights.replace('r', 'l') });
    const source = `${g.source} (all but /dev)`;
    if (g.path === '/') {
      for (const name of readdir('/').sort()) {
        if (name !== 'dev') pieces.push({ path: `/${name}`, rights: 'r', source, widened: g.widened, everywhere: true });
      }
    }
    for (const name of DEV_EVERYDAY) {
      if (exists(`/dev/${name}`)) pieces.push({ path: `/dev/${name}`, rights: 'r', source: `${g.source} (everyday devices of /dev)`, widened: g.widened, ...(g.path === '/' ? { everywhere: true } : {}) });
    }
  }
  return [...out, ...pieces];
}

/**
 * A right granted on `/` allows it everywhere, so Landlock need not handle it at all: the sealing is the same,
 * and an access right that is not handled is never checked (no path walk on every open). With the default
 * policy's `read_globs = ["/**"]` this takes Landlock off every read — `find /usr` or a compiler opening
 * headers — while writes stay sealed.
 */
function unhandleGrantedEverywhere(grants: Grant[], handled: string): { grants: Grant[]; handled: string } {
  const root = grants.find((g) => g.path === '/');
  if (!root) return { grants, handled };
  const everywhere = [...handled].filter((c) => root.rights.includes(c));
  if (everywhere.length === 0) return { grants, handled };
  const keep = (rights: string): string => [...rights].filter((c) => !everywhere.includes(c)).join('');
  return {
    handled: keep(handled),
    grants: grants.map((g) => ({ ...g, rights: keep(g.rights) })).filter((g) => g.rights !== ''),
  };
}

/** One grant per path, rights united, so the supervisor gets a minimal list. */
function mergeGrants(grants: Grant[]): Grant[] {
  const byPath = new Map<string, Grant>();
  for (const g of grants) {
    const prev = byPath.get(g.path);
    if (!prev) {
      byPath.set(g.path, { ...g });
      continue;
    }
    prev.rights = ['r', 'w', 'x', 'l'].filter((c) => prev.rights.includes(c) || g.rights.includes(c)).join('');
    if (prev.rights.includes('r')) prev.rights = prev.rights.replace('l', ''); // r lists directories too
    prev.source = `${prev.source}, ${g.source}`;
    prev.widened = prev.widened || g.widened;
    if (prev.everywhere && !g.everywhere && g.rights.includes('r')) delete prev.everywhere; // also granted by name
  }
  return [...byPath.values()];
}

export function compileNetworkSpec(spec: NetworkSpec): NetworkPolicy {
  return {
    enabled: spec.present,
    connectTcpPorts: [...new Set(spec.connectTcpPorts)].sort((a, b) => a - b),
    bindTcpPorts: [...new Set(spec.bindTcpPorts)].sort((a, b) => a - b),
    requireEnforced: spec.requireEnforced,
    ...(spec.present ? { dns: spec.dns ?? false, dnsServers: spec.dns ? [...(spec.dnsServers ?? [])] : [] } : {}),
  };
}

/** Paths the agent can write under this filesystem policy (for trust decisions and HASH_UNDER). */
export function writableRoots(fs: FilesystemPolicy): string[] {
  if (!fs.enabled || !fs.handled.includes('w')) return ['/'];
  return fs.grants.filter((g) => g.rights.includes('w')).map((g) => g.path);
}

export function isUnder(path: string, root: string): boolean {
  if (root === '/') return path.startsWith('/');
  return path === root || (path.startsWith(root) && path.charCodeAt(root.length) === 47);
}
