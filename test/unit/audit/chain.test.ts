// The audit log's hash chain (audit-log.ts) and its offline verification (verify.ts), on real files.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog, chainHeadFile, GENESIS, lineHash, readChainHead } from '../../../src/core/audit/audit-log';
import type { AuditRecord } from '../../../src/core/audit/records';
import { verifyAuditLog } from '../../../src/core/audit/verify';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chain-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const rec = (i: number, exitCode = 0): AuditRecord => ({ type: 'outcome', time: `t${i}`, session: 's', request: i, exit_code: exitCode, signal: null });
const linesOf = (f: string): string[] => fs.readFileSync(f, 'utf8').split('\n').filter(Boolean);
const parsed = (l: string | undefined): { prev?: string; request?: number } => JSON.parse(l ?? '{}') as { prev?: string; request?: number };

function writeLog(n: number, name = 'a.jsonl'): { file: string; head: { head: string; size: number } } {
  const file = path.join(dir, name);
  const log = AuditLog.open(file);
  for (let i = 1; i <= n; i++) log.write(rec(i));
  const head = log.head;
  log.close();
  return { file, head };
}

describe('the chain', () => {
  it('each line ends with "prev", the sha256 of the line before (64 zeros for the first)', () => {
    const { file, head } = writeLog(3);
    const ls = linesOf(file);
    expect(parsed(ls[0]).prev).toBe(GENESIS);
    expect(parsed(ls[1]).prev).toBe(lineHash(ls[0] as string));
    expect(parsed(ls[2]).prev).toBe(lineHash(ls[1] as string));
    expect(ls[2]).toMatch(/,"prev":"[0-9a-f]{64}"\}$/);
    expect(head).toEqual({ head: lineHash(ls[2] as string), size: fs.statSync(file).size });
  });

  it('a log opened again goes on from its last line; deferred records are chained in order', () => {
    const { file } = writeLog(2);
    const log = AuditLog.open(file);
    log.append(rec(3));
    log.write(rec(4));
    log.close();
    const ls = linesOf(file);
    expect(ls.map((l) => parsed(l).request)).toEqual([1, 2, 3, 4]);
    expect(verifyAuditLog(file).ok).toBe(true);
  });

  it('a partial last line (a write cut short) is cut off when the log is opened, and said', () => {
    const { file } = writeLog(2);
    fs.appendFileSync(file, '{"type":"decision","half');
    const log = AuditLog.open(file);
    expect(log.repairs).toEqual([`the audit log ${file} ended in a partial line (24 bytes, a write cut short): it was removed`]);
    log.write(rec(3));
    log.close();
    expect(verifyAuditLog(file)).toMatchObject({ ok: true, lines: 3 });
  });

  it('resume() takes the log back after another writer (the supervisor) appended to it', () => {
    const file = path.join(dir, 'b.jsonl');
    const log = AuditLog.open(file);
    log.write(rec(1));
    const other = JSON.stringify({ ...rec(2), prev: lineHash(linesOf(file)[0] as string) });
    fs.appendFileSync(file, `${other}\n`);
    log.resume();
    log.write(rec(3));
    log.close();
    expect(verifyAuditLog(file).ok).toBe(true);
  });

  it('saveHead keeps the head where verify looks for it', () => {
    const file = path.join(dir, 'c.jsonl');
    const log = AuditLog.open(file);
    log.write(rec(1));
    const hf = chainHeadFile(path.join(dir, 'heads'), file);
    expect(log.saveHead(hf)).toBeNull();
    log.close();
    const head = readChainHead(hf);
    expect(head).toMatchObject({ log: file, head: lineHash(linesOf(file)[0] as string), size: fs.statSync(file).size });
    expect(fs.statSync(path.dirname(hf)).mode & 0o777).toBe(0o700);
    expect(verifyAuditLog(file, head)).toMatchObject({ ok: true, headChecked: true });
  });
});

describe('verifyAuditLog', () => {
  const edit = (file: string, f: (ls: string[]) => string[]): void => fs.writeFileSync(file, f(linesOf(file)).map((l) => `${l}\n`).join(''));

  it('finds the first broken line: a rewrite, a deletion, a swap', () => {
    const { file } = writeLog(5);
    const copy = (name: string): string => {
      const p = path.join(dir, name);
      fs.copyFileSync(file, p);
      return p;
    };
    const rewritten = copy('r');
    edit(rewritten, (ls) => ls.map((l, i) => (i === 1 ? l.replace('"exit_code":0', '"exit_code":1') : l)));
    expect(verifyAuditLog(rewritten).problem?.message).toContain('line 3 does not follow line 2');
    expect(verifyAuditLog(rewritten).problem?.line).toBe(3);
    const deleted = copy('d');
    edit(deleted, (ls) => ls.filter((_, i) => i !== 2));
    expect(verifyAuditLog(deleted).problem?.line).toBe(3);
    const swapped = copy('s');
    edit(swapped, (ls) => [ls[0], ls[2], ls[1], ls[3], ls[4]] as string[]);
    expect(verifyAuditLog(swapped).problem?.line).toBe(2);
    const headless = copy('h');
    edit(headless, (ls) => ls.slice(1));
    expect(verifyAuditLog(headless).problem?.line).toBe(1);
    expect(verifyAuditLog(headless).problem?.message).toContain('lines before it were removed');
  });

  it('a line that is not JSON, has no prev, or is cut short', () => {
    const { file } = writeLog(2);
    fs.appendFileSync(file, 'garbage\n');
    expect(verifyAuditLog(file).problem).toEqual({ line: 3, message: 'not a JSON record' });
    const { file: f2 } = writeLog(1, 'noprev.jsonl');
    fs.appendFileSync(f2, '{"type":"outcome"}\n');
    expect(verifyAuditLog(f2).problem?.message).toContain('has no "prev"');
    const f3 = path.join(dir, 'cut.jsonl');
    fs.writeFileSync(f3, `${JSON.stringify({ a: 1, prev: GENESIS })}\n{"a":2`);
    expect(verifyAuditLog(f3).problem?.message).toContain('incomplete last line');
  });

  it('against the head: a log cut short, one with lines added, one rewritten whole with a fresh chain', () => {
    const { file, head } = writeLog(4);
    const h = { log: file, time: 0, ...head };
    expect(verifyAuditLog(file, h).ok).toBe(true);
    const original = fs.readFileSync(file, 'utf8');
    edit(file, (ls) => ls.slice(0, 3));
    expect(verifyAuditLog(file).ok).toBe(true); // alone, the chain cannot tell
    expect(verifyAuditLog(file, h).problem?.message).toContain('lines at the end were removed');
    fs.writeFileSync(file, original);
    const log = AuditLog.open(file);
    log.write(rec(5));
    log.close();
    expect(verifyAuditLog(file, h).problem).toMatchObject({ line: 5, message: '1 line(s) after the recorded end of the log: added afterwards' });
    // A fresh chain with one record changed: consistent, but not the log whose head was kept.
    fs.rmSync(file);
    const forged = AuditLog.open(file);
    for (let i = 1; i <= 4; i++) forged.write(rec(i, i === 2 ? 9 : 0));
    forged.close();
    expect(verifyAuditLog(file).ok).toBe(true);
    expect(verifyAuditLog(file, h).problem?.message).toContain('the log was rewritten');
  });

  it('reads a log larger than its read buffer (lines across chunks)', () => {
    const file = path.join(dir, 'big.jsonl');
    const log = AuditLog.open(file);
    for (let i = 0; i < 3000; i++) log.write({ type: 'outcome', time: 't', session: 'x'.repeat(500 + (i % 7)), request: i, exit_code: 0, signal: null });
    const head = { log: file, time: 0, ...log.head };
    log.close();
    expect(fs.statSync(file).size).toBeGreaterThan(1 << 20);
    expect(verifyAuditLog(file, head)).toMatchObject({ ok: true, lines: 3000 });
  });
});
