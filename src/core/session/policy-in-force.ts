// Which policy text running sessions decide by, for "Compare with the policy in force" in the editor.
// A session notes its text here when it starts (sessions in this process: the extension host's guarded
// terminals) and, for sessions in other processes (`agent-gate run` in any terminal), leaves a copy named
// by its sha256 next to its audit log: the start record names that sha256, so a reader of the logs finds
// the text even after the file on disk was edited. The copy lives with the log, outside the agent's reach.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface PolicyInForce {
  session: string;
  /** The policy file the session loaded ('' for a built-in default). */
  policyFile: string;
  sha256: string;
  text: string;
  /** ISO time the session started. */
  started: string;
  /** 'process': a session of this process; 'audit-log': found in a log without an end record. */
  source: 'process' | 'audit-log';
}

const live = new Map<string, PolicyInForce>();

export function sha256Text(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A session of this process decides by `text` (from now, until forgotten). */
export function notePolicyInForce(session: string, policyFile: string, text: string, started = new Date().toISOString()): void {
  live.set(session, { session, policyFile, sha256: sha256Text(text), text, started, source: 'process' });
}

export function forgetPolicyInForce(session: string): void {
  live.delete(session);
}

/** `policy-SHA256.toml` beside the audit log. */
export function policySnapshotPath(auditFile: string, sha256: string): string {
  return path.join(path.dirname(auditFile), `policy-${sha256}.toml`);
}

/** Leave a copy of the policy text beside the audit log (once per distinct text). Best effort: returns the
 *  error message when it could not be written (the session still runs; only the comparison lacks it). */
export function savePolicySnapshot(auditFile: string, text: string): string | null {
  const file = policySnapshotPath(auditFile, sha256Text(text));
  try {
    if (fs.existsSync(file)) return null;
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, text, { mode: 0o600 });
    fs.renameSync(tmp, file);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

interface StartOrEnd {
  type?: string;
  event?: string;
  session?: string;
  time?: string;
  policy_file?: string;
  policy_sha256?: string;
}

/**
 * Policies in force: this process's sessions, then sessions found in `auditFiles` that started and have
 * no end record yet (newest log first), whose text is known (a snapshot beside the log). Logs older than
 * `maxAgeMs` (default a day) are not read: a session that died without an end record is not "running".
 */
export function policiesInForce(auditFiles: readonly string[], options: { maxAgeMs?: number; now?: number } = {}): PolicyInForce[] {
  const out = [...live.values()];
  const seen = new Set(out.map((p) => p.session));
  const cutoff = (options.now ?? Date.now()) - (options.maxAgeMs ?? 24 * 3600_000);
  const files = auditFiles
    .map((f) => ({ f, m: mtime(f) }))
    .filter((x) => x.m >= cutoff)
    .sort((a, b) => b.m - a.m);
  for (const { f } of files) {
    let text: string;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    const starts = new Map<string, StartOrEnd>();
    for (const line of text.split('\n')) {
      if (!line.includes('"session"') || !line.includes('"event"')) continue;
      let rec: StartOrEnd;
      try {
        rec = JSON.parse(line) as StartOrEnd;
      } catch {
        continue;
      }
      if (rec.type !== 'session' || !rec.session) continue;
      if (rec.event === 'start') starts.set(rec.session, rec);
      else if (rec.event === 'end') starts.delete(rec.session);
    }
    for (const rec of starts.values()) {
      if (seen.has(rec.session as string) || !rec.policy_sha256) continue;
      let policyText: string;
      try {
        policyText = fs.readFileSync(policySnapshotPath(f, rec.policy_sha256), 'utf8');
      } catch {
        continue;
      }
      seen.add(rec.session as string);
      out.push({ session: rec.session as string, policyFile: rec.policy_file ?? '', sha256: rec.policy_sha256, text: policyText, started: rec.time ?? '', source: 'audit-log' });
    }
  }
  return out;
}

function mtime(file: string): number {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return -Infinity;
  }
}
