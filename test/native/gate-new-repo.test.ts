// A workspace without a repository of its own, where the agent runs `git init` (everyday work): its new
// repository is kept while it is what `git init` and commits make — no review, the session goes on — and a
// config key that runs a program, added to it later, is put back (the .git of the workspace is guarded as a
// repository the agent makes in a subdirectory is). Root and uid 65534.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProtectedRecord } from '../../src/core/audit/records';
import { makeDirs, runCli } from './gate-progs/cli';
import { AS_NOBODY, NOBODY, rootAndNobodyDirs } from './helpers/as-users';
import { ownedWorkspace } from './helpers/procs';

const POLICY = '[meta]\nversion = 1\ndefault_action = "allow"\n\n[filesystem]\nread_globs = ["/**"]\nwrite_globs = ["${WORKSPACE}/**"]\n';

let dirs: ReturnType<typeof makeDirs>;
let n = 0;
beforeAll(async () => {
  dirs = await rootAndNobodyDirs('newrepo');
});
afterAll(() => dirs?.cleanup());

for (const who of ['root', 'nobody'] as const) {
  describe(`gate: the agent's git init in a workspace without a repository (${who})`, () => {
    const run = (script: string) => {
      const w = ownedWorkspace(path.join(dirs.root, `${who}-${++n}`), POLICY, { owner: who === 'nobody' ? NOBODY : undefined });
      const env = { GIT_CONFIG_GLOBAL: '/dev/null', GIT_AUTHOR_NAME: 'A', GIT_AUTHOR_EMAIL: 'a@b', GIT_COMMITTER_NAME: 'A', GIT_COMMITTER_EMAIL: 'a@b' };
      return runCli(['bash', '-c', script], { policy: w.policy, audit: path.join(w.state, 'audit.jsonl'), cwd: w.ws, env, extra: ['--on-ask', 'deny'], wrap: who === 'nobody' ? AS_NOBODY : [] }).then((r) => ({ r, ws: w.ws }));
    };

    it('init, commit, branch, tag: kept, no review, the session ends normally', async () => {
      const { r, ws } = await run('git init -q -b main . && echo a > a && git add a && git commit -qm one && git checkout -qb f && git tag v1 && git log --oneline | wc -l');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe('1');
      expect(r.records.filter((x) => x.type === 'protected')).toEqual([]);
      expect(execFileSync('git', ['-C', ws, 'tag'], { encoding: 'utf8', env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_PARAMETERS: "'safe.directory=*'" } })).toBe('v1\n');
    });

    it('core.fsmonitor added to its new repository is put back', async () => {
      const { r, ws } = await run('git init -q . && sleep 0.5 && git config core.fsmonitor /tmp/agent-made-this; sleep 1; git config core.fsmonitor; echo end');
      expect(r.stdout).not.toContain('/tmp/agent-made-this');
      expect(fs.readFileSync(path.join(ws, '.git', 'config'), 'utf8')).not.toContain('fsmonitor');
      const recs = r.records.filter((x): x is ProtectedRecord => x.type === 'protected');
      expect(recs.some((x) => x.path === path.join(ws, '.git', 'config') && x.reverted)).toBe(true);
    });
  });
}
