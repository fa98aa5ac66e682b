// The exec gate end to end: the real supervisor under the real kernel, driven through SupervisorLink with a
// decide callback standing in for the policy engine.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { childProcessSpawner, type SupervisorLink } from '../../src/core/session/supervisor-link';
import type { EnforcementReport } from '../../src/core/session/types';
import { buildNative, denyCurl, prog, runGated, startAllowingLink, SUPERVISOR } from './helpers/gate';

beforeAll(() => buildNative());

describe('supervisor: gate', () => {
  it('gates the agent\'s very first exec and reports the supervisor as its parent image', async () => {
    const r = await runGated({ argv: ['bash', '-c', 'exit 0'] });
    const first = r.events[0];
    expect(first).toBeDefined();
    expect(first?.facts.argv).toEqual(['bash', '-c', 'exit 0']);
    expect(first?.facts.exe?.path).toBe('/usr/bin/bash');
    expect(first?.facts.parent?.exe).toBe(SUPERVISOR);
    expect(first?.cached).toBeNull();
    expect(r.exit).toEqual({ code: 0, signal: 0 });
  });

  it('denies the first exec: the agent never starts and the supervisor exits 126', async () => {
    const r = await runGated({ argv: ['bash', '-c', 'echo should-not-run'], decide: () => 'deny' });
    expect(r.stdout).not.toContain('should-not-run');
    expect(r.stderr).toContain('agent-gate: cannot run bash: Permission denied');
    expect(r.status.code).toBe(126);
  });

  it('allows and denies: a denied program gets "Permission denied" and bash reports 126', async () => {
    const r = await runGated({
      argv: ['bash', '-c', '/bin/true && echo true-ok; curl --version; echo curl-rc=$?'],
      decide: denyCurl,
    });
    expect(r.stdout).toContain('true-ok');
    expect(r.stdout).toContain('curl-rc=126');
    expect(r.stderr).toMatch(/curl: Permission denied/);
    const curl = r.events.find((e) => e.facts.exe?.path === '/usr/bin/curl');
    expect(curl?.facts.argv).toEqual(['curl', '--version']);
    expect(curl?.facts.parent?.exe).toBe('/usr/bin/bash');
    expect(r.failures).toEqual([]);
  });

  it('READY/GO: onReady sees the kernel report before the agent has run anything; throwing there means it never runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agent-gate-ready-'));
    try {
      const marker = join(dir, 'agent-ran');
      const start = (onReady: (r: EnforcementReport) => void): Promise<SupervisorLink> =>
        startAllowingLink({ argv: ['/bin/sh', '-c', `: > ${marker}`], spawn: childProcessSpawner({ stdio: 'pipe' }), onReady });
      let seen: { report: EnforcementReport; agentExisted: boolean } | null = null;
      const link = await start((report) => (seen = { report, agentExisted: existsSync(marker) }));
      await link.exited;
      expect(seen).not.toBeNull();
      expect(seen!.agentExisted).toBe(false);
      expect(seen!.report.notif).toBe('ok');
      expect(existsSync(marker)).toBe(true);

      rmSync(marker);
      await expect(
        start(() => {
          throw new Error('the audit log cannot be written');
        }),
      ).rejects.toThrow('the audit log cannot be written');
      expect(existsSync(marker)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('forwards the agent\'s exit code', async () => {
    const r = await runGated({ argv: ['bash', '-c', 'exit 7'] });
    expect(r.exit).toEqual({ code: 7, signal: 0 });
    expect(r.status.code).toBe(7);
  });

  it('forwards death by signal as 128+signal', async () => {
    const r = await runGated({ argv: ['bash', '-c', 'kill -TERM $$'] });
    expect(r.exit).toEqual({ code: 0, signal: 15 });
    expect(r.status.code).toBe(143);
  });

  it('forwards SIGTERM sent to the supervisor to the agent\'s process group', async () => {
    const r = await runGated({
      argv: ['bash', '-c', 'trap "echo got-term; exit 42" TERM; echo ready; sleep 30 & wait'],
      onEvent: (e, link) => {
        // bash has installed its trap before it starts the background sleep.
        if (e.facts.exe?.path === '/usr/bin/sleep') setTimeout(() => link.process.kill('SIGTERM'), 100);
      },
    });
    expect(r.stdout).toContain('got-term');
    expect(r.status.code).toBe(42);
    expect(r.exit).toEqual({ code: 42, signal: 0 });
  });

  it('ends a stopped agent on SIGTERM (the forwarded signal is followed by SIGCONT)', async () => {
    const r = await runGated({
      // The agent stops itself with SIGSTOP (which the supervisor leaves alone); a TERM must still end it.
      argv: ['bash', '-c', '/usr/bin/true; kill -STOP $$; echo continued-without-term'],
      onEvent: (e, link) => {
        if (e.facts.exe?.path === '/usr/bin/true') setTimeout(() => link.process.kill('SIGTERM'), 300);
      },
    });
    expect(r.stdout).not.toContain('continued-without-term');
    expect(r.exit).toEqual({ code: 0, signal: 15 });
    expect(r.status.code).toBe(143);
  });

  it('answers concurrent execs from the threads of one process', async () => {
    const r = await runGated({ argv: [prog('threads_exec'), '8', '/usr/bin/curl'], decide: denyCurl });
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('RESULT thread='));
    expect(lines).toHaveLength(8);
    for (const l of lines) expect(l).toMatch(/errno=EACCES$/);
    const tids = new Set(r.events.filter((e) => e.facts.exe?.path === '/usr/bin/curl').map((e) => e.facts.tid));
    expect(tids.size).toBe(8);
  });

  it('gates posix_spawn and vfork children (the parent waits for the verdict)', async () => {
    for (const mode of ['posix_spawn', 'vfork']) {
      const denied = await runGated({ argv: [prog('spawn'), mode, '/usr/bin/curl', '--version'], decide: denyCurl });
      if (mode === 'posix_spawn') expect(denied.stdout).toContain('RESULT posix_spawn errno=EACCES');
      else expect(denied.stdout).toContain('RESULT vfork status=126');
      const allowed = await runGated({ argv: [prog('spawn'), mode, '/usr/bin/true'], decide: denyCurl });
      expect(allowed.stdout).toContain(`RESULT ${mode} status=0`);
      expect(allowed.events.some((e) => e.facts.exe?.path === '/usr/bin/true')).toBe(true);
    }
  });

  it('gates execs made by a statically linked program', async () => {
    const r = await runGated({ argv: [prog('static_exec'), '/usr/bin/curl', '--version'], decide: denyCurl });
    expect(r.stdout).toContain('RESULT execv errno=EACCES');
    expect(r.events.map((e) => e.facts.exe?.path)).toEqual([prog('static_exec'), '/usr/bin/curl']);
  });

  it('AGENT_GATE_DEBUG=1 traces each notification to stderr', async () => {
    const r = await runGated({ argv: ['bash', '-c', '/bin/true'], env: { ...process.env, AGENT_GATE_DEBUG: '1' } });
    expect(r.stderr).toMatch(/agent-gate\[debug \d+\]: notification tid \d+ execve path=\/bin\/true exe=\/usr\/bin\/true/);
  });

  it('keeps the supervisor silent on the terminal unless something is wrong', async () => {
    const r = await runGated({ argv: ['bash', '-c', 'echo out; echo err >&2'] });
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toBe('err\n');
  });
});
