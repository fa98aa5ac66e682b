// Hashing only when a rule could match (HASH_SIZES): a hash is compared only with the programs the policy
// names by content, all of known sizes, so a file of another size is never read. A 400 MB agent binary in a
// writable place then costs nothing to identify, while a copy of a named program is still recognised.
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, copyFileSync, ftruncateSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { denyCurlPolicy, makeDirs, prepare, prog, runCli } from './gate-progs/cli';
import { buildNative, runGated } from './helpers/gate';

let dir = '';
beforeAll(() => {
  buildNative();
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'gate-hashing-')));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha256 = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

function copyProgram(from: string, name: string): string {
  const to = join(dir, name);
  copyFileSync(from, to);
  chmodSync(to, 0o755);
  return to;
}

describe('supervisor: hashing only sizes a rule could match', () => {
  it('hashes a file under HASH_UNDER whose size is in HASH_SIZES, and skips one whose size is not', async () => {
    const t = copyProgram('/usr/bin/true', 'maybe-true');
    const size = statSync(t).size;
    const wanted = await runGated({ argv: [t], hashUnder: [dir], hashSizes: [1, size, size + 10] });
    expect(wanted.exit?.code).toBe(0);
    expect(wanted.events.find((e) => e.facts.exe?.path === t)?.facts.exe?.sha256).toBe(sha256('/usr/bin/true'));

    const other = await runGated({ argv: [t], hashUnder: [dir], hashSizes: [size + 1] });
    expect(other.exit?.code).toBe(0);
    const e = other.events.find((x) => x.facts.exe?.path === t);
    expect(e?.facts.exe?.size).toBe(size);
    expect(e?.facts.exe?.sha256).toBeUndefined();

    // An empty list: nothing the policy names by content, so nothing is hashed.
    const none = await runGated({ argv: [t], hashUnder: [dir], hashSizes: [] });
    expect(none.events.find((x) => x.facts.exe?.path === t)?.facts.exe?.sha256).toBeUndefined();
  });

  it('without HASH_SIZES every file under HASH_UNDER is hashed (an older broker)', async () => {
    const t = copyProgram('/usr/bin/true', 'old-broker-true');
    const r = await runGated({ argv: [t], hashUnder: [dir] });
    expect(r.events.find((x) => x.facts.exe?.path === t)?.facts.exe?.sha256).toBe(sha256('/usr/bin/true'));
  });

  it('a renamed copy of the dynamic loader is still recognised by content, whatever HASH_SIZES says', async () => {
    const ld = realpathSync('/lib64/ld-linux-x86-64.so.2');
    const copy = copyProgram(ld, 'not-a-loader');
    const r = await runGated({ argv: [copy, '/usr/bin/true'], hashUnder: [dir], hashSizes: [] });
    const e = r.events.find((x) => x.facts.exe?.path === copy);
    expect(e?.facts.exe?.sha256).toBe(sha256(ld));
    expect(e?.facts.loaderTarget?.path).toBe('/usr/bin/true');
  });
});

describe('agent-gate run: hashing only what the policy could match by content', () => {
  it('a big program in the workspace is not hashed; a renamed copy of a program the policy names still is, and matches by content', async () => {
    await prepare();
    const dirs = makeDirs('hashing');
    try {
      // 64 MiB of padding after a static program: still a valid ELF, with a size no program has.
      const big = join(dirs.ws, 'big-agent');
      copyFileSync(prog('static_exec'), big);
      const fd = openSync(big, 'r+');
      ftruncateSync(fd, statSync(big).size + 64 * 1024 * 1024);
      closeSync(fd);
      chmodSync(big, 0o755);
      const curlCopy = join(dirs.ws, 'innocent');
      copyFileSync('/usr/bin/curl', curlCopy);
      chmodSync(curlCopy, 0o755);
      const policy = join(dirs.root, 'p.toml');
      writeFileSync(policy, denyCurlPolicy());
      const r = await runCli(['bash', '-c', `${big} /usr/bin/true; ${curlCopy} --version; echo done`], { policy, audit: dirs.audit('hash'), cwd: dirs.ws, extra: ['--workspace', dirs.ws] });
      expect(r.stdout, r.stderr).toContain("done");
      const bigRec = r.decisions.find((d) => d.exe === big);
      expect(bigRec?.verdict).toBe('allow');
      expect(bigRec?.sha256).toBeUndefined();
      const copyRec = r.decisions.find((d) => d.exe === curlCopy);
      expect(copyRec).toMatchObject({ verdict: 'deny', rule_id: 'no-curl', sha256: sha256('/usr/bin/curl') });
    } finally {
      dirs.cleanup();
    }
  });
});
