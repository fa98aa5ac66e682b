// A rewrite loop of a protected file must not win the guard's race (red-team R106, issue 13 item 8). The guard
// puts a protected workspace file back within about a millisecond of each write; an agent that writes it in a
// loop turns those windows into a race that VS Code itself triggers (its git extension runs `git status` because
// .git changed): uid 65534 rewrote .git/config with core.fsmonitor 1108 times in 6 s and an outside `git status`
// loop ran the agent's fsmonitor once in 91 runs. Now a path put back once is not written again: read-only in
// the agent's mount namespace where it has one (a root agent), else the second change ends the session, fail
// closed, saying why. Real CLI, supervisor and kernel, as root and as uid 65534, with the outside loop running
// for real while the agent writes.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProtectedRecord } from '../../src/core/audit/records';
import { makeDirs, runCli, type CliRun } from './gate-progs/cli';
import { AS_NOBODY, NOBODY, rootAndNobodyDirs } from './helpers/as-users';
import { ownedWorkspace } from './helpers/procs';

/** How long the agent writes (seconds): long enough for thousands of writes and a hundred outside runs. */
const LOOP_S = 4;

let dirs: ReturnType<typeof makeDirs>;
let n = 0;

beforeAll(async () => {
  dirs = await rootAndNobodyDirs('guardloop');
});
afterAll(() => dirs?.cleanup());

const POLICY = `[meta]
version = 1
default_action = "allow"

[filesystem]
read_globs = ["/**"]
write_globs = ["\${WORKSPACE}/**"]
require_enforced = true
`;

const GIT_ENV = { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_SYSTEM: '/dev/null', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };

type Who = 'root' | 'nobody';

/** A git repository with one commit, owned by the agent's uid, and a program that leaves proof when run. */
function setup(who: Who): { ws: string; state: string; policy: string; proof: string; evil: string } {
  const base = path.join(dirs.root, `${who}-${++n}`);
  const w = ownedWorkspace(base, POLICY, { owner: who === 'nobody' ? NOBODY : undefined });
  const git = (...a: string[]): string => execFileSync('git', ['-c', 'safe.directory=*', ...a], { cwd: w.ws, env: { ...process.env, ...GIT_ENV }, encoding: 'utf8' });
  git('init', '-q');
  fs.writeFileSync(path.join(w.ws, 'README'), 'hello\n');
  git('add', '-A');
  git('commit', '-qm', 'init');
  if (who === 'nobody') execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, w.ws]);
  const proof = path.join(base, 'PROOF');
  const evil = path.join(base, 'evil.sh');
  fs.writeFileSync(evil, `#!/bin/sh\necho "ran outside the gate: $(id -u)" >> ${proof}\n`, { mode: 0o755 });
  fs.chmodSync(base, 0o777); // the proof is written by whoever runs the outside tool
  return { ...w, proof, evil };
}

/**
 * The agent: writes `target` (relative to the workspace) with `text` as fast as it can for LOOP_S seconds
 * (made executable: a hook), printing how many writes succeeded and how many the kernel refused.
 */
function agentScript(target: string, text: string): string {
  return `import os, sys, time
target, text = ${JSON.stringify(target)}, ${JSON.stringify(text)}
end = time.time() + ${LOOP_S}; ok = refused = 0
while time.time() < end:
    try:
        os.makedirs(os.path.dirname(target) or '.', exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o755)
        os.write(fd, text.encode()); os.close(fd)
        ok += 1
        if ok % 50 == 1: print('agent: wrote', ok, flush=True)
    except OSError:
        refused += 1
print('agent: done, wrote', ok, 'refused', refused, flush=True)
`;
}

/** The user's side, outside the gate, in a loop until told to stop: `cmd` run in the workspace (as the
 *  workspace's owner, the way VS Code runs git for the user). Resolves with how many times it ran. */
function outsideLoop(who: Who, ws: string, cmd: string): { stop: () => Promise<number> } {
  const stopFile = path.join(path.dirname(ws), `stop-${++n}`);
  const wrap = who === 'nobody' ? AS_NOBODY : [];
  const child = spawn(wrap[0] ?? 'bash', [...wrap.slice(1), ...(wrap.length ? ['bash'] : []), '-c', `k=0; until [ -e ${stopFile} ]; do ${cmd} >/dev/null 2>&1; k=$((k+1)); done; echo $k`], {
    cwd: ws,
    env: { ...process.env, ...GIT_ENV, HOME: path.dirname(ws) },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const done = new Promise<number>((r) => child.on('close', () => r(Number(out.trim()) || 0)));
  return {
    stop: async () => {
      fs.writeFileSync(stopFile, '');
      return done;
    },
  };
}

async function race(who: Who, w: ReturnType<typeof setup>, target: string, text: string, outside: string, env: NodeJS.ProcessEnv = {}): Promise<{ r: CliRun; runs: number; writes: number }> {
  const script = path.join(path.dirname(w.ws), `agent-${++n}.py`);
  fs.writeFileSync(script, agentScript(target, text), { mode: 0o644 });
  const loop = outsideLoop(who, w.ws, outside);
  const r = await runCli(['python3', script], {
    policy: w.policy,
    audit: path.join(w.state, 'audit.jsonl'),
    cwd: w.ws,
    env: { ...GIT_ENV, HOME: path.dirname(w.ws), ...env },
    wrap: who === 'nobody' ? AS_NOBODY : undefined,
  });
  const runs = await loop.stop();
  const counts = [...r.stdout.matchAll(/agent: (?:done, )?wrote (\d+)/g)].map((m) => Number(m[1]));
  const writes = counts.length ? Math.max(...counts) : 0;
  // The figures for the report (never asserted: they depend on the machine and its load).
  console.log(`R106 ${who} ${target}: agent wrote ${writes} times, outside ran ${runs} times, exit ${r.code}`);
  return { r, runs, writes };
}

function protectedRecords(r: CliRun, file: string): ProtectedRecord[] {
  return r.records.filter((x): x is ProtectedRecord => x.type === 'protected' && x.path === file);
}

/** Without a kernel mechanism for the path: the second change ended the session, and every record says so. */
function expectEnded(r: CliRun, file: string, rel: string): void {
  expect(r.code, r.stderr).toBe(126);
  expect(r.stderr).toContain(`the agent changed ${rel} again after it was put back`);
  expect(r.end?.reason).toMatch(/again after it was put back .*R106.*ended, fail closed/);
  const end = r.end?.protected_changes?.find((c) => c.path === file);
  expect(end, JSON.stringify(r.end)).toBeDefined();
  expect(end!.held).toBe('ended');
  expect(end!.times).toBeGreaterThanOrEqual(2);
  expect(protectedRecords(r, file).map((x) => x.held), JSON.stringify(r.records.filter((x) => x.type === 'protected').map((x) => [x.path, (x as ProtectedRecord).held]))).toContain('ended');
  // Not a loop: the session ended within a few writes of the second (the agent is stopped, then killed).
  expect(r.stdout).not.toContain('agent: done');
}

describe('gate: a protected file rewritten in a loop does not win the race against a tool outside the gate (red-team R106)', () => {
  for (const who of ['nobody', 'root'] as const) {
    it(`.git/config with core.fsmonitor, rewritten for ${LOOP_S} s while the user's git status runs in a loop outside the gate: read-only in the agent's mount namespace (for uid 65534 made through a user namespace), every write refused, git never runs the agent's fsmonitor (${who})`, async () => {
      const w = setup(who);
      const config = path.join(w.ws, '.git', 'config');
      const original = fs.readFileSync(config, 'utf8');
      const { r, runs } = await race(who, w, '.git/config', `${original}[core]\n\tfsmonitor = ${w.evil}\n`, `git -c safe.directory='*' status`);
      expect(runs).toBeGreaterThan(0);
      expect(fs.existsSync(w.proof) ? fs.readFileSync(w.proof, 'utf8') : '').toBe('');
      expect(fs.readFileSync(config, 'utf8')).toBe(original);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/agent: done, wrote 0 refused [1-9]/);
      expect(r.end?.protected_changes?.find((c) => c.path === config)).toBeUndefined();
      // The records say which mechanism held: the enforcement report of the session's start.
      expect(JSON.stringify(r.start)).toMatch(who === 'root' ? /"mountns":"root"/ : /"mountns":"user"/);
      expect(JSON.stringify(r.start)).toMatch(/"protect":"readonly"/);
    }, 60_000);

    it(`a hook created in a loop (.git/hooks/pre-commit) while the user's commit hook runs in a loop outside the gate: .git/hooks is read-only, every attempt refused, the hook never runs (${who})`, async () => {
      const w = setup(who);
      const { r, runs } = await race(who, w, '.git/hooks/pre-commit', `#!/bin/sh\n${w.evil}\n`, 'git -c safe.directory=* hook run --ignore-missing pre-commit');
      expect(runs).toBeGreaterThan(0);
      expect(fs.existsSync(w.proof) ? fs.readFileSync(w.proof, 'utf8') : '').toBe('');
      expect(fs.existsSync(path.join(w.ws, '.git', 'hooks', 'pre-commit'))).toBe(false);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/agent: done, wrote 0 refused [1-9]/);
    }, 60_000);

    it(`paths that did not exist at the start, created in a loop (.git/hooks and .vscode removed first; no bind mount can cover what is absent once put back): the session ends at the second put-back, fail closed, saying why (${who})`, async () => {
      for (const [dir, target, outside] of [
        ['.vscode', '.vscode/tasks.json', `grep -q runOn .vscode/tasks.json && EVIL`],
        ['.git/hooks', '.git/hooks/pre-commit', 'git -c safe.directory=* hook run --ignore-missing pre-commit'],
      ] as const) {
        const w = setup(who);
        fs.rmSync(path.join(w.ws, '.git', 'hooks'), { recursive: true });
        const full = path.join(w.ws, dir);
        const text = target.endsWith('.json') ? `{"version":"2.0.0","tasks":[{"label":"x","type":"shell","command":"${w.evil}","runOptions":{"runOn":"folderOpen"}}]}` : `#!/bin/sh\n${w.evil}\n`;
        // What VS Code does on folder open (read tasks.json, run a folderOpen task), or the user's next commit.
        const { r, runs } = await race(who, w, target, text, outside.replace('EVIL', w.evil));
        expect(runs).toBeGreaterThan(0);
        expect(fs.existsSync(full)).toBe(false);
        expectEnded(r, full, dir);
        // Two windows of about a millisecond each, not thousands (not asserted: a figure for the report).
        if (fs.existsSync(w.proof)) console.log(`R106 ${who} ${target}: the outside tool read the agent's version within the two windows before the session ended`);
      }
    }, 120_000);

    it(`a file the agent may change in harmless ways, so not read-only from the start (packed-refs), changed harmfully (a replace ref): put back, read-only from then on, its next write refused, and the session goes on (${who})`, async () => {
      const w = setup(who);
      const git = (...a: string[]): string => execFileSync('git', ['-c', 'safe.directory=*', ...a], { cwd: w.ws, encoding: 'utf8' });
      git('pack-refs', '--all');
      if (who === 'nobody') execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, w.ws]);
      const packed = path.join(w.ws, '.git', 'packed-refs');
      const original = fs.readFileSync(packed, 'utf8');
      const head = git('rev-parse', 'HEAD').trim();
      const line = `${head} refs/replace/${head}`;
      const script = `echo '${line}' >> .git/packed-refs; sleep 2; if echo '${line}' >> .git/packed-refs; then echo second-written; else echo second-refused; fi; sleep 0.5`;
      const r = await runCli(['bash', '-c', script], { policy: w.policy, audit: path.join(w.state, 'audit.jsonl'), cwd: w.ws, env: { ...GIT_ENV, HOME: path.dirname(w.ws) }, wrap: who === 'nobody' ? AS_NOBODY : undefined });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('second-refused');
      expect(fs.readFileSync(packed, 'utf8')).toBe(original);
      const end = r.end?.protected_changes?.find((c) => c.path === packed);
      expect(end?.held, JSON.stringify(r.end)).toBe('readonly');
      expect(end?.times).toBe(1);
    }, 60_000);
  }

  for (const who of ['nobody', 'root'] as const) {
    it(`.gate.toml created again and again: put back each time, kept for review, and the session goes on — nothing outside the gate obeys a changed policy before the user accepts it, so there is no race to end it for (${who})`, async () => {
      const w = setup(who);
      const file = path.join(w.ws, '.gate.toml');
      const r = await runCli(['bash', '-c', `for i in 1 2 3 4 5; do printf 'x'$i > .gate.toml; sleep 0.3; done; echo survived`], { policy: w.policy, audit: path.join(w.state, 'audit.jsonl'), cwd: w.ws, wrap: who === 'nobody' ? AS_NOBODY : [] });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('survived\n');
      expect(fs.existsSync(file)).toBe(false);
      expect(protectedRecords(r, file).length).toBeGreaterThanOrEqual(2);
    }, 60_000);
  }

  it(`where the agent can have no mount namespace (AGENT_GATE_NO_MOUNTNS=1 stands in for a kernel that refuses unprivileged user namespaces), .git/config rewritten in a loop: the session ends at the second put-back, fail closed, and the records say so (nobody)`, async () => {
    const w = setup('nobody');
    const config = path.join(w.ws, '.git', 'config');
    const original = fs.readFileSync(config, 'utf8');
    const { r } = await race('nobody', w, '.git/config', `${original}[core]\n\tfsmonitor = ${w.evil}\n`, `git -c safe.directory='*' status`, { AGENT_GATE_NO_MOUNTNS: '1' });
    expect(JSON.stringify(r.start)).toMatch(/"mountns":"none"/);
    expect(fs.readFileSync(config, 'utf8')).toBe(original);
    expectEnded(r, config, '.git/config');
    if (fs.existsSync(w.proof)) console.log('R106 nobody, no mount namespace: the outside git status ran the agent\'s fsmonitor within the windows before the session ended');
  }, 60_000);
});
