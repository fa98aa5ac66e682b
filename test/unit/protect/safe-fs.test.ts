// SafeFs.looks(): looks that share their directories' descriptors (the guard's start and final check) answer
// as a walk per look does — never through a symlink on the way — and a change made meanwhile is never made
// through a descriptor older than it.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SafeFs } from '../../../src/core/protect/safe-fs';

let ws = '';
let outside = '';
beforeEach(() => {
  ws = fs.mkdtempSync(path.join(os.tmpdir(), 'safefs-ws-'));
  outside = fs.mkdtempSync(path.join(os.tmpdir(), 'safefs-out-'));
  fs.mkdirSync(path.join(ws, '.vscode/sub'), { recursive: true });
  fs.writeFileSync(path.join(ws, '.vscode/tasks.json'), 'user');
  fs.writeFileSync(path.join(ws, '.vscode/sub/x'), 'x');
  fs.symlinkSync('tasks.json', path.join(ws, '.vscode/link'));
  fs.writeFileSync(path.join(outside, 'tasks.json'), 'secret');
});
afterEach(() => {
  fs.rmSync(ws, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

const look = (sfs: SafeFs, p: string): unknown => {
  const st = sfs.lstat(p);
  let content: string | null = null;
  try {
    content = sfs.readFile(p).toString();
  } catch {
    content = null;
  }
  let target: string | null = null;
  try {
    target = sfs.readlink(p);
  } catch {
    target = null;
  }
  return { exists: st !== null, dir: st?.isDirectory() ?? null, link: st?.isSymbolicLink() ?? null, content, target, list: sfs.readdir(p).sort() };
};

describe('SafeFs.looks', () => {
  const names = ['.vscode', '.vscode/tasks.json', '.vscode/link', '.vscode/sub', '.vscode/sub/x', '.vscode/missing', '.vscode/missing/deeper', '.vscode/tasks.json/below-a-file', 'absent/dir/file'];

  it('answers every look as a walk per look does', () => {
    const sfs = new SafeFs();
    sfs.anchor(ws);
    const each = names.map((n) => look(sfs, path.join(ws, n)));
    const shared = sfs.looks(() => names.map((n) => look(sfs, path.join(ws, n))));
    expect(shared).toEqual(each);
    expect((shared[1] as { content: string }).content).toBe('user');
  });

  it('never follows a directory on the way that is a symlink (the agent swapped .vscode for one)', () => {
    const sfs = new SafeFs();
    sfs.anchor(ws);
    fs.rmSync(path.join(ws, '.vscode'), { recursive: true });
    fs.symlinkSync(outside, path.join(ws, '.vscode'));
    sfs.looks(() => {
      expect(sfs.lstat(path.join(ws, '.vscode'))?.isSymbolicLink()).toBe(true);
      expect(sfs.lstat(path.join(ws, '.vscode/tasks.json'))).toBeNull();
      expect(() => sfs.readFile(path.join(ws, '.vscode/tasks.json'))).toThrow();
      expect(sfs.readdir(path.join(ws, '.vscode'))).toEqual([]);
    });
  });

  it('a change inside the run is made by a fresh walk, and later looks see what is there after it', () => {
    const sfs = new SafeFs();
    sfs.anchor(ws);
    sfs.looks(() => {
      expect(sfs.readFile(path.join(ws, '.vscode/tasks.json')).toString()).toBe('user');
      // Between two looks the directory is replaced by a symlink to elsewhere (as an agent could): the change
      // through SafeFs walks afresh (refuses the symlink), and the next look does not use the old directory.
      fs.renameSync(path.join(ws, '.vscode'), path.join(ws, '.vscode-old'));
      fs.symlinkSync(outside, path.join(ws, '.vscode'));
      expect(() => sfs.replace(path.join(ws, '.vscode/tasks.json'), { content: Buffer.from('put back'), mode: 0o644 })).toThrow();
      expect(sfs.lstat(path.join(ws, '.vscode/tasks.json'))).toBeNull();
    });
    expect(fs.readFileSync(path.join(outside, 'tasks.json'), 'utf8')).toBe('secret');
    expect(fs.readFileSync(path.join(ws, '.vscode-old/tasks.json'), 'utf8')).toBe('user');
  });

  it('closes the descriptors it kept when the run ends', () => {
    const sfs = new SafeFs();
    sfs.anchor(ws);
    const fds = (): number => fs.readdirSync('/proc/self/fd').length;
    const before = fds();
    sfs.looks(() => names.forEach((n) => look(sfs, path.join(ws, n))));
    expect(fds()).toBe(before);
  });
});
