// The shipped policies' grants, tried for real through `agent-gate run` (red-team R60 R63 R67 R69 R81 R82):
// no shared /tmp or /var/tmp (the session's $TMPDIR instead: Node's compile cache goes there), a root agent's
// own /dev/shm, the XDG cache's download caches but not the ones that hold programs, Claude Code's shell
// snapshots read-only, and the strict policy's token patterns and refused command lines. Each case has a
// control: the same write or value where it is meant to work, or ungated.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, makeDirs, prepare, runCli, type CliRun } from './gate-progs/cli';

const isRoot = process.getuid?.() === 0;
let dirs: ReturnType<typeof makeDirs>;
let home = '';
let n = 0;
beforeAll(async () => {
  await prepare();
  dirs = makeDirs('grants');
  // A home of the test's own (its caches are what the default policy grants), outside /tmp.
  fs.mkdirSync(path.join(os.homedir(), '.local', 'state'), { recursive: true });
  home = fs.mkdtempSync(path.join(os.homedir(), '.local', 'state', 'gate-e2e-grants-home-'));
});
afterAll(() => {
  dirs?.cleanup();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

/** Under the shipped default policy (no --policy, no .gate.toml), with the test's home. */
function underDefault(script: string, o: { extra?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<CliRun> {
  const ws = path.join(dirs.root, `ws-${++n}`);
  fs.mkdirSync(ws);
  const env = { HOME: home, XDG_CACHE_HOME: '', npm_config_cache: '', XDG_STATE_HOME: path.join(home, '.local', 'state'), ...o.env };
  return runCli(['bash', '-c', script], { cwd: ws, audit: path.join(dirs.state, `grants-${n}.jsonl`), env, extra: ['--agent', 'none', '--on-ask', 'deny', ...(o.extra ?? [])] });
}

function lines(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const [, k, v] of out.matchAll(/^(\S+)=(.*)$/gm)) m.set(k!, v!);
  return m;
}

/** `write NAME PATH`: a shell line that prints NAME=ok or NAME=refused. */
const tryWrite = (name: string, file: string): string => `mkdir -p "$(dirname ${file})" 2>/dev/null; if echo x > ${file} 2>/dev/null; then echo ${name}=ok; else echo ${name}=refused; fi`;

describe('default policy: no shared /tmp (red-team R60)', () => {
  it('the agent writes neither /tmp nor /var/tmp (so not /tmp/node-compile-cache, which npm outside runs from); its $TMPDIR works, and Node\'s compile cache goes there', async () => {
    const tag = `gate-r60-${process.pid}-${Date.now()}`;
    const planted = [`/tmp/node-compile-cache/${tag}`, `/tmp/${tag}`, `/var/tmp/${tag}`];
    // Control: ungated, these places are writable here.
    const control = spawnSync('bash', ['-c', [tryWrite('c1', planted[0]!), tryWrite('c2', planted[1]!), tryWrite('c3', planted[2]!)].join('; ')], { encoding: 'utf8' }).stdout;
    expect(control).toContain('c1=ok');
    expect(control).toContain('c3=ok');
    for (const f of planted) fs.rmSync(f, { force: true });
    const r = await underDefault(
      [
        tryWrite('cache', planted[0]!),
        tryWrite('tmp', planted[1]!),
        tryWrite('vartmp', planted[2]!),
        tryWrite('tmpdir', '$TMPDIR/x'),
        'echo "TMPDIR=$TMPDIR"; echo "SQLITE_TMPDIR=$SQLITE_TMPDIR"',
        `node -e 'const m=require("node:module"); const r=m.enableCompileCache&&m.enableCompileCache(); console.log("CC="+(r&&r.directory))'`,
      ].join('\n'),
    );
    expect(r.code, r.stderr).toBe(0);
    const out = lines(r.stdout);
    expect(out.get('cache')).toBe('refused');
    expect(out.get('tmp')).toBe('refused');
    expect(out.get('vartmp')).toBe('refused');
    expect(out.get('tmpdir')).toBe('ok');
    const tmpdir = out.get('TMPDIR')!;
    expect(tmpdir.startsWith('/tmp')).toBe(false);
    expect(out.get('SQLITE_TMPDIR')).toBe(tmpdir);
    // Node ≥ 22.1: the compile cache is made under os.tmpdir(), the session's own directory.
    const cc = out.get('CC');
    if (cc && cc !== 'undefined') expect(cc.startsWith(`${tmpdir}/`), cc).toBe(true);
    for (const f of planted) expect(fs.existsSync(f), f).toBe(false);
    expect(r.decisions.filter((d) => d.verdict !== 'allow')).toEqual([]);
  });

  it('tools at work still pass with no ask and no denial: a C build run from $TMPDIR, python tempfile and sqlite temp store, git', async () => {
    const r = await underDefault(
      [
        'set -e',
        'printf "int main(void){return 0;}" > "$TMPDIR/t.c" && cc -o "$TMPDIR/t" "$TMPDIR/t.c" && "$TMPDIR/t" && echo build=ok',
        `python3 -c 'import tempfile,sqlite3; tempfile.NamedTemporaryFile(); c=sqlite3.connect(":memory:"); c.execute("pragma temp_store=file"); c.execute("create temp table t(x)"); c.executemany("insert into t values (?)", [(i,) for i in range(1000)]); print("py=ok")'`,
        'git init -q r && cd r && git -c user.email=a@b -c user.name=a commit -q --allow-empty -m x && echo git=ok',
      ].join('\n'),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('build=ok');
    expect(r.stdout).toContain('py=ok');
    expect(r.stdout).toContain('git=ok');
    expect(r.decisions.filter((d) => d.verdict !== 'allow' || d.layer === 'approval')).toEqual([]);
  });
});

describe('default policy: the XDG cache holds programs too (red-team R69)', () => {
  it('the user\'s caches are not writable: Poetry\'s environments, uv\'s archive, Playwright\'s browsers, Bazel and Go\'s build cache are not; the agent\'s Go/uv/… caches are its own', async () => {
    const c = path.join(home, '.cache');
    const refused = {
      poetry: `${c}/pypoetry/virtualenvs/p-py3.11/bin/python`,
      uv: `${c}/uv/archive-v0/abc/bin/tool`,
      playwright: `${c}/ms-playwright/chromium-1/chrome-linux/chrome`,
      bazel: `${c}/bazel/_bazel_root/install/x`,
      gobuild: `${c}/go-build/00/x-d`,
      precommit: `${c}/pre-commit/repo/x`,
      typescript: `${c}/typescript/5.9/package.json`,
      nodegyp: `${c}/node-gyp/22.0.0/include/node/node.h`,
      top: `${c}/x`,
      // The user's package caches too (red-team R99): the next test.
      pip: `${c}/pip/http/x`,
      npm: `${home}/.npm/_cacache/x`,
    };
    // The directories exist (as on a machine that uses these tools): Landlock would otherwise refuse for lack of them.
    for (const f of Object.values(refused)) fs.mkdirSync(path.dirname(f), { recursive: true });
    const r = await underDefault(
      [
        ...Object.entries(refused).map(([k, f]) => tryWrite(k, f)),
        'echo "GOCACHE=$GOCACHE"; echo "UV_CACHE_DIR=$UV_CACHE_DIR"; echo "PLAYWRIGHT_BROWSERS_PATH=$PLAYWRIGHT_BROWSERS_PATH"',
        tryWrite('own', '$GOCACHE/00/x-d'),
      ].join('\n'),
    );
    expect(r.code, r.stderr).toBe(0);
    const out = lines(r.stdout);
    for (const k of Object.keys(refused)) expect(out.get(k), k).toBe('refused');
    expect(out.get('GOCACHE')).toBe(`${c}/agent-gate/tools/go-build`);
    expect(out.get('UV_CACHE_DIR')).toBe(`${c}/agent-gate/tools/uv`);
    expect(out.get('PLAYWRIGHT_BROWSERS_PATH')).toBe(`${c}/agent-gate/tools/ms-playwright`);
    expect(out.get('own')).toBe('ok');
    for (const f of Object.values(refused)) expect(fs.existsSync(f), f).toBe(false);
  });
});

describe('default policy: the user\'s package caches hold installed programs (red-team R99)', () => {
  it('npx\'s installs, cargo\'s unpacked crates, pip\'s wheels and Go\'s modules of the user cannot be changed; the agent\'s npx, npm, pip, cargo and go use caches of its own, which the user\'s npx never sees', async () => {
    // A tool published as a tarball (no registry needed): `npx --package=<tgz>` installs it into <cache>/_npx.
    const pkg = path.join(dirs.root, 'r99-pkg');
    fs.mkdirSync(pkg, { recursive: true });
    fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'gate-r99-tool', version: '1.0.0', bin: { 'gate-r99-tool': 'cli.js' } }));
    fs.writeFileSync(path.join(pkg, 'cli.js'), '#!/usr/bin/env node\nconsole.log("tool=" + (process.env.R99_MARK || "user"))\n', { mode: 0o755 });
    expect(spawnSync('npm', ['pack', '-q'], { cwd: pkg, encoding: 'utf8' }).status).toBe(0);
    const tgz = path.join(pkg, 'gate-r99-tool-1.0.0.tgz');
    const npx = `npx -y --package=${tgz} gate-r99-tool`;
    // The user, outside the gate, with their own ~/.npm (npm_config_cache unset): an MCP server started as `npx -y …`.
    const userEnv: NodeJS.ProcessEnv = { ...process.env, HOME: home };
    delete userEnv.npm_config_cache;
    delete userEnv.XDG_CACHE_HOME;
    const first = spawnSync('bash', ['-c', npx], { cwd: dirs.root, env: userEnv, encoding: 'utf8' });
    expect(first.stdout, first.stderr).toContain('tool=user');
    const npxDir = path.join(home, '.npm', '_npx');
    const installed = fs.readdirSync(npxDir).map((h) => path.join(npxDir, h, 'node_modules', 'gate-r99-tool', 'cli.js')).find((f) => fs.existsSync(f));
    expect(installed).toBeDefined();
    const before = fs.readFileSync(installed!, 'utf8');
    // The same class elsewhere, as on a machine that uses these tools: an unpacked crate (its build.rs runs in
    // the user's next build of any project using it: cargo never re-checks src/), a built wheel, a Go module.
    const c = path.join(home, '.cache');
    const planted = {
      cratesrc: `${home}/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/serde-1.0.0/build.rs`,
      cratecache: `${home}/.cargo/registry/cache/index.crates.io-1949cf8c6b5b557f/serde-1.0.0.crate`,
      crateindex: `${home}/.cargo/registry/index/index.crates.io-1949cf8c6b5b557f/.cache/se/rd/serde`,
      cargogit: `${home}/.cargo/git/checkouts/x-0123/abc/build.rs`,
      wheel: `${c}/pip/wheels/ab/cd/x-1.0-py3-none-any.whl`,
      gomod: `${home}/go/pkg/mod/example.com/x@v1.0.0/x.go`,
      yarn: `${c}/yarn/v6/npm-x-1.0.0/node_modules/x/index.js`,
      pnpm: `${c}/pnpm/dlx/abc/node_modules/x/index.js`,
    };
    for (const f of Object.values(planted)) {
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, 'original\n');
    }
    const r = await underDefault(
      [
        // R99's attack: one line into the installed tool, then the same into each planted file.
        `if sed -i '1a console.log("tool=agent")' ${installed} 2>/dev/null; then echo npx=ok; else echo npx=refused; fi`,
        ...Object.entries(planted).map(([k, f]) => `if echo agent > ${f} 2>/dev/null; then echo ${k}=ok; else echo ${k}=refused; fi`),
        // The agent's own tools: each cache inside its own tree.
        'echo "NPMCACHE=$(npm config get cache)"; echo "CARGO_HOME=$CARGO_HOME"; echo "PIP_CACHE_DIR=$PIP_CACHE_DIR"; echo "GOMODCACHE=$GOMODCACHE"',
        `R99_MARK=gated ${npx} | sed 's/^/agent-/'`,
        'ls -d "$npm_config_cache"/_npx/*/node_modules/gate-r99-tool >/dev/null && echo ownnpx=ok',
        tryWrite('owncargo', '$CARGO_HOME/registry/src/x/build.rs'),
      ].join('\n'),
    );
    expect(r.code, r.stderr).toBe(0);
    const out = lines(r.stdout);
    expect(out.get('npx')).toBe('refused');
    for (const k of Object.keys(planted)) expect(out.get(k), k).toBe('refused');
    const own = `${c}/agent-gate/tools`;
    expect(out.get('NPMCACHE')).toBe(`${own}/npm`);
    expect(out.get('CARGO_HOME')).toBe(`${own}/cargo`);
    expect(out.get('PIP_CACHE_DIR')).toBe(`${own}/pip`);
    expect(out.get('GOMODCACHE')).toBe(`${own}/go-mod`);
    expect(out.get('agent-tool')).toBe('gated');
    expect(out.get('ownnpx')).toBe('ok');
    expect(out.get('owncargo')).toBe('ok');
    expect(r.decisions.filter((d) => d.verdict !== 'allow')).toEqual([]);
    // Outside again: the user's tree is as it was, and the user's next npx runs the user's tool.
    expect(fs.readFileSync(installed!, 'utf8')).toBe(before);
    for (const f of Object.values(planted)) expect(fs.readFileSync(f, 'utf8'), f).toBe('original\n');
    const again = spawnSync('bash', ['-c', npx], { cwd: dirs.root, env: userEnv, encoding: 'utf8' });
    expect(again.stdout.trim(), again.stderr).toBe('tool=user');
  });
});

describe('Claude Code profile: shell snapshots and session env are read-only (red-team R67)', () => {
  it('a snapshot another Claude Code session sources cannot be rewritten; transcripts can be written', async () => {
    const snaps = path.join(home, '.claude', 'shell-snapshots');
    fs.mkdirSync(snaps, { recursive: true });
    fs.mkdirSync(path.join(home, '.claude', 'session-env', 'other'), { recursive: true });
    const other = path.join(snaps, 'snapshot-bash-1-abc.sh');
    fs.writeFileSync(other, 'export PATH=/usr/bin:/bin\n');
    const r = await underDefault(
      [tryWrite('snapshot', other), tryWrite('newsnap', `${snaps}/snapshot-bash-2-def.sh`), tryWrite('sessionenv', `${home}/.claude/session-env/other/hook-0.sh`), tryWrite('projects', `${home}/.claude/projects/p/t.jsonl`)].join('\n'),
      { extra: ['--agent', 'claude'] },
    );
    expect(r.code, r.stderr).toBe(0);
    const out = lines(r.stdout);
    expect(out.get('snapshot')).toBe('refused');
    expect(out.get('newsnap')).toBe('refused');
    expect(out.get('sessionenv')).toBe('refused');
    expect(out.get('projects')).toBe('ok');
    expect(fs.readFileSync(other, 'utf8')).toBe('export PATH=/usr/bin:/bin\n');
  });
});

describe.runIf(isRoot)('a root agent\'s own /dev/shm (red-team R63)', () => {
  it('POSIX shared memory of a process outside is out of reach by name; the agent\'s own shared memory and semaphores (Python multiprocessing) work', async () => {
    const name = `gate-r63-${process.pid}-${Date.now()}`;
    const outside = path.join('/dev/shm', name);
    fs.writeFileSync(outside, 'outside-value');
    try {
      const r = await underDefault(
        [
          `if cat ${outside} >/dev/null 2>&1; then echo read=ok; else echo read=refused; fi`,
          `if printf agent > ${outside} 2>/dev/null; then echo write=ok; else echo write=refused; fi`,
          `python3 -c 'from multiprocessing import shared_memory, Lock; l=Lock(); l.acquire(); l.release(); s=shared_memory.SharedMemory(create=True,size=16); s.buf[:2]=b"hi"; print("mp="+bytes(s.buf[:2]).decode()); s.close(); s.unlink()'`,
        ].join('\n'),
      );
      expect(r.code, r.stderr).toBe(0);
      const out = lines(r.stdout);
      // Not there (the session's own /dev/shm); what the agent writes under that name is its own file.
      expect(out.get('read')).toBe('refused');
      expect(out.get('write')).toBe('ok');
      expect(out.get('mp')).toBe('hi');
      expect(fs.readFileSync(outside, 'utf8')).toBe('outside-value');
    } finally {
      fs.rmSync(outside, { force: true });
    }
  });
});

describe('strict policy (red-team R81 R82)', () => {
  const strict = path.join(ROOT, 'policies', 'strict.gate.toml');
  const runStrict = (script: string, env: NodeJS.ProcessEnv = {}): Promise<CliRun> => {
    const ws = path.join(dirs.root, `ws-${++n}`);
    fs.mkdirSync(ws);
    fs.writeFileSync(path.join(ws, 'x.js'), 'console.log("script=ok")\n');
    return runCli(['bash', '-c', script], { policy: strict, cwd: ws, audit: path.join(dirs.state, `strict-${n}.jsonl`), env: { HOME: home, ...env }, extra: ['--agent', 'none', '--on-ask', 'deny'] });
  };

  it('tokens by the shapes of their names are removed; the agent\'s own API key is kept', async () => {
    const secrets: Record<string, string> = {
      'npm_config_//registry.npmjs.org/:_authToken': 'x', npm_config__auth: 'x', GITHUB_PAT: 'x', HOMEBREW_GITHUB_API_TOKEN: 'x',
      GITLAB_PRIVATE_TOKEN: 'x', CI_JOB_TOKEN: 'x', HF_TOKEN: 'x', SENTRY_AUTH_TOKEN: 'x', CODECOV_TOKEN: 'x', SLACK_BOT_TOKEN: 'x',
      DOCKER_PASSWORD: 'x', PGPASSWORD: 'x', MYSQL_PWD: 'x', DATABASE_URL: 'postgres://u:pw@h/db', STRIPE_SECRET_KEY: 'x',
    };
    const r = await runStrict('env', { ...secrets, ANTHROPIC_API_KEY: 'sk-ant-kept', OPENAI_API_KEY: 'sk-kept' });
    expect(r.code, r.stderr).toBe(0);
    const names = new Set(r.stdout.split('\n').map((l) => l.split('=')[0]));
    for (const k of Object.keys(secrets)) expect(names.has(k), k).toBe(false);
    expect(r.stdout).toContain('ANTHROPIC_API_KEY=sk-ant-kept');
    expect(r.stdout).toContain('OPENAI_API_KEY=sk-kept');
  });

  it('keys, sessions, URIs and webhooks by name, and any variable whose value is a URL with a user or password, are removed; the banner names the URL ones; the agent\'s own key and a plain URL are kept (red-team R100)', async () => {
    const named: Record<string, string> = {
      RAILS_MASTER_KEY: 'x', SOPS_AGE_KEY: 'AGE-SECRET-KEY-1x', DOTENV_KEY: 'dotenv://:key_x@dotenv.org/vault/.env.vault?environment=production',
      JWT_SIGNING_KEY: 'x', ENCRYPTION_KEY: 'x', CI_DEPLOY_KEY: 'x', SSH_KEY_PASSPHRASE: 'x', BW_SESSION: 'x', OP_SESSION_my: 'x', OP_SESSION_work_2: 'x',
      MONGODB_URI: 'mongodb://localhost/db', SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/x', DISCORD_WEBHOOK: 'https://discord.com/api/webhooks/1/x',
    };
    const byValue: Record<string, string> = {
      PIP_INDEX_URL: 'https://user:tok@pypi.example/simple', UV_INDEX_URL: 'https://__token__:tok@idx.example/simple', HTTPS_PROXY: 'http://u:p@proxy.example:3128',
      https_proxy: 'http://u:p@proxy.example:3128', REDIS_URL: 'redis://:pw@cache.example:6379/0', GIT_REMOTE: 'https://ghp_x@github.com/o/r.git',
    };
    const kept: Record<string, string> = { ANTHROPIC_API_KEY: 'sk-ant-kept', PLAIN_INDEX_URL: 'https://pypi.org/simple', NO_PROXY: 'localhost,127.0.0.1' };
    const r = await runStrict('env', { ...named, ...byValue, ...kept });
    expect(r.code, r.stderr).toBe(0);
    const names = new Set(r.stdout.split('\n').map((l) => l.split('=')[0]));
    for (const k of [...Object.keys(named), ...Object.keys(byValue)]) expect(names.has(k), k).toBe(false);
    for (const [k, v] of Object.entries(kept)) expect(r.stdout, k).toContain(`${k}=${v}\n`);
    // Said in the start banner, names only (never a value).
    const banner = r.stderr.split('\n').find((l) => l.includes("removed from the agent's environment")) ?? '';
    for (const k of Object.keys(byValue)) expect(banner, k).toMatch(new RegExp(`; [^;]*\\b${k}\\b[^;]*: a user or password in a URL`));
    expect(r.stderr).not.toContain('tok@');
  });

  it('a token of a known shape under an innocent name is removed by its value, named in the banner (never its value); the agent\'s own key, passed by name, stays', async () => {
    // Built from parts (a literal would trip secret scanners); each has its issuer's documented shape.
    const rep = (s: string, n: number): string => s.repeat(Math.ceil(n / s.length)).slice(0, n);
    const jwt = `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.${Buffer.from('{"sub":"agent-gate-test"}').toString('base64url')}.${rep('sIg_', 43)}`;
    const byShape: Record<string, string> = {
      FOO: `ghp_${rep('aB3', 36)}`, X: `sk-ant-api03-${rep('Zq9_', 93)}AA`, BUILD_ID: `AKIA${rep('QRST2345', 16)}`, SOME_VALUE: `glpat-${rep('x1Y', 20)}`,
      CHAT: `xoxb-${rep('1234', 12)}-${rep('5678', 13)}-${rep('aZ', 24)}`, REGISTRY: `npm_${rep('Np0', 36)}`, DEPLOY: '-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----\n',
      SESSION_BLOB: jwt, HEADER: `Authorization: Bearer ghs_${rep('Hh7', 36)}`,
    };
    const kept: Record<string, string> = { ANTHROPIC_API_KEY: `sk-ant-api03-${rep('kEpT', 93)}AA`, GIT_SHA: 'da39a3ee5e6b4b0d3255bfef95601890afd80709', NOTE: 'ghp_short' };
    // The agent looks everywhere a value could show: its environment, and a child's.
    const r = await runStrict('env; echo ---; sh -c env', { ...byShape, ...kept });
    expect(r.code, r.stderr).toBe(0);
    const names = new Set(r.stdout.split('\n').map((l) => l.split('=')[0]));
    for (const k of Object.keys(byShape)) expect(names.has(k), k).toBe(false);
    for (const v of Object.values(byShape)) expect(r.stdout).not.toContain(v.split('\n')[0]);
    for (const [k, v] of Object.entries(kept)) expect(r.stdout, k).toContain(`${k}=${v}\n`);
    const banner = r.stderr.split('\n').find((l) => l.includes("removed from the agent's environment")) ?? '';
    for (const k of Object.keys(byShape)) expect(banner, k).toMatch(new RegExp(`; [^;]*\\b${k}\\b[^;]*: a token's shape in the value`));
    for (const v of [...Object.values(byShape), ...Object.values(kept)]) expect(r.stderr).not.toContain((v.split('\n')[0] ?? v).slice(0, 16));
  });

  it('npm\'s install aliases, npx, node -p/--eval=, python3 -c1 are refused; npm test, node x.js run', async () => {
    const refused = ['npm i left-pad', 'npm isntall left-pad', 'npm add left-pad', 'npx cowsay hi', 'node -p 1', 'node --eval=1', 'node -pe 1', 'python3 -c1', 'python3 -Ic1'];
    const r = await runStrict([...refused.map((c, i) => `${c} >/dev/null 2>&1; echo "r${i}=$?"`), 'node x.js'].join('\n'));
    const out = lines(r.stdout);
    refused.forEach((c, i) => expect(out.get(`r${i}`), c).toBe('126'));
    expect(r.stdout).toContain('script=ok');
  });
});
