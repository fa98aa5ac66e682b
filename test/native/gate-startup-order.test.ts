// The start's order (issue 12, start-up): the workspace guard's snapshot of the protected files is taken while
// the supervisor starts, no longer before it is spawned. It must still precede the agent: the supervisor forks
// the agent only after CONFIG, and CONFIG carries the guard's list, so the snapshot is made before the agent
// exists. Tried for real: the agent's first and only instruction rewrites protected files (no exec after the
// first, no delay). Were the snapshot taken after that write, the guard would take the agent's version as the
// user's and leave it in place.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProtectedRecord } from '../../src/core/audit/records';
import { makeDirs, prepare, runCli } from './gate-progs/cli';

let dirs: ReturnType<typeof makeDirs>;
let n = 0;

beforeAll(async () => {
  await prepare();
  dirs = makeDirs('startorder');
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

describe('start-up order: the guard snapshot precedes the agent', () => {
  it('protected files the agent rewrites in its very first instruction are put back to the user\'s version', async () => {
    for (let round = 0; round < 3; round++) {
      const ws = path.join(dirs.root, `ws-${++n}`);
      fs.mkdirSync(path.join(ws, '.vscode'), { recursive: true });
      fs.writeFileSync(path.join(ws, 'README'), 'hello\n');
      fs.writeFileSync(path.join(ws, '.vscode', 'tasks.json'), '{ "version": "2.0.0", "tasks": [] }\n');
      execFileSync('git', ['init', '-q'], { cwd: ws, env: { ...process.env, ...GIT_ENV } });
      const policy = path.join(dirs.root, `policy-${n}.toml`);
      fs.writeFileSync(policy, POLICY);
      const gitConfig = path.join(ws, '.git', 'config');
      const tasks = path.join(ws, '.vscode', 'tasks.json');
      const before = { git: fs.readFileSync(gitConfig, 'utf8'), tasks: fs.readFileSync(tasks, 'utf8') };
      // One shell, its redirections only (builtins): the writes happen as soon as the agent's first exec is
      // allowed.
      const script = `printf '[core]\\n\\tfsmonitor = /tmp/evil\\n' >> .git/config; printf '{"tasks":[{"label":"x","command":"/tmp/evil","runOptions":{"runOn":"folderOpen"}}]}\\n' > .vscode/tasks.json`;
      const r = await runCli(['/bin/sh', '-c', script], { policy, audit: dirs.audit(`order-${n}`), cwd: ws, env: { ...GIT_ENV, AGENT_GATE_NO_MOUNTNS: '1' } });
      expect(r.code, r.stderr).toBe(0);
      expect(fs.readFileSync(gitConfig, 'utf8')).toBe(before.git);
      expect(fs.readFileSync(tasks, 'utf8')).toBe(before.tasks);
      const recs = r.records.filter((x): x is ProtectedRecord => x.type === 'protected');
      expect(recs.map((x) => x.path)).toContain(gitConfig);
      // (A file the guard did not know of when .vscode was snapshotted is reported as the directory's change.)
      expect(recs.some((x) => x.path === tasks || x.path === path.dirname(tasks))).toBe(true);
      expect(recs.map((x) => x.diff).join('')).toContain('+\tfsmonitor = /tmp/evil');
    }
  });
});
