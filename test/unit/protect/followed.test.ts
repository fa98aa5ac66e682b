import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { codeWorkspaceFolders, devcontainerRefs, dotenvHarmless, envrcLoads, envrcPathDirs, gitConfigRefs, hgIncludes, noNewExec, packedReplaceRefs, parseJsonc, userGitConfigs, vcsConfigHarmless } from '../../../src/core/protect/followed';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'followed-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const write = (rel: string, text: string): string => {
  const f = path.join(dir, rel);
  fs.mkdirSync(path.dirname(f), { recursive: true });
  fs.writeFileSync(f, text);
  return f;
};

describe('gitConfigRefs (red-team R64)', () => {
  it('follows include.path and includeIf.*.path recursively, relative to the including file, and finds hooksPath in an included file', () => {
    const cfg = write('.git/config', '[core]\n\tbare = false\n[include]\n\tpath = ../.gitconfig ; shared\n[includeIf "gitdir:~/work/"]\n\tpath = "../inc/a.cfg"\n');
    write('inc/a.cfg', '[include]\n\tpath = b.cfg\n');
    write('inc/b.cfg', '[core]\n\thooksPath = .githooks\n[include]\n\tpath = ../.git/config\n');
    const refs = gitConfigRefs(cfg);
    expect(refs.includes).toEqual([path.join(dir, '.gitconfig'), path.join(dir, 'inc/a.cfg'), path.join(dir, 'inc/b.cfg'), path.join(dir, '.git/config')]);
    expect(refs.hooksPath).toBe('.githooks');
  });

  it('a missing config has no references; GIT_CONFIG_GLOBAL replaces the user\'s', () => {
    expect(gitConfigRefs(path.join(dir, 'nope'))).toEqual({ includes: [], hooksPath: null });
    expect(userGitConfigs({ HOME: '/h', GIT_CONFIG_GLOBAL: '/g' })).toEqual(['/etc/gitconfig', '/g']);
    expect(userGitConfigs({ HOME: '/h', GIT_CONFIG_NOSYSTEM: '1' })).toEqual(['/h/.config/git/config', '/h/.gitconfig']);
  });
});

describe('envrcLoads (red-team R80)', () => {
  it('names what dotenv, dotenv_if_exists, source_env(_if_exists), source_up, watch_file and use flake load', () => {
    const ws = path.join(dir, 'a', 'ws');
    write('a/.envrc', 'export UP=1\n');
    write('a/ws/sub/.envrc', 'dotenv ../inner.env\n');
    const rc = write('a/ws/.envrc', 'dotenv\ndotenv_if_exists .env.shared # a comment\nsource_env sub\nsource_env_if_exists "local rc"\nsource_up\nwatch_file a.nix b.nix; use flake\ndotenv "$HOME/x"\n');
    expect(envrcLoads(rc).sort()).toEqual(
      [
        path.join(ws, '.env'),
        path.join(ws, '.env.shared'),
        path.join(ws, 'sub', '.envrc'),
        path.join(ws, 'inner.env'),
        path.join(ws, 'local rc'),
        path.join(dir, 'a', '.envrc'),
        path.join(ws, 'a.nix'),
        path.join(ws, 'b.nix'),
        path.join(ws, 'flake.nix'),
        path.join(ws, 'flake.lock'),
      ].sort(),
    );
  });
});

describe('dotenvHarmless (red-team R84)', () => {
  const b = (s: string): Buffer => Buffer.from(s);
  it('an app\'s settings are harmless; AIDER_*, PATH, loader and interpreter variables, the gate\'s own are not (unless unchanged)', () => {
    expect(dotenvHarmless(null, b('DATABASE_URL=postgres://x\n# c\nexport APP_PORT=3000\n'))).toBe(true);
    expect(dotenvHarmless(null, b('AIDER_LINT_CMD=id\n'))).toBe(false);
    expect(dotenvHarmless(null, b('aider_test_cmd=id\n'))).toBe(false);
    for (const k of ['PATH', 'LD_PRELOAD', 'PYTHONSTARTUP', 'NODE_OPTIONS', 'AGENT_GATE_SUPERVISOR', 'GIT_SSH_COMMAND', 'BASH_ENV', 'OPENAI_API_BASE']) expect(dotenvHarmless(null, b(`${k}=x\n`)), k).toBe(false);
    expect(dotenvHarmless(b('PATH=/a\nX=1\n'), b('PATH=/a\nX=2\nY=3\n'))).toBe(true);
    expect(dotenvHarmless(b('PATH=/a\n'), b('PATH=/b\n'))).toBe(false);
    // Unreadable lines fail closed; a removed file is harmless.
    expect(dotenvHarmless(null, b('not an assignment\n'))).toBe(false);
    expect(dotenvHarmless(b('AIDER_LINT_CMD=x\n'), null)).toBe(true);
  });
});

describe('noNewExec (red-team R79)', () => {
  it('a plan progressed, reordered or dropped is harmless; an exec line added (or the same one twice) is not', () => {
    const plan = 'pick a c1\nexec make test\npick b c2\n# exec not a command\n';
    expect(noNewExec(plan, 'pick b c2\n')).toBe(true);
    expect(noNewExec(plan, 'pick b c2\nexec make test\n')).toBe(true);
    expect(noNewExec(plan, 'exec id\npick b c2\n')).toBe(false);
    expect(noNewExec(plan, 'x id\n')).toBe(false);
    expect(noNewExec(plan, '  exec make test\nexec make test\n')).toBe(false);
  });
});

describe('JSONC files VS Code reads: .code-workspace folders (R87), what a devcontainer.json names (R94)', () => {
  it('comments and trailing commas are read as VS Code does; a comment marker inside a string is text', () => {
    expect(parseJsonc('{ "a": "x // y", /* c */ "b": [1, 2,], // z\n }')).toEqual({ a: 'x // y', b: [1, 2] });
    expect(parseJsonc('{ "a": ')).toBeNull();
  });

  it('folders resolve against the workspace file; devcontainer names its compose files, their .env and Dockerfiles', () => {
    const ws = write('proj.code-workspace', '{ "folders": [ { "path": "." }, { "path": "apps/web" }, { "uri": "vscode-remote://x" }, ], }');
    expect(codeWorkspaceFolders(ws)).toEqual([dir, path.join(dir, 'apps/web')]);
    const dc = write('.devcontainer/devcontainer.json', '{ // c\n "dockerComposeFile": ["../compose/a.yml", "b.yml"], "build": { "dockerfile": "Dockerfile" }, "dockerFile": "../Old" }');
    expect(devcontainerRefs(dc)).toEqual([path.join(dir, 'compose/a.yml'), path.join(dir, '.devcontainer/b.yml'), path.join(dir, 'compose/.env'), path.join(dir, '.devcontainer/Dockerfile'), path.join(dir, 'Old')]);
    expect(devcontainerRefs(write('x.json', 'not json'))).toEqual([]);
  });
});

describe('other VCSs (R97), replace refs (R91), PATH_add (R80 left-over)', () => {
  it('hg %include is followed; a clone\'s [paths] is harmless, hooks, extensions and any jj setting are not', () => {
    const rc = write('.hg/hgrc', '[paths]\ndefault = x\n%include ../a.rc\n');
    write('a.rc', '%include sub/b.rc\n');
    expect(hgIncludes(rc)).toEqual([path.join(dir, 'a.rc'), path.join(dir, 'sub/b.rc')]);
    expect(vcsConfigHarmless('/r/.hg/hgrc', '# c\n[paths]\ndefault = https://x\ndefault-push = ssh://y\n')).toBe(true);
    expect(vcsConfigHarmless('/r/.hg/hgrc', '[hooks]\npre-status = id\n')).toBe(false);
    expect(vcsConfigHarmless('/r/.hg/hgrc', '[paths]\n%include x\n')).toBe(false);
    expect(vcsConfigHarmless('/r/.jj/repo/config.toml', '')).toBe(true);
    expect(vcsConfigHarmless('/r/.jj/repo/config.toml', '[ui]\npager = "x"\n')).toBe(false);
  });

  it('packed replace refs are found among the others', () => {
    const sha = 'a'.repeat(40);
    expect([...packedReplaceRefs(`# pack-refs with: peeled fully-peeled sorted\n${sha} refs/heads/main\n${sha} refs/replace/${'b'.repeat(40)}\n^${sha}\n`)]).toEqual([`${sha} refs/replace/${'b'.repeat(40)}`]);
  });

  it('PATH_add and path_add PATH directories, relative to the .envrc; $ words are the shell\'s', () => {
    const rc = write('.envrc', 'PATH_add bin tools/bin\npath_add PATH ./x\npath_add MANPATH man\nPATH_add "$HOME/y"\n');
    expect(envrcPathDirs(rc)).toEqual([path.join(dir, 'bin'), path.join(dir, 'tools/bin'), path.join(dir, 'x')]);
  });
});
