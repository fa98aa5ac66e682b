// Where a front end's audit logs go when its preferred place is one the agent may write (the audit log must
// be out of the agent's reach, checkAuditPlacement): the first candidate directory outside the write grants.
// VS Code prefers the extension's storage; a profile kept under /tmp (as tests run code-server) is inside
// the default policy's /tmp/** grant, so the CLI's state directory is the next choice.
import * as path from 'node:path';
import type { FilesystemPolicy } from '../policy/types';
import { checkAuditPlacement } from './session';

export interface AuditPlace {
  /** The directory chosen, or null when every candidate is writable by the agent. */
  dir: string | null;
  /** Candidates passed over, and why (the core's words). */
  skipped: { dir: string; why: string }[];
}

export function chooseAuditDirectory(candidates: readonly string[], fsPolicy: FilesystemPolicy): AuditPlace {
  const skipped: { dir: string; why: string }[] = [];
  for (const dir of candidates) {
    try {
      checkAuditPlacement(path.join(dir, 'audit-probe.jsonl'), fsPolicy);
      return { dir, skipped };
    } catch (e) {
      skipped.push({ dir, why: (e as Error).message });
    }
  }
  return { dir: null, skipped };
}
