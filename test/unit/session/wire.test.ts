import { describe, expect, it } from 'vitest';
import { textToHex } from '../../../src/core/exec/facts';
import type { ExecEvent } from '../../../src/core/session/types';
import { keeperLine } from '../../../src/core/session/supervisor-link';
import {
  decodeSupervisorLine,
  encodeConfig,
  encodeExecLine,
  encodeHold,
  encodeTerminal,
  encodeVerdict,
  WireError,
} from '../../../src/core/session/wire';

const hex = (s: string | Buffer): string => (typeof s === 'string' ? Buffer.from(s) : s).toString('hex');

function execOf(line: string): ExecEvent {
  const m = decodeSupervisorLine(line);
  if (m.type !== 'EXEC') throw new Error(`not EXEC: ${m.type}`);
  return m.event;
}

describe('wire: EXEC', () => {
  it('decodes every field of a full EXEC line', () => {
    const line =
      `EXEC id=7 tid=101 pid=100 ppid=99 uid=1000 sc=execveat flags=4096 path=${hex('./run.sh')} cwd=${hex('/w')}` +
      ` exe=${hex('/w/run.sh')} dev=18446744073709551615 ino=42 size=12 nlink=1 sha256=${'ab'.repeat(32)}` +
      ` argv=${hex('./run.sh')} argv=${hex('')} argv=${hex('x y')} argv_trunc=1` +
      ` pexe=${hex('/usr/bin/bash')} pargv=${hex('bash')} pargv=${hex('-c')}` +
      ` interp=${hex('/w/inner.sh')} interp_dev=1 interp_ino=2 interp_size=3 interp_nlink=0 interp_kind=script interp_name=${hex('./inner.sh')}` +
      ` interp=${hex('/usr/bin/dash')} interp_dev=3 interp_ino=4 interp_size=5 interp_nlink=1 interp_kind=script interp_name=${hex('/bin/sh')} interp_arg=${hex('-e')}` +
      ` ld=${hex('/usr/bin/curl')} ld_dev=6 ld_ino=7 ld_size=8 ld_nlink=2 ld_sha256=${'cd'.repeat(32)}` +
      ` ld_unresolved=${hex('why not')} t=123456 cached=deny lat=17 future_key=whatever`;
    const ev = execOf(line);
    expect(ev.receivedAtUs).toBe(123456);
    expect(ev.cached).toEqual({ action: 'deny', latencyUs: 17 });
    expect(ev.facts).toEqual({
      requestId: 7,
      tid: 101,
      pid: 100,
      ppid: 99,
      uid: 1000,
      syscall: 'execveat',
      requestedPath: './run.sh',
      exe: { path: '/w/run.sh', dev: '18446744073709551615', ino: '42', size: 12, nlink: 1, sha256: 'ab'.repeat(32) },
      argv: ['./run.sh', '', 'x y'],
      argvTruncated: true,
      cwd: '/w',
      parent: { exe: '/usr/bin/bash', argv: ['bash', '-c'] },
      interpreter: { path: '/w/inner.sh', dev: '1', ino: '2', size: 3, nlink: 0, kind: 'script', name: './inner.sh' },
      interpreters: [
        { path: '/w/inner.sh', dev: '1', ino: '2', size: 3, nlink: 0, kind: 'script', name: './inner.sh' },
        { path: '/usr/bin/dash', dev: '3', ino: '4', size: 5, nlink: 1, kind: 'script', name: '/bin/sh', arg: '-e' },
      ],
      loaderTarget: { path: '/usr/bin/curl', dev: '6', ino: '7', size: 8, nlink: 2, sha256: 'cd'.repeat(32) },
      loaderUnresolved: 'why not',
    });
    // encodeExecLine writes what the supervisor writes: the same facts come back.
    expect(execOf(encodeExecLine(ev)).facts).toEqual(ev.facts);
  });

  it('an interp_* key belongs to the interp= before it; a bad interp_kind is an error', () => {
    const base = `EXEC id=1 tid=1 pid=1 ppid=0 uid=0 sc=execve flags=0 path= cwd= t=0`;
    const ev = execOf(`${base} interp=${hex('/a')} interp_dev=1 interp_ino=1 interp_size=1 interp=${hex('/b')} interp_dev=2 interp_ino=2 interp_size=2 interp_kind=elf`);
    expect(ev.facts.interpreters?.map((i) => [i.path, i.kind])).toEqual([['/a', undefined], ['/b', 'elf']]);
    expect(execOf(`${base} interp=${hex('/a')} interp_dev=1 interp_ino=1 interp_size=1 interp_kind=misc interp_p=1`).facts.interpreter).toMatchObject({ kind: 'misc', preserveArgv0: true });
    expect(() => execOf(`${base} interp=${hex('/a')} interp_dev=1 interp_ino=1 interp_size=1 interp_kind=other`)).toThrow(/interp_kind/);
    expect(() => execOf(`${base} interp=${hex('/a')} interp_ino=1 interp_size=1`)).toThrow(/interp without dev/);
  });

  it('prefix_size/prefix_sha256 (an ELF with bytes past its end, R34) for the exe, an interpreter and the loader\'s program', () => {
    const base = `EXEC id=1 tid=1 pid=1 ppid=0 uid=0 sc=execve flags=0 path= cwd= t=0`;
    const p = { size: 300, sha256: 'ef'.repeat(32) };
    const ev = execOf(
      `${base} exe=${hex('/w/c2')} dev=1 ino=2 size=301 prefix_size=300 prefix_sha256=${p.sha256}` +
        ` interp=${hex('/w/i')} interp_dev=1 interp_ino=3 interp_size=400 interp_prefix_size=300 interp_prefix_sha256=${p.sha256}` +
        ` ld=${hex('/w/l')} ld_dev=1 ld_ino=4 ld_size=500 ld_prefix_size=300 ld_prefix_sha256=${p.sha256}`,
    );
    expect(ev.facts.exe?.prefix).toEqual(p);
    expect(ev.facts.interpreter?.prefix).toEqual(p);
    expect(ev.facts.loaderTarget?.prefix).toEqual(p);
    expect(execOf(encodeExecLine(ev)).facts).toEqual(ev.facts);
    expect(() => execOf(`${base} exe=${hex('/w/c2')} dev=1 ino=2 size=301 prefix_size=300`)).toThrow(/prefix_size and prefix_sha256/);
  });

  it('a minimal EXEC has no exe, parent, interpreter or loader', () => {
    const ev = execOf(`EXEC id=1 tid=1 pid=1 ppid=0 uid=0 sc=execve flags=0 path= cwd= t=0`);
    expect(ev.facts.exe).toBeNull();
    expect(ev.facts.parent).toBeNull();
    expect(ev.facts.interpreter).toBeUndefined();
    expect(ev.facts.loaderTarget).toBeUndefined();
    expect(ev.facts.argv).toEqual([]);
    expect(ev.cached).toBeNull();
  });

  it('carries non-UTF-8 bytes losslessly', () => {
    const raw = Buffer.from([0x2f, 0x74, 0xff, 0x80, 0xc3, 0xa9]);
    const ev = execOf(`EXEC id=1 tid=1 pid=1 ppid=0 uid=0 sc=execve flags=0 path=${raw.toString('hex')} cwd= argv=${raw.toString('hex')} t=0`);
    expect(textToHex(ev.facts.requestedPath)).toBe(raw.toString('hex'));
    expect(textToHex(ev.facts.argv[0] ?? '')).toBe(raw.toString('hex'));
    expect(ev.facts.requestedPath).toBe('/t\udcff\udc80é');
  });

  it('encodeExecLine is the inverse of decode', () => {
    const line =
      `EXEC id=3 tid=5 pid=5 ppid=4 uid=0 sc=execve flags=0 path=${hex('/bin/x')} cwd=${hex('/')}` +
      ` exe=${hex('/usr/bin/x')} dev=1 ino=2 size=3 argv=${hex('x')} pexe=${hex('/p')} pargv=${hex('p')}` +
      ` interp=${hex('/i')} interp_dev=1 interp_ino=2 interp_size=3 interp_arg=${hex('a')} t=9 cached=allow lat=1`;
    const ev = execOf(line);
    expect(execOf(encodeExecLine(ev))).toEqual(ev);
    // piped: records the supervisor put in the record pipe before this (asked) line.
    const asked = execOf(`EXEC id=4 tid=5 pid=5 ppid=4 uid=0 sc=execve flags=0 path=${hex('/bin/x')} cwd=${hex('/')} t=9 piped=17`);
    expect(asked.piped).toBe(17);
    expect(execOf(encodeExecLine(asked))).toEqual(asked);
  });

  it.each([
    ['bad hex', `EXEC id=1 path=zz`],
    ['odd hex', `EXEC id=1 path=abc`],
    ['uppercase hex', `EXEC id=1 path=AB`],
    ['missing id', `EXEC path=`],
    ['bad number', `EXEC id=1x`],
    ['bad syscall', `EXEC id=1 sc=fork`],
    ['bad cached action', `EXEC id=1 cached=maybe`],
    ['exe without identity', `EXEC id=1 exe=${hex('/x')}`],
    ['short sha256', `EXEC id=1 exe=${hex('/x')} dev=1 ino=1 size=1 sha256=abcd`],
  ])('rejects %s', (_name, line) => {
    expect(() => decodeSupervisorLine(line)).toThrow(WireError);
  });
});

describe('wire: handshake and control lines', () => {
  it('decodes HELLO, REPORT, WARN, STARTED, FATAL, TIMEOUT, EXIT', () => {
    expect(decodeSupervisorLine('HELLO 1 pid=9 abi=7 notif=1 killable=0')).toEqual({
      type: 'HELLO', version: 1, pid: 9, abi: 7, notif: true, killable: false,
    });
    expect(decodeSupervisorLine('REPORT landlock_abi=7 fs=enforced net=off')).toEqual({
      type: 'REPORT', report: { landlock_abi: '7', fs: 'enforced', net: 'off' },
    });
    expect(decodeSupervisorLine(`WARN msg=${hex('grant skipped')}`)).toEqual({ type: 'WARN', message: 'grant skipped' });
    expect(decodeSupervisorLine(`FATAL msg=${hex('EBUSY')}`)).toEqual({ type: 'FATAL', message: 'EBUSY' });
    expect(decodeSupervisorLine('STARTED pid=77')).toEqual({ type: 'STARTED', pid: 77 });
    expect(decodeSupervisorLine('READY')).toEqual({ type: 'READY', pid: 0 });
    expect(decodeSupervisorLine('READY pid=4321')).toEqual({ type: 'READY', pid: 4321 });
    expect(decodeSupervisorLine('TIMEOUT id=4 action=allow')).toEqual({ type: 'TIMEOUT', id: 4, action: 'allow', piped: 0 });
    expect(decodeSupervisorLine('TIMEOUT id=4 action=deny piped=12')).toEqual({ type: 'TIMEOUT', id: 4, action: 'deny', piped: 12 });
    expect(decodeSupervisorLine('EXIT id=1 code=0 signal=9')).toEqual({ type: 'EXIT', id: 1, code: 0, signal: 9, stats: {} });
    expect(decodeSupervisorLine('EXIT id=1 code=3 signal=0 n_asked=5 asked_p50_us=80 other=x')).toEqual({
      type: 'EXIT', id: 1, code: 3, signal: 0, stats: { n_asked: 5, asked_p50_us: 80 },
    });
  });

  it('rejects unknown message types and malformed control lines', () => {
    expect(() => decodeSupervisorLine('HELLO2 1')).toThrow(WireError);
    expect(() => decodeSupervisorLine('')).toThrow(WireError);
    expect(() => decodeSupervisorLine('HELLO 1 pid=9 abi=7 notif=2 killable=0')).toThrow(WireError);
    expect(() => decodeSupervisorLine('TIMEOUT id=4 action=ask')).toThrow(WireError);
    expect(() => decodeSupervisorLine('STARTED')).toThrow(WireError);
  });

  it('encodes verdicts and holds as single lines', () => {
    expect(encodeVerdict(12, 'allow', false)).toBe('VERDICT id=12 action=allow\n');
    expect(encodeVerdict(12, 'deny', true)).toBe('VERDICT id=12 action=deny cache=1\n');
    expect(encodeHold(3)).toBe('HOLD id=3\n');
    expect(encodeTerminal('broker')).toBe('TERMINAL owner=broker\n');
    expect(encodeTerminal('agent')).toBe('TERMINAL owner=agent\n');
  });

  it('encodes many FS paths at once as each one alone (multibyte, escaped bytes, surrogates split across paths)', () => {
    const open = { net: null, require: { fs: true, net: false }, timeout: { ms: 0, action: 'allow' as const } };
    const sets: string[][] = [
      // Encoded together: ASCII and multibyte UTF-8 of every length.
      ['/usr/bin/a', '/caf\u00e9/\u6f22\u5b57', '/w ork', '/', '/\u00ff\u0800\uffff'],
      // One by one: a path with a surrogate pair.
      ['/usr/bin/a', '/\u{1f600}x', '/b'],
      // An escaped byte (U+DC80..U+DCFF stands for a byte that is not UTF-8): the file's real name.
      ['/a', `/b${String.fromCharCode(0xdce9)}c`, '/d'],
      // A lone high surrogate at one path's end and a low one at the next's start must not pair up.
      ['/x\ud83d', '\ude00', '/y'].map((p, i) => (i === 1 ? `/${p}` : p)),
      ['/x\ud83d', '/\ude00y'],
    ];
    for (const paths of sets) {
      const text = encodeConfig({ ...open, fs: { handled: 'rx', grants: paths.map((path) => ({ path, rights: 'x', source: 't', widened: false })) } }, []);
      const fsLines = text.split('\n').filter((l) => l.startsWith('FS rights=x '));
      expect(fsLines).toEqual(paths.map((p) => `FS rights=x path=${textToHex(p)}`));
    }
    expect(() => encodeConfig({ ...open, fs: { handled: 'rx', grants: [{ path: '/a', rights: 'x', source: 't', widened: false }, { path: 'rel', rights: 'x', source: 't', widened: false }] } }, [])).toThrow(/not an absolute path/);
    expect(() => encodeConfig({ ...open, fs: { handled: 'rx', grants: [{ path: '/a', rights: 'xq', source: 't', widened: false }] } }, [])).toThrow(/bad rights/);
  });

  it('encodes the CONFIG block', () => {
    const text = encodeConfig(
      {
        fs: { handled: 'rwx', grants: [{ path: '/w ork', rights: 'rw', source: 'x', widened: false }] },
        net: { connect: true, bind: false, ports: [{ port: 443, connect: true, bind: false }] },
        require: { fs: true, net: false },
        timeout: { ms: 5000.7, action: 'deny' },
      },
      ['/w ork'],
    );
    expect(text).toBe(
      [
        'CONFIG 1',
        `FS rights=rw path=${hex('/w ork')}`,
        'FS_HANDLED rights=rwx',
        'NET_HANDLED connect=1 bind=0',
        'NET port=443 connect=1 bind=0',
        'REQUIRE fs=1 net=0',
        'TIMEOUT ms=5000 action=deny',
        `HASH_UNDER path=${hex('/w ork')}`,
        'START',
        '',
      ].join('\n'),
    );
    expect(encodeConfig({ fs: null, net: null, require: { fs: false, net: false }, timeout: { ms: 0, action: 'allow' } }, [])).toBe(
      'CONFIG 1\nREQUIRE fs=0 net=0\nTIMEOUT ms=0 action=allow\nSTART\n',
    );
    // RECORDS: the broker has opened the record pipe (cached decision records go through it).
    expect(encodeConfig({ fs: null, net: null, require: { fs: false, net: false }, timeout: { ms: 0, action: 'allow' } }, [], { records: true })).toBe(
      'CONFIG 1\nREQUIRE fs=0 net=0\nTIMEOUT ms=0 action=allow\nRECORDS\nSTART\n',
    );
    // HASH_SIZES: only files of these sizes are worth hashing; an empty list is still a line (hash nothing).
    const open = { fs: null, net: null, require: { fs: false, net: false }, timeout: { ms: 0, action: 'allow' as const } };
    expect(encodeConfig(open, ['/w'], { hashSizes: [10, 4096] })).toBe(`CONFIG 1\nREQUIRE fs=0 net=0\nTIMEOUT ms=0 action=allow\nHASH_UNDER path=${hex('/w')}\nHASH_SIZES size=10 size=4096\nSTART\n`);
    expect(encodeConfig(open, [], { hashSizes: [] })).toBe('CONFIG 1\nREQUIRE fs=0 net=0\nTIMEOUT ms=0 action=allow\nHASH_SIZES\nSTART\n');
    expect(() => encodeConfig(open, [], { hashSizes: [-1] })).toThrow(WireError);
  });

  it('refuses relative paths, bad rights and bad ports in the CONFIG block', () => {
    const base = { fs: null, net: null, require: { fs: false, net: false }, timeout: { ms: 0, action: 'deny' as const } };
    expect(() => encodeConfig(base, ['relative'])).toThrow(WireError);
    expect(() => encodeConfig({ ...base, fs: { handled: 'rwz', grants: [] } }, [])).toThrow(WireError);
    expect(() => encodeConfig({ ...base, net: { connect: true, bind: true, ports: [{ port: 70000, connect: true, bind: false }] } }, [])).toThrow(WireError);
  });
});

describe('wire: RECORD (cached verdicts recorded by the supervisor)', () => {
  const rec = {
    type: 'decision',
    time: '2026-11-21T11:11:21.309Z',
    session: 's',
    request: 9,
    pid: 1,
    ppid: 1,
    tid: 1,
    exe_requested: '/bin/true',
    exe: '/usr/bin/true',
    argv: ['true', 'é', '\udcff'],
    cwd: '/w',
    verdict: 'allow',
    rule_id: 'r',
    reason: 'x',
    layer: 'rule',
    latency_us: 3,
    cached: true,
  };

  it('decodes the record and keeps its JSON; valid UTF-8 read from a latin1-framed line comes back as UTF-8', () => {
    const json = JSON.stringify(rec);
    // The link frames lines byte for byte (latin1): what it hands over for the UTF-8 the supervisor wrote.
    const framed = Buffer.from(`RECORD allow ${json}`, 'utf8').toString('latin1');
    const m = decodeSupervisorLine(framed);
    expect(m).toEqual({ type: 'RECORD', record: rec, json });
  });

  it('rejects a RECORD that is not a cached decision record of its verdict, or not JSON', () => {
    const bad = [
      'RECORD allow',
      'RECORD maybe {}',
      `RECORD deny ${JSON.stringify(rec)}`,
      `RECORD allow ${JSON.stringify({ ...rec, cached: false })}`,
      `RECORD allow ${JSON.stringify({ ...rec, type: 'outcome' })}`,
      `RECORD allow ${JSON.stringify({ ...rec, argv: 'true' })}`,
      `RECORD allow ${JSON.stringify(rec).slice(0, -1)}`,
      'RECORD allow null',
    ];
    for (const line of bad) expect(() => decodeSupervisorLine(line), line).toThrow(WireError);
  });

  it('a cached VERDICT carries its origin in hex; the CONFIG block names the session for JSON records', () => {
    const origin = '"rule_id":"r","reason":"é \\"q\\"","layer":"rule"';
    expect(encodeVerdict(3, 'deny', true, origin)).toBe(`VERDICT id=3 action=deny cache=1 origin=${textToHex(origin)}\n`);
    expect(encodeVerdict(3, 'deny', false, origin)).toBe('VERDICT id=3 action=deny\n');
    const config = encodeConfig({ fs: null, net: null, require: { fs: false, net: false }, timeout: { ms: 0, action: 'deny' } }, [], { session: 'abc' });
    expect(config).toContain(`\nJSON_RECORDS session=${hex('abc')}\n`);
  });
});

describe('wire: REAPED (the keeper, after the supervisor is gone)', () => {
  it('decodes how the supervisor ended and what the keeper ended; the failure names them, escaped', () => {
    const m = decodeSupervisorLine(`REAPED code=0 signal=9 ended=3 remaining=0 leftover=${textToHex('bash')} leftover=${textToHex('sl\x1beep')}`);
    expect(m).toEqual({ type: 'REAPED', code: 0, signal: 9, ended: 3, remaining: 0, names: ['bash', 'sl\x1beep'] });
    expect(keeperLine(m.type === 'REAPED' ? m : null)).toBe("; 3 processes of the session ended by the gate's keeper (bash, sl\\eeep)");
    const stuck = decodeSupervisorLine(`REAPED code=0 signal=9 ended=1 remaining=2 stuck=${textToHex('pid 7 in fuse_wait')}`);
    expect(keeperLine(stuck.type === 'REAPED' ? stuck : null)).toBe("; 1 process of the session ended by the gate's keeper; 2 could not be ended: in uninterruptible sleep, SIGKILL pending (pid 7 in fuse_wait)");
    expect(keeperLine(decodeSupervisorLine('REAPED code=0 signal=9 ended=0 remaining=0') as never)).toBe('; no process of the session was left');
    expect(() => decodeSupervisorLine('REAPED code=0 signal=x ended=1')).toThrow(WireError);
  });
});
