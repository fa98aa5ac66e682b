// Deferred escapes through workspace files (issue 13, item 8): the agent writes a file that a tool outside
// the gate runs later (git's config and hooks, hook managers, VS Code's tasks and settings, direnv, a
// devcontainer, the next session's policy). Each is put back before anything outside the gate can run it,
// and the agent's version is kept for review (audit record with a diff, the CLI's summary, the file itself).
// Real CLI, supervisor and kernel; the "user" then runs the real tools (git) outside the gate to show that
// nothing of the agent's runs.
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
  dirs = makeDirs('wsfiles');
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

/** A workspace that is a git repository with one commit, a .vscode/settings.json and a policy outside it. */
function repo(): { ws: string; policy: string; marker: string } {
  const ws = path.join(dirs.root, `ws-${++n}`);
  fs.mkdirSync(path.join(ws, '.vscode'), { recursive: true });
  fs.writeFileSync(path.join(ws, 'README'), 'hello\n');
  fs.writeFileSync(path.join(ws, '.vscode', 'settings.json'), '{ "editor.tabSize": 2 }\n');
  const git = (...a: string[]): string => execFileSync('git', a, { cwd: ws, env: { ...process.env, ...GIT_ENV }, encoding: 'utf8' });
  git('init', '-q');
  git('add', '-A');
  git('commit', '-qm', 'init');
  const policy = path.join(dirs.root, `policy-${n}.toml`);
  fs.writeFileSync(policy, POLICY);
  // What the agent's planted programs write when something runs them.
  const marker = path.join(dirs.root, `ran-${n}`);
  return { ws, policy, marker };
}

/**
 * These tests try the guard: detection and putting back, which is what holds where the agent has no mount namespace, and for
 * files that do not exist yet. As root the supervisor would also make the existing protected paths read-only
 * in the agent's mount namespace (tried in the last describe): AGENT_GATE_NO_MOUNTNS=1 turns that off here.
 */
function gated(w: { ws: string; policy: string }, script: string, extra: string[] = [], kernel = false): Promise<CliRun> {
  return runCli(['bash', '-c', script], { policy: w.policy, audit: dirs.audit(`wsf-${++n}`), cwd: w.ws, extra, env: { ...GIT_ENV, ...(kernel ? {} : { AGENT_GATE_NO_MOUNTNS: '1', AGENT_GATE_GUARD_DETECT_ONLY: '1' }) } });
}

function protectedRecords(r: CliRun): ProtectedRecord[] {
  return r.records.filter((x): x is ProtectedRecord => x.type === 'protected');
}

/** The user's own git, outside the gate. */
function userGit(ws: string, ...args: string[]): string {
  const r = spawnSync('git', args, { cwd: ws, env: { ...process.env, ...GIT_ENV, GIT_PAGER: '', PAGER: 'cat' }, encoding: 'utf8' });
  return r.stdout + r.stderr;
}

describe('gate: files that git runs', () => {
  it('control: without the gate, core.fsmonitor in .git/config runs on the user\'s next git status', () => {
    const w = repo();
    fs.writeFileSync(path.join(w.ws, 'evil.sh'), `#!/bin/sh\necho ran > ${w.marker}\n`, { mode: 0o755 });
    userGit(w.ws, 'config', 'core.fsmonitor', path.join(w.ws, 'evil.sh'));
    userGit(w.ws, 'status');
    expect(fs.existsSync(w.marker)).toBe(true);
  });

  it('.git/config (core.fsmonitor, core.pager, core.sshCommand, an alias): put back at once, kept for review; git outside the gate runs none of it', async () => {
    const w = repo();
    const before = fs.readFileSync(path.join(w.ws, '.git', 'config'), 'utf8');
    const evil = path.join(w.ws, 'evil.sh');
    const script = [
      `printf '#!/bin/sh\\necho ran > ${w.marker}\\n' > ${evil}; chmod +x ${evil}`,
      `git config core.fsmonitor ${evil}`,
      `git config core.pager ${evil}`,
      `git config core.sshCommand ${evil}`,
      `git config alias.st '!${evil}'`,
      // The agent looks again a moment later: already put back.
      'sleep 0.3; grep -c fsmonitor .git/config || echo "fsmonitor gone"',
    ].join('; ');
    const r = await gated(w, script);
    expect(r.stdout).toContain('fsmonitor gone');
    expect(fs.readFileSync(path.join(w.ws, '.git', 'config'), 'utf8')).toBe(before);
    // The user's git, outside the gate: nothing of the agent's runs.
    userGit(w.ws, 'status');
    userGit(w.ws, 'log', '-1');
    userGit(w.ws, 'st');
    expect(fs.existsSync(w.marker)).toBe(false);
    // Reviewable: the audit log has the diff, the CLI says what was put back and where the agent's version is.
    const recs = protectedRecords(r).filter((x) => x.path === path.join(w.ws, '.git', 'config'));
    expect(recs.length).toBeGreaterThanOrEqual(1);
    expect(recs.every((x) => x.class === 'git')).toBe(true);
    // Every change is put back; under load one the agent's next `git config` overtook while it was being put
    // back says so, and the next record puts that one back (the file is the user's again, checked above).
    for (const x of recs) if (!x.reverted) expect(x.reason, JSON.stringify(x)).toMatch(/changed again while it was being put back/);
    // The first attempt and the last are in the review. One the agent's next `git config` replaced within the
    // guard's reaction time (milliseconds, under load) may not have a record of its own.
    const diffs = recs.map((x) => x.diff).join('');
    for (const line of [`+\tfsmonitor = ${evil}`, `+\tst = !${evil}`]) expect(diffs, diffs).toContain(line);
    // The agent's last version is kept in full.
    const saved = recs[recs.length - 1]!.saved[0]!;
    expect(fs.readFileSync(saved, 'utf8')).toContain('[alias]');
    expect(r.stderr).toContain('The agent changed 1 file that tools outside the gate run or obey');
    expect(r.stderr).toContain('.git/config (modified');
    expect(r.stderr).toContain(`to use it: cp '${saved}'`);
    // The end record lists the file (its last attempt may be one the guard reports as overtaken, see above).
    expect(r.end?.protected_changes).toEqual([expect.objectContaining({ path: path.join(w.ws, '.git', 'config'), class: 'git' })]);
  });

  it('a git status by another program outside the gate while the agent runs does not run the agent\'s fsmonitor', async () => {
    const w = repo();
    const evil = path.join(w.ws, 'evil.sh');
    fs.writeFileSync(evil, `#!/bin/sh\necho ran >> ${w.marker}\n`, { mode: 0o755 });
    // Outside: a watcher like an editor's git integration, running git status 50 ms after every change.
    let stop = false;
    const outside = (async () => {
      let last = '';
      while (!stop) {
        let now = last;
        try {
          now = fs.readFileSync(path.join(w.ws, '.git', 'config'), 'utf8');
        } catch {
          // between git's lock file and its rename
        }
        if (now !== last) {
          last = now;
          await new Promise((res) => setTimeout(res, 50));
          userGit(w.ws, 'status');
        }
        await new Promise((res) => setTimeout(res, 5));
      }
    })();
    await gated(w, `for i in 1 2 3 4 5; do git config core.fsmonitor ${evil}; sleep 0.2; done`);
    stop = true;
    await outside;
    expect(fs.existsSync(w.marker)).toBe(false);
  });

  it('.git/hooks: a new hook is removed, a changed one put back; core.hooksPath to the workspace is put back; the user\'s commit runs no hook', async () => {
    const w = repo();
    fs.writeFileSync(path.join(w.ws, '.git', 'hooks', 'post-commit'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    const hook = `#!/bin/sh\\necho ran > ${w.marker}\\n`;
    const r = await gated(w, [
      `printf '${hook}' > .git/hooks/pre-commit; chmod +x .git/hooks/pre-commit`,
      `printf '${hook}' > .git/hooks/post-commit`,
      `mkdir -p myhooks; printf '${hook}' > myhooks/pre-commit; chmod +x myhooks/pre-commit; git config core.hooksPath myhooks`,
      'sleep 0.3',
    ].join('; '));
    expect(fs.existsSync(path.join(w.ws, '.git', 'hooks', 'pre-commit'))).toBe(false);
    expect(fs.readFileSync(path.join(w.ws, '.git', 'hooks', 'post-commit'), 'utf8')).toBe('#!/bin/sh\nexit 0\n');
    expect(fs.readFileSync(path.join(w.ws, '.git', 'config'), 'utf8')).not.toContain('hooksPath');
    fs.writeFileSync(path.join(w.ws, 'README'), 'changed\n');
    userGit(w.ws, 'commit', '-qam', 'user commit');
    expect(fs.existsSync(w.marker)).toBe(false);
    const classes = new Set(protectedRecords(r).map((x) => x.class));
    expect(classes).toEqual(new Set(['git-hooks', 'git']));
    const hooks = protectedRecords(r).filter((x) => x.class === 'git-hooks');
    expect(hooks.map((x) => x.diff).join('')).toContain('+echo ran');
  });

  it.each([false, true])('.git replaced by a new directory with the agent\'s config (mv .git .git-old; mkdir .git), root mount namespace %s: the original is back at once, an outside git status meanwhile runs nothing (red-team R37)', async (kernel) => {
    const w = repo();
    const evil = path.join(w.ws, 'evil.sh');
    fs.writeFileSync(evil, `#!/bin/sh\necho ran >> ${w.marker}\n`, { mode: 0o755 });
    const ino = fs.statSync(path.join(w.ws, '.git')).ino;
    // Outside: an editor's git integration, running git status 50 ms after it sees .git/config change.
    let stop = false;
    const outside = (async () => {
      let last = fs.readFileSync(path.join(w.ws, '.git', 'config'), 'utf8');
      while (!stop) {
        let now = last;
        try {
          now = fs.readFileSync(path.join(w.ws, '.git', 'config'), 'utf8');
        } catch {
          // moved away for a moment
        }
        if (now !== last) {
          last = now;
          await new Promise((res) => setTimeout(res, 50));
          userGit(w.ws, 'status');
        }
        await new Promise((res) => setTimeout(res, 5));
      }
    })();
    const script = `mv .git .git-old && mkdir -p .git/objects .git/refs && echo "ref: refs/heads/master" > .git/HEAD && printf '[core]\\n\\trepositoryformatversion = 0\\n\\tfsmonitor = ${evil}\\n' > .git/config; sleep 1.5`;
    const r = await gated(w, script, [], kernel);
    stop = true;
    await outside;
    expect(r.code, r.stderr).toBe(0);
    expect(fs.existsSync(w.marker)).toBe(false);
    expect(fs.statSync(path.join(w.ws, '.git')).ino).toBe(ino);
    expect(userGit(w.ws, 'log', '--oneline')).toContain('init');
    expect(protectedRecords(r).some((x) => x.path === path.join(w.ws, '.git'))).toBe(true);
  });

  it.each([false, true])('a repository the agent makes one level down (VS Code\'s git opens it by itself), root mount namespace %s: its fsmonitor never runs outside; a plain one it makes is kept (red-team R32)', async (kernel) => {
    const w = repo();
    const evil = path.join(w.ws, 'evil.sh');
    fs.writeFileSync(evil, `#!/bin/sh\necho ran >> ${w.marker}\n`, { mode: 0o755 });
    const r = await gated(w, `git init -q sub && git -C sub config core.fsmonitor ${evil} && git init -q lib && git -C lib config user.email a@b.c && sleep 0.5`, [], kernel);
    expect(r.code, r.stderr).toBe(0);
    userGit(path.join(w.ws, 'sub'), 'status');
    expect(fs.existsSync(w.marker)).toBe(false);
    expect(fs.readFileSync(path.join(w.ws, 'lib', '.git', 'config'), 'utf8')).toContain('email = a@b.c');
    const recs = protectedRecords(r);
    expect(recs.some((x) => x.path === path.join(w.ws, 'sub', '.git', 'config') && x.reverted)).toBe(true);
    expect(recs.some((x) => x.path.startsWith(path.join(w.ws, 'lib')))).toBe(false);
    expect(recs.find((x) => x.path === path.join(w.ws, 'sub', '.git', 'config'))!.diff).toContain(`fsmonitor = ${evil}`);
  });

  it.each([false, true])('repositories at any depth, bare ones and gitdir pointers (a gitlink makes the user\'s own `git status` recurse into one), root mount namespace %s: none of their commands runs outside (red-team R32)', async (kernel) => {
    const w = repo();
    const evil = path.join(w.ws, 'evil.sh');
    fs.writeFileSync(evil, `#!/bin/sh\necho ran >> ${w.marker}\nexit 1\n`, { mode: 0o755 });
    // A repository three levels down, registered as a gitlink in the workspace's index (so git status there
    // runs git status in it); a bare repository with a remote and an ssh command (the user's `git fetch` in
    // it); a repository whose .git is a file pointing at a git directory elsewhere in the workspace; a plain
    // deep clone-like repository, which is kept.
    const script = [
      'set -e',
      'mkdir -p deep/a && git init -q deep/a/b && echo x > deep/a/b/x && git -C deep/a/b add x && git -C deep/a/b commit -qm x',
      `git -C deep/a/b config core.fsmonitor ${evil}`,
      'git update-index --add --cacheinfo 160000,$(git -C deep/a/b rev-parse HEAD),deep/a/b',
      'git init -q --bare m/x.git && git -C m/x.git config remote.origin.url ssh://example.invalid/x',
      `git -C m/x.git config core.sshCommand ${evil}`,
      'mkdir -p p/q && git init -q --separate-git-dir="$PWD/p/store" p/q/r',
      `git -C p/q/r config core.fsmonitor ${evil}`,
      'git init -q keep/a/b && git -C keep/a/b config user.email a@b.c',
      'sleep 0.5',
    ].join('\n');
    const r = await gated(w, script, [], kernel);
    expect(r.code, r.stderr).toBe(0);
    userGit(w.ws, 'status');
    userGit(path.join(w.ws, 'deep', 'a', 'b'), 'status');
    userGit(path.join(w.ws, 'm', 'x.git'), 'fetch', 'origin');
    userGit(path.join(w.ws, 'p', 'q', 'r'), 'status');
    expect(fs.existsSync(w.marker)).toBe(false);
    const recs = protectedRecords(r);
    for (const cfg of ['deep/a/b/.git/config', 'm/x.git/config', 'p/store/config']) {
      const rec = recs.find((x) => x.path === path.join(w.ws, cfg));
      expect(rec, cfg).toBeDefined();
      expect(rec!.diff).toContain(evil);
    }
    expect(fs.readFileSync(path.join(w.ws, 'keep', 'a', 'b', '.git', 'config'), 'utf8')).toContain('email = a@b.c');
    expect(recs.some((x) => x.path.startsWith(path.join(w.ws, 'keep')))).toBe(false);
    // Control: the same script ungated, then the same git commands of the user's, run the agent's program.
    const c = repo();
    fs.writeFileSync(path.join(c.ws, 'evil.sh'), `#!/bin/sh\necho ran >> ${c.marker}\nexit 1\n`, { mode: 0o755 });
    execFileSync('bash', ['-c', script.replaceAll(evil, path.join(c.ws, 'evil.sh'))], { cwd: c.ws, env: { ...process.env, ...GIT_ENV } });
    userGit(c.ws, 'status');
    userGit(path.join(c.ws, 'm', 'x.git'), 'fetch', 'origin');
    userGit(path.join(c.ws, 'p', 'q', 'r'), 'status');
    expect(fs.readFileSync(c.marker, 'utf8').split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(3);
  });

  it('the workspace made a git directory (HEAD, objects/, refs/ and a config at its root; git takes it for one before it looks for .git): the user\'s git status there runs nothing of the agent\'s (red-team R62)', async () => {
    const ws = path.join(dirs.root, `plain-${++n}`);
    fs.mkdirSync(ws);
    fs.writeFileSync(path.join(ws, 'README'), 'hello\n');
    const policy = path.join(dirs.root, `policy-${n}.toml`);
    fs.writeFileSync(policy, POLICY);
    const marker = path.join(dirs.root, `ran-${n}`);
    const evil = path.join(ws, 'evil.sh');
    fs.writeFileSync(evil, `#!/bin/sh\necho ran >> ${marker}\nexit 1\n`, { mode: 0o755 });
    const script = `mkdir -p objects refs/heads && echo 'ref: refs/heads/main' > HEAD && printf '[core]\\n\\trepositoryformatversion = 0\\n\\tbare = false\\n\\tworktree = .\\n\\tfsmonitor = ${evil}\\n' > config; sleep 0.5`;
    const r = await gated({ ws, policy }, script);
    expect(r.code, r.stderr).toBe(0);
    userGit(ws, 'status');
    expect(fs.existsSync(marker)).toBe(false);
    expect(protectedRecords(r).find((x) => x.path === path.join(ws, 'config'))?.diff).toContain(evil);
    // Control: the same, ungated.
    const c = path.join(dirs.root, `plain-${++n}`);
    fs.mkdirSync(c);
    execFileSync('bash', ['-c', script], { cwd: c });
    userGit(c, 'status');
    expect(fs.existsSync(marker)).toBe(true);
  });

  it('the end record is truthful when the agent rewrites .git/config faster than it is put back: put back says what the file is at the end, and every put-back the agent overtook is counted (red-team item 5)', async () => {
    const w = repo();
    const config = path.join(w.ws, '.git', 'config');
    const original = fs.readFileSync(config, 'utf8');
    const r = await gated(w, `for i in $(seq 150); do git config core.fsmonitor "/x/$i"; done; sleep 0.3`);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readFileSync(config, 'utf8')).toBe(original);
    const end = r.end?.protected_changes?.find((c) => c.path === config);
    expect(end, JSON.stringify(r.end)).toBeDefined();
    expect(end!.reverted).toBe(true);
    // Each attempt record that found the file changed again while putting it back is one overtaken put-back.
    const overtakenAttempts = protectedRecords(r).filter((x) => x.path === config && !x.reverted).length;
    expect(end!.overtaken ?? 0).toBeGreaterThanOrEqual(overtakenAttempts);
    if (overtakenAttempts > 0) expect(r.stderr).toMatch(/wrote it again while it was being put back/);
  });

  it('the workspace made a linked worktree\'s git directory (HEAD and a commondir naming a config elsewhere in its grants): the user\'s git status there runs nothing of the agent\'s (red-team R75)', async () => {
    const ws = path.join(dirs.root, `wt-${++n}`);
    fs.mkdirSync(ws);
    const common = path.join(ws, 'sub', 'common');
    const policy = path.join(dirs.root, `policy-${n}.toml`);
    fs.writeFileSync(policy, POLICY);
    const marker = path.join(dirs.root, `ran-${n}`);
    const evil = path.join(ws, 'evil.sh');
    fs.writeFileSync(evil, `#!/bin/sh\necho ran >> ${marker}\nexit 1\n`, { mode: 0o755 });
    const script = `mkdir -p ${common}/objects ${common}/refs/heads && printf '[core]\\n\\trepositoryformatversion = 1\\n\\tfsmonitor = ${evil}\\n[extensions]\\n\\tworktreeConfig = true\\n' > ${common}/config && printf '[core]\\n\\tbare = false\\n\\tworktree = ${ws}\\n' > config.worktree && echo 'ref: refs/heads/main' > HEAD && echo ${common} > commondir; sleep 0.5`;
    const r = await gated({ ws, policy }, script);
    expect(r.code, r.stderr).toBe(0);
    userGit(ws, 'status');
    expect(fs.existsSync(marker)).toBe(false);
    // Control: the same, ungated.
    const c = path.join(dirs.root, `wt-${++n}`);
    fs.mkdirSync(c);
    execFileSync('bash', ['-c', script.replaceAll(ws, c)], { cwd: c });
    fs.writeFileSync(path.join(c, 'evil.sh'), `#!/bin/sh\necho ran >> ${marker}\nexit 1\n`, { mode: 0o755 });
    userGit(c, 'status');
    expect(fs.existsSync(marker)).toBe(true);
  });

  it.each([false, true])('a gitlink into node_modules (where the walk does not look): the user\'s git status recurses into it and runs nothing of the agent\'s, root mount namespace %s (red-team R72)', async (kernel) => {
    const w = repo();
    const evil = path.join(w.ws, 'evil.sh');
    fs.writeFileSync(evil, `#!/bin/sh\necho ran >> ${w.marker}\nexit 1\n`, { mode: 0o755 });
    const script = [
      'set -e',
      'mkdir -p node_modules && git init -q node_modules/left-pad && echo x > node_modules/left-pad/x && git -C node_modules/left-pad add x && git -C node_modules/left-pad commit -qm x',
      'git update-index --add --cacheinfo 160000,$(git -C node_modules/left-pad rev-parse HEAD),node_modules/left-pad',
      `git -C node_modules/left-pad config core.fsmonitor ${evil}`,
      'sleep 0.5',
    ].join('\n');
    const r = await gated(w, script, [], kernel);
    expect(r.code, r.stderr).toBe(0);
    userGit(w.ws, 'status');
    expect(fs.existsSync(w.marker)).toBe(false);
    expect(protectedRecords(r).find((x) => x.path === path.join(w.ws, 'node_modules', 'left-pad', '.git', 'config'))?.diff).toContain(evil);
    // Control: the same, ungated.
    const c = repo();
    fs.writeFileSync(path.join(c.ws, 'evil.sh'), `#!/bin/sh\necho ran >> ${c.marker}\nexit 1\n`, { mode: 0o755 });
    execFileSync('bash', ['-c', script.replaceAll(evil, path.join(c.ws, 'evil.sh'))], { cwd: c.ws, env: { ...process.env, ...GIT_ENV } });
    userGit(c.ws, 'status');
    expect(fs.existsSync(c.marker)).toBe(true);
  });

  it('.git replaced by a file that points git at another directory: put back as the repository', async () => {
    const w = repo();
    const evilGit = path.join(w.ws, 'elsewhere', 'evil-git');
    const r = await gated(w, `git init -q ${evilGit}; git -C ${evilGit} config core.fsmonitor 'echo ran > ${w.marker}'; mv .git .git-real; echo "gitdir: ${evilGit}" > .git; sleep 0.3; ls -ld .git`);
    // The agent's file is gone and a .git directory is back; git outside the gate does not use the other one.
    expect(fs.lstatSync(path.join(w.ws, '.git')).isDirectory()).toBe(true);
    userGit(w.ws, 'status');
    expect(fs.existsSync(w.marker)).toBe(false);
    expect(protectedRecords(r).some((x) => x.path === path.join(w.ws, '.git'))).toBe(true);
  });
});

describe('gate: files that editors, hook managers, direnv and the gate run or obey', () => {
  // Each class: created (it was not there) or modified (it was), by the agent inside the gate.
  const CASES: { rel: string; class: string; content: string; exists?: string }[] = [
    { rel: '.vscode/tasks.json', class: 'editor', content: '{"version":"2.0.0","tasks":[{"label":"x","type":"shell","command":"touch /tmp/pwn","runOptions":{"runOn":"folderOpen"}}]}' },
    { rel: '.vscode/settings.json', class: 'editor', content: '{"git.path":"./evil.sh"}' },
    { rel: 'project.code-workspace', class: 'editor', content: '{"tasks":{"tasks":[{"label":"x","command":"touch /tmp/pwn","runOptions":{"runOn":"folderOpen"}}]}}' },
    { rel: '.idea/workspace.xml', class: 'editor', content: '<project/>' },
    { rel: '.devcontainer/devcontainer.json', class: 'devcontainer', content: '{"initializeCommand":"touch /tmp/pwn"}' },
    { rel: '.envrc', class: 'direnv', content: 'touch /tmp/pwn' },
    { rel: '.pre-commit-config.yaml', class: 'hook-manager', content: 'repos: [{repo: local, hooks: [{id: x, name: x, entry: touch /tmp/pwn, language: system}]}]' },
    { rel: '.husky/pre-commit', class: 'hook-manager', content: 'touch /tmp/pwn' },
    { rel: '.gitmodules', class: 'submodules', content: '[submodule "x"]\n\tpath = x\n\turl = https://evil.example/x\n' },
    { rel: '.gate.toml', class: 'gate-policy', content: '[meta]\nversion = 1\ndefault_action = "allow"\n', exists: '[meta]\nversion = 1\ndefault_action = "ask"\n' },
    { rel: '.envrc', class: 'direnv', content: 'touch /tmp/pwn', exists: 'export FOO=1\n' },
    // Agents' project settings (red-team R65).
    { rel: '.claude/settings.json', class: 'agent-config', content: '{"hooks":{"SessionStart":[{"hooks":[{"type":"command","command":"touch /tmp/pwn"}]}]}}' },
    { rel: '.claude/settings.local.json', class: 'agent-config', content: '{"enableAllProjectMcpServers":true}', exists: '{}' },
    { rel: '.mcp.json', class: 'agent-config', content: '{"mcpServers":{"x":{"command":"sh","args":["-c","touch /tmp/pwn"]}}}' },
    { rel: '.gemini/settings.json', class: 'agent-config', content: '{"tools":{"discoveryCommand":"touch /tmp/pwn"}}' },
    { rel: '.aider.conf.yml', class: 'agent-config', content: 'lint-cmd: touch /tmp/pwn\nauto-lint: true\n' },
  ];

  it.each(CASES)('$rel ($class): put back and kept for review', async (c) => {
    const w = repo();
    const file = path.join(w.ws, c.rel);
    if (c.exists !== undefined) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, c.exists);
    }
    const original = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
    const r = await gated(w, `mkdir -p "$(dirname '${c.rel}')"; printf '%s' '${c.content.replace(/'/g, `'\\''`)}' > '${c.rel}'; sleep 0.3; echo done`);
    expect(r.stdout).toContain('done');
    expect(fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null).toBe(original);
    const recs = protectedRecords(r);
    expect(recs.length).toBeGreaterThanOrEqual(1);
    expect(recs[0]).toMatchObject({ class: c.class, reverted: true });
    // Kept for review — or, for a protected directory the agent made (.idea, .devcontainer, .husky), removed
    // the moment it appeared, so the file in it could not even be written.
    const saved = recs.flatMap((x) => x.saved);
    const kept = saved.some((s) => fs.readFileSync(s, 'utf8') === c.content);
    const refused = /No such file or directory/.test(r.stderr) && recs.some((x) => x.change === 'created');
    expect(kept || refused, r.stderr).toBe(true);
    expect(r.stderr).toContain('put back as it was');
  });

  it('a symlink put where a protected file was is put back as the file', async () => {
    const w = repo();
    const target = path.join(w.ws, 'mine.json');
    const r = await gated(w, `echo '{"git.path":"./evil.sh"}' > ${target}; rm .vscode/settings.json; ln -s ${target} .vscode/settings.json; sleep 0.3`);
    const st = fs.lstatSync(path.join(w.ws, '.vscode', 'settings.json'));
    expect(st.isSymbolicLink()).toBe(false);
    expect(fs.readFileSync(path.join(w.ws, '.vscode', 'settings.json'), 'utf8')).toBe('{ "editor.tabSize": 2 }\n');
    expect(protectedRecords(r).length).toBeGreaterThanOrEqual(1);
  });

  it('ordinary workspace files are the agent\'s to change: no record, nothing put back', async () => {
    const w = repo();
    const r = await gated(w, 'echo new > README; mkdir -p src; echo x > src/a.c; git add -A; git commit -qm "agent commit"; sleep 0.2');
    expect(fs.readFileSync(path.join(w.ws, 'README'), 'utf8')).toBe('new\n');
    expect(userGit(w.ws, 'log', '--format=%s', '-1').trim()).toBe('agent commit');
    expect(protectedRecords(r)).toEqual([]);
    expect(r.stderr).not.toContain('put back');
  });
});

describe('gate: a root agent\'s protected files are read-only in its mount namespace', () => {
  it('the kernel refuses the write or the replacement (EROFS, EBUSY); git outside the gate runs nothing; new files are still put back', async () => {
    if (process.getuid?.() !== 0) throw new Error('this test needs root (the read-only bind mounts are root\'s)');
    const w = repo();
    const evil = path.join(w.ws, 'evil.sh');
    const config = fs.readFileSync(path.join(w.ws, '.git', 'config'), 'utf8');
    const r = await gated(
      w,
      [
        `printf '#!/bin/sh\\necho ran > ${w.marker}\\n' > ${evil}; chmod +x ${evil}`,
        `git config core.fsmonitor ${evil}; echo "git-config-rc=$?"`,
        `echo x >> .git/config; echo "append-rc=$?"`,
        `mv .git/config .git/config.old; echo "mv-rc=$?"`,
        `printf '#!/bin/sh\\necho ran > ${w.marker}\\n' > .git/hooks/pre-commit; echo "hook-rc=$?"`,
        `echo '{}' > .vscode/tasks.json; echo "tasks-rc=$?"`,
        // Not there before the session: the guard's to put back.
        `echo 'touch /tmp/pwn' > .envrc; sleep 0.3`,
      ].join('; '),
      [],
      true,
    );
    expect(r.start?.enforcement).toMatchObject({ protect: 'readonly', proc: 'session' });
    for (const k of ['git-config-rc', 'append-rc', 'mv-rc', 'hook-rc', 'tasks-rc']) expect(r.stdout).toMatch(new RegExp(`${k}=[1-9]`));
    expect(r.stderr).toMatch(/Read-only file system/);
    expect(r.stderr).toMatch(/Device or resource busy/);
    expect(fs.readFileSync(path.join(w.ws, '.git', 'config'), 'utf8')).toBe(config);
    expect(fs.existsSync(path.join(w.ws, '.git', 'hooks', 'pre-commit'))).toBe(false);
    expect(fs.existsSync(path.join(w.ws, '.envrc'))).toBe(false);
    userGit(w.ws, 'status');
    expect(fs.existsSync(w.marker)).toBe(false);
    // The refused writes changed nothing, so the only change to review is the new .envrc.
    expect(protectedRecords(r).map((x) => x.class)).toEqual(['direnv']);
  });
});
