// Agent profiles (policies/agents/*.toml): loading, finding the agent a command starts, merging a profile
// into the policy in force, and preparing the state its grants need. Real files in a temp directory; the
// evaluator is the real one.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  agentProfilesDir,
  applyAgentProfile,
  detectAgent,
  findAgentExecutables,
  listAgentProfiles,
  loadAgentProfile,
  prepareState,
} from '../../../src/core/agents/profiles';
import { gatherLocalFacts } from '../../../src/core/exec/local-facts';
import { createEvaluator, loadPolicyText, type Policy } from '../../../src/core/policy/index';
import { mergeAgentProfile } from '../../../src/core/policy/merge';

let dir = '';
let home = '';
let nm = '';
const PATH = '/usr/local/bin:/usr/bin:/bin';
beforeAll(() => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'gate-profiles-')));
  home = path.join(dir, 'home');
  fs.mkdirSync(home);
  // A node_modules tree laid out as npm installs the agents (files are copies of small real programs).
  nm = path.join(dir, 'global', 'node_modules');
  const put = (rel: string, from = '/usr/bin/true'): void => {
    fs.mkdirSync(path.dirname(path.join(nm, rel)), { recursive: true });
    fs.copyFileSync(from, path.join(nm, rel));
    fs.chmodSync(path.join(nm, rel), 0o755);
  };
  put('@openai/codex/bin/codex.js');
  put('@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex', '/usr/bin/echo');
  put('@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/codex-path/rg', '/usr/bin/cat');
  put('@google/gemini-cli/bundle/gemini.js');
  put('@anthropic-ai/claude-code/bin/claude.exe');
  fs.mkdirSync(path.join(nm, '.bin'));
  fs.symlinkSync('../@anthropic-ai/claude-code/bin/claude.exe', path.join(nm, '.bin', 'claude'));
  fs.symlinkSync('../@openai/codex/bin/codex.js', path.join(nm, '.bin', 'codex'));
  fs.symlinkSync('../@google/gemini-cli/bundle/gemini.js', path.join(nm, '.bin', 'gemini-cli-renamed'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const env = (): NodeJS.ProcessEnv => ({ HOME: home, PATH });

function base(text: string): Policy {
  const loaded = loadPolicyText(text, path.join(dir, 'base.toml'), { env: env(), workspace: path.join(dir, 'ws') });
  if (!loaded.policy) throw new Error(JSON.stringify(loaded.diagnostics));
  return loaded.policy;
}

const SEALED = '[meta]\nversion = 1\ndefault_action = "allow"\n[filesystem]\nread_globs = ["/**"]\nwrite_globs = ["${WORKSPACE}/**"]\n';

describe('the shipped profiles', () => {
  it('one per agent, each loads without errors, its [agent] id its file name', () => {
    const ids = listAgentProfiles().map((p) => p.id);
    expect(ids).toEqual(['aider', 'claude', 'codex', 'gemini', 'shell']);
    for (const id of ids) {
      const { profile, diagnostics } = loadAgentProfile(id, { env: env(), workspace: dir });
      expect(diagnostics.filter((d) => d.severity === 'error'), id).toEqual([]);
      expect(profile?.agent?.id).toBe(id);
      expect(profile?.agent?.file).toBe(path.join(agentProfilesDir(), `${id}.toml`));
    }
  });

  it('an unknown profile is an error that lists the known ones; a policy is not a profile', () => {
    expect(loadAgentProfile('nope').diagnostics[0]?.message).toBe(`no agent profile 'nope'; the profiles are: aider, claude, codex, gemini, shell (or give a profile file's path)`);
    const file = path.join(dir, 'plain.toml');
    fs.writeFileSync(file, '[meta]\nversion = 1\n');
    expect(loadAgentProfile(file).diagnostics.at(-1)?.message).toContain('has no [agent] section');
  });

  it('state paths follow the agents\' own variables', () => {
    const claude = loadAgentProfile('claude', { env: { ...env(), CLAUDE_CONFIG_DIR: '/cfg/claude' }, workspace: dir }).profile!;
    expect(claude.agent?.createFiles).toEqual([['/cfg/claude/.claude.json', '{}\n'], ['/cfg/claude/.credentials.json', '{}\n']]);
    expect(claude.filesystem.grants.some((g) => g.path === '/cfg/claude/projects')).toBe(true);
    const plain = loadAgentProfile('claude', { env: env(), workspace: dir }).profile!;
    expect(plain.agent?.createFiles.map(([f]) => f)).toEqual([path.join(home, '.claude.json'), path.join(home, '.claude', '.credentials.json')]);
    const codex = loadAgentProfile('codex', { env: { ...env(), CODEX_HOME: '/x/codex' }, workspace: dir }).profile!;
    expect(codex.filesystem.grants.some((g) => g.path === '/x/codex' && g.rights === 'w')).toBe(true);
    const gemini = loadAgentProfile('gemini', { env: { ...env(), GEMINI_CLI_HOME: '/g' }, workspace: dir }).profile!;
    expect(gemini.filesystem.grants.some((g) => g.path === '/g/.gemini')).toBe(true);
  });
});

describe('finding the agent a command starts', () => {
  it('by the command name, by what it resolves to (a node_modules/.bin link), or by the script node runs', () => {
    const o = { cwd: dir, path: `${path.join(nm, '.bin')}:${PATH}`, env: env() };
    expect(detectAgent(['claude', '-p', 'hi'], o)).toMatchObject({ id: 'claude', why: `the command is claude (${path.join(nm, '@anthropic-ai/claude-code/bin/claude.exe')})` });
    expect(detectAgent(['gemini-cli-renamed'], o)).toMatchObject({ id: 'gemini', why: `gemini-cli-renamed is ${path.join(nm, '@google/gemini-cli/bundle/gemini.js')}` });
    expect(detectAgent(['node', path.join(nm, '@openai/codex/bin/codex.js'), 'exec'], o)).toMatchObject({ id: 'codex' });
    expect(detectAgent(['bash', '-c', 'true'], o)).toMatchObject({ id: 'shell' });
    expect(detectAgent(['ls', '-la'], o)).toBeNull();
    expect(detectAgent([], o)).toBeNull();
  });

  it("a program merely named like an agent gets no profile (its grants are the agent's, red-team R53)", () => {
    const o = { cwd: dir, path: PATH, env: env() };
    const impostor = path.join(dir, 'codex');
    fs.writeFileSync(impostor, '#!/bin/sh\nmkdir -p "$HOME/.codex"\n');
    fs.chmodSync(impostor, 0o755);
    expect(detectAgent(['./codex'], o)).toBeNull();
    expect(detectAgent([impostor, 'exec'], o)).toBeNull();
    // Not on PATH at all: a name is not enough either.
    expect(detectAgent(['claude'], o)).toBeNull();
  });

  it("the agent's executables: under the node_modules the program lives in, found on disk now", () => {
    const codex = loadAgentProfile('codex', { env: env(), workspace: dir }).profile!.agent!;
    expect(findAgentExecutables(codex, path.join(nm, '@openai/codex/bin/codex.js'))).toEqual([
      path.join(nm, '@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex'),
      path.join(nm, '@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/codex-path/rg'),
      path.join(nm, '@openai/codex/bin/codex.js'),
    ]);
    expect(findAgentExecutables(codex, '/usr/bin/true')).toEqual([]);
  });
});

describe('merging a profile into the policy in force', () => {
  it('profile deny/ask rules come first, allow rules after the policy\'s own; grants and env are added', () => {
    const file = path.join(dir, 'p1.toml');
    fs.writeFileSync(
      file,
      '[agent]\nid = "t"\nname = "Test agent"\n[filesystem]\nwrite_globs = ["${HOME}/.t/**"]\n[env]\nset = { A = "profile", B = "profile" }\nremove = ["SECRET_*"]\npass = ["SSH_AUTH_SOCK"]\n' +
        '[[rule]]\nid = "t-no-echo"\naction = "deny"\nexe_basename = "echo"\n' +
        '[[rule]]\nid = "t-allow-cat"\naction = "allow"\nexe_basename = "cat"\n',
    );
    const profile = loadAgentProfile(file, { env: env(), workspace: dir }).profile!;
    const policy = base(SEALED.replace('default_action = "allow"', 'default_action = "deny"') + '[env]\nset = { B = "policy" }\n[[rule]]\nid = "base-allow-echo"\naction = "allow"\nexe_basename = "echo"\n[[rule]]\nid = "base-deny-cat"\naction = "deny"\nexe_basename = "cat"\n');
    const merged = mergeAgentProfile(policy, profile);
    expect(merged.diagnostics).toEqual([]);
    const m = merged.policy!;
    expect(m.ruleIds).toEqual(['t-no-echo', 'base-allow-echo', 'base-deny-cat', 't-allow-cat']);
    const ev = createEvaluator(m, { path: PATH });
    const verdict = (argv: string[]): string => {
      const d = ev.evaluate(gatherLocalFacts(argv, { cwd: dir, path: PATH }));
      return `${d.action} ${d.ruleId ?? 'default'}`;
    };
    // The profile narrows what the policy allows, and cannot loosen what it denies.
    expect(verdict(['echo', 'x'])).toBe('deny t-no-echo');
    expect(verdict(['cat'])).toBe('deny base-deny-cat');
    expect(verdict(['true'])).toBe('deny default');
    expect(m.filesystem.grants.some((g) => g.path === path.join(home, '.t') && g.rights === 'w')).toBe(true);
    expect(m.env).toEqual({ remove: ['SECRET_*'], pass: [], set: [['A', 'profile'], ['B', 'policy']] });
    expect(m.agent?.id).toBe('t');
    // The policy object it came from is unchanged.
    expect(policy.ruleIds).toEqual(['base-allow-echo', 'base-deny-cat']);
  });

  it("the agent's own executables are allowed by identity: a changed copy is not the agent", () => {
    const codexBin = path.join(nm, '@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex');
    const strict = base(SEALED.replace('default_action = "allow"', 'default_action = "deny"'));
    const profile = loadAgentProfile('codex', { env: env(), workspace: dir }).profile!;
    const merged = mergeAgentProfile(strict, profile, { executables: [codexBin] }).policy!;
    const ev = createEvaluator(merged, { path: PATH });
    const d = ev.evaluate(gatherLocalFacts([codexBin, 'exec'], { cwd: dir, path: PATH }));
    expect(d).toMatchObject({ action: 'allow', ruleId: 'agent-codex' });
    const changed = path.join(dir, 'codex-changed');
    fs.copyFileSync('/usr/bin/cat', changed);
    fs.chmodSync(changed, 0o755);
    expect(ev.evaluate(gatherLocalFacts([changed], { cwd: dir, path: PATH })).action).toBe('deny');
    // A copy with the same content is the same program.
    const copy = path.join(dir, 'codex-copy');
    fs.copyFileSync(codexBin, copy);
    fs.chmodSync(copy, 0o755);
    expect(ev.evaluate(gatherLocalFacts([copy], { cwd: dir, path: PATH })).ruleId).toBe('agent-codex');
  });

  it('a policy that does not seal the filesystem gets no sealing from a profile', () => {
    const open = base('[meta]\nversion = 1\ndefault_action = "allow"\n');
    const merged = mergeAgentProfile(open, loadAgentProfile('claude', { env: env(), workspace: dir }).profile!);
    expect(merged.policy!.filesystem.enabled).toBe(false);
    // …and the profile says what that means for what the agent must never write.
    expect(merged.diagnostics.filter((d) => d.code === 'agent-never-write').length).toBeGreaterThan(0);
  });

  it('warns when a grant covers a place the profile says the agent must never write', () => {
    const wide = base(SEALED.replace('write_globs = ["${WORKSPACE}/**"]', 'write_globs = ["${WORKSPACE}/**", "${HOME}/**"]'));
    const merged = mergeAgentProfile(wide, loadAgentProfile('claude', { env: env(), workspace: dir }).profile!);
    const warnings = merged.diagnostics.filter((d) => d.code === 'agent-never-write').map((d) => d.message);
    expect(warnings).toContainEqual(`Claude Code can write ${path.join(home, '.claude', 'settings.json')} (write grant ${home}, from write_globs \${HOME}/**); its profile says it must never: what is written there runs, or is trusted, outside the gate later`);
    expect(warnings.some((w) => w.includes(path.join(home, '.bashrc')))).toBe(true);
    // The shipped default policy gives none of those places (a home outside /tmp, which it lets the agent write).
    const e = { HOME: '/home/someone', PATH };
    const def = loadPolicyText(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'policies', 'default.gate.toml'), 'utf8'), 'default.gate.toml', { env: e, workspace: path.join(dir, 'ws') }).policy!;
    for (const id of ['claude', 'codex', 'gemini', 'aider', 'shell']) {
      const m = mergeAgentProfile(def, loadAgentProfile(id, { env: e, workspace: dir }).profile!);
      expect(m.diagnostics, id).toEqual([]);
    }
  });

  it('a rule id used by the policy and the profile is an error', () => {
    const file = path.join(dir, 'p2.toml');
    fs.writeFileSync(file, '[agent]\nid = "t2"\n[[rule]]\nid = "same"\naction = "allow"\nexe_basename = "cat"\n');
    const merged = mergeAgentProfile(base(SEALED + '[[rule]]\nid = "same"\naction = "deny"\nexe_basename = "cat"\n'), loadAgentProfile(file, { env: env() }).profile!);
    expect(merged.policy).toBeNull();
    expect(merged.diagnostics[0]).toMatchObject({ code: 'duplicate-id' });
  });
});

describe('applyAgentProfile', () => {
  const o = (argv: string[], agent?: string | null) => ({
    argv,
    cwd: dir,
    workspace: path.join(dir, 'ws'),
    env: { ...env(), PATH: `${path.join(nm, '.bin')}:${PATH}` },
    ...(agent !== undefined ? { agent } : {}),
  });

  it('Codex started directly is told to leave sandboxing to the gate; through node it is not (it would mean another thing)', () => {
    const r = applyAgentProfile(base(SEALED), o(['codex', 'exec', 'hi']));
    expect(r.ok && r.argv).toEqual(['codex', '--no-daemon', '-c', 'sandbox_mode="danger-full-access"', 'exec', 'hi']);
    expect(r.ok && r.why).toBe(`detected: the command is codex (${path.join(nm, '@openai/codex/bin/codex.js')})`);
    expect(r.ok && r.executables).toContain(path.join(nm, '@openai/codex/bin/codex.js'));
    const viaNode = applyAgentProfile(base(SEALED), o(['node', path.join(nm, '@openai/codex/bin/codex.js'), 'exec']));
    expect(viaNode.ok && viaNode.agent?.id).toBe('codex');
    expect(viaNode.ok && viaNode.prepended).toEqual([]);
  });

  it('--agent NAME picks a profile for any program; --agent none uses none', () => {
    const r = applyAgentProfile(base(SEALED), o(['my-wrapper'], 'gemini'));
    expect(r.ok && [r.agent?.id, r.why]).toEqual(['gemini', 'given with --agent']);
    const none = applyAgentProfile(base(SEALED), o(['codex'], null));
    expect(none.ok && [none.agent, none.argv]).toEqual([null, ['codex']]);
    const bad = applyAgentProfile(base(SEALED), o(['x'], 'nope'));
    expect(bad).toMatchObject({ ok: false });
    expect(!bad.ok && bad.error).toContain("no agent profile 'nope'");
  });

  it('a detected profile that cannot be used (a variable it needs is unset) is left out with a warning', () => {
    const r = applyAgentProfile(base(SEALED), { argv: ['claude'], cwd: dir, workspace: dir, env: { PATH: `${path.join(nm, '.bin')}:${PATH}` } });
    expect(r.ok && r.agent).toBeNull();
    expect(r.diagnostics.at(-1)).toMatchObject({ code: 'agent-profile-unused' });
  });
});

describe('prepareState', () => {
  it('makes missing state in order when its parent exists, JSON files as {}; drops the grants of what it could not make', () => {
    const h = path.join(dir, 'fresh-home');
    fs.mkdirSync(h);
    const e = { HOME: h, PATH };
    const def = loadPolicyText(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'policies', 'default.gate.toml'), 'utf8'), 'default.gate.toml', { env: e, workspace: path.join(dir, 'ws') }).policy!;
    const merged = mergeAgentProfile(def, loadAgentProfile('claude', { env: e, workspace: dir }).profile!).policy!;
    const state = prepareState(merged);
    expect(state.failed).toEqual([]);
    expect(state.created).toContain(path.join(h, '.claude'));
    expect(state.created).toContain(path.join(h, '.claude', 'projects'));
    expect(fs.readFileSync(path.join(h, '.claude.json'), 'utf8')).toBe('{}\n');
    expect(fs.statSync(path.join(h, '.claude')).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(h, '.claude.json')).mode & 0o777).toBe(0o600);
    // The agent's own package caches (red-team R99): made under ~/.cache; the user's ~/.npm, ~/.cargo, ~/go are not.
    expect(state.created).toContain(path.join(h, '.cache', 'agent-gate', 'tools'));
    for (const d of ['.npm', '.cargo', 'go']) expect(fs.existsSync(path.join(h, d)), d).toBe(false);
    expect(state.policy.filesystem.grants.some((g) => g.path === path.join(h, '.cache', 'agent-gate', 'tools'))).toBe(true);
    // Nothing that exists is touched.
    fs.writeFileSync(path.join(h, '.claude.json'), '{"kept":true}');
    expect(prepareState(merged).created).toEqual([]);
    expect(fs.readFileSync(path.join(h, '.claude.json'), 'utf8')).toBe('{"kept":true}');
  });
});
