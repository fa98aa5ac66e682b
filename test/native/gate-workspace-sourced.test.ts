// Workspace files that tools outside the gate take as code, third round (issue 13 item 8; red-team R101 R104):
// a `.env` that the user's shell sources (oh-my-zsh's dotenv plugin and autoenv on `cd`, `set -a; . ./.env` in
// scripts) — at the root, in a subdirectory, a `.env.*` beside it — and every config name a git hook manager
// reads (lefthook's main and `-local` configs under all their names, the files its `extends` names, lint-staged,
// husky, overcommit). Real CLI, supervisor and kernel, the agent as root and as uid 65534; the "user" then runs
// the real tools (bash sourcing the file, git commit with lefthook's installed hook) outside the gate, and each
// class has an ungated control where the same write makes that tool run the agent's program.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProtectedRecord } from '../../src/core/audit/records';
import { makeDirs, prepare, runCli, type CliRun } from './gate-progs/cli';
import { ownedWorkspace } from './helpers/procs';

const NOBODY = 65534;
const AS_NOBODY = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];
type Who = 'root' | 'nobody';

let dirs: ReturnType<typeof makeDirs>;
let n = 0;
/** lefthook's binary (npm's `lefthook` package, installed once per machine into the temp directory). */
let lefthook = '';

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('these tests need root: they run the agent as root and as uid 65534');
  await prepare();
  dirs = makeDirs('sourced');
  fs.chmodSync(dirs.root, 0o755);
  const prefix = path.join(os.tmpdir(), 'agent-gate-test-tools', 'lefthook-2.2.2');
  lefthook = path.join(prefix, 'node_modules', 'lefthook-linux-x64', 'bin', 'lefthook');
  if (!fs.existsSync(lefthook)) {
    fs.mkdirSync(prefix, { recursive: true });
    // --ignore-scripts: its postinstall would run `lefthook install` in the current directory.
    execFileSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--ignore-scripts', '--prefer-offline', '--prefix', prefix, 'lefthook@2.2.2'], { stdio: 'ignore', timeout: 240_000 });
  }
  if (!fs.existsSync(lefthook)) throw new Error(`lefthook did not install into ${prefix} (npm's lefthook package ships the binary): these tests need it`);
}, 300_000);
afterAll(() => dirs?.cleanup());

const POLICY = `[meta]
version = 1
default_action = "allow"

[filesystem]
read_globs = ["/**"]
write_globs = ["\${WORKSPACE}/**"]
`;

const GIT_ENV = { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_SYSTEM: '/dev/null', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };

/** The set-up, as root in a workspace `nobody` may own already. */
const SETUP_ENV = { ...GIT_ENV, GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'safe.directory', GIT_CONFIG_VALUE_0: '*' };

interface Ws {
  who: Who;
  base: string;
  ws: string;
  policy: string;
  audit: string;
  /** Appended to by the agent's program when it runs. */
  marker: string;
  /** The agent's program, as a shell command (what a hook or a `$(…)` runs). */
  evil: string;
  /** The agent's files to copy in, by name (written before the session, outside the workspace). */
  payload: string;
}

/** A git repository with one commit, owned by `who`; setup writes its files first. */
function repo(who: Who, setup: (ws: string) => void, payload: Record<string, string> = {}): Ws {
  const base = path.join(dirs.root, `${who}-${++n}`);
  const w = ownedWorkspace(base, POLICY, { owner: who === 'nobody' ? NOBODY : undefined });
  const marker = path.join(base, 'ran');
  fs.writeFileSync(path.join(base, 'evil.sh'), `#!/bin/sh\necho ran >> ${marker}\n`, { mode: 0o755 });
  const evil = `sh ${path.join(base, 'evil.sh')}`;
  const pay = path.join(base, 'payload');
  fs.mkdirSync(pay);
  for (const [name, text] of Object.entries(payload)) fs.writeFileSync(path.join(pay, name), text.replaceAll('EVIL', evil));
  const git = (...a: string[]): string => execFileSync('git', a, { cwd: w.ws, env: { ...process.env, ...SETUP_ENV }, encoding: 'utf8' });
  git('init', '-q');
  setup(w.ws);
  git('add', '-A');
  git('commit', '-qm', 'init');
  if (who === 'nobody') execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, base]);
  return { who, base, ws: w.ws, policy: w.policy, audit: path.join(w.state, 'audit.jsonl'), marker, evil, payload: pay };
}

/** The agent's script inside the gate, as `who` (the default: a root agent gets its mount namespace). */
function gated(w: Ws, script: string): Promise<CliRun> {
  fs.rmSync(w.audit, { force: true });
  return runCli(['bash', '-c', script], { policy: w.policy, audit: w.audit, cwd: w.ws, env: { HOME: w.base, ...GIT_ENV }, wrap: w.who === 'nobody' ? AS_NOBODY : undefined });
}

/** The user, outside the gate, as `who`: a shell command in dir (the agent's script, for a control, too). */
function user(w: Ws, cmd: string, cwd = w.ws, env: Record<string, string> = {}): string {
  const argv = [...(w.who === 'nobody' ? AS_NOBODY : []), 'bash', '-c', cmd];
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd, env: { ...process.env, HOME: w.base, ...GIT_ENV, ...env }, encoding: 'utf8' });
  return r.stdout + r.stderr;
}

function protectedRecords(r: CliRun): ProtectedRecord[] {
  return r.records.filter((x): x is ProtectedRecord => x.type === 'protected');
}

const ran = (w: Ws): boolean => fs.existsSync(w.marker);
const read = (w: Ws, rel: string): string | null => (fs.existsSync(path.join(w.ws, rel)) ? fs.readFileSync(path.join(w.ws, rel), 'utf8') : null);

describe.each<Who>(['root', 'nobody'])('gate: a .env the user\'s shell sources (red-team R101; agent as %s)', (who) => {
  const setup = (ws: string): void => {
    fs.writeFileSync(path.join(ws, '.env'), 'APP_URL=http://localhost:3000\nLOG_LEVEL=info\n');
    fs.mkdirSync(path.join(ws, 'svc'));
    fs.writeFileSync(path.join(ws, 'svc', '.env'), 'PORT=8080\n');
  };
  // What oh-my-zsh's dotenv plugin does on `cd` (setopt allexport; source .env), autoenv, and dev scripts.
  const SOURCE = 'for d in . svc web; do [ -d $d ] || continue; (cd $d && for f in .env .env.local; do [ -f $f ] && { set -a; . ./$f; set +a; }; done); done 2>/dev/null; true';
  const PAYLOAD = {
    root: 'APP_URL=$(EVIL)http://localhost:3000\nLOG_LEVEL=debug\n',
    svc: 'PORT=`EVIL`\n',
    web: 'NAME=web; EVIL\n',
    local: 'X=${UNSET:-$(EVIL)}\n',
  };
  const AGENT = 'cp ../payload/root .env; cp ../payload/svc svc/.env; mkdir -p web && cp ../payload/web web/.env; cp ../payload/local .env.local; sleep 1; echo agent done';

  it('control: without the gate, a command substitution, a backtick, a `;` in a value run when the user\'s shell sources the files', () => {
    const w = repo(who, setup, PAYLOAD);
    user(w, AGENT);
    user(w, SOURCE);
    expect(fs.readFileSync(w.marker, 'utf8').trim().split('\n')).toHaveLength(4);
  });

  it('the same writes from inside the gate are put back (a new file removed), kept for review; the user\'s shell runs nothing', async () => {
    const w = repo(who, setup, PAYLOAD);
    const r = await gated(w, AGENT);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('agent done');
    expect(read(w, '.env')).toBe('APP_URL=http://localhost:3000\nLOG_LEVEL=info\n');
    expect(read(w, 'svc/.env')).toBe('PORT=8080\n');
    expect(read(w, 'web/.env')).toBeNull();
    expect(read(w, '.env.local')).toBeNull();
    const recs = protectedRecords(r);
    for (const rel of ['.env', 'svc/.env', 'web/.env', '.env.local']) {
      expect(recs.find((x) => x.path === path.join(w.ws, rel)), rel).toMatchObject({ class: 'dotenv', reverted: true });
    }
    expect(recs.find((x) => x.path === path.join(w.ws, '.env'))!.diff).toContain('+APP_URL=$(');
    user(w, SOURCE);
    expect(ran(w)).toBe(false);
  });

  it('ordinary edits stay the agent\'s without a review: plain values, quoted strings, a new .env in a new directory', async () => {
    const w = repo(who, setup);
    const r = await gated(w, `printf 'APP_URL=http://localhost:4000/?a=b\\nLOG_LEVEL=debug\\nGREETING="hello, world" # shown\\nKEY=\\x27{"a": 1}\\x27\\n' > .env; mkdir -p api && printf 'PORT=9090\\n' > api/.env; sleep 1`);
    expect(r.code, r.stderr).toBe(0);
    expect(read(w, '.env')).toBe('APP_URL=http://localhost:4000/?a=b\nLOG_LEVEL=debug\nGREETING="hello, world" # shown\nKEY=\'{"a": 1}\'\n');
    expect(read(w, 'api/.env')).toBe('PORT=9090\n');
    expect(protectedRecords(r)).toEqual([]);
  });
});

describe.each<Who>(['root', 'nobody'])('gate: every config name a git hook manager reads (red-team R104; agent as %s)', (who) => {
  const LH = 'pre-commit:\n  commands:\n    lint:\n      run: "true"\n';
  const setup = (ws: string): void => {
    fs.writeFileSync(path.join(ws, 'lefthook.yml'), `extends:\n  - hooks/shared.yml\n${LH}`);
    fs.mkdirSync(path.join(ws, 'hooks'));
    fs.writeFileSync(path.join(ws, 'hooks', 'shared.yml'), 'pre-commit:\n  commands:\n    shared:\n      run: "true"\n');
    fs.mkdirSync(path.join(ws, 'pkg'));
    fs.writeFileSync(path.join(ws, 'README'), 'hello\n');
    execFileSync(lefthook, ['install'], { cwd: ws, env: { ...process.env, ...SETUP_ENV }, stdio: 'ignore' });
  };
  const yml = (name: string): string => `pre-commit:\n  commands:\n    ${name}:\n      run: EVIL\n`;
  // lefthook's -local configs under each name it merges, a main config in .config/, the file `extends` names,
  // and the other managers' configs (lint-staged's in a subdirectory too).
  const FILES: Record<string, string> = {
    '.lefthook-local.yaml': yml('a'),
    'lefthook-local.yaml': yml('b'),
    'lefthook-local.toml': '[pre-commit.commands.c]\nrun = "EVIL"\n',
    'lefthook-local.jsonc': '{ // c\n "pre-commit": { "commands": { "d": { "run": "EVIL" } } } }\n',
    '.config/lefthook-local.yml': yml('e'),
    '.config/lefthook.yaml': yml('f'),
    'hooks/shared.yml': yml('shared'),
    '.lintstagedrc.json': '{ "*": "EVIL" }\n',
    'pkg/.lintstagedrc': '"*": EVIL\n',
    '.overcommit.yml': 'PreCommit:\n  Evil:\n    enabled: true\n    command: ["sh"]\n',
    '.huskyrc.json': '{ "hooks": { "pre-commit": "EVIL" } }\n',
  };
  const payload = Object.fromEntries(Object.entries(FILES).map(([rel, text]) => [rel.replaceAll('/', '_'), text]));
  const AGENT = `mkdir -p .config; ${Object.keys(FILES)
    .map((rel) => `cp ../payload/${rel.replaceAll('/', '_')} ${rel} 2>/dev/null || echo "refused: ${rel}"`)
    .join('; ')}; sleep 1; echo agent done`;
  const commit = (w: Ws): string => user(w, 'echo change >> README && git add README && git commit -qm next', w.ws, { LEFTHOOK_BIN: lefthook });

  it('control: without the gate, the user\'s next git commit runs the agent\'s commands from lefthook\'s other names and from the file extends names', () => {
    const w = repo(who, setup, payload);
    user(w, AGENT);
    commit(w);
    // lefthook merges one -local config (its first name found) and the extended file: at least two runs.
    expect(fs.readFileSync(w.marker, 'utf8').trim().split('\n').length).toBeGreaterThanOrEqual(2);
  });

  it('the same writes from inside the gate are put back or refused, kept for review; the user\'s commit runs nothing of the agent\'s', async () => {
    const w = repo(who, setup, payload);
    const r = await gated(w, AGENT);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('agent done');
    const recs = protectedRecords(r);
    for (const rel of Object.keys(FILES)) {
      const original = rel === 'hooks/shared.yml' ? 'pre-commit:\n  commands:\n    shared:\n      run: "true"\n' : null;
      expect(read(w, rel), rel).toBe(original);
      // A write to a file that exists is refused by the kernel (a read-only bind mount in the agent's mount
      // namespace: root's, and uid 65534's through a user namespace, R106): nothing to put back. Every other
      // write is put back and recorded.
      if (original !== null && r.stdout.includes(`refused: ${rel}`)) continue;
      expect(recs.find((x) => x.path === path.join(w.ws, rel)), rel).toMatchObject({ class: 'hook-manager', reverted: true });
    }
    const out = commit(w);
    expect(ran(w), out).toBe(false);
    expect(user(w, 'git log --format=%s')).toContain('next');
  });
});
