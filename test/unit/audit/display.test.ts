import { describe, expect, it } from 'vitest';
import { escapeForDisplay, escapeText } from '../../../src/core/audit/display';
import { bytesToText } from '../../../src/core/exec/facts';

describe('escapeText', () => {
  it('escapes C0 controls, DEL and C1 controls', () => {
    expect(escapeText('a\x00b\x07c\x7fd\u0085e\u009bf')).toBe('a\\x00b\\x07c\\x7fd\\u0085e\\u009bf');
    expect(escapeText('line1\nline2\r\t')).toBe('line1\\nline2\\r\\t');
  });
  it('makes ANSI escape sequences inert', () => {
    const out = escapeText('rm -rf /\x1b[2K\x1b[1Gls');
    expect(out).toBe('rm -rf /\\e[2K\\e[1Gls');
    expect(out.includes('\x1b')).toBe(false);
  });
  it('escapes bidi overrides and isolates', () => {
    for (const c of [0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069]) {
      expect(escapeText(`x${String.fromCharCode(c)}y`)).toBe(`x\\u${c.toString(16)}y`);
    }
  });
  it('escapes zero-width characters', () => {
    expect(escapeText('cu\u200brl')).toBe('cu\\u200brl');
    expect(escapeText('\ufeffls')).toBe('\\ufeffls');
    expect(escapeText('a\u200d\u2060b')).toBe('a\\u200d\\u2060b');
  });
  it('shows non-UTF-8 bytes as \\xNN', () => {
    const text = bytesToText(Buffer.from([0x61, 0xff, 0xfe, 0x62]));
    expect(escapeText(text)).toBe('a\\xff\\xfeb');
  });
  it('keeps printable Unicode, including astral characters', () => {
    expect(escapeText('héllo 日本 😀')).toBe('héllo 日本 😀');
  });
  it('doubles backslashes so escapes are unambiguous', () => {
    expect(escapeText('a\\x41')).toBe('a\\\\x41');
  });
});

describe('escapeForDisplay', () => {
  it('leaves plain words bare', () => {
    expect(escapeForDisplay(['git', 'commit', '-m', 'msg'])).toBe('git commit -m msg');
  });
  it('single-quotes arguments with spaces or shell characters', () => {
    expect(escapeForDisplay(['bash', '-c', "echo it's $HOME; ls"])).toBe(`bash -c 'echo it'\\''s $HOME; ls'`);
    expect(escapeForDisplay(['printf', ''])).toBe(`printf ''`);
  });
  it("uses $'…' when an argument needs escapes, so the user sees every byte", () => {
    expect(escapeForDisplay(['echo', 'safe\u202e)"txt.exe'])).toBe(`echo $'safe\\u202e)"txt.exe'`);
    expect(escapeForDisplay(['echo', "a\nb'c"])).toBe(`echo $'a\\nb\\'c'`);
  });
  it('round-trips through bash $-quoting', async () => {
    const { execFileSync } = await import('node:child_process');
    const arg = "x\x1b[31m\ty'\\z";
    const shown = escapeForDisplay(['printf', '%s', arg]);
    const out = execFileSync('bash', ['-c', shown]);
    expect(out.toString('utf8')).toBe(arg);
  });
});

describe('escapeText surrogate escapes', () => {
  it("accepts Python's U+DC00+byte convention as well", () => {
    expect(escapeText('a\udcff\udc80b')).toBe('a\\xff\\x80b');
  });
});
