// The identity cache (the fast path) and deadlines.
import { chmodSync, copyFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecFacts } from '../../src/core/exec/facts';
import { buildNative, OPEN_CONFIG, prog, runGated } from './helpers/gate';

let dir = '';
beforeAll(() => {
  buildNative();
  dir = mkdtempSync(join(tmpdir(), 'gate-cache-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('supervisor: identity cache', () => {
  it('cache=1 answers later execs of the same file without asking, and still records them', async () => {
    const asked: ExecFacts[] = [];
    const r = await runGated({
      argv: ['bash', '-c', '/bin/true; /usr/bin/true; /bin/true; curl --version; curl -V; echo done'],
      decide: (f) => {
        asked.push(f);
        if (f.exe?.path === '/usr/bin/curl') return { action: 'deny', cache: true };
        return { action: 'allow', cache: f.exe?.path === '/usr/bin/true' };
      },
    });
    const trues = r.events.filter((e) => e.facts.exe?.path === '/usr/bin/true');
    expect(trues.map((e) => e.cached?.action ?? null)).toEqual([null, 'allow', 'allow']);
    // The cached record still carries the full facts (argv as invoked).
    expect(trues[1]?.facts.argv).toEqual(['/usr/bin/true']);
    expect(trues[1]?.cached?.latencyUs).toBeGreaterThanOrEqual(0);
    const curls = r.events.filter((e) => e.facts.exe?.path === '/usr/bin/curl');
    expect(curls.map((e) => e.cached?.action ?? null)).toEqual([null, 'deny']);
    expect(r.stderr.match(/curl: Permission denied/g)).toHaveLength(2);
    expect(asked.filter((f) => f.exe?.path === '/usr/bin/true')).toHaveLength(1);
    expect(r.link.stats?.n_cached).toBe(3);
    expect(r.link.stats?.n_asked).toBe(asked.length);
    expect(r.stdout).toBe('done\n');
  });

  it('an in-place rewrite of the same size changes the identity', async () => {
    const copy = join(dir, 'rewritten');
    copyFileSync('/usr/bin/true', copy);
    chmodSync(copy, 0o755);
    const size = statSync(copy).size;
    const r = await runGated({
      // Rewrite the last byte (section headers: the program still runs) right after the first exec.
      argv: ['bash', '-c', `${copy}; printf X | dd of=${copy} bs=1 seek=${size - 1} conv=notrunc status=none; ${copy}`],
      decide: () => ({ action: 'allow', cache: true }),
    });
    const runs = r.events.filter((e) => e.facts.requestedPath === copy);
    expect(runs).toHaveLength(2);
    expect(runs[0]?.facts.exe?.size).toBe(runs[1]?.facts.exe?.size);
    expect(runs.map((e) => e.cached)).toEqual([null, null]);
  });

  it('the same requested path re-pointed to another file between two execs: the second is the new file (path cache)', async () => {
    // The supervisor remembers what an absolute path resolved to, and reuses it only when statx of the path
    // finds the same identity: a symlink along it re-pointed means another file, resolved and judged afresh.
    const link = join(dir, 'tool');
    const r = await runGated({
      argv: ['bash', '-c', `ln -sf /usr/bin/true ${link}; ${link}; ${link}; ln -sf /usr/bin/curl ${link}; ${link} --version; echo rc=$?`],
      decide: (f) => ({ action: f.exe?.path === '/usr/bin/curl' ? 'deny' : 'allow', cache: true }),
    });
    const runs = r.events.filter((e) => e.facts.requestedPath === link);
    expect(runs.map((e) => [e.facts.exe?.path, e.cached?.action ?? null])).toEqual([
      ['/usr/bin/true', null],
      ['/usr/bin/true', 'allow'],
      ['/usr/bin/curl', null],
    ]);
    expect(r.stdout).toContain('rc=126');
  });

  it('argv[0] that is the very string given as the path is read once and still recorded whole', async () => {
    // forkexec passes the same pointer as path and argv[0].
    const r = await runGated({ argv: [prog('forkexec'), '3', '/bin/true'], decide: () => ({ action: 'allow', cache: true }) });
    const trues = r.events.filter((e) => e.facts.requestedPath === '/bin/true');
    expect(trues).toHaveLength(3);
    for (const e of trues) expect(e.facts.argv).toEqual(['/bin/true']);
  });

  it('cached records (the record pipe) reach the broker before a later asked exec (the socket): events stay in order', async () => {
    const r = await runGated({
      argv: ['bash', '-c', '/bin/true; /bin/true; /bin/true; /usr/bin/env true; /bin/true; /usr/bin/env true'],
      decide: (f) => ({ action: 'allow', cache: f.exe?.path === '/usr/bin/true' }),
    });
    const ids = r.events.map((e) => e.facts.requestId);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    const kinds = r.events.filter((e) => e.facts.exe?.path !== '/usr/bin/bash').map((e) => `${e.facts.exe?.path}:${e.cached ? 'cached' : 'asked'}`);
    expect(kinds).toEqual([
      '/usr/bin/true:asked',
      '/usr/bin/true:cached',
      '/usr/bin/true:cached',
      '/usr/bin/env:asked',
      '/usr/bin/true:cached', // env's own exec of true
      '/usr/bin/true:cached',
      '/usr/bin/env:asked',
      '/usr/bin/true:cached',
    ]);
  });

  it('with a record session, hits of a verdict sent with an origin are recorded by the supervisor (RECORD); without one, or with an origin it will not keep, as cached EXEC lines', async () => {
    const origin = '"rule_id":"r1","reason":"é \\"quoted\\"","layer":"rule"';
    const run = (o: string | undefined, recordSession: string | undefined) =>
      runGated({
        argv: ['bash', '-c', '/bin/true; /bin/true; /bin/true'],
        ...(recordSession !== undefined ? { recordSession } : {}),
        decide: (f) => ({ action: 'allow', cache: f.exe?.path === '/usr/bin/true', ...(o !== undefined ? { origin: o } : {}) }),
      });
    const cachedExecs = (r: Awaited<ReturnType<typeof run>>) => r.events.filter((e) => e.facts.exe?.path === '/usr/bin/true' && e.cached).length;

    const kept = await run(origin, 'sess-1');
    expect(kept.records).toHaveLength(2);
    expect(kept.records[0]).toMatchObject({ type: 'decision', session: 'sess-1', exe: '/usr/bin/true', argv: ['/bin/true'], verdict: 'allow', rule_id: 'r1', reason: 'é "quoted"', layer: 'rule', cached: true });
    expect(cachedExecs(kept)).toBe(0);
    expect(kept.link.stats?.n_records).toBe(2);

    // 16 KiB is the longest origin the supervisor keeps; one with a newline would break the line.
    for (const [o, session] of [[origin, undefined], [`"rule_id":"${'x'.repeat(16_384)}","reason":"","layer":"rule"`, 'sess-2'], ['"rule_id":"a",\n"reason":"","layer":"rule"', 'sess-3'], [undefined, 'sess-4']] as const) {
      const r = await run(o, session);
      expect(r.records, `${session}`).toHaveLength(0);
      expect(cachedExecs(r), `${session}`).toBe(2);
      expect(r.link.stats?.n_records, `${session}`).toBe(0);
    }
  });

  it('without cache=1 every exec is asked', async () => {
    const r = await runGated({ argv: ['bash', '-c', '/bin/true; /bin/true'], decide: () => ({ action: 'allow', cache: false }) });
    expect(r.events.filter((e) => e.facts.exe?.path === '/usr/bin/true').map((e) => e.cached)).toEqual([null, null]);
  });

  it('a loader exec is never cached, even when it names no program', async () => {
    const r = await runGated({
      argv: ['bash', '-c', '/lib64/ld-linux-x86-64.so.2 --version >/dev/null; /lib64/ld-linux-x86-64.so.2 /bin/true'],
      decide: () => ({ action: 'allow', cache: true }),
    });
    const ld = r.events.filter((e) => e.facts.exe?.path.includes('ld-linux'));
    expect(ld).toHaveLength(2);
    expect(ld.map((e) => e.cached)).toEqual([null, null]);
    expect(ld[1]?.facts.loaderTarget?.path).toBe('/usr/bin/true');
  });

  it('a script is never cached, even when its interpreter does not exist yet', async () => {
    const script = join(dir, 'later.sh');
    const interp = join(dir, 'interp');
    writeFileSync(script, `#!${interp}\n`);
    chmodSync(script, 0o755);
    const r = await runGated({
      argv: ['bash', '-c', `${script}; cp /usr/bin/true ${interp}; ${script}; ${script}; echo rc=$?`],
      decide: () => ({ action: 'allow', cache: true }),
    });
    // The first attempt fails in the kernel (no interpreter): the supervisor answers ENOENT itself, as the kernel
    // would, without asking. The next two are asked, each time.
    expect(r.stderr).toMatch(/later\.sh: cannot execute: required file not found/); // bash 5.2's words for ENOENT
    const runs = r.events.filter((e) => e.facts.requestedPath === script);
    expect(runs.map((e) => e.cached)).toEqual([null, null]);
    expect(runs[0]?.facts.interpreter?.path).toBe(interp);
    expect(r.stdout).toContain('rc=0');
  });

  it('a script or a loader exec is never answered from the cache', async () => {
    const r = await runGated({
      argv: ['bash', '-c', '/lib64/ld-linux-x86-64.so.2 /bin/true; /lib64/ld-linux-x86-64.so.2 /bin/true'],
      decide: () => ({ action: 'allow', cache: true }),
    });
    const viaLd = r.events.filter((e) => e.facts.loaderTarget);
    expect(viaLd).toHaveLength(2);
    expect(viaLd.map((e) => e.cached)).toEqual([null, null]);
  });
});

describe('supervisor: idempotency', () => {
  // Without WAIT_KILLABLE_RECV (kernels before 5.19, simulated here) a signal interrupts the waiting execve
  // and the kernel notifies it again: the broker must still see each logical exec once.
  it('a restarted exec is not asked twice', async () => {
    const n = 10;
    const r = await runGated({
      argv: [prog('sigexec'), String(n), '/usr/bin/true'],
      env: { ...process.env, AGENT_GATE_NO_WAIT_KILLABLE: '1' },
      decide: (f) => (f.exe?.path === '/usr/bin/true' ? 'none' : 'allow'),
      onEvent: (e, link) => {
        // A slow verdict, so that several signals land while the exec waits.
        if (e.facts.exe?.path === '/usr/bin/true') setTimeout(() => link.verdict(e.facts.requestId, 'allow', false), 30);
      },
    });
    expect(r.link.report.wait_killable).toBe('0');
    expect(r.stdout).toContain('RESULT sigexec ok');
    expect(r.events.filter((e) => e.facts.exe?.path === '/usr/bin/true')).toHaveLength(n);
    // The scenario really happened: restarted notifications were recognised.
    expect(r.link.stats?.n_restarted).toBeGreaterThan(0);
  });

  it('with WAIT_KILLABLE_RECV the same load raises exactly one notification per exec', async () => {
    const n = 10;
    const r = await runGated({
      argv: [prog('sigexec'), String(n), '/usr/bin/true'],
      decide: (f) => (f.exe?.path === '/usr/bin/true' ? 'none' : 'allow'),
      onEvent: (e, link) => {
        if (e.facts.exe?.path === '/usr/bin/true') setTimeout(() => link.verdict(e.facts.requestId, 'allow', false), 30);
      },
    });
    expect(r.link.report.wait_killable).toBe('1');
    expect(r.stdout).toContain('RESULT sigexec ok');
    expect(r.events.filter((e) => e.facts.exe?.path === '/usr/bin/true')).toHaveLength(n);
    expect(r.link.stats?.n_restarted).toBe(0);
  });
});

describe('supervisor: deadlines', () => {
  it('a request with no verdict gets the TIMEOUT action and is reported', async () => {
    const r = await runGated({
      argv: ['bash', '-c', 'curl --version; echo rc=$?'],
      config: { ...OPEN_CONFIG, timeout: { ms: 200, action: 'deny' } },
      decide: (f) => (f.exe?.path === '/usr/bin/curl' ? 'none' : 'allow'),
    });
    const curl = r.events.find((e) => e.facts.exe?.path === '/usr/bin/curl');
    expect(r.timeouts).toEqual([{ id: curl?.facts.requestId, action: 'deny' }]);
    expect(r.stdout).toContain('rc=126');
  });

  it('the TIMEOUT action can be allow', async () => {
    const r = await runGated({
      argv: ['bash', '-c', '/bin/true; echo rc=$?'],
      config: { ...OPEN_CONFIG, timeout: { ms: 100, action: 'allow' } },
      decide: (f) => (f.exe?.path === '/usr/bin/true' ? 'none' : 'allow'),
    });
    expect(r.timeouts).toHaveLength(1);
    expect(r.stdout).toContain('rc=0');
  });

  it('HOLD suspends the deadline until the verdict arrives', async () => {
    const r = await runGated({
      argv: ['bash', '-c', '/bin/true; echo first=$?; curl --version >/dev/null; echo second=$?'],
      config: { ...OPEN_CONFIG, timeout: { ms: 150, action: 'deny' } },
      decide: (f) => (f.exe?.path === '/usr/bin/true' || f.exe?.path === '/usr/bin/curl' ? 'hold' : 'allow'),
      onEvent: (e, link) => {
        // Answered well after the deadline would have passed.
        const action = e.facts.exe?.path === '/usr/bin/true' ? 'allow' : 'deny';
        if (!e.cached && e.facts.exe?.path !== '/usr/bin/bash') {
          setTimeout(() => link.verdict(e.facts.requestId, action, false), 400);
        }
      },
    });
    expect(r.timeouts).toEqual([]);
    expect(r.stdout).toContain('first=0');
    expect(r.stdout).toContain('second=126');
  });

  it('a VERDICT after the deadline is ignored', async () => {
    const r = await runGated({
      argv: ['bash', '-c', '/bin/true; echo rc=$?; sleep 0.3; /bin/true; echo rc2=$?'],
      config: { ...OPEN_CONFIG, timeout: { ms: 100, action: 'deny' } },
      decide: (f) => (f.requestedPath === '/bin/true' ? 'none' : 'allow'),
      onEvent: (e, link) => {
        if (e.facts.requestedPath === '/bin/true') setTimeout(() => link.verdict(e.facts.requestId, 'allow', true), 200);
      },
    });
    expect(r.timeouts).toHaveLength(2);
    expect(r.stdout).toContain('rc=126');
    // The late cache=1 verdict did not enter the cache either.
    expect(r.stdout).toContain('rc2=126');
    expect(r.failures).toEqual([]);
  });

  it('runs a deadline per request for a multi-threaded target', async () => {
    const r = await runGated({
      argv: [prog('threads_exec'), '4', '/usr/bin/curl'],
      config: { ...OPEN_CONFIG, timeout: { ms: 150, action: 'deny' } },
      decide: (f) => (f.exe?.path === '/usr/bin/curl' ? 'none' : 'allow'),
    });
    expect(r.timeouts).toHaveLength(4);
    expect(r.stdout.match(/errno=EACCES/g)).toHaveLength(4);
  });
});
