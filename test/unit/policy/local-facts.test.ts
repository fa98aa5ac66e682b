import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gatherLocalFacts, isDynamicLoader, localFileFacts, readShebang, resolveProgram } from '../../../src/core/exec/local-facts';
import { createEvaluator, statProgramOnDisk } from '../../../src/core/policy/evaluator';
import { loadPolicyText } from '../../../src/core/policy/load';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'gate-facts-')));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('local exec facts', () => {
  it('resolves like execvp: PATH for bare names, cwd for names with a slash', () => {
    mkdirSync(join(dir, 'bin'));
    writeFileSync(join(dir, 'bin', 'tool'), '#!/bin/sh\necho hi\n');
    chmodSync(join(dir, 'bin', 'tool'), 0o755);
    writeFileSync(join(dir, 'bin', 'noexec'), 'x');
    expect(resolveProgram('tool', '/', `/nonexistent:${dir}/bin:/usr/bin`)).toBe(join(dir, 'bin', 'tool'));
    expect(resolveProgram('noexec', '/', `${dir}/bin`)).toBeNull();
    expect(resolveProgram('./bin/tool', dir, '/usr/bin')).toBe(join(dir, 'bin', 'tool'));
    expect(resolveProgram('tool', dir, 'bin')).toBe(join(dir, 'bin', 'tool')); // relative PATH entry
    expect(resolveProgram('git', '/', '/usr/bin')).toBe('/usr/bin/git');
    expect(resolveProgram('no-such-program-xyz', '/', '/usr/bin')).toBeNull();
  });

  it('identifies the canonical file: path, dev/ino, size, sha256', () => {
    const f = gatherLocalFacts(['sh', '-c', 'true'], { cwd: '/', path: '/usr/bin:/bin' });
    const st = statSync('/usr/bin/dash', { bigint: true });
    expect(f.requestedPath).toBe('/usr/bin/sh');
    expect(f.exe).toEqual({
      path: '/usr/bin/dash',
      dev: st.dev.toString(),
      ino: st.ino.toString(),
      size: Number(st.size),
      sha256: createHash('sha256').update(readFileSync('/usr/bin/dash')).digest('hex'),
    });
    expect(f).toMatchObject({ argv: ['sh', '-c', 'true'], cwd: '/', parent: null, argvTruncated: false, syscall: 'execve' });
  });

  it('a symlink resolves to its target; a copy keeps its own path but the same hash', () => {
    symlinkSync('/usr/bin/curl', join(dir, 'git'));
    copyFileSync('/usr/bin/curl', join(dir, 'copy'));
    const link = gatherLocalFacts(['./git'], { cwd: dir });
    const copy = gatherLocalFacts(['./copy'], { cwd: dir });
    expect(link.exe?.path).toBe('/usr/bin/curl');
    expect(link.requestedPath).toBe(join(dir, 'git'));
    expect(copy.exe?.path).toBe(join(dir, 'copy'));
    expect(copy.exe?.sha256).toBe(link.exe?.sha256);
    expect(copy.exe?.ino).not.toBe(link.exe?.ino);
  });

  it('reads the #! interpreter and its argument', () => {
    writeFileSync(join(dir, 's.sh'), '#!/usr/bin/env  bash -x \nexit 0\n');
    expect(readShebang(join(dir, 's.sh'))).toEqual({ interpreter: '/usr/bin/env', arg: 'bash -x' });
    const f = gatherLocalFacts([join(dir, 's.sh')], { cwd: dir });
    expect(f.interpreter).toMatchObject({ path: '/usr/bin/env', arg: 'bash -x' });
    writeFileSync(join(dir, 'plain'), 'no shebang');
    expect(readShebang(join(dir, 'plain'))).toBeNull();
  });

  it('detects the dynamic loader and its target', () => {
    expect(isDynamicLoader('/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2')).toBe(true);
    expect(isDynamicLoader('/usr/bin/ld')).toBe(false);
    const f = gatherLocalFacts(['/lib64/ld-linux-x86-64.so.2', '--library-path', '/x', '/usr/bin/curl', '-V'], { cwd: '/' });
    expect(f.loaderTarget?.path).toBe('/usr/bin/curl');
  });

  it('a program that does not exist has no exe', () => {
    const f = gatherLocalFacts(['no-such-program-xyz'], { cwd: '/', path: '/usr/bin' });
    expect(f.exe).toBeNull();
    expect(f.requestedPath).toBe('no-such-program-xyz');
  });
});

describe('local exec facts by the supervisor\'s hashing rule (HASH_UNDER, HASH_SIZES; red-team R96)', () => {
  const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
  it('a file is hashed only under a HASH_UNDER directory and only at a size the policy knows by content', () => {
    const d = join(dir, 'hashrule');
    mkdirSync(join(d, 'w'), { recursive: true });
    mkdirSync(join(d, 'elsewhere'));
    for (const where of ['w', 'elsewhere']) writeFileSync(join(d, where, 'p'), '#!/bin/sh\n');
    const size = 10;
    expect(localFileFacts(join(d, 'w', 'p'), { under: [join(d, 'w')], sizes: [size] })?.sha256).toBe(sha(Buffer.from('#!/bin/sh\n')));
    expect(localFileFacts(join(d, 'elsewhere', 'p'), { under: [join(d, 'w')], sizes: [size] })?.sha256).toBeUndefined();
    expect(localFileFacts(join(d, 'w', 'p'), { under: [join(d, 'w')], sizes: [size + 1] })?.sha256).toBeUndefined();
    expect(localFileFacts(join(d, 'elsewhere', 'p'), { under: ['/'], sizes: [size] })?.sha256).toBeDefined(); // writes not sealed
    expect(localFileFacts(join(d, 'elsewhere', 'p'), true)?.sha256).toBeDefined();
  });

  it('an ELF with bytes appended, under HASH_UNDER: the hash of the ELF up to its end, when that size is known (R34)', () => {
    const elf = readFileSync('/usr/bin/true');
    const d = join(dir, 'prefix');
    mkdirSync(d);
    writeFileSync(join(d, 'grown'), Buffer.concat([elf, Buffer.from('appended')]));
    const f = localFileFacts(join(d, 'grown'), { under: [d], sizes: [elf.length] });
    expect(f?.prefix).toEqual({ size: elf.length, sha256: sha(elf) });
    expect(f?.sha256).toBeUndefined();
    expect(localFileFacts(join(d, 'grown'), { under: [join(d, 'x')], sizes: [elf.length] })?.prefix).toBeUndefined();
  });
});

describe('programs named in a policy, found at load time', () => {
  it('statProgramOnDisk: the canonical file for a program, null for a missing one, a directory, or a path through a file', () => {
    const st = statSync('/usr/bin/dash', { bigint: true });
    expect(statProgramOnDisk('/bin/sh')).toEqual({ path: '/usr/bin/dash', dev: st.dev.toString(), ino: st.ino.toString(), size: Number(st.size) });
    expect(statProgramOnDisk('/usr/bin/no-such-program-xyz')).toBeNull();
    expect(statProgramOnDisk('/usr/bin')).toBeNull();
    writeFileSync(join(dir, 'plainfile'), 'x');
    expect(statProgramOnDisk(join(dir, 'plainfile', 'sh'))).toBeNull(); // ENOTDIR, not a throw
  });

  it('a PATH with a file, a missing directory and repeats in it loads a policy that names programs', () => {
    writeFileSync(join(dir, 'not-a-dir'), 'x');
    const loaded = loadPolicyText('[meta]\nversion = 1\n[[rule]]\nid = "sh"\naction = "allow"\nexe_basename = ["sh"]\n', join(dir, '.gate.toml'));
    expect(loaded.policy).not.toBeNull();
    const ev = createEvaluator(loaded.policy!, { path: `${join(dir, 'not-a-dir')}:/nonexistent:/usr/bin:/usr/bin:/bin` });
    const d = ev.evaluate(gatherLocalFacts(['sh', '-c', 'true'], { cwd: '/', path: '/usr/bin' }));
    expect(d).toMatchObject({ action: 'allow', ruleId: 'sh' });
  });

  it('a directory on PATH twice under two names (merged /usr) is listed once; a name in it is the same file under both', () => {
    const real = join(dir, 'merged', 'usr-bin');
    mkdirSync(real, { recursive: true });
    symlinkSync('usr-bin', join(dir, 'merged', 'bin'));
    writeFileSync(join(real, 'tool'), '#!/bin/sh\n');
    chmodSync(join(real, 'tool'), 0o755);
    // An entry that is a relative symlink resolves against the canonical directory, whichever name led to it.
    symlinkSync('tool', join(real, 'alias'));
    const loaded = loadPolicyText('[meta]\nversion = 1\n[[rule]]\nid = "no-tool"\naction = "deny"\nexe_basename = ["tool", "alias"]\n', join(dir, '.gate.toml'));
    expect(loaded.policy).not.toBeNull();
    const ev = createEvaluator(loaded.policy!, { path: `${join(dir, 'merged', 'bin')}:${real}` });
    const st = statSync(join(real, 'tool'), { bigint: true });
    const expected = { path: join(real, 'tool'), dev: st.dev.toString(), ino: st.ino.toString(), size: Number(st.size) };
    expect(ev.context.statProgram(join(dir, 'merged', 'bin', 'tool'))).toEqual(expected);
    expect(ev.context.statProgram(join(real, 'tool'))).toEqual(expected);
    expect(ev.context.statProgram(join(dir, 'merged', 'bin', 'alias'))).toEqual(expected);
    expect(ev.context.statProgram(join(dir, 'merged', 'bin', 'missing'))).toBeNull();
    // Both names of the program are denied by the rule, through either directory.
    for (const p of [join(dir, 'merged', 'bin', 'tool'), join(real, 'alias')]) {
      const d = ev.evaluate(gatherLocalFacts([p], { cwd: '/', path: '/usr/bin' }));
      expect(d).toMatchObject({ action: 'deny', ruleId: 'no-tool' });
    }
  });
});
