// `agent-gate audit verify FILE…`: check an audit log's hash chain offline, and that it ends where its head
// file (kept in the state directory, out of the agent's reach) says. Exit 0 when every log is intact, 1 with the
// first broken line of each that is not (FILE:LINE: what), 2 on bad usage or an unreadable file.
import * as path from 'node:path';
import { chainHeadFile, readChainHead, type ChainHead } from '../core/audit/audit-log';
import { defaultAuditDirectory, defaultHeadDirectory } from '../core/audit/paths';
import { verifyAuditLog } from '../core/audit/verify';

export const AUDIT_USAGE = `Usage: agent-gate audit verify [--heads DIR] [--head HEX:SIZE] FILE…

Check that an audit log was not changed: every line must carry the hash of the line before it, and the log
must end where its head file (kept outside the agent's reach) says it ended. Exit 0 when every log is intact,
1 when one is not (the first broken line is named: FILE:LINE: what), 2 on bad usage or an unreadable file.

  --heads DIR        where the head files are (default: \${XDG_STATE_HOME:-~/.local/state}/agent-gate/heads)
  --head HEX:SIZE    check against this head instead (the end record's hash and the log's size)
`;

export function runAudit(args: string[]): number {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    process.stdout.write(AUDIT_USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'verify') {
    process.stderr.write(`agent-gate audit: unknown command '${sub}'\n\n${AUDIT_USAGE}`);
    return 2;
  }
  let heads = defaultHeadDirectory(defaultAuditDirectory());
  let given: { head: string; size: number } | null = null;
  const files: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i] as string;
    if (a === '--help' || a === '-h') {
      process.stdout.write(AUDIT_USAGE);
      return 0;
    }
    if (a === '--heads' || a === '--head') {
      const v = rest[++i];
      if (v === undefined) {
        process.stderr.write(`agent-gate audit verify: ${a} needs a value\n`);
        return 2;
      }
      if (a === '--heads') heads = path.resolve(v);
      else {
        const m = /^([0-9a-f]{64}):(\d+)$/.exec(v);
        if (!m) {
          process.stderr.write('agent-gate audit verify: --head must be HEX:SIZE (64 hex digits, a colon, the size in bytes)\n');
          return 2;
        }
        given = { head: m[1] as string, size: Number(m[2]) };
      }
      continue;
    }
    files.push(a);
  }
  if (files.length === 0) {
    process.stderr.write(`agent-gate audit verify: no log given\n\n${AUDIT_USAGE}`);
    return 2;
  }
  let worst = 0;
  for (const f of files) {
    const file = path.resolve(f);
    let head: ChainHead | null;
    try {
      head = given ? { log: file, head: given.head, size: given.size, time: 0 } : readChainHead(chainHeadFile(heads, file));
    } catch (e) {
      process.stderr.write(`${file}: cannot read its head file: ${(e as Error).message}\n`);
      worst = Math.max(worst, 2);
      continue;
    }
    let r;
    try {
      r = verifyAuditLog(file, head);
    } catch (e) {
      process.stderr.write(`${file}: cannot read: ${(e as Error).message}\n`);
      worst = Math.max(worst, 2);
      continue;
    }
    if (!r.ok && r.problem) {
      process.stdout.write(`${file}:${r.problem.line}: ${r.problem.message}\n`);
      worst = Math.max(worst, 1);
      continue;
    }
    const against = head ? `, ends at its recorded head` : '';
    process.stdout.write(`${file}: ok, ${r.lines} records, chain intact${against} (last hash ${r.head.slice(0, 16)}…)\n`);
    if (!head) process.stderr.write(`${file}: warning: no head file in ${heads}: a log cut short or rewritten whole cannot be told apart\n`);
  }
  return worst;
}
