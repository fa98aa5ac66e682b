// The gate's test switches (AGENT_GATE_NO_MOUNTNS, AGENT_GATE_LANDLOCK_ABI_MAX, AGENT_GATE_BINFMT_MISC,
// AGENT_GATE_NO_PIDFD_INFO, AGENT_GATE_NO_WAIT_KILLABLE, AGENT_GATE_SYNC_WAKEUP, AGENT_GATE_DEBUG, and the
// CLI's AGENT_GATE_SUPERVISOR) are read from the environment of the program that starts the gate (red-team
// R56). A real session's comes from the user, never from the agent; what an agent can do is set them for a
// nested `agent-gate run` of its own, which inherits its environment. That gains nothing: the nested
// supervisor cannot install its filter under the outer one (EBUSY: it refuses to run), a "supervisor" of the
// agent's own is just a program under the outer gate, and everything either starts is still the outer gate's
// to decide and Landlock's to refuse.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, denyCurlPolicy, makeDirs, prepare, runCli } from './gate-progs/cli';

let dirs: ReturnType<typeof makeDirs>;
beforeAll(async () => {
  await prepare();
  dirs = makeDirs('switches');
});
afterAll(() => dirs?.cleanup());

const SWITCHES = 'AGENT_GATE_NO_MOUNTNS=1 AGENT_GATE_LANDLOCK_ABI_MAX=0 AGENT_GATE_NO_PIDFD_INFO=1 AGENT_GATE_NO_WAIT_KILLABLE=1 AGENT_GATE_SYNC_WAKEUP=1 AGENT_GATE_DEBUG=1';

describe('gate: test switches set by the agent for a nested run (red-team R56)', () => {
  it('a gated agent that sets every switch (its policy even passes AGENT_GATE_*) and starts agent-gate run inside gains nothing: the nested gate refuses to start, a fake supervisor of its own runs under the outer gate, which still refuses the write and the program', async () => {
    const ws = dirs.ws;
    const policy = path.join(dirs.root, 'outer.toml');
    fs.writeFileSync(policy, `${denyCurlPolicy()}\n[env]\npass = ["AGENT_GATE_*"]\n`);
    // The nested run's policy: nothing sealed, curl allowed.
    fs.writeFileSync(path.join(ws, 'inner.toml'), '[meta]\nversion = 1\ndefault_action = "allow"\n');
    // A binfmt_misc of the agent's, and a "supervisor" that runs the program without any gate.
    fs.mkdirSync(path.join(ws, 'binfmt'));
    fs.writeFileSync(path.join(ws, 'binfmt', 'status'), 'enabled\n');
    fs.writeFileSync(path.join(ws, 'fake-sup'), '#!/bin/bash\nwhile [ $# -gt 0 ] && [ "$1" != "--" ]; do shift; done; shift; "$@"; exit 0\n', { mode: 0o755 });
    const outside = [path.join(dirs.root, 'outside-1'), path.join(dirs.root, 'outside-2')];
    const inner = (n: number, extra: string): string =>
      `${extra} ${process.execPath} ${CLI} run --policy inner.toml --accept-policy --audit ${ws}/inner-${n}.jsonl --allow-root-without-filesystem --on-ask allow -- bash -c 'touch ${outside[n - 1]} && echo WROTE-${n}; curl --version >/dev/null && echo CURL-RAN-${n}'; echo inner-rc-${n}=$?`;
    const script = [
      `export ${SWITCHES} AGENT_GATE_BINFMT_MISC=${ws}/binfmt`,
      inner(1, ''),
      inner(2, `AGENT_GATE_SUPERVISOR=${ws}/fake-sup`),
    ].join('\n');
    const r = await runCli(['bash', '-c', script], { policy, audit: dirs.audit('outer'), cwd: ws });
    const out = r.stdout + r.stderr;
    // The real supervisor, nested: refused to run.
    expect(out).toMatch(/EBUSY[^\n]*refusing to run ungated/);
    expect(out).toContain('inner-rc-1=126');
    expect(out).toMatch(/inner-rc-2=\d+/);
    // Nothing the nested runs started escaped the outer gate.
    for (const f of outside) expect(fs.existsSync(f), f).toBe(false);
    expect(out).not.toMatch(/WROTE-|CURL-RAN-/);
    // The outer gate saw and refused curl (the fake supervisor's run): its record is in the outer audit log.
    const curl = r.decisions.filter((d) => d.rule_id === 'no-curl');
    expect(curl.length).toBeGreaterThanOrEqual(1);
    expect(curl.every((d) => d.verdict === 'deny')).toBe(true);
    expect(r.code).toBe(0);
  });

  it('a session started with a switch says so (banner and start record)', async () => {
    const policy = path.join(dirs.root, 'plain.toml');
    fs.writeFileSync(policy, denyCurlPolicy());
    const r = await runCli(['true'], { policy, audit: dirs.audit('said'), cwd: dirs.ws, env: { AGENT_GATE_NO_MOUNTNS: '1' } });
    expect(r.stderr).toContain('test switch AGENT_GATE_NO_MOUNTNS=1 is set');
    expect(JSON.stringify(r.start)).toContain('test switch AGENT_GATE_NO_MOUNTNS=1 is set');
  });
});
