// Offline verification of an audit log's chain (`agent-gate audit verify FILE`; the extension uses the same).
// Each line's "prev" must be the sha256 of the line before it (GENESIS for the first): a line rewritten
// ("denied" made "approved by the user"), removed or moved breaks the chain at the line after it. A log cut
// short, or rewritten whole with a recomputed chain, still chains: the head kept outside the log (the head
// file) tells them apart — the log must end at the recorded size with the recorded hash.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { GENESIS, type ChainHead } from './audit-log';

export interface VerifyProblem {
  /** 1-based line number (0: about the file as a whole). */
  line: number;
  message: string;
}

export interface VerifyResult {
  ok: boolean;
  file: string;
  /** Whole lines read. */
  lines: number;
  /** sha256 of the last whole line (GENESIS for an empty log). */
  head: string;
  size: number;
  /** The first problem, when not ok. */
  problem: VerifyProblem | null;
  /** Whether the log was checked against a recorded head (else a log cut short cannot be told apart). */
  headChecked: boolean;
}

/**
 * Verify the chain of `file` and, when `head` is given, that the log ends where the head says. Reads the log
 * in chunks (logs can be large). Throws only when the file cannot be read.
 */
export function verifyAuditLog(file: string, head: ChainHead | null = null): VerifyResult {
  const fd = fs.openSync(file, 'r');
  const chunk = Buffer.allocUnsafe(1 << 20);
  let carry: Buffer[] = [];
  let carryLen = 0;
  let offset = 0; // bytes of whole lines read so far
  let lineNo = 0;
  let prevHash = GENESIS;
  let problem: VerifyProblem | null = null;
  let headAt: { line: number; ok: boolean } | null = null;

  const checkLine = (bytes: Buffer): void => {
    lineNo++;
    const start = offset;
    offset += bytes.length + 1;
    const hash = createHash('sha256').update(bytes).digest('hex');
    if (!problem) {
      let rec: unknown;
      try {
        rec = JSON.parse(bytes.toString('utf8'));
      } catch {
        problem = { line: lineNo, message: 'not a JSON record' };
      }
      if (!problem) {
        const prev = (rec as { prev?: unknown } | null)?.prev;
        if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) problem = { line: lineNo, message: 'not a JSON object' };
        else if (typeof prev !== 'string') problem = { line: lineNo, message: 'has no "prev" (not chained: written by an older Agent Gate, or added by hand)' };
        else if (prev !== prevHash) {
          problem =
            lineNo === 1
              ? { line: 1, message: 'the chain does not start here (the first line\'s "prev" is not the start value): lines before it were removed' }
              : { line: lineNo, message: `the chain breaks here: line ${lineNo} does not follow line ${lineNo - 1} (line ${lineNo - 1} was changed, or lines between them were removed or moved)` };
        }
      }
    }
    if (head && start + bytes.length + 1 === head.size) headAt = { line: lineNo, ok: hash === head.head };
    prevHash = hash;
  };

  try {
    for (;;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      let from = 0;
      for (;;) {
        const nl = chunk.indexOf(0x0a, from);
        if (nl < 0 || nl >= n) break;
        const piece = chunk.subarray(from, nl);
        if (carryLen > 0) {
          carry.push(piece);
          checkLine(Buffer.concat(carry, carryLen + piece.length));
          carry = [];
          carryLen = 0;
        } else {
          checkLine(piece);
        }
        from = nl + 1;
      }
      if (from < n) {
        carry.push(Buffer.from(chunk.subarray(from, n)));
        carryLen += n - from;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  const result = (p: VerifyProblem | null): VerifyResult => ({
    ok: p === null,
    file,
    lines: lineNo,
    head: prevHash,
    size: offset,
    problem: p,
    headChecked: head !== null,
  });
  if (problem) return result(problem);
  if (carryLen > 0) return result({ line: lineNo + 1, message: `incomplete last line (${carryLen} bytes without a newline: a write cut short, or an edit)` });
  if (head) {
    const at = headAt as { line: number; ok: boolean } | null;
    if (offset < head.size) {
      return result({ line: lineNo, message: `the log ends ${head.size - offset} bytes before its recorded end (${head.size} bytes): lines at the end were removed` });
    }
    if (!at) return result({ line: 0, message: 'no line ends where the recorded head says the log ended: the log was rewritten' });
    if (!at.ok) return result({ line: at.line, message: 'the line where the log ended does not have the recorded hash: the log was rewritten' });
    if (offset > head.size) return result({ line: at.line + 1, message: `${lineNo - at.line} line(s) after the recorded end of the log: added afterwards` });
  }
  return result(null);
}
