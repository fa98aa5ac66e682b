// End to end: the agent cannot get out from under the gate. It cannot change the policy in force, write the
// audit log, reach the supervisor (socket, ptrace, signals), use io_uring or other syscall ABIs; killing the
// supervisor leaves it able to exec nothing; a decision that cannot be recorded is denied. Real CLI, real
// policy engine, real supervisor, real kernel.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { denyCurlPolicy, makeDirs, prepare, prog, runCli, type CliRun } from './gate-progs/cli';

const CURL = '/usr/bin/curl';
let dirs: ReturnType<typeof makeDirs>;
let n = 0;

beforeAll(async () => {
  await prepare();
  dirs = makeDirs('tamper');
});
afterAll(() => dirs?.cleanup());

function workspace(policyText: string): { ws: string; policy: string } {
  const ws = path.join(dirs.root, `ws-${++n}`);
  fs.mkdirSync(path.join(ws, 'src'), { recursive: true });
  const policy = path.join(ws, '.gate.toml');
  fs.writeFileSync(policy, policyText);
  return { ws, policy };
}

function gated(ws: string, script: string, extra: Partial<Parameters<typeof runCli>[1]> = {}): Promise<CliRun> {
  return runCli(['bash', '-c', script], { audit: dirs.audit(`tamper-${++n}`), cwd: ws, ...extra });
}

const PERMISSIVE = '[meta]\\nversion = 1\\ndefault_action = \\"allow\\"\\n';

function childrenOf(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function until<T>(what: string, probe: () => T | null | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('gate: the policy in force cannot be changed by the agent', () => {
  it('a permissive .gate.toml written mid-session does not change the session (curl stays denied), is put back, and is kept for review', async () => {
    // The default policy makes the whole workspace writable, and Landlock grants subtrees, so the agent can
    // write .gate.toml: the write succeeds, but the policy in force was loaded (and hashed) at start, and the
    // file is put back at once, the agent's version kept for review (issue 13 item 8).
    const { ws, policy } = workspace(denyCurlPolicy());
    const original = fs.readFileSync(policy);
    // (As root the supervisor would make .gate.toml read-only in the agent's mount namespace, and the write
    // would fail: gate-workspace-files.test.ts tries that. Here the write goes through, as for a non-root
    // agent.)
    const r = await gated(ws, `printf "${PERMISSIVE}" > .gate.toml && echo wrote-policy; sleep 0.3; curl --version`, { env: { AGENT_GATE_NO_MOUNTNS: '1' } });
    expect(r.stdout).toContain('wrote-policy');
    expect(fs.readFileSync(policy)).toEqual(original);
    expect(r.code).toBe(126);
    expect(r.decisions.filter((d) => d.rule_id === 'no-curl' && d.verdict === 'deny').length).toBeGreaterThanOrEqual(1);
    expect(r.decisions.some((d) => d.exe === CURL && d.verdict === 'allow')).toBe(false);
    const { createHash } = await import('node:crypto');
    expect(r.start?.policy_sha256).toBe(createHash('sha256').update(original).digest('hex'));
    expect(r.stderr).toContain('the agent can write the policy file');
    // At the end the user is shown the agent's version, and the audit log has it.
    expect(r.stderr).toContain('.gate.toml (modified) — it is the policy of the next session');
    expect(r.stderr).toContain('-exe_basename = "curl"');
    expect(r.end?.protected_changes).toEqual([expect.objectContaining({ path: policy, class: 'gate-policy', reverted: true })]);
    expect(r.end?.policy_changed).toBeUndefined();
  });

  it('with write grants that exclude .gate.toml, the write itself fails (Landlock)', async () => {
    const { ws, policy } = workspace(denyCurlPolicy({ writeGlobs: ['${WORKSPACE}/src/**'] }));
    const before = fs.readFileSync(policy, 'utf8');
    const r = await gated(ws, `printf "${PERMISSIVE}" > .gate.toml; echo "write-rc=$?"; echo ok > src/file && echo wrote-src; curl --version`);
    expect(r.stderr).toMatch(/\.gate\.toml: Permission denied/);
    expect(r.stdout).toContain('write-rc=1');
    expect(r.stdout).toContain('wrote-src');
    expect(fs.readFileSync(policy, 'utf8')).toBe(before);
    expect(r.decisions.some((d) => d.rule_id === 'no-curl' && d.verdict === 'deny')).toBe(true);
    expect(r.stderr).not.toContain('the agent can write the policy file');
    expect(r.stderr).not.toContain('was changed during this session');
  });
});

describe('gate: the agent cannot reach the audit log or the supervisor', () => {
  it('cannot write the audit log (outside the write grants), and its attempt is not in the log', async () => {
    const { ws } = workspace(denyCurlPolicy());
    const audit = dirs.audit('protected');
    const r = await gated(ws, `echo '{"type":"decision","forged":true}' >> ${audit}; echo "rc=$?"; : > ${audit}; echo "trunc-rc=$?"`, { audit });
    expect(r.stdout).toContain('rc=1');
    expect(r.stdout).toContain('trunc-rc=1');
    expect(r.stderr).toContain(`${audit}: Permission denied`);
    // Every line is one of ours (the forged line's text appears only inside the recorded argv).
    expect(r.records.some((rec) => 'forged' in rec)).toBe(false);
    expect(r.records.every((rec) => rec.session === r.start?.session)).toBe(true);
    expect(r.start).toBeDefined();
    expect(r.end).toBeDefined();
  });

  it("cannot connect to the supervisor's socket (gone), ptrace it, read its memory or signal it", async () => {
    const { ws } = workspace(denyCurlPolicy());
    // $PPID of the agent's bash is the supervisor; its --socket argument is the 3rd element of its cmdline.
    // (A root agent does not even see the supervisor in its /proc: gate-proc.test.ts. Here /proc is shared, as
    // for a non-root agent, so the path can be read and tried.)
    const r = await gated(
      ws,
      [
        `sock="$(tr '\\0' '\\n' < /proc/$PPID/cmdline | sed -n 3p)"; echo "sock=$sock"`,
        `${prog('unixconnect')} "$sock"`,
        `${prog('ptrace')} $PPID`,
        `${prog('vmread')} $PPID`,
        `${prog('killpid')} $PPID 9`,
        `${prog('killpid')} $PPID 15`,
        `kill -9 $PPID; echo "bash-kill-rc=$?"`,
        'echo still-gated',
      ].join('; '),
      { env: { AGENT_GATE_NO_MOUNTNS: '1' } },
    );
    expect(r.stdout).toMatch(/sock=\/.*broker\.sock/);
    expect(r.stdout).toContain('RESULT connect errno=ENOENT');
    expect(r.stdout).toContain('RESULT ptrace errno=EPERM');
    expect(r.stdout).toContain('RESULT process_vm_readv errno=EPERM');
    expect(r.stdout.match(/RESULT kill errno=EPERM/g)).toHaveLength(2);
    expect(r.stdout).toContain('bash-kill-rc=1');
    expect(r.stdout).toContain('still-gated');
    expect(r.code).toBe(0);
    expect(r.end).toMatchObject({ exit_code: 0 });
  });

  it('cannot use io_uring, int 0x80 or x32 syscalls', async () => {
    const { ws } = workspace(denyCurlPolicy());
    const r = await gated(ws, `${prog('iouring')}; ${prog('x32')}; ${prog('int80')}; echo "int80-status=$?"`);
    expect(r.stdout).toContain('RESULT io_uring_setup errno=EPERM');
    expect(r.stdout).toContain('RESULT x32 errno=ENOSYS');
    expect(r.stdout).toContain('RESULT int80 trying');
    expect(r.stdout).not.toContain('returned');
    expect(r.stdout).toContain(`int80-status=${128 + 31}`);
  });
});

describe('gate: fail closed', () => {
  it('killing the supervisor leaves the agent able to exec nothing', async () => {
    const { ws } = workspace(denyCurlPolicy());
    const fifo = path.join(ws, 'go');
    const { execFileSync } = await import('node:child_process');
    execFileSync('mkfifo', [fifo]);
    let cliPid = 0;
    const running = gated(ws, `touch ready; read x < go; /bin/sh -c "echo ran > ran"; echo "rc=$?" > result`, { onSpawn: (p) => (cliPid = p) });
    await until('the agent to start', () => fs.existsSync(path.join(ws, 'ready')));
    // The CLI's child is the keeper (native/src/keeper.c); the supervisor is its child.
    const keeper = await until('the keeper', () => childrenOf(cliPid)[0]);
    const supervisor = await until('the supervisor', () => childrenOf(keeper)[0]);
    const agent = await until('the agent', () => childrenOf(supervisor)[0]);
    process.kill(supervisor, 'SIGKILL');
    await until('the supervisor to die', () => !fs.existsSync(`/proc/${supervisor}/cmdline`) || fs.readFileSync(`/proc/${supervisor}/stat`, 'utf8').split(' ')[2] === 'Z');
    let agentAlive = true;
    try {
      // Non-blocking: ENXIO if the agent (the only reader) is gone.
      const fd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
      fs.writeSync(fd, 'go\n');
      fs.closeSync(fd);
    } catch {
      agentAlive = false;
    }
    const r = await running;
    if (agentAlive) {
      // It finishes (its exec refused), or the keeper ends it first (the supervisor's orphans are ended): either
      // way no exec of its ran.
      const gone = (): boolean => !fs.existsSync(`/proc/${agent}/stat`) || fs.readFileSync(`/proc/${agent}/stat`, 'utf8').split(' ')[2] === 'Z';
      const result = await until('the agent to finish or be ended', () => (fs.existsSync(path.join(ws, 'result')) ? fs.readFileSync(path.join(ws, 'result'), 'utf8') : gone() ? 'ended' : false));
      expect(result.trim()).not.toBe('rc=0');
    }
    // Either way, nothing ran after the supervisor died.
    expect(fs.existsSync(path.join(ws, 'ran'))).toBe(false);
    try {
      process.kill(agent, 'SIGKILL');
    } catch {
      // already gone
    }
    expect(r.code).toBe(126);
    expect(r.stderr).toContain('the gate failed');
    expect(r.end).toMatchObject({ event: 'end', exit_code: 126 });
  });

  it('every exec that ran before the supervisor was killed has its decision record (the record pipe outlives it)', async () => {
    // Cached decisions reach the broker through the record pipe, drained every few ms: at the kill some are
    // still in it. The broker drains it when the supervisor is gone, before it ends the session.
    const { ws } = workspace(denyCurlPolicy());
    let cliPid = 0;
    const running = gated(ws, 'touch ready; for i in $(seq 20000); do /bin/true && echo ok >> ran.log || break; done', { onSpawn: (p) => (cliPid = p) });
    await until('the agent to start', () => fs.existsSync(path.join(ws, 'ready')));
    const keeper = await until('the keeper', () => childrenOf(cliPid)[0]);
    const supervisor = await until('the supervisor', () => childrenOf(keeper)[0]);
    const ran = path.join(ws, 'ran.log');
    await until('300 execs', () => fs.existsSync(ran) && fs.readFileSync(ran, 'utf8').length >= 300 * 3);
    process.kill(supervisor, 'SIGKILL');
    const r = await running;
    const okLines = fs.readFileSync(ran, 'utf8').split('\n').filter(Boolean).length;
    const allowedTrue = r.decisions.filter((d) => d.exe === '/usr/bin/true' && d.verdict === 'allow').length;
    expect(okLines).toBeGreaterThanOrEqual(300);
    expect(okLines).toBeLessThan(20000);
    // Every exec that ran has its record (a killed exec may have a record and not have run: never the reverse).
    expect(allowedTrue).toBeGreaterThanOrEqual(okLines);
    expect(allowedTrue - okLines).toBeLessThanOrEqual(1);
    expect(r.code).toBe(126);
    expect(r.end).toMatchObject({ event: 'end', exit_code: 126 });
  });

  it('a log no space can be reserved for, on a filesystem the agent can write, is refused at start', async () => {
    // Without [filesystem] the agent can write everywhere, so it could fill the log's filesystem: a log that
    // cannot have space reserved (a character device here) is refused, and says why.
    const { ws } = workspace(denyCurlPolicy({ filesystem: false }));
    const r = await runCli(['bash', '-c', 'echo ran > ran'], { audit: '/dev/full', cwd: ws, extra: ['--allow-root-without-filesystem'] });
    expect(r.code).toBe(126);
    expect(r.stderr).toMatch(/the audit log \/dev\/full is not a regular file, so no space can be reserved for it, and the agent can write to its filesystem/);
    expect(fs.existsSync(path.join(ws, 'ran'))).toBe(false);
  });
});

describe('gate: approvals and CLI errors', () => {
  it('--on-ask deny in CI answers at once, and the record says nobody was asked', async () => {
    const { ws } = workspace(denyCurlPolicy({ curlAction: 'ask' }));
    const r = await gated(ws, 'curl --version; echo after', { extra: ['--on-ask', 'deny'], env: { CI: '1' } });
    expect(r.stdout).toContain('after');
    const asked = r.decisions.filter((d) => d.rule_id === 'no-curl');
    expect(asked.length).toBeGreaterThanOrEqual(1);
    expect(asked[0]).toMatchObject({ verdict: 'deny', layer: 'approval' });
    expect(asked[0]?.reason).toContain('no one to ask (--on-ask deny): default deny');
  });

  it('CI without --on-ask denies asks (never hangs), and --on-ask allow lets them run', async () => {
    const { ws } = workspace(denyCurlPolicy({ curlAction: 'ask' }));
    const ci = await gated(ws, 'curl --version', { env: { CI: 'true' } });
    expect(ci.decisions.find((d) => d.rule_id === 'no-curl')?.reason).toContain('no one to ask (CI is set): default deny');
    const allowed = await gated(ws, 'curl --version', { extra: ['--on-ask', 'allow'] });
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toMatch(/^curl \d+\.\d+/m);
    expect(allowed.decisions.find((d) => d.rule_id === 'no-curl')).toMatchObject({ verdict: 'allow', layer: 'approval' });
  });

  it('--on-ask allow is never rate-limited (nobody is prompted, so there is no one to flood)', async () => {
    const policy = denyCurlPolicy({ curlAction: 'ask' }).replace('on_timeout = "deny"', 'on_timeout = "deny"\nmax_per_minute = 2\nmax_pending = 1');
    const { ws } = workspace(policy);
    const r = await gated(ws, 'for i in 1 2 3 4; do curl --version >/dev/null && echo "ran-$i"; done', { extra: ['--on-ask', 'allow'] });
    expect(r.stdout).toBe('ran-1\nran-2\nran-3\nran-4\n');
    const asked = r.decisions.filter((d) => d.rule_id === 'no-curl');
    expect(asked.map((d) => [d.verdict, d.reason])).toEqual(Array(4).fill(['allow', 'no one to ask (--on-ask allow): default allow (asked by rule no-curl)']));
  });

  it('a missing program exits 127 with a clear message', async () => {
    const { ws, policy } = workspace(denyCurlPolicy());
    const r = await runCli(['no-such-program-xyz', 'arg'], { policy, audit: dirs.audit('missing'), cwd: ws });
    expect(r.code).toBe(127);
    expect(r.stderr).toContain('no-such-program-xyz');
    expect(r.stderr).toMatch(/No such file or directory/);
  });

  it('policy errors are FILE:LINE:COL lines and exit 126; a missing supervisor says to build', async () => {
    const { ws } = workspace('[meta]\nversion = 1\ndefault_action = "maybe"\n');
    const bad = await runCli(['true'], { audit: dirs.audit('bad'), cwd: ws });
    expect(bad.code).toBe(126);
    expect(bad.stderr).toContain(`${path.join(ws, '.gate.toml')}:3:18: error:`);
    const { ws: ws2 } = workspace(denyCurlPolicy());
    const nosup = await runCli(['true'], { audit: dirs.audit('nosup'), cwd: ws2, extra: ['--supervisor', path.join(ws2, 'nope')] });
    expect(nosup.code).toBe(126);
    expect(nosup.stderr).toContain('run npm run build');
  });
});
