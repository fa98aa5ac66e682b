// End to end: `agent-gate run` defaults — the policy it picks, where the audit log goes and how it is
// protected — and its usage errors. Real CLI, real supervisor, real kernel.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAuditLog } from '../../src/core/audit/audit-log';
import type { DecisionRecord, SessionRecord } from '../../src/core/audit/records';
import { CLI, ROOT, denyCurlPolicy, makeDirs, prepare, runCli } from './gate-progs/cli';

let dirs: ReturnType<typeof makeDirs>;
// The default policy lets the agent write /tmp, so a state home for the default audit path must be elsewhere.
let stateHomes: string;
beforeAll(async () => {
  await prepare();
  dirs = makeDirs('cli');
  // (Nor ~/.cache: the default policy lets the agent write the package managers' caches.)
  fs.mkdirSync(path.join(os.homedir(), '.local', 'state'), { recursive: true });
  stateHomes = fs.mkdtempSync(path.join(os.homedir(), '.local', 'state', 'gate-e2e-xdg-'));
});
afterAll(() => {
  dirs?.cleanup();
  if (stateHomes) fs.rmSync(stateHomes, { recursive: true, force: true });
});

function auditFilesIn(stateHome: string): string[] {
  const dir = path.join(stateHome, 'agent-gate');
  // Only the logs: a copy of the policy in force (policy-SHA256.toml) sits beside each.
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.jsonl')).map((f) => path.join(dir, f)) : [];
}

describe('agent-gate run defaults', () => {
  it('without --policy and .gate.toml: the shipped default policy; the log goes to $XDG_STATE_HOME/agent-gate (0700/0600)', async () => {
    const stateHome = path.join(stateHomes, 'xdg-1');
    const r = await runCli(['bash', '-c', 'ls >/dev/null; echo ok'], { cwd: dirs.ws, env: { XDG_STATE_HOME: stateHome } });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('ok\n');
    const files = auditFilesIn(stateHome);
    expect(files).toHaveLength(1);
    expect(path.basename(files[0] as string)).toMatch(/^audit-\d{8}T\d{6}-[0-9a-f]{6}\.jsonl$/);
    expect(fs.statSync(path.dirname(files[0] as string)).mode & 0o777).toBe(0o700);
    expect(fs.statSync(files[0] as string).mode & 0o777).toBe(0o600);
    const recs = readAuditLog(files[0] as string);
    const start = recs[0] as SessionRecord;
    expect(start).toMatchObject({ type: 'session', event: 'start', policy_file: path.join(ROOT, 'policies', 'default.gate.toml') });
    // The default policy seals writes: Landlock filesystem sealing is enforced.
    expect(start.enforcement).toMatchObject({ fs: 'enforced' });
    const ls = recs.find((x): x is DecisionRecord => x.type === 'decision' && x.exe === '/usr/bin/ls');
    expect(ls).toMatchObject({ verdict: 'allow', rule_id: null, layer: 'default' });
    // Beside the log, the policy text in force, named by the sha256 the start record gives (for the editor's
    // "Compare with the policy in force"), as private as the log.
    const snapshot = path.join(path.dirname(files[0] as string), `policy-${start.policy_sha256}.toml`);
    expect(fs.readFileSync(snapshot, 'utf8')).toBe(fs.readFileSync(path.join(ROOT, 'policies', 'default.gate.toml'), 'utf8'));
    expect(fs.statSync(snapshot).mode & 0o777).toBe(0o600);
  });

  it("uses ./.gate.toml when present, and ${WORKSPACE} is that file's directory", async () => {
    const ws = path.join(dirs.root, 'with-policy');
    fs.mkdirSync(ws);
    fs.writeFileSync(path.join(ws, '.gate.toml'), denyCurlPolicy());
    const stateHome = path.join(stateHomes, 'xdg-2');
    const r = await runCli(['bash', '-c', 'echo hi > inside && echo wrote; curl --version'], { cwd: ws, env: { XDG_STATE_HOME: stateHome } });
    expect(r.stdout).toContain('wrote');
    expect(r.code).toBe(126);
    const recs = readAuditLog(auditFilesIn(stateHome)[0] as string);
    expect(recs[0]).toMatchObject({ policy_file: path.join(ws, '.gate.toml') });
    expect(recs.some((x) => x.type === 'decision' && x.rule_id === 'no-curl' && x.verdict === 'deny')).toBe(true);
  });

  it('refuses an audit log inside the agent-writable workspace (exit 126, says what to do)', async () => {
    const ws = path.join(dirs.root, 'log-inside');
    fs.mkdirSync(ws);
    fs.writeFileSync(path.join(ws, '.gate.toml'), denyCurlPolicy());
    const r = await runCli(['true'], { cwd: ws, audit: path.join(ws, 'logs', 'audit.jsonl') });
    expect(r.code).toBe(126);
    expect(r.stderr).toContain('inside a path the agent may write');
    expect(r.stderr).toContain('--audit FILE');
    expect(fs.existsSync(path.join(ws, 'logs', 'audit.jsonl'))).toBe(false);
  });

  it('usage errors exit 2 with a message', async () => {
    const none = await runCli([], { cwd: dirs.ws, audit: dirs.audit('usage') });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no program to run');
    const bad = await runCli(['true'], { cwd: dirs.ws, audit: dirs.audit('usage2'), extra: ['--on-ask', 'maybe'] });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--on-ask must be prompt, deny or allow');
  });

  it('passes the program exit code and signal through; --metrics writes the denial counters', async () => {
    const policy = path.join(dirs.ws, 'exit.toml');
    fs.writeFileSync(policy, denyCurlPolicy());
    const code = await runCli(['bash', '-c', 'exit 7'], { cwd: dirs.ws, policy, audit: dirs.audit('exit7') });
    expect(code.code).toBe(7);
    expect(code.end).toMatchObject({ exit_code: 7 });
    const metrics = path.join(dirs.state, 'metrics.prom');
    const denied = await runCli(['bash', '-c', 'curl --version; /usr/bin/curl --version; true'], { cwd: dirs.ws, policy, audit: dirs.audit('metrics'), extra: ['--metrics', metrics] });
    expect(denied.code).toBe(0);
    const prom = fs.readFileSync(metrics, 'utf8');
    expect(prom).toMatch(new RegExp(`agent_gate_denials_by_rule_total\\{session="${denied.start?.session}",rule="no-curl"\\} [2-9]`));
    expect(prom).toContain('agent_gate_decisions_total{session=');
    const sig = await runCli(['bash', '-c', 'kill -TERM $$'], { cwd: dirs.ws, policy, audit: dirs.audit('sig') });
    expect(sig.code).toBe(128 + 15);
    expect(sig.records.find((x) => x.type === 'outcome')).toMatchObject({ signal: 15 });
  });

  it('prints the start banner on stderr (policy, what the kernel enforces, the audit log); -q silences it', async () => {
    // Outside the workspace, so no warning about a policy the agent can write.
    const policy = path.join(dirs.state, 'banner.toml');
    fs.writeFileSync(policy, denyCurlPolicy());
    const audit = dirs.audit('banner');
    const r = await runCli(['true'], { cwd: dirs.ws, policy, audit });
    expect(r.code).toBe(0);
    const banner = r.stderr.split('\n').filter((l) => /^agent-gate: (policy|kernel|audit log):/.test(l));
    expect(banner).toEqual([
      `agent-gate: policy: ${policy} (given with --policy)`,
      expect.stringMatching(/^agent-gate: kernel: exec gate on · Landlock ABI \d+: writes only to .*\(enforced\)/),
      `agent-gate: audit log: ${audit}`,
    ]);
    const q = await runCli(['true'], { cwd: dirs.ws, policy, audit: dirs.audit('quiet'), extra: ['-q'] });
    expect(q.code).toBe(0);
    expect(q.stderr).toBe('');
    // The shipped default, and why.
    const d = await runCli(['true'], { cwd: dirs.ws, audit: path.join(stateHomes, 'banner-default.jsonl') });
    expect(d.stderr).toContain(`agent-gate: policy: built-in default ${path.join(ROOT, 'policies', 'default.gate.toml')} (no .gate.toml in ${dirs.ws})`);
  });

  it('--policy elsewhere: ${WORKSPACE} is still the directory the agent runs in (--workspace, else the current one)', async () => {
    const elsewhere = path.join(dirs.root, 'elsewhere');
    fs.mkdirSync(elsewhere, { recursive: true });
    const policy = path.join(elsewhere, 'p.toml');
    fs.writeFileSync(policy, denyCurlPolicy());
    const r = await runCli(['bash', '-c', 'echo hi > in-ws && echo wrote'], { cwd: dirs.ws, policy, audit: dirs.audit('ws-cwd') });
    expect(r.stdout).toBe('wrote\n');
    expect(fs.existsSync(path.join(dirs.ws, 'in-ws'))).toBe(true);
    // The policy's directory gets no write grant.
    const other = await runCli(['bash', '-c', `echo x > ${elsewhere}/no; echo rc=$?`], { cwd: dirs.ws, policy, audit: dirs.audit('ws-cwd2') });
    expect(other.stdout).toBe('rc=1\n');
    expect(fs.existsSync(path.join(elsewhere, 'no'))).toBe(false);
    // --workspace names it explicitly.
    const w = await runCli(['bash', '-c', `echo y > ${elsewhere}/yes && echo ok`], { cwd: dirs.ws, policy, audit: dirs.audit('ws-flag'), extra: ['--workspace', elsewhere] });
    expect(w.stdout).toBe('ok\n');
  });

  it('agent-gate --version', async () => {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, [CLI, '--version'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`agent-gate ${(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}\n`);
  });
});
