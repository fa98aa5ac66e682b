// The records the supervisor writes itself for cached verdicts (RECORD lines, docs/protocol.md) must be the
// records the broker would have built: the same fields in the same order, the same text for arbitrary bytes,
// the same redaction. Each program runs twice with the same argv in the same directory, through the real CLI:
// the first exec is decided by the policy engine and recorded by TypeScript (buildDecisionRecord), the second
// is answered from the supervisor's identity cache and recorded in C. The two records must agree, and each
// log line must be exactly what JSON.stringify writes for it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecisionRecord } from '../../src/core/audit/records';
import { redactArgv, redactText } from '../../src/core/audit/redact';
import { bytesToText } from '../../src/core/exec/facts';
import { denyCurlPolicy, makeDirs, prepare, prog, runCli, type CliRun } from './gate-progs/cli';

const CURL = '/usr/bin/curl';

/** Fields that differ between two execs of the same command (prev: the chain link to the line before). */
const VOLATILE = new Set(['time', 'request', 'pid', 'ppid', 'tid', 'latency_us', 'cached', 'prev']);
const stable = (r: DecisionRecord): [string, unknown][] => Object.entries(r).filter(([k]) => !VOLATILE.has(k));

/** Arguments no text encoding would survive by accident. */
const ODD_ARGS: Buffer[] = [
  Buffer.from(Array.from({ length: 255 }, (_, i) => i + 1)), // every byte value but NUL
  Buffer.from([0xc0, 0x80]), // overlong NUL
  Buffer.from([0xe0, 0x80, 0xaf]), // overlong '/'
  Buffer.from([0xed, 0xa0, 0x80]), // a UTF-16 surrogate encoded as UTF-8
  Buffer.from([0xf4, 0x90, 0x80, 0x80]), // past U+10FFFF
  Buffer.from([0xe2, 0x82]), // a sequence cut short
  Buffer.from([0x80, 0xbf, 0xfe, 0xff]), // bytes that start nothing
  Buffer.from('é ✓ 𝄞 \u2028 \u2029 \u007f \u0085 \ufeff', 'utf8'),
  Buffer.from('quote " backslash \\ tab \t newline \n cr \r bell \x07 esc \x1b'),
  Buffer.from('"},"verdict":"deny","cwd":"/"}'), // a record's own syntax
  Buffer.from(''),
];

/** argv of a denied program, with secrets of several kinds. */
const SECRET_ARGS = [
  'curl',
  '-H',
  'Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123456789',
  '--password',
  'hunter2hunter2',
  'https://user:s3cretpassw0rd@example.com/x',
  'sk-abcdefghijklmnopqrstuvwxyz012345',
  'password=correct-horse-battery',
];

const ODD_DIR = Buffer.concat([Buffer.from('odd-'), Buffer.from([0xff, 0x22, 0x5c, 0x0a, 0x09, 0x01]), Buffer.from('\u2028é-end', 'utf8')]);
const SECRET_DIR = 'api_key=0123456789abcdef0123';

const hex = (b: Buffer): string => b.toString('hex');
/** A bash printf format that prints these bytes. */
const printfBytes = (b: Buffer): string => [...b].map((c) => `\\x${c.toString(16).padStart(2, '0')}`).join('');

let dirs: ReturnType<typeof makeDirs>;
let run: CliRun;
let lines: string[];
let ws: string;

beforeAll(async () => {
  await prepare();
  if (!fs.existsSync(CURL)) throw new Error(`${CURL} is missing: install it (apt-get install -y curl); the test only execs it, it is denied`);
  dirs = makeDirs('records');
  ws = fs.realpathSync(dirs.ws);
  fs.writeFileSync(path.join(ws, '.gate.toml'), denyCurlPolicy());
  fs.mkdirSync(Buffer.concat([Buffer.from(`${ws}/`), ODD_DIR]));
  fs.mkdirSync(path.join(ws, SECRET_DIR));
  const echo = `${prog('argvbytes')} /bin/echo ${ODD_ARGS.map((b) => `'${hex(b)}'`).join(' ')} > /dev/null`;
  const plainCurl = `${prog('argvbytes')} ${CURL} ${hex(Buffer.from('--version'))} > /dev/null`;
  const curl = `${prog('argvbytes')} ${CURL} ${SECRET_ARGS.map((a) => hex(Buffer.from(a))).join(' ')} > /dev/null`;
  // The odd directory's name is not UTF-8 (no JavaScript string holds it): bash's printf makes it.
  const script = [`cd "$(printf '${printfBytes(ODD_DIR)}')"`, echo, echo, `${plainCurl}; ${plainCurl}; true`, `cd ../${SECRET_DIR}`, `${curl}; ${curl}; true`].join('\n');
  run = await runCli(['bash', '-c', script], { audit: dirs.audit('records'), cwd: ws, env: { AGENT_GATE_DEBUG: '1' } });
  lines = fs.readFileSync(dirs.audit('records'), 'utf8').split('\n').filter((l) => l.length > 0);
});
afterAll(() => dirs?.cleanup());

function pair(exe: string, cwdSuffix?: string, cached = [false, true]): [DecisionRecord, DecisionRecord] {
  const recs = run.decisions.filter((d) => d.exe === exe && (cwdSuffix === undefined || d.cwd.endsWith(cwdSuffix)));
  expect(recs.map((d) => d.cached)).toEqual(cached);
  return [recs[0] as DecisionRecord, recs[1] as DecisionRecord];
}

describe('gate: records written by the supervisor (cached verdicts)', () => {
  it('ran: the cached hits were recorded by the supervisor (RECORD lines), allowed and denied', () => {
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    expect(run.stderr).toMatch(/allowed from the identity cache \(RECORD\)/);
    expect(run.stderr).toMatch(/denied from the identity cache \(RECORD\)/);
    expect(run.stderr).not.toMatch(/from the identity cache \(EXEC\)/);
  });

  it('arbitrary argv bytes and an odd cwd: the same record as the policy engine wrote, byte for byte', () => {
    const [asked, cached] = pair('/usr/bin/echo');
    expect(stable(cached)).toEqual(stable(asked));
    expect(asked.argv).toEqual(redactArgv(ODD_ARGS.map((b) => bytesToText(b))));
    expect(asked.cwd).toBe(bytesToText(Buffer.concat([Buffer.from(`${ws}/`), ODD_DIR])));
    expect(cached).toMatchObject({ verdict: 'allow', exe_requested: '/bin/echo', cached: true });
    // Each line is exactly JSON.stringify of what it holds: the C escaping (lowercase \u00XX, \udcXX for
    // stray bytes, raw UTF-8 otherwise) is JSON.stringify's.
    for (const rec of [asked, cached]) {
      const line = lines.find((l) => l.includes(`"request":${rec.request},`)) ?? '';
      expect(line).toBe(JSON.stringify(rec));
    }
  });

  it('a denial is recorded by the supervisor too (RECORD deny)', () => {
    const [asked, cached] = pair(CURL, bytesToText(ODD_DIR));
    expect(stable(cached)).toEqual(stable(asked));
    expect(cached).toMatchObject({ verdict: 'deny', rule_id: 'no-curl', cached: true });
    expect(cached.argv).toEqual(['--version']); // argvbytes makes argv of its hex arguments alone
  });

  it('secrets in argv and in the cwd: the supervisor asks instead of recording (the broker redacts), the same way both times', () => {
    // A cached hit whose strings hold what the redaction prefilter looks for is asked of the broker (REDACT),
    // so no secret reaches the log the supervisor writes.
    const [asked, cached] = pair(CURL, redactText(path.join(ws, SECRET_DIR)).slice(ws.length), [false, false]);
    expect(stable(cached)).toEqual(stable(asked));
    const expected = redactArgv(SECRET_ARGS);
    expect(expected).not.toEqual(SECRET_ARGS);
    expect(cached.argv).toEqual(expected);
    const cwd = path.join(ws, SECRET_DIR);
    expect(redactText(cwd)).not.toBe(cwd);
    expect(cached.cwd).toBe(redactText(cwd));
    expect(cached).toMatchObject({ verdict: 'deny', rule_id: 'no-curl', layer: 'rule', reason: 'curl is not allowed in this test', cached: false });
    const log = lines.join('\n');
    for (const s of ['abcdefghijklmnopqrstuvwxyz0123456789', 'hunter2hunter2', 's3cretpassw0rd', 'correct-horse-battery', '0123456789abcdef0123']) {
      expect(log).not.toContain(s);
    }
  });
});
