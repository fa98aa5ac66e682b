// Everyday work under the shipped default policy with --on-ask deny (no one to ask, so an ask would fail
// the work): npm ci and npm test of a real project from the registry, git, make, a Python venv with pip, a
// cargo build and pyenv. Each must pass with no ask and no denial; it runs with your real home, so the
// package managers' caches are the ones you have (the default policy lets the agent write them). Then the
// things still worth a question: curl to an unknown host, git push, npm publish, sudo.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, gated, prepare, run, scratch, timings, type GatedRun } from './helpers';

let area: ReturnType<typeof scratch>;
let n = 0;
beforeAll(async () => {
  await prepare();
  area = scratch('workloads');
});
afterAll(() => {
  area?.cleanup();
  if (timings.length) {
    console.log('\nworkloads, ungated and gated under the default policy (wall time; informational):');
    for (const t of timings) console.log(`  ${t.name.padEnd(40)} ${(t.ungatedMs / 1000).toFixed(2).padStart(7)} s  ${(t.gatedMs / 1000).toFixed(2).padStart(7)} s  ×${(t.gatedMs / t.ungatedMs).toFixed(2)}  asks ${t.asks}  denials ${t.denials}`);
  }
});

const env = (): NodeJS.ProcessEnv => {
  const e: NodeJS.ProcessEnv = { ...process.env, HOME: os.homedir() };
  delete e.CI;
  return e;
};

function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A fresh workspace, set up by `init` (outside the gate). */
function workspace(tag: string, init?: (ws: string) => void): { ws: string; audit: string } {
  const dir = path.join(area.root, `${++n}-${tag}`);
  const ws = path.join(dir, 'ws');
  fs.mkdirSync(ws, { recursive: true });
  init?.(ws);
  return { ws, audit: path.join(dir, 'audit.jsonl') };
}

/**
 * Run `script` (bash) ungated and gated, each in its own fresh workspace; the gated run must pass with no
 * ask and no denial. Returns the gated run.
 */
async function both(name: string, script: string, init?: (ws: string) => void): Promise<GatedRun> {
  const u = workspace(`${name}-ungated`, init);
  const ungated = await run('bash', ['-ec', script], { cwd: u.ws, env: env(), timeoutMs: 240_000 });
  expect(ungated.code, `${name} ungated:\n${ungated.stdout}\n${ungated.stderr}`).toBe(0);
  const g = workspace(`${name}-gated`, init);
  const r = await gated(['bash', '-ec', script], { cwd: g.ws, env: env(), audit: g.audit, timeoutMs: 240_000, extra: ['--agent', 'none'] });
  expect(r.code, `${name} gated:\n${r.stdout}\n${r.stderr}`).toBe(0);
  expect(r.asks.map((d) => `${d.exe} ${d.rule_id}`)).toEqual([]);
  expect(r.denials.map((d) => `${d.exe} ${d.rule_id}: ${d.reason}`)).toEqual([]);
  expect(r.stdout).toBe(ungated.stdout);
  timings.push({ name, ungatedMs: ungated.ms, gatedMs: r.ms, asks: r.asks.length, denials: r.denials.length });
  return r;
}

const NPM_PROJECT = path.join(ROOT, 'test', 'agents', 'fixtures', 'npm-project');
const copyNpmProject = (ws: string): void => fs.cpSync(NPM_PROJECT, ws, { recursive: true });

describe('everyday work under the default policy: no ask, no denial', () => {
  it('npm ci, then npm test: a real test runner from the registry, run from node_modules/.bin', async () => {
    await both('npm ci', 'npm ci --no-audit --no-fund --loglevel=error >/dev/null && ls node_modules/.bin', copyNpmProject);
    const r = await both('npm ci && npm test', 'npm ci --no-audit --no-fund --loglevel=error >/dev/null && npm test 2>&1 | grep -E "^  (Total|Passed)"', copyNpmProject);
    // eslint-disable-next-line no-control-regex -- uvu colours its summary
    expect(r.stdout.replace(/\x1b\[[0-9;]*m/g, '')).toMatch(/Total:\s+1\n\s+Passed:\s+1\n/);
    // The runner ran from the project, without a question: a program the agent installed.
    expect(r.decisions.some((d) => /\/node_modules\/uvu\/bin\.js$/.test(d.exe ?? '') && d.verdict === 'allow')).toBe(true);
  });

  it('git: init, commit, branch, merge, tag, diff', async () => {
    const script = [
      'git init -q -b main .',
      'git config user.email you@example.invalid && git config user.name You',
      'echo one > a && git add a && git commit -qm one',
      'git checkout -qb feature && echo two > b && git add b && git commit -qm two',
      'git checkout -q main && git merge -q --no-edit feature && git tag v1',
      'git diff --stat v1~1 v1 && git log --oneline | wc -l && git tag',
    ].join(' && ');
    const r = await both('git', script);
    expect(r.stdout).toContain(' b | 1 +\n');
    expect(r.stdout).toMatch(/\n2\nv1\n$/);
  });

  it('make, and running what it built', async () => {
    const r = await both('make test', 'make -s test', (ws) => {
      fs.writeFileSync(path.join(ws, 'hello.c'), '#include <stdio.h>\nint main(void) { puts("built and ran"); return 0; }\n');
      fs.writeFileSync(path.join(ws, 'Makefile'), 'hello: hello.c\n\tcc -O1 -o $@ $<\ntest: hello\n\t./hello\n');
    });
    expect(r.stdout).toBe('built and ran\n');
  });

  it('a Python venv with pip: --version, list, and installing a wheel built here (PyPI is not reachable)', async () => {
    const script = [
      'python3 -m venv .venv',
      '.venv/bin/pip --version | cut -d" " -f1',
      '.venv/bin/pip list --disable-pip-version-check 2>/dev/null | grep -c "^pip "',
      'python3 mkwheel.py hello-0.1-py3-none-any.whl',
      '.venv/bin/pip install -q --no-index --disable-pip-version-check hello-0.1-py3-none-any.whl',
      '.venv/bin/python -c "import hello; print(hello.hi())"',
    ].join(' && ');
    const r = await both('python venv + pip', script, (ws) => fs.copyFileSync(path.join(ROOT, 'test', 'agents', 'fixtures', 'mkwheel.py'), path.join(ws, 'mkwheel.py')));
    expect(r.stdout).toBe('pip\n1\nhi from a local wheel\n');
  });

  it.skipIf(!have('cargo'))('cargo build of a new crate, and running it (offline)', async () => {
    const r = await both('cargo build', 'cargo new -q --vcs none hello && cd hello && cargo build -q --offline && ./target/debug/hello');
    expect(r.stdout).toBe('Hello, world!\n');
  });

  it.skipIf(!have('pyenv'))('pyenv: its shims, its version files and pyenv exec', async () => {
    const r = await both('pyenv', 'pyenv version-name >/dev/null && python3 -c "print(6*7)" && pyenv exec python -c "print(7*6)" && pyenv versions --bare | wc -l | tr -d " " | grep -q . && echo done');
    expect(r.stdout).toBe('42\n42\ndone\n');
    // pyenv's shims and helpers are many programs (bash scripts in ~/.pyenv): every one ran without a question.
    expect(r.decisions.filter((d) => (d.exe ?? '').includes('/.pyenv/')).length).toBeGreaterThan(5);
  });
});

describe('still asked or denied under the default policy', () => {
  const once = async (tag: string, script: string, init?: (ws: string) => void): Promise<GatedRun> => {
    const g = workspace(tag, init);
    return gated(['bash', '-c', script], { cwd: g.ws, env: env(), audit: g.audit, timeoutMs: 120_000, extra: ['--agent', 'none'] });
  };

  it('curl to an unknown host is asked (denied: no one to ask); to GitHub it is not', async () => {
    const r = await once('curl', 'curl -s --max-time 5 https://unknown-host.example/x; echo "rc=$?"; curl -s --max-time 5 -o /dev/null https://github.com/; echo "ran=$?"');
    expect(r.stdout).toMatch(/^rc=126\nran=(?!126)\d+\n$/);
    expect(r.asks.map((d) => [d.exe, d.rule_id, d.verdict])).toEqual([['/usr/bin/curl', 'ask-network-tools', 'deny']]);
    expect(r.decisions.find((d) => d.argv.includes('https://github.com/'))).toMatchObject({ verdict: 'allow', rule_id: 'allow-fetch-known-hosts' });
  });

  it('git push is asked', async () => {
    const r = await once('push', 'git init -q --bare remote.git && git init -q -b main work && cd work && git -c user.email=a@b -c user.name=A commit -q --allow-empty -m x && git push -q ../remote.git main; echo "rc=$?"');
    expect(r.stdout).not.toBe('rc=0\n');
    expect(r.asks.map((d) => [d.rule_id, d.verdict, d.argv.slice(0, 2).join(' ')])).toEqual([['ask-git-push', 'deny', 'git push']]);
  });

  it('npm publish is asked (even --dry-run)', async () => {
    const r = await once('publish', 'npm publish --dry-run >/dev/null 2>&1; echo "rc=$?"', copyNpmProject);
    expect(r.stdout).not.toBe('rc=0\n');
    expect(r.asks.some((d) => d.rule_id === 'ask-npm-publish' && d.verdict === 'deny')).toBe(true);
  });

  // Red-team classes: an ask or a deny must hold whatever the program is called and however it is started.
  // Each attempt names its own URL (…/<case>), so each ask can be told apart in the audit log.
  it('curl is asked however it is reached: a copy, a symlink in node_modules/.bin, a #! line, exec -a, env, xargs, find -exec, a git alias, make, an interpreter, ld.so', async () => {
    const U = 'http://unknown-host.example';
    const cases: Record<string, string> = {
      copy: `cp /usr/bin/curl ./fetch && ./fetch -s ${U}/copy`,
      'bin-link': `mkdir -p node_modules/.bin && ln -s /usr/bin/curl node_modules/.bin/fetchy && node_modules/.bin/fetchy -s ${U}/bin-link`,
      shebang: `printf '#!/usr/bin/curl\\n' > sc && chmod +x sc && ./sc -s ${U}/shebang`,
      'exec-a': `(exec -a notcurl /usr/bin/curl -s ${U}/exec-a)`,
      env: `env curl -s ${U}/env`,
      xargs: `echo ${U}/xargs | xargs curl -s`,
      find: `find . -maxdepth 0 -exec curl -s ${U}/find \\;`,
      'git-alias': `git -c alias.x='!curl -s ${U}/git-alias' x`,
      make: `printf 'all:\\n\\tcurl -s ${U}/make\\n' > Makefile && make -s`,
      python: `python3 -c "import os; os.execv('/usr/bin/curl', ['curl', '-s', '${U}/python'])"`,
      'ld.so': `/lib64/ld-linux-x86-64.so.2 /usr/bin/curl -s ${U}/ld.so`,
    };
    const r = await once('curl-classes', `git init -q . && { ${Object.values(cases).join('; ')}; } >/dev/null 2>&1; echo done`);
    expect(r.stdout).toBe('done\n');
    const asked = new Set(r.asks.filter((d) => d.rule_id === 'ask-network-tools' && d.verdict === 'deny').flatMap((d) => d.argv.map((a) => /^http:\/\/unknown-host\.example\/(\S+)$/.exec(a)?.[1]).filter(Boolean)));
    expect([...asked].sort()).toEqual(Object.keys(cases).sort());
    // Nothing reached curl's code: every exec of curl (and of its copy) was refused.
    expect(r.decisions.filter((d) => d.verdict === 'allow' && d.argv.some((a) => a.startsWith(U)) && !/\/(bash|dash|git|make|xargs|find|env|python3[.0-9]*)$/.test(d.exe ?? ''))).toEqual([]);
  });

  it('curl and wget to a known host are asked when an option sends the request elsewhere or reads URLs from a file', async () => {
    const G = 'https://github.com/';
    const cases = [
      `curl -s -x 10.255.255.1:8080 ${G}`,
      `curl -sx 10.255.255.1:8080 ${G}`,
      `curl -s --resol github.com:443:10.255.255.1 ${G}`,
      `curl -s --connect-to github.com:443:10.255.255.1:443 ${G}`,
      `curl -s -K cfg ${G}`,
      `wget -q -i list ${G}`,
      `wget -q -e https_proxy=10.255.255.1:8080 ${G}`,
    ];
    const r = await once('fetch-options', `printf 'url = "http://unknown-host.example/"\\n' > cfg; echo http://unknown-host.example/ > list; ${cases.map((c) => `${c} >/dev/null 2>&1; echo "rc=$?"`).join('; ')}`);
    expect(r.stdout).toBe('rc=126\n'.repeat(cases.length));
    expect(r.asks.map((d) => [d.argv.join(' '), d.rule_id])).toEqual(cases.map((c) => [c, 'ask-network-tools']));
  });

  it('git push is asked whatever starts it: many global options, an alias, the plumbing (send-pack), git-core\'s own git', async () => {
    const cases = ['git -C . -c a.b=c -c d.e=f -c g.h=i -c j.k=l push -q ../remote.git main', 'git -c alias.p=push p -q ../remote.git main', 'git send-pack ../remote.git main', '/usr/lib/git-core/git push -q ../remote.git main'];
    const r = await once('push-classes', `git init -q --bare remote.git && git init -q -b main work && cd work && git -c user.email=a@b -c user.name=A commit -q --allow-empty -m x && { ${cases.join('; ')}; } >/dev/null 2>&1; git -C ../remote.git for-each-ref | wc -l`);
    expect(r.stdout).toBe('0\n'); // nothing was pushed
    expect(r.asks.map((d) => [d.rule_id, d.verdict])).toEqual([
      ['ask-git-push', 'deny'],
      ['ask-git-push', 'deny'], // git runs an alias as a new git process: `git push …`
      ['ask-git-push-transport', 'deny'],
      ['ask-git-push', 'deny'],
    ]);
  });

  it('npm publish is asked under its abbreviations and aliases, with options before it, and through node; npm pack is not', async () => {
    const cases = ['npm pub --dry-run', 'npm publis --dry-run', 'npm --registry http://127.0.0.1:9 publish --dry-run', 'node "$(realpath "$(command -v npm)")" publish --dry-run', 'npm dist-tag add x@1.0.0 next'];
    const r = await once('publish-classes', `${cases.map((c) => `${c} >/dev/null 2>&1; echo "rc=$?"`).join('; ')}; npm pack --dry-run >/dev/null 2>&1; echo "pack=$?"`, copyNpmProject);
    expect(r.stdout).toBe(`${'rc=126\n'.repeat(cases.length)}pack=0\n`);
    expect(r.asks.map((d) => d.rule_id)).toEqual(['ask-npm-publish', 'ask-npm-publish', 'ask-npm-publish', 'ask-package-publish-via-interpreter', 'ask-npm-publish']);
  });

  it('su is denied through a symlink in node_modules/.bin and as a copy', async () => {
    const r = await once('su-classes', 'mkdir -p node_modules/.bin && ln -s /usr/bin/su node_modules/.bin/helper && node_modules/.bin/helper -c true; echo "rc=$?"; cp /usr/bin/su ./s && ./s -c true; echo "rc=$?"');
    expect(r.stdout).toBe('rc=126\nrc=126\n');
    expect(r.denials.map((d) => [d.rule_id, d.layer])).toEqual([
      ['deny-privilege-change', 'rule'],
      ['deny-privilege-change', 'rule'],
    ]);
  });

  it('sudo is denied (by its name, whatever the file is)', async () => {
    const r = await once('sudo', 'mkdir bin && cp /usr/bin/true bin/sudo && PATH="$PWD/bin:$PATH" sudo -n true; echo "rc=$?"');
    expect(r.stdout).toBe('rc=126\n');
    expect(r.denials.map((d) => [d.rule_id, d.layer])).toEqual([['deny-privilege-change', 'rule']]);
    expect(r.asks).toEqual([]);
  });
});
