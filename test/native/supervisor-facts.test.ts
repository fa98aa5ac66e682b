// Facts the supervisor gathers about each exec: what the kernel will really run, read from the target.
import { createHash } from 'node:crypto';
import { copyFileSync, realpathSync, linkSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesToText, textToBytes } from '../../src/core/exec/facts';
import { buildNative, prog, runGated } from './helpers/gate';

let dir = '';
beforeAll(() => {
  buildNative();
  dir = mkdtempSync(join(tmpdir(), 'gate-facts-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha256 = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

describe('supervisor: facts', () => {
  it('resolves a relative path against the target\'s cwd', async () => {
    const r = await runGated({ argv: ['bash', '-c', 'cd /usr/bin && ./true'] });
    const e = r.events.find((x) => x.facts.requestedPath === './true');
    expect(e?.facts.exe?.path).toBe('/usr/bin/true');
    expect(e?.facts.cwd).toBe('/usr/bin');
    const st = statSync('/usr/bin/true');
    expect(e?.facts.exe?.dev).toBe(String(st.dev));
    expect(e?.facts.exe?.ino).toBe(String(st.ino));
    expect(e?.facts.exe?.size).toBe(st.size);
  });

  it('reports the canonical path behind a symlink', async () => {
    const link = join(dir, 'innocent-name');
    symlinkSync('/usr/bin/curl', link);
    const r = await runGated({ argv: [prog('static_exec'), link, '--version'] });
    const e = r.events.find((x) => x.facts.requestedPath === link);
    expect(e?.facts.exe?.path).toBe('/usr/bin/curl');
  });

  it('execveat(fd, "", AT_EMPTY_PATH) reports the file behind the fd', async () => {
    const r = await runGated({ argv: [prog('fexecve'), '/usr/bin/true', 'true'] });
    const e = r.events.find((x) => x.facts.syscall === 'execveat');
    expect(e?.facts.requestedPath).toBe('');
    expect(e?.facts.exe?.path).toBe('/usr/bin/true');
    expect(r.exit?.code).toBe(0);
  });

  it('execveat resolves a relative name against its dirfd; AT_SYMLINK_NOFOLLOW on a symlink is ELOOP', async () => {
    const r = await runGated({ argv: [prog('execat'), '/usr/bin', 'true'] });
    const e = r.events.find((x) => x.facts.syscall === 'execveat');
    expect(e?.facts.requestedPath).toBe('true');
    expect(e?.facts.exe?.path).toBe('/usr/bin/true');
    expect(r.exit?.code).toBe(0);

    symlinkSync('/usr/bin/true', join(dir, 'true-link'));
    const nf = await runGated({ argv: [prog('execat'), dir, 'true-link', 'nofollow'] });
    expect(nf.stdout).toContain('RESULT execveat errno=ELOOP');
    // Answered by the supervisor: the kernel would refuse it anyway.
    expect(nf.events.some((x) => x.facts.syscall === 'execveat')).toBe(false);
    expect(nf.link.stats?.n_local).toBe(1);
  });

  it('a memfd exec is identified by content wherever HASH_UNDER points', async () => {
    const r = await runGated({ argv: [prog('memfd_exec'), '/usr/bin/true'], hashUnder: [] });
    const e = r.events.find((x) => x.facts.syscall === 'execveat');
    expect(e?.facts.exe?.path).toMatch(/^\/memfd:payload \(deleted\)$/);
    expect(e?.facts.exe?.sha256).toBe(sha256('/usr/bin/true'));
    expect(r.exit?.code).toBe(0);
  });

  it('/proc/self/exe is the target\'s own executable', async () => {
    const r = await runGated({ argv: ['bash', '-c', 'exec /proc/self/exe -c "echo reexec"'] });
    const e = r.events.find((x) => x.facts.requestedPath === '/proc/self/exe');
    expect(e?.facts.exe?.path).toBe('/usr/bin/bash');
    expect(r.stdout).toBe('reexec\n');
  });

  it('/proc/self/fd/N names the target\'s fd, not the supervisor\'s', async () => {
    const r = await runGated({ argv: ['bash', '-c', 'exec 7</usr/bin/true; /proc/self/fd/7; /dev/fd/7'] });
    const viaProc = r.events.find((x) => x.facts.requestedPath === '/proc/self/fd/7');
    const viaDev = r.events.find((x) => x.facts.requestedPath === '/dev/fd/7');
    expect(viaProc?.facts.exe?.path).toBe('/usr/bin/true');
    expect(viaDev?.facts.exe?.path).toBe('/usr/bin/true');
  });

  it('a hard link has the same identity; a copy has the same sha256 under HASH_UNDER', async () => {
    const copy = join(dir, 'renamed-curl');
    const hard = join(dir, 'hard-link');
    copyFileSync('/usr/bin/curl', copy);
    chmodSync(copy, 0o755);
    linkSync(copy, hard);
    const r = await runGated({
      argv: ['bash', '-c', `${copy} --version >/dev/null; ${hard} --version >/dev/null; /usr/bin/curl --version >/dev/null`],
      hashUnder: [dir],
    });
    const c = r.events.find((x) => x.facts.requestedPath === copy)?.facts.exe;
    const h = r.events.find((x) => x.facts.requestedPath === hard)?.facts.exe;
    const orig = r.events.find((x) => x.facts.requestedPath === '/usr/bin/curl')?.facts.exe;
    expect(h?.dev).toBe(c?.dev);
    expect(h?.ino).toBe(c?.ino);
    expect(c?.sha256).toBe(sha256('/usr/bin/curl'));
    // Outside HASH_UNDER the canonical path is honest: no hashing cost.
    expect(orig?.sha256).toBeUndefined();
  });

  it('a #! script reports its interpreter (resolved as the kernel does) and the interpreter argument', async () => {
    const script = join(dir, 'script.sh');
    writeFileSync(script, '#!/bin/sh -e\necho from-script\n');
    chmodSync(script, 0o755);
    const r = await runGated({ argv: ['bash', '-c', script] });
    const e = r.events.find((x) => x.facts.requestedPath === script);
    expect(e?.facts.exe?.path).toBe(script);
    expect(e?.facts.interpreter?.path).toBe(realpathSync('/bin/sh'));
    expect(e?.facts.interpreter?.arg).toBe('-e');
    expect(r.stdout).toContain('from-script');
  });

  it('a relative #! interpreter resolves against the exec\'ing process\'s cwd', async () => {
    const script = join(dir, 'rel.sh');
    writeFileSync(script, '#!true\n');
    chmodSync(script, 0o755);
    const r = await runGated({ argv: ['bash', '-c', `cd /usr/bin && ${script}; echo rc=$?`] });
    const e = r.events.find((x) => x.facts.requestedPath === script);
    expect(e?.facts.interpreter?.path).toBe('/usr/bin/true');
    expect(r.stdout).toContain('rc=0');
  });

  it('the dynamic loader reports the program it was asked to load', async () => {
    const r = await runGated({
      argv: ['/lib64/ld-linux-x86-64.so.2', '--inhibit-cache', '--argv0', 'x', '/usr/bin/curl', '--version'],
      decide: (f) => (f.loaderTarget?.path === '/usr/bin/curl' ? 'deny' : 'allow'),
    });
    const e = r.events[0];
    expect(e?.facts.exe?.path).toBe('/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2');
    expect(e?.facts.loaderTarget?.path).toBe('/usr/bin/curl');
    expect(r.status.code).toBe(126);
  });

  it('a renamed copy or hard link of the loader is still the loader', async () => {
    const copy = join(dir, 'runner');
    copyFileSync('/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', copy);
    chmodSync(copy, 0o755);
    // A hard link to a file one does not own needs root (fs.protected_hardlinks): as another user the copy
    // (recognised by content) is what an agent could make.
    const hard = join(dir, 'runner-hl');
    let linked = true;
    try {
      linkSync(realpathSync('/lib64/ld-linux-x86-64.so.2'), hard);
    } catch (e) {
      expect((e as NodeJS.ErrnoException).code).toBe('EPERM');
      expect(process.getuid?.()).not.toBe(0);
      linked = false;
    }
    const runners = linked ? [copy, hard] : [copy];
    const r = await runGated({
      argv: ['bash', '-c', `${runners.map((p) => `${p} /usr/bin/curl --version;`).join(' ')} echo done`],
      hashUnder: [dir],
      decide: (f) => (f.loaderTarget?.path === '/usr/bin/curl' ? 'deny' : 'allow'),
    });
    for (const p of runners) {
      const e = r.events.find((x) => x.facts.requestedPath === p);
      expect(e?.facts.loaderTarget?.path).toBe('/usr/bin/curl');
    }
    expect(r.stderr.match(/Permission denied/g)).toHaveLength(runners.length);
  });

  it('carries non-UTF-8 argv and path bytes exactly', async () => {
    const argBytes = Buffer.from([0x61, 0xff, 0xfe, 0x62, 0xc3, 0xa9]);
    const r1 = await runGated({ argv: [prog('argvbytes'), '/usr/bin/true', Buffer.from('true').toString('hex'), argBytes.toString('hex')] });
    const e1 = r1.events.find((x) => x.facts.exe?.path === '/usr/bin/true');
    expect(e1?.facts.argv[1]).toBe(bytesToText(argBytes));
    expect(textToBytes(e1?.facts.argv[1] ?? '').equals(argBytes)).toBe(true);

    const nameBytes = Buffer.concat([Buffer.from(dir + '/'), Buffer.from([0xff, 0x80]), Buffer.from('.bin')]);
    copyFileSync('/usr/bin/true', nameBytes);
    chmodSync(nameBytes, 0o755);
    const r2 = await runGated({ argv: ['bash', '-c', `$'${dir}/\\xff\\x80.bin'; echo rc=$?`] });
    const e2 = r2.events.find((x) => x.facts.exe?.path !== '/usr/bin/bash');
    expect(textToBytes(e2?.facts.requestedPath ?? '').equals(nameBytes)).toBe(true);
    expect(textToBytes(e2?.facts.exe?.path ?? '').equals(nameBytes)).toBe(true);
    expect(r2.stdout).toContain('rc=0');
  });

  it('bounds a huge argv (argv_trunc) without failing the exec', async () => {
    const r = await runGated({ argv: [prog('argvbytes'), '/usr/bin/true', '--many', '5000', '300'] });
    const e = r.events.find((x) => x.facts.exe?.path === '/usr/bin/true');
    expect(e?.facts.argvTruncated).toBe(true);
    expect(e?.facts.argv.length).toBeLessThanOrEqual(4096);
    expect(e?.facts.argv.join('').length).toBeLessThanOrEqual(1 << 20);
    expect(e?.facts.argv[1]).toBe('b'.repeat(300));
    expect(r.exit?.code).toBe(0);
  });

  it('reads strings that end at the edge of a mapping (page by page)', async () => {
    const r = await runGated({ argv: [prog('memedge'), 'edge'] });
    const e = r.events.find((x) => x.facts.requestedPath === '/usr/bin/true');
    expect(e?.facts.argv).toEqual(['/usr/bin/true']);
    expect(r.exit?.code).toBe(0);
  });

  it('answers bad pointers and over-long paths itself, as the kernel would', async () => {
    for (const [mode, errno] of [['badpath', 'EFAULT'], ['badargv', 'EFAULT'], ['longpath', 'ENAMETOOLONG']]) {
      const r = await runGated({ argv: [prog('memedge'), mode as string] });
      expect(r.stdout).toContain(`RESULT execve errno=${errno}`);
      expect(r.events).toHaveLength(1); // memedge itself
      expect(r.link.stats?.n_local).toBe(1);
    }
  });

  it('PATH probes for files that do not exist never reach the broker', async () => {
    const r = await runGated({ argv: ['/usr/bin/env', 'PATH=/nonexistent/a:/nonexistent/b:/usr/bin', 'env', 'true'] });
    expect(r.events.some((x) => x.facts.requestedPath.startsWith('/nonexistent'))).toBe(false);
    expect(r.events.map((x) => x.facts.requestedPath)).toEqual(['/usr/bin/env', '/usr/bin/env', '/usr/bin/true']);
    // Two probes for `env` and two for `true` were answered ENOENT by the supervisor itself.
    expect(r.link.stats?.n_local).toBe(4);
    // (A PATH entry the user may not search would make execvp report EACCES, exactly as without the gate.)
    const missing = await runGated({ argv: ['/usr/bin/env', 'PATH=/usr/bin:/bin', 'env', 'no-such-program-xyz'] });
    expect(missing.events.map((x) => x.facts.requestedPath)).toEqual(['/usr/bin/env', '/usr/bin/env']);
    expect(missing.status.code).toBe(127);
  });

  it('reports pid, ppid, uid and the parent image', async () => {
    const r = await runGated({ argv: ['bash', '-c', '/bin/true; echo pid=$$'] });
    const e = r.events.find((x) => x.facts.requestedPath === '/bin/true');
    const bashPid = Number(/pid=(\d+)/.exec(r.stdout)?.[1]);
    expect(e?.facts.ppid).toBe(bashPid);
    expect(e?.facts.pid).toBe(e?.facts.tid);
    expect(e?.facts.uid).toBe(process.getuid?.());
    expect(e?.facts.parent?.exe).toBe('/usr/bin/bash');
    expect(e?.facts.parent?.argv[0]).toBe('bash');
    expect(e?.receivedAtUs).toBeGreaterThan(0);
  });
});
