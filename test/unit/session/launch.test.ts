// Launch decisions shared by the CLI and the VS Code terminal: which policy, ${WORKSPACE}, audit path,
// supervisor, the banner, and the words for a start failure.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditPathFor, defaultAuditDirectory, listAuditLogs, sessionIdOfAuditFile } from '../../../src/core/audit/paths';
import type { Policy } from '../../../src/core/policy/types';
import {
  checkSupervisor,
  describeEnforcement,
  enforcementGaps,
  explainStartFailure,
  formatDiagnostic,
  loadRunPolicy,
  planLaunch,
  resolvePolicySource,
  resolveWorkspace,
  startBanner,
  supervisorPathFor,
} from '../../../src/core/session/launch';

let dir: string;
let fakeSupervisor: string;
const DEFAULT = path.join(__dirname, '..', '..', '..', 'policies', 'default.gate.toml');
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'launch-test-'));
  fakeSupervisor = path.join(dir, 'agent-gate-supervisor');
  fs.writeFileSync(fakeSupervisor, '#!/bin/sh\n', { mode: 0o755 });
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('resolvePolicySource', () => {
  it('--policy, else <workspace>/.gate.toml, else the shipped default, with the reason in words', () => {
    const ws = path.join(dir, 'ws');
    fs.mkdirSync(ws);
    expect(resolvePolicySource({ workspace: ws, defaultPolicy: DEFAULT })).toEqual({ file: DEFAULT, kind: 'default', why: `no .gate.toml in ${ws}` });
    fs.writeFileSync(path.join(ws, '.gate.toml'), '');
    expect(resolvePolicySource({ workspace: ws })).toEqual({ file: path.join(ws, '.gate.toml'), kind: 'workspace', why: "the workspace's .gate.toml" });
    expect(resolvePolicySource({ workspace: ws, explicit: 'p.toml', cwd: dir })).toEqual({ file: path.join(dir, 'p.toml'), kind: 'explicit', why: 'given with --policy' });
  });

  it('an untrusted workspace never has its .gate.toml read: the default, and the banner says why', () => {
    const ws = path.join(dir, 'cloned');
    fs.mkdirSync(ws);
    fs.writeFileSync(path.join(ws, '.gate.toml'), '[meta]\ndefault_action = "allow"\n');
    const s = resolvePolicySource({ workspace: ws, trusted: false, defaultPolicy: DEFAULT });
    expect(s).toMatchObject({ file: DEFAULT, kind: 'default' });
    expect(s.why).toBe('the workspace is not trusted, so its .gate.toml is not used');
  });

  it('${WORKSPACE} is --workspace, else the current directory', () => {
    expect(resolveWorkspace(undefined, '/a/b')).toBe('/a/b');
    expect(resolveWorkspace('c', '/a/b')).toBe('/a/b/c');
    expect(resolveWorkspace('/x', '/a/b')).toBe('/x');
  });
});

describe('audit paths', () => {
  it('XDG_STATE_HOME (absolute only), else ~/.local/state; one file per session, listed newest first', () => {
    expect(defaultAuditDirectory({ XDG_STATE_HOME: '/s' }, '/h')).toBe('/s/agent-gate');
    expect(defaultAuditDirectory({ XDG_STATE_HOME: 'rel' }, '/h')).toBe('/h/.local/state/agent-gate');
    expect(defaultAuditDirectory({}, '/h')).toBe('/h/.local/state/agent-gate');
    expect(auditPathFor('S1', '/d')).toBe('/d/audit-S1.jsonl');
    expect(sessionIdOfAuditFile('/d/audit-S1.jsonl')).toBe('S1');
    expect(sessionIdOfAuditFile('/d/other.jsonl')).toBe(null);
    fs.writeFileSync(auditPathFor('old', dir), '');
    fs.utimesSync(auditPathFor('old', dir), new Date(1000), new Date(1000));
    fs.writeFileSync(auditPathFor('new', dir), '{}\n');
    fs.writeFileSync(path.join(dir, 'unrelated.txt'), '');
    expect(listAuditLogs(dir).map((l) => l.sessionId)).toEqual(['new', 'old']);
    expect(listAuditLogs(path.join(dir, 'missing'))).toEqual([]);
  });
});

describe('supervisor path', () => {
  it('given, else $AGENT_GATE_SUPERVISOR, else beside the bundle; a missing one says what to do', () => {
    expect(supervisorPathFor('/x/sup', {})).toBe('/x/sup');
    expect(supervisorPathFor(undefined, { AGENT_GATE_SUPERVISOR: '/env/sup' })).toBe('/env/sup');
    expect(supervisorPathFor(undefined, {}, '/dist')).toBe('/dist/agent-gate-supervisor');
    expect(checkSupervisor(fakeSupervisor)).toBe(null);
    expect(checkSupervisor(path.join(dir, 'none'))).toMatch(/missing or not executable: run npm run build/);
  });
});

describe('loadRunPolicy and planLaunch', () => {
  it('a policy with an error refuses the run and says where; a reviewed text is used instead of the file', () => {
    const file = path.join(dir, 'bad.toml');
    fs.writeFileSync(file, '[meta]\ndefault_action = "maybe"\n');
    const bad = loadRunPolicy(file, { workspace: dir });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.error).toContain('line 2');
      expect(bad.error).toContain(`agent-gate check --policy ${file}`);
      expect(formatDiagnostic(bad.diagnostics[0]!)).toMatch(new RegExp(`^${file}:2:\\d+: error: .* \\[bad-value\\]$`));
    }
    const good = loadRunPolicy(file, { workspace: dir, text: '[meta]\ndefault_action = "deny"\n' });
    expect(good.ok && good.policy.meta.defaultAction).toBe('deny');
    expect(loadRunPolicy(path.join(dir, 'none.toml'), { workspace: dir })).toMatchObject({ ok: false, error: `cannot read the policy ${path.join(dir, 'none.toml')}: file not found` });
  });

  it('plans a run: ${WORKSPACE} is the agent directory even with a policy elsewhere; audit path from the session id', () => {
    const ws = path.join(dir, 'project');
    const elsewhere = path.join(dir, 'elsewhere');
    fs.mkdirSync(ws);
    fs.mkdirSync(elsewhere);
    const policyFile = path.join(elsewhere, 'p.toml');
    fs.writeFileSync(policyFile, '[filesystem]\nwrite_globs = ["${WORKSPACE}/**"]\n');
    const plan = planLaunch({ argv: ['bash'], workspace: ws, policyFile, supervisorPath: fakeSupervisor, env: { PATH: '/usr/bin:/bin' }, sessionId: 'S', auditDir: path.join(dir, 'state') });
    expect(plan.ok).toBe(true);
    if (!plan.ok) return;
    expect(plan.policy.filesystem.grants.some((g) => g.path === ws && g.rights.includes('w'))).toBe(true);
    expect(plan.policy.filesystem.grants.some((g) => g.path === elsewhere)).toBe(false);
    expect(plan.auditPath).toBe(path.join(dir, 'state', 'audit-S.jsonl'));
    expect(plan.source).toMatchObject({ kind: 'explicit', file: policyFile });
    const missing = planLaunch({ argv: ['bash'], workspace: ws, supervisorPath: path.join(dir, 'nope'), env: {} });
    expect(missing).toMatchObject({ ok: false });
  });
});

const policy = (over: Partial<Policy> = {}): Policy => ({
  file: '/w/.gate.toml',
  meta: { version: 1, defaultAction: 'ask', onPolicyError: 'deny', onSupervisorTimeoutMs: 1000 },
  filesystem: {
    enabled: true,
    handled: 'rw',
    requireEnforced: true,
    grants: [
      { path: '/usr', rights: 'r', source: 'bootstrap', widened: false },
      { path: '/dev/null', rights: 'rw', source: 'bootstrap', widened: false },
      { path: '/w', rights: 'rw', source: 'allow_globs ${WORKSPACE}/**', widened: false },
    ],
  },
  network: { enabled: true, connectTcpPorts: [443], bindTcpPorts: [], requireEnforced: true },
  approval: { timeoutMs: 1000, onTimeout: 'deny', maxPending: 1, maxPerMinute: 1 },
  session: { allowRootWithoutFilesystem: false, keepLeftovers: false },
  ruleIds: [],
  ...over,
});

describe('enforcement and the banner', () => {
  const full = { landlock_abi: '7', fs: 'enforced', net: 'enforced', scope_signal: 'enforced', scope_abstract_unix: 'enforced', notif: 'ok', wait_killable: '1' };

  it('says what the kernel enforces per feature, in one line', () => {
    expect(describeEnforcement(full, policy())).toBe(
      'exec gate on · Landlock ABI 7: writes only to /w, reads sealed (enforced); TCP connect to 443 (enforced); signals and abstract sockets scoped',
    );
    const old = { landlock_abi: '3', fs: 'partial', net: 'unsupported', scope_signal: 'unsupported', scope_abstract_unix: 'unsupported', notif: 'ok', wait_killable: '0' };
    expect(describeEnforcement(old, policy({ network: { enabled: false, connectTcpPorts: [], bindTcpPorts: [], requireEnforced: true } }))).toBe(
      'exec gate on (no killable wait: a signalled exec may be asked twice) · Landlock ABI 3: writes only to /w, reads sealed (partial); network not sealed (no [network]); no signal/socket scoping',
    );
  });

  it('non-fatal gaps are listed; sealing the policy does not ask for is not a gap', () => {
    expect(enforcementGaps(full, policy())).toEqual([]);
    expect(enforcementGaps({ ...full, net: 'unsupported', wait_killable: '0' }, policy())).toEqual(['net=unsupported', 'wait_killable=0']);
    expect(enforcementGaps({ ...full, net: 'unsupported' }, policy({ network: { enabled: false, connectTcpPorts: [], bindTcpPorts: [], requireEnforced: true } }))).toEqual([]);
  });

  it('three lines: the policy (or the built-in default and why), the kernel, the audit log and removed variables', () => {
    const lines = startBanner({
      source: { file: '/ext/policies/default.gate.toml', kind: 'default', why: 'the workspace is not trusted' },
      policy: policy(),
      report: full,
      auditFile: '/state/audit-S.jsonl',
      envRemoved: ['VSCODE_IPC_HOOK_CLI', 'SSH_AUTH_SOCK'],
    });
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe('policy: built-in default /ext/policies/default.gate.toml (the workspace is not trusted)');
    expect(lines[1]).toMatch(/^kernel: exec gate on · Landlock ABI 7/);
    expect(lines[2]).toBe("audit log: /state/audit-S.jsonl; removed from the agent's environment: VSCODE_IPC_HOOK_CLI, SSH_AUTH_SOCK (channels out of the gate; [env] pass keeps one)");
    const odd = startBanner({ source: { file: '/w/.gate.toml', kind: 'workspace', why: 'x' }, policy: policy(), report: full, auditFile: '/a', envRemoved: ['V\x1b[31m'] });
    expect(odd[2]).toContain('V\\e[31m');
    expect(startBanner({ source: { file: '/w/.gate.toml', kind: 'workspace', why: 'x' }, policy: policy(), report: full, auditFile: '/a' })[0]).toBe('policy: /w/.gate.toml');
  });

  it('a start failure is explained in words: EBUSY (WSL2, a gate in a gate), no user notification, a required Landlock feature', () => {
    expect(explainStartFailure('cannot install the exec gate: seccomp says EBUSY, another seccomp listener already watches this process')).toMatch(/WSL2.*does not run ungated/s);
    expect(explainStartFailure('this kernel lacks seccomp user notification (SECCOMP_RET_USER_NOTIF, Linux 5.0+)')).toMatch(/does not run ungated/);
    expect(explainStartFailure('the policy requires network enforcement but the kernel lacks Landlock ABI 4 TCP port rules')).toMatch(/require_enforced = false/);
    expect(explainStartFailure('something else')).toBe('something else');
  });
});
