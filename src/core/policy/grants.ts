// Landlock grants of a loaded policy plus command-line grants, and the paths the supervisor hashes under.
import type { Diagnostic, FilesystemPolicy, NetworkPolicy, Policy } from './types';
import { policyInternals } from './load';
import { compileFilesystemSpec, compileNetworkSpec, writableRoots, type CliGrants } from './landlock';

/**
 * The Landlock grants for a loaded policy plus command-line grants (-r/-w/-a), which add to the policy's.
 * Diagnostics (widened or bad CLI globs) point at '(--read)' etc. when they come from the command line.
 */
export function compileFilesystem(
  policy: Policy,
  cli: CliGrants = {},
  options: { exists?: (path: string) => boolean } = {},
): { filesystem: FilesystemPolicy; network: NetworkPolicy; diagnostics: Diagnostic[] } {
  const p = policyInternals(policy);
  const fs = compileFilesystemSpec(p.fsSpec, cli, { env: p.env, ...options });
  return { filesystem: fs.filesystem, network: compileNetworkSpec(p.netSpec), diagnostics: fs.diagnostics };
}

/** Directories under which the supervisor should hash executables (HASH_UNDER, docs/protocol.md). */
export function hashUnderPaths(filesystem: FilesystemPolicy): string[] {
  return writableRoots(filesystem);
}

