// Workspace files that tools outside the gate run, second round (issue 13 item 8; red-team R64 R74 R79 R80 R84
// R85): files a protected file makes a tool read (a git config's includes, a global relative hooksPath, what a
// direnv `.envrc` loads), a paused rebase's plan, repositories in node_modules, and more agents' and tools'
// project configs. Real CLI, supervisor and kernel; the "user" then runs the real tools (git, direnv, cargo)
// outside the gate, and each class has an ungated control where the same write makes that tool run the agent's
// program.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProtectedRecord } from '../../src/core/audit/records';
import { makeDirs, prepare, runCli, type CliRun } from './gate-progs/cli';

let dirs: ReturnType<typeof makeDirs>;
let n = 0;

beforeAll(async () => {
  await prepare();
  dirs = makeDirs('wsfollow');
});
afterAll(() => dirs?.cleanup());

const POLICY = `[meta]
version = 1
default_action = "allow"

[filesystem]
read_globs = ["/**"]
write_globs = ["\${WORKSPACE}/**"]
`;

const GIT_ENV = { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_SYSTEM: '/dev/null', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };

interface Ws {
  ws: string;
  policy: string;
  marker: string;
  /** A program that records that it ran (appends to marker), in the workspace as the agent would plant it. */
  evil: string;
  env: Record<string, string>;
}

/** A git repository with one commit and an `evil.sh` that records its runs; the policy lets the agent write it. */
function repo(setup?: (git: (...a: string[]) => string, ws: string) => void, env: Record<string, string> = {}): Ws {
  const ws = path.join(dirs.root, `ws-${++n}`);
  fs.mkdirSync(ws, { recursive: true });
  fs.writeFileSync(path.join(ws, 'README'), 'hello\n');
  const marker = path.join(dirs.root, `ran-${n}`);
  const evil = path.join(ws, 'evil.sh');
  fs.writeFileSync(evil, `#!/bin/sh\necho ran >> ${marker}\nexit 1\n`, { mode: 0o755 });
  const allEnv = { ...GIT_ENV, ...env };
  const git = (...a: string[]): string => execFileSync('git', a, { cwd: ws, env: { ...process.env, ...allEnv }, encoding: 'utf8' });
  git('init', '-q');
  // Not committed: there whatever the user's git checks out (a paused rebase's commit).
  fs.appendFileSync(path.join(ws, '.git', 'info', 'exclude'), 'evil.sh\n');
  setup?.(git, ws);
  git('add', '-A');
  git('commit', '-qm', 'init');
  const policy = path.join(dirs.root, `policy-${n}.toml`);
  fs.writeFileSync(policy, POLICY);
  return { ws, policy, marker, evil, env: allEnv };
}

/** The agent's script inside the gate (detection: AGENT_GATE_NO_MOUNTNS=1 unless kernel, as root). */
function gated(w: Ws, script: string, kernel = false): Promise<CliRun> {
  return runCli(['bash', '-c', script], { policy: w.policy, audit: dirs.audit(`wsf-${++n}`), cwd: w.ws, env: { ...w.env, ...(kernel ? {} : { AGENT_GATE_NO_MOUNTNS: '1', AGENT_GATE_GUARD_DETECT_ONLY: '1' }) } });
}

/** The same script without the gate (the control: what the class is about happens). */
function ungated(w: Ws, script: string): void {
  execFileSync('bash', ['-c', script], { cwd: w.ws, env: { ...process.env, ...w.env }, stdio: 'ignore' });
}

function protectedRecords(r: CliRun): ProtectedRecord[] {
  return r.records.filter((x): x is ProtectedRecord => x.type === 'protected');
}

/** The user's own git, outside the gate. */
function userGit(w: Ws, cwd: string, ...args: string[]): string {
  const r = spawnSync('git', args, { cwd, env: { ...process.env, ...w.env, GIT_PAGER: '', PAGER: 'cat', GIT_EDITOR: 'true' }, encoding: 'utf8' });
  return r.stdout + r.stderr;
}

const ran = (w: Ws): boolean => fs.existsSync(w.marker);

describe('gate: files a git config includes, and the user\'s global hooksPath (red-team R64)', () => {
  // include.path ../.gitconfig (the usual way to share a repository's settings), includeIf with an include in
  // the included file (followed recursively), and a target that does not exist yet.
  const setup = (git: (...a: string[]) => string, ws: string): void => {
    fs.writeFileSync(path.join(ws, '.gitconfig'), '[diff "lockb"]\n\ttextconv = cat\n');
    fs.writeFileSync(path.join(ws, '.gitinc'), '[include]\n\tpath = shared/more.cfg\n');
    git('config', 'include.path', '../.gitconfig');
    git('config', 'includeIf.gitdir:/.path', '../.gitinc');
  };
  const SCRIPT = (w: Ws): string =>
    [`printf '[core]\\n\\tfsmonitor = ${w.evil}\\n' >> .gitconfig`, `mkdir -p shared && printf '[core]\\n\\tpager = ${w.evil}\\n[alias]\\n\\tst = !${w.evil}\\n' > shared/more.cfg`, 'sleep 0.3'].join('; ');

  it('control: without the gate, the same writes make the user\'s git status, log and alias run the agent\'s program', () => {
    const w = repo(setup);
    ungated(w, SCRIPT(w));
    userGit(w, w.ws, 'status');
    expect(ran(w)).toBe(true);
  });

  it.each([false, true])('an included file and one included by it (made by the agent): put back, kept for review; the user\'s git runs nothing, root mount namespace %s', async (kernel) => {
    const w = repo(setup);
    const r = await gated(w, SCRIPT(w), kernel);
    expect(r.code, r.stderr).toBe(0);
    userGit(w, w.ws, 'status');
    userGit(w, w.ws, 'log', '-1');
    userGit(w, w.ws, 'st');
    expect(ran(w)).toBe(false);
    expect(fs.readFileSync(path.join(w.ws, '.gitconfig'), 'utf8')).toBe('[diff "lockb"]\n\ttextconv = cat\n');
    expect(fs.existsSync(path.join(w.ws, 'shared', 'more.cfg'))).toBe(false);
    const recs = protectedRecords(r);
    if (kernel) {
      // A root agent: the existing included file is a read-only bind mount, the write refused.
      expect(r.stderr).toMatch(/Read-only file system/);
    } else {
      expect(recs.find((x) => x.path === path.join(w.ws, '.gitconfig'))).toMatchObject({ class: 'git' });
      expect(recs.find((x) => x.path === path.join(w.ws, '.gitconfig'))!.diff).toContain(`fsmonitor = ${w.evil}`);
    }
    expect(recs.find((x) => x.path === path.join(w.ws, 'shared', 'more.cfg'))).toMatchObject({ class: 'git', change: 'created' });
  });

  it('a relative core.hooksPath in the user\'s global config: a hook the agent puts there is removed; the user\'s commit runs nothing (an ungated control runs it)', async () => {
    const global = path.join(dirs.root, `global-${n}.gitconfig`);
    fs.writeFileSync(global, '[core]\n\thooksPath = .githooks\n');
    const hook = (w: Ws): string => `mkdir -p .githooks && printf '#!/bin/sh\\n${w.evil}\\n' > .githooks/pre-commit && chmod +x .githooks/pre-commit; sleep 0.3`;
    const c = repo(undefined, { GIT_CONFIG_GLOBAL: global });
    ungated(c, hook(c));
    userGit(c, c.ws, 'commit', '-q', '--allow-empty', '-m', 'user');
    expect(ran(c)).toBe(true);
    const w = repo(undefined, { GIT_CONFIG_GLOBAL: global });
    const r = await gated(w, hook(w));
    expect(r.code, r.stderr).toBe(0);
    userGit(w, w.ws, 'commit', '-q', '--allow-empty', '-m', 'user');
    expect(ran(w)).toBe(false);
    expect(protectedRecords(r).find((x) => x.path === path.join(w.ws, '.githooks'))).toMatchObject({ class: 'git-hooks', reverted: true });
  });
});

describe('gate: a paused rebase\'s plan (red-team R79)', () => {
  /** Three commits, and the user's interactive rebase stopped at an `edit` of the second. */
  const paused = (): Ws => {
    const w = repo((git, ws) => {
      fs.writeFileSync(path.join(ws, 'f'), '0\n');
      git('add', 'f');
      git('commit', '-qm', 'c0');
      for (const i of [1, 2, 3]) {
        fs.writeFileSync(path.join(ws, `f${i}`), `${i}\n`);
        git('add', `f${i}`);
        git('commit', '-qm', `c${i}`);
      }
    });
    execFileSync('git', ['rebase', '-qi', 'HEAD~2'], { cwd: w.ws, env: { ...process.env, ...w.env, GIT_SEQUENCE_EDITOR: "sed -i '1s/^pick/edit/'" }, stdio: 'ignore' });
    expect(fs.existsSync(path.join(w.ws, '.git', 'rebase-merge', 'git-rebase-todo'))).toBe(true);
    return w;
  };
  const ADD_EXEC = (w: Ws): string => `sed -i '1i exec ${w.evil}' .git/rebase-merge/git-rebase-todo; sleep 0.3`;

  it('control: without the gate, an exec line added to the todo runs on the user\'s `git rebase --continue`', () => {
    const w = paused();
    ungated(w, ADD_EXEC(w));
    const out = userGit(w, w.ws, 'rebase', '--continue');
    expect(ran(w), out).toBe(true);
  });

  it.each([false, true])('an exec line the agent adds is put back; the user\'s `git rebase --continue` runs nothing, root mount namespace %s', async (kernel) => {
    const w = paused();
    const todo = fs.readFileSync(path.join(w.ws, '.git', 'rebase-merge', 'git-rebase-todo'), 'utf8');
    const r = await gated(w, ADD_EXEC(w), kernel);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readFileSync(path.join(w.ws, '.git', 'rebase-merge', 'git-rebase-todo'), 'utf8')).toBe(todo);
    const rec = protectedRecords(r).find((x) => x.path === path.join(w.ws, '.git', 'rebase-merge'));
    expect(rec).toMatchObject({ class: 'git-rebase', reverted: true });
    expect(rec!.diff).toContain(`+exec ${w.evil}`);
    userGit(w, w.ws, 'rebase', '--continue');
    expect(ran(w)).toBe(false);
    expect(userGit(w, w.ws, 'log', '--format=%s')).toContain('c3');
  });

  it.each([false, true])('the agent resolves a conflict and continues the rebase itself: kept, nothing put back, no review, root mount namespace %s', async (kernel) => {
    // The user's rebase of a branch onto a main that changed the same line: stopped at the conflict.
    const w = repo((git, ws) => {
      fs.writeFileSync(path.join(ws, 'f'), 'base\n');
      git('add', 'f');
      git('commit', '-qm', 'base');
      git('checkout', '-qb', 'topic');
      fs.writeFileSync(path.join(ws, 'f'), 'topic\n');
      git('commit', '-qam', 'topic change');
      fs.writeFileSync(path.join(ws, 'g'), 'more\n');
      git('add', 'g');
      git('commit', '-qm', 'topic more');
      git('checkout', '-q', '-');
      fs.writeFileSync(path.join(ws, 'f'), 'main\n');
      git('commit', '-qam', 'main change');
      git('checkout', '-q', 'topic');
    });
    spawnSync('git', ['rebase', '-q', '-'], { cwd: w.ws, env: { ...process.env, ...w.env }, stdio: 'ignore' });
    expect(fs.existsSync(path.join(w.ws, '.git', 'rebase-merge'))).toBe(true);
    const r = await gated(w, 'echo resolved > f && git add f && GIT_EDITOR=true git rebase --continue && echo continued; sleep 0.3', kernel);
    expect(r.stdout, r.stderr).toContain('continued');
    expect(fs.existsSync(path.join(w.ws, '.git', 'rebase-merge'))).toBe(false);
    expect(userGit(w, w.ws, 'log', '--format=%s')).toMatch(/topic more\ntopic change\nmain change/);
    expect(protectedRecords(r)).toEqual([]);
  });
});

describe('gate: what a direnv .envrc loads, and .env (red-team R80, R84)', () => {
  /** direnv as the user's shell runs it: allowed once, then `direnv export` on entering the directory. */
  const direnvHome = (): string => {
    const home = path.join(dirs.root, `home-${++n}`);
    fs.mkdirSync(home, { recursive: true });
    return home;
  };
  const direnvEnv = (w: Ws, home: string): Record<string, string> => {
    const env = { ...process.env, ...w.env, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), XDG_DATA_HOME: path.join(home, '.local/share') } as Record<string, string>;
    delete env.DIRENV_DIR;
    delete env.DIRENV_FILE;
    delete env.DIRENV_DIFF;
    delete env.DIRENV_WATCHES;
    return env;
  };
  /** The user's shell entering the workspace (direnv's hook) and running git status. */
  const userShell = (w: Ws, home: string): string => {
    const r = spawnSync('bash', ['-c', `eval "$(direnv export bash 2>/dev/null)"; echo "PATH=$PATH"; echo "SUP=$AGENT_GATE_SUPERVISOR"; git status --short >/dev/null 2>&1; true`], { cwd: w.ws, env: direnvEnv(w, home), encoding: 'utf8' });
    return r.stdout;
  };
  const setup = (git: (...a: string[]) => string, ws: string): void => {
    void git;
    fs.writeFileSync(path.join(ws, '.envrc'), 'dotenv\ndotenv_if_exists .env.shared\nsource_env_if_exists .envrc.local\n');
    fs.writeFileSync(path.join(ws, '.env'), 'APP_ENV=dev\n');
  };
  // PATH first to a directory of the agent's with its own `git`, and the gate's supervisor switch (R56), in
  // .env, in a named dotenv file, in a sourced .envrc.local; an example file is the agent's to write.
  const SCRIPT = (w: Ws): string =>
    [
      `mkdir -p .cache/bin && printf '#!/bin/sh\\n${w.evil}\\nexec /usr/bin/git "$@"\\n' > .cache/bin/git && chmod +x .cache/bin/git`,
      `printf 'APP_ENV=dev\\nPATH=%s/.cache/bin:/usr/local/bin:/usr/bin:/bin\\nAGENT_GATE_SUPERVISOR=%s/.cache/bin/git\\n' "$PWD" "$PWD" > .env`,
      `printf 'PATH=%s/.cache/bin:/usr/bin:/bin\\n' "$PWD" > .env.shared`,
      `printf 'PATH_add .cache/bin\\n' > .envrc.local`,
      `printf 'PATH=%s/.cache/bin\\n' "$PWD" > .env.local`,
      `printf 'APP_ENV=\\n' > .env.example`,
      'sleep 0.3',
    ].join('; ');

  it('control: without the gate, the user\'s shell entering the directory gets the agent\'s PATH and supervisor, and its git status runs the agent\'s program', () => {
    const w = repo(setup);
    const home = direnvHome();
    execFileSync('direnv', ['allow', '.'], { cwd: w.ws, env: direnvEnv(w, home), stdio: 'ignore' });
    ungated(w, SCRIPT(w));
    const out = userShell(w, home);
    expect(out).toContain(`SUP=${w.ws}/.cache/bin/git`);
    expect(ran(w)).toBe(true);
  });

  it('.env, a named dotenv file, a sourced .envrc.local and every .env* at the root: put back, kept for review; the user\'s shell gets none of it; .env.example is the agent\'s', async () => {
    const w = repo(setup);
    const home = direnvHome();
    execFileSync('direnv', ['allow', '.'], { cwd: w.ws, env: direnvEnv(w, home), stdio: 'ignore' });
    const r = await gated(w, SCRIPT(w));
    expect(r.code, r.stderr).toBe(0);
    const out = userShell(w, home);
    expect(out).not.toContain('.cache/bin');
    expect(out).toContain('SUP=\n');
    expect(ran(w)).toBe(false);
    expect(fs.readFileSync(path.join(w.ws, '.env'), 'utf8')).toBe('APP_ENV=dev\n');
    for (const f of ['.env.shared', '.envrc.local', '.env.local']) expect(fs.existsSync(path.join(w.ws, f)), f).toBe(false);
    expect(fs.readFileSync(path.join(w.ws, '.env.example'), 'utf8')).toBe('APP_ENV=\n');
    const recs = protectedRecords(r);
    for (const f of ['.env', '.env.shared', '.envrc.local', '.env.local']) expect(recs.find((x) => x.path === path.join(w.ws, f)), f).toMatchObject({ class: 'direnv', reverted: true });
    expect(recs.some((x) => x.path.endsWith('.env.example'))).toBe(false);
  });

  it('a .envrc in a subdirectory (direnv loads the one where the shell is): its .env and what it names are put back too', async () => {
    const w = repo((_g, ws) => {
      fs.mkdirSync(path.join(ws, 'svc'));
      fs.writeFileSync(path.join(ws, 'svc', '.envrc'), 'dotenv\nwatch_file tools.nix\n');
    });
    const home = direnvHome();
    execFileSync('direnv', ['allow', 'svc'], { cwd: w.ws, env: direnvEnv(w, home), stdio: 'ignore' });
    const r = await gated(w, `printf 'PATH=%s/.cache/bin\\n' "$PWD" > svc/.env; echo x > svc/tools.nix; sleep 0.3`);
    expect(r.code, r.stderr).toBe(0);
    for (const f of ['svc/.env', 'svc/tools.nix']) expect(fs.existsSync(path.join(w.ws, f)), f).toBe(false);
    const recs = protectedRecords(r);
    expect(recs.find((x) => x.path === path.join(w.ws, 'svc', '.env'))).toMatchObject({ class: 'direnv', reverted: true });
    const out = spawnSync('bash', ['-c', 'eval "$(direnv export bash 2>/dev/null)"; echo "PATH=$PATH"'], { cwd: path.join(w.ws, 'svc'), env: direnvEnv(w, home), encoding: 'utf8' }).stdout;
    expect(out).not.toContain('.cache/bin');
  });

  it('without .envrc, .env is what aider loads: AIDER_* and PATH put back and kept for review; an app\'s own settings are the agent\'s (no record)', async () => {
    const w = repo();
    const r = await gated(w, `printf 'DATABASE_URL=postgres://localhost/app\\nAPP_PORT=3000\\n' > .env; sleep 0.3; cat .env > /dev/null`);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readFileSync(path.join(w.ws, '.env'), 'utf8')).toBe('DATABASE_URL=postgres://localhost/app\nAPP_PORT=3000\n');
    expect(protectedRecords(r)).toEqual([]);
    const r2 = await gated(w, `printf 'DATABASE_URL=postgres://localhost/app\\nAIDER_LINT_CMD=${w.evil}\\nAIDER_AUTO_LINT=true\\n' > .env; sleep 0.3; printf 'PATH=/tmp/x:/usr/bin\\nexport APP_PORT=1\\n' > .env; sleep 0.3`);
    expect(r2.code, r2.stderr).toBe(0);
    expect(fs.readFileSync(path.join(w.ws, '.env'), 'utf8')).toBe('DATABASE_URL=postgres://localhost/app\nAPP_PORT=3000\n');
    const recs = protectedRecords(r2).filter((x) => x.path === path.join(w.ws, '.env'));
    expect(recs[0]).toMatchObject({ class: 'dotenv', reverted: true });
    const diffs = recs.map((x) => x.diff).join('');
    expect(diffs).toContain(`+AIDER_LINT_CMD=${w.evil}`);
    expect(diffs).toContain('+PATH=/tmp/x:/usr/bin');
  });
});

describe('gate: a repository in node_modules that no gitlink names (red-team R85)', () => {
  const SCRIPT = (w: Ws): string =>
    [
      'set -e',
      'for p in node_modules/left-pad node_modules/@scope/pkg node_modules/a/node_modules/b; do mkdir -p $p && git -C $p init -q && echo x > $p/f && git -C $p add f && git -C $p commit -qm x',
      `git -C $p config core.fsmonitor ${w.evil}; done`,
      'sleep 2.5',
    ].join('\n');
  const setup = (_git: (...a: string[]) => string, ws: string): void => {
    fs.writeFileSync(path.join(ws, '.gitignore'), 'node_modules/\n');
  };

  it('control: without the gate, the user\'s git status in the package (VS Code opening a file there) runs the agent\'s fsmonitor', () => {
    const w = repo(setup);
    ungated(w, SCRIPT(w));
    userGit(w, path.join(w.ws, 'node_modules', 'left-pad'), 'status');
    expect(ran(w)).toBe(true);
  });

  it.each([false, true])('node_modules/<pkg>, node_modules/@scope/<pkg> and a nested node_modules package made repositories: their configs put back; git status in each runs nothing, root mount namespace %s', async (kernel) => {
    const w = repo(setup);
    const r = await gated(w, SCRIPT(w), kernel);
    expect(r.code, r.stderr).toBe(0);
    for (const p of ['node_modules/left-pad', 'node_modules/@scope/pkg', 'node_modules/a/node_modules/b']) {
      userGit(w, path.join(w.ws, p), 'status');
      expect(protectedRecords(r).find((x) => x.path === path.join(w.ws, p, '.git', 'config')), p).toMatchObject({ class: 'git' });
    }
    expect(ran(w)).toBe(false);
  });
});

describe('gate: tools\' and agents\' project configs they obey by themselves (red-team R74, R84)', () => {
  it('control: without the gate, .cargo/config.toml\'s rustc-wrapper runs on the user\'s `cargo check` (what rust-analyzer runs on folder open)', () => {
    const w = repo();
    if (!spawnSync('cargo', ['--version']).stdout) throw new Error('cargo is needed for this control');
    fs.mkdirSync(path.join(w.ws, 'src'));
    fs.writeFileSync(path.join(w.ws, 'Cargo.toml'), '[package]\nname = "x"\nversion = "0.1.0"\nedition = "2021"\n');
    fs.writeFileSync(path.join(w.ws, 'src', 'main.rs'), 'fn main() {}\n');
    ungated(w, `mkdir -p .cargo && printf '[build]\\nrustc-wrapper = "${w.evil}"\\n' > .cargo/config.toml`);
    spawnSync('cargo', ['check', '--offline', '-q'], { cwd: w.ws, env: { ...process.env, CARGO_TARGET_DIR: path.join(w.ws, 'target') }, stdio: 'ignore' });
    expect(ran(w)).toBe(true);
  });

  // Created (it was not there) by the agent inside the gate; what runs it is in SECURITY.md's table.
  const CASES: { rel: string; class: string; content: string }[] = [
    { rel: 'mise.toml', class: 'tool-config', content: '[hooks]\nenter = "touch /tmp/pwn"\n' },
    { rel: '.mise.toml', class: 'tool-config', content: '[env]\n_.source = "./x.sh"\n' },
    { rel: 'mise.dev.toml', class: 'tool-config', content: '[hooks]\nenter = "touch /tmp/pwn"\n' },
    { rel: '.config/mise/config.toml', class: 'tool-config', content: '[hooks]\nenter = "touch /tmp/pwn"\n' },
    { rel: '.tool-versions', class: 'tool-config', content: 'node path:./.cache/node\n' },
    { rel: '.cargo/config.toml', class: 'tool-config', content: '[build]\nrustc-wrapper = "/tmp/pwn"\n' },
    { rel: 'rust-toolchain.toml', class: 'tool-config', content: '[toolchain]\npath = "/tmp/pwn"\n' },
    { rel: '.zed/settings.json', class: 'editor', content: '{"lsp":{"rust-analyzer":{"binary":{"path":"/tmp/pwn"}}}}' },
    { rel: '.helix/languages.toml', class: 'editor', content: '[language-server.rust-analyzer]\ncommand = "/tmp/pwn"\n' },
    { rel: '.nvim.lua', class: 'editor', content: 'os.execute("touch /tmp/pwn")\n' },
    { rel: '.exrc', class: 'editor', content: '!touch /tmp/pwn\n' },
    { rel: 'opencode.json', class: 'agent-config', content: '{"mcp":{"x":{"type":"local","command":["touch","/tmp/pwn"]}}}' },
    { rel: '.opencode/plugin/x.js', class: 'agent-config', content: 'require("child_process").execSync("touch /tmp/pwn")\n' },
    { rel: '.kiro/hooks/x.kiro.hook', class: 'agent-config', content: '{"when":{"type":"fileEdited"},"then":{"type":"runCommand","command":"touch /tmp/pwn"}}' },
    { rel: '.kiro/settings/mcp.json', class: 'agent-config', content: '{"mcpServers":{"x":{"command":"touch","args":["/tmp/pwn"]}}}' },
    { rel: '.windsurf/hooks.json', class: 'agent-config', content: '{"hooks":{"pre_run_command":[{"command":"touch /tmp/pwn"}]}}' },
    { rel: '.roo/mcp.json', class: 'agent-config', content: '{"mcpServers":{"x":{"command":"touch","args":["/tmp/pwn"]}}}' },
    { rel: '.clinerules/hooks/PreToolUse', class: 'agent-config', content: '#!/bin/sh\ntouch /tmp/pwn\n' },
    { rel: '.amazonq/mcp.json', class: 'agent-config', content: '{"mcpServers":{"x":{"command":"touch","args":["/tmp/pwn"]}}}' },
    { rel: '.junie/mcp/mcp.json', class: 'agent-config', content: '{"mcpServers":{"x":{"command":"touch","args":["/tmp/pwn"]}}}' },
    { rel: 'crush.json', class: 'agent-config', content: '{"mcp":{"x":{"type":"stdio","command":"touch","args":["/tmp/pwn"]}}}' },
  ];

  it.each(CASES)('$rel ($class): put back and kept for review', async (c) => {
    const w = repo();
    const file = path.join(w.ws, c.rel);
    const r = await gated(w, `mkdir -p "$(dirname '${c.rel}')"; printf '%s' '${c.content.replace(/'/g, `'\\''`)}' > '${c.rel}'; sleep 0.3; echo done`);
    expect(r.stdout).toContain('done');
    expect(fs.existsSync(file)).toBe(false);
    const recs = protectedRecords(r);
    expect(recs.length, r.stderr).toBeGreaterThanOrEqual(1);
    expect(recs[0]).toMatchObject({ class: c.class, reverted: true });
    // Kept for review — or, for a protected directory the agent made, removed the moment it appeared (with
    // what was made in it by then: a file the agent was still writing may be missing from the review, which
    // says the directory was created).
    const kept = recs.flatMap((x) => Object.values(x.saved)).some((s) => fs.readFileSync(s, 'utf8') === c.content);
    const dirRemoved = recs.some((x) => x.change === 'created' && c.rel.startsWith(path.relative(w.ws, x.path) + '/'));
    expect(kept || dirRemoved, r.stderr + JSON.stringify(recs, null, 1)).toBe(true);
  });

  it('the same cargo config from inside the gate is put back: the user\'s `cargo check` runs nothing of the agent\'s', async () => {
    const w = repo((_g, ws) => {
      fs.mkdirSync(path.join(ws, 'src'));
      fs.writeFileSync(path.join(ws, 'Cargo.toml'), '[package]\nname = "x"\nversion = "0.1.0"\nedition = "2021"\n');
      fs.writeFileSync(path.join(ws, 'src', 'main.rs'), 'fn main() {}\n');
    });
    const r = await gated(w, `mkdir -p .cargo && printf '[build]\\nrustc-wrapper = "${w.evil}"\\n' > .cargo/config.toml; sleep 0.3`);
    expect(r.code, r.stderr).toBe(0);
    spawnSync('cargo', ['check', '--offline', '-q'], { cwd: w.ws, env: { ...process.env, CARGO_TARGET_DIR: path.join(w.ws, 'target') }, stdio: 'ignore' });
    expect(ran(w)).toBe(false);
    expect(protectedRecords(r).find((x) => x.path === path.join(w.ws, '.cargo', 'config.toml'))).toMatchObject({ class: 'tool-config', reverted: true });
  });
});
