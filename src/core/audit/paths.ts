// Where audit logs live. One rule for every front end: the CLI keeps them under the XDG state directory,
// the extension under its own storage; either way one file per session, named by the session id, outside
// the workspace (session.ts refuses a log inside a write grant).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const PREFIX = 'audit-';
const SUFFIX = '.jsonl';

/** `${XDG_STATE_HOME:-~/.local/state}/agent-gate`: the CLI's audit directory. A relative XDG_STATE_HOME is
 *  ignored, as the XDG spec says. */
export function defaultAuditDirectory(env: NodeJS.ProcessEnv = process.env, home: string = os.homedir()): string {
  const state = env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : path.join(home, '.local', 'state');
  return path.join(state, 'agent-gate');
}

/** Where the chain heads of the logs in `auditDir` are kept (the hash each log must end with; audit-log.ts). The
 *  same directory tree as the logs: outside the workspace and every write grant. */
export function defaultHeadDirectory(auditDir: string = defaultAuditDirectory()): string {
  return path.join(auditDir, 'heads');
}

/** The log file of one session in `dir` (default: defaultAuditDirectory()). */
export function auditPathFor(sessionId: string, dir: string = defaultAuditDirectory()): string {
  return path.join(dir, `${PREFIX}${sessionId}${SUFFIX}`);
}

/** The session id an audit log's file name carries, or null when the name is not one of ours. */
export function sessionIdOfAuditFile(file: string): string | null {
  const name = path.basename(file);
  if (!name.startsWith(PREFIX) || !name.endsWith(SUFFIX)) return null;
  const id = name.slice(PREFIX.length, -SUFFIX.length);
  return id.length > 0 ? id : null;
}

export interface AuditLogFile {
  file: string;
  sessionId: string;
  mtimeMs: number;
  size: number;
}

/** The audit logs in `dir`, newest first (an unreadable or missing directory has none). */
export function listAuditLogs(dir: string): AuditLogFile[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: AuditLogFile[] = [];
  for (const name of names) {
    const sessionId = sessionIdOfAuditFile(name);
    if (!sessionId) continue;
    try {
      const st = fs.statSync(path.join(dir, name));
      if (st.isFile()) out.push({ file: path.join(dir, name), sessionId, mtimeMs: st.mtimeMs, size: st.size });
    } catch {
      // removed meanwhile
    }
  }
  return out.sort((a, b) => b.mtimeMs - a.mtimeMs);
}
