import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rawArguments, rawEnvironment, spawnable } from '../../../src/core/exec/raw-process';
import { encodeConfig } from '../../../src/core/session/wire';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gate-raw-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string, bytes: Buffer): string => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, bytes);
  return f;
};
const nul = (...parts: (string | Buffer)[]): Buffer => Buffer.concat(parts.flatMap((p) => [typeof p === 'string' ? Buffer.from(p) : p, Buffer.from([0])]));

describe('this process as bytes', () => {
  it("the arguments after the script, from /proc/self/cmdline, past Node's own options", () => {
    const cmdline = file('cmdline', nul('node', '--max-old-space-size=64', '/x/cli.js', 'run', '--', 'echo', Buffer.from([0x63, 0x61, 0x66, 0xe9])));
    const nodeArgv = ['/usr/bin/node', '/x/cli.js', 'run', '--', 'echo', 'caf\ufffd'];
    expect(rawArguments(nodeArgv, cmdline)).toEqual(['run', '--', 'echo', 'caf\udce9']);
    // Disagreeing with what Node has, or unreadable: Node's.
    expect(rawArguments(['/usr/bin/node', '/x/cli.js', 'other'], cmdline)).toEqual(['other']);
    expect(rawArguments(nodeArgv, path.join(dir, 'missing'))).toEqual(['run', '--', 'echo', 'caf\ufffd']);
  });

  it('the environment: variables that are not UTF-8 are kept apart, as their bytes, and out of what Node passes on', () => {
    const environ = file('environ', nul('PATH=/usr/bin', Buffer.concat([Buffer.from('LATIN='), Buffer.from([0xe9])]), Buffer.concat([Buffer.from('N'), Buffer.from([0xe4]), Buffer.from('=v')])));
    const r = rawEnvironment(environ, { PATH: '/usr/bin', LATIN: '\ufffd', 'N\ufffd': 'v' });
    expect(r.env).toEqual({ PATH: '/usr/bin' });
    expect(r.raw).toEqual([
      ['LATIN', '\udce9'],
      ['N\udce4', 'v'],
    ]);
  });

  it('spawnable: text Node can pass on unchanged', () => {
    expect(spawnable('café 😀')).toBe(true);
    expect(spawnable('caf\udce9')).toBe(false);
  });

  it('ARGV in the CONFIG block carries each byte', () => {
    const config = { fs: null, net: null, require: { fs: false, net: false }, timeout: { ms: 0, action: 'deny' as const } };
    const text = encodeConfig(config, [], { argv: ['/bin/echo', 'caf\udce9', ''] });
    expect(text).toContain(`ARGV arg=${Buffer.from('/bin/echo').toString('hex')} arg=636166e9 arg=\n`);
    expect(() => encodeConfig(config, [], { argv: ['a\0b'] })).toThrow(/NUL/);
  });
});
