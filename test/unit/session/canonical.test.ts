import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { realpathOfNearest, type RealpathMemo } from '../../../src/core/session/canonical';

// The memo (one lstat per path, one realpath per directory, shared by a run of questions: the workspace guard's
// paths at start) must answer as realpath(3) of the nearest existing part does, for every kind of entry.
describe('realpathOfNearest with a memo', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'canon-'));
    fs.mkdirSync(path.join(dir, 'real/sub'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'real/file'), 'x');
    fs.symlinkSync('real', path.join(dir, 'link')); // a directory through a symlink
    fs.symlinkSync('real/file', path.join(dir, 'filelink')); // a file through a symlink
    fs.symlinkSync('nowhere', path.join(dir, 'dangling'));
    fs.symlinkSync('loop', path.join(dir, 'loop'));
    fs.symlinkSync('/', path.join(dir, 'root'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const cases = [
    '',
    'real',
    'real/sub',
    'real/file',
    'real/missing',
    'real/missing/deeper/still',
    'real/file/below-a-file',
    'link',
    'link/sub',
    'link/file',
    'link/missing/x',
    'filelink',
    'filelink/x',
    'dangling',
    'dangling/x',
    'loop',
    'loop/x',
    'root',
    'root/etc',
    'missing',
    'real/sub/../file',
    'link/sub/../../link/file',
  ];

  it('answers as without it, each question alone and all through one memo', () => {
    const memo: RealpathMemo = new Map();
    for (const c of cases) {
      const p = path.join(dir, c);
      const plain = realpathOfNearest(p);
      expect(realpathOfNearest(p, new Map()), c).toBe(plain);
      expect(realpathOfNearest(p, memo), c).toBe(plain);
    }
    // And in the reverse order (the memo filled by deeper questions first).
    const memo2: RealpathMemo = new Map();
    for (const c of [...cases].reverse()) expect(realpathOfNearest(path.join(dir, c), memo2), c).toBe(realpathOfNearest(path.join(dir, c)));
    expect(realpathOfNearest('/', new Map())).toBe('/');
  });
});
