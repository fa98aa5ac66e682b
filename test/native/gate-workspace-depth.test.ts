// Workspace files that tools outside the gate run, below the root (issue 13 item 8; red-team R107): the
// tool-config, agent-config, hook-manager, editor and gate-policy classes are guarded at every directory of the
// workspace, not only at its root — rustup and cargo take the nearest rust-toolchain(.toml) and .cargo/config
// upwards (rust-analyzer runs `cargo metadata` in each Cargo project of the folder on open), mise and hk read
// from the directory they run in upwards, an agent started in a subdirectory obeys its .claude/ and .mcp.json,
// prek's workspace mode every .pre-commit-config.yaml, an editor opened on a subfolder its .idea/ and .zed/.
// Real CLI, supervisor and kernel, the agent as root and as uid 65534, in a crate one level down and in a
// directory it makes during the session; the "user" then runs real cargo outside the gate, with an ungated
// control where the same write makes it run the agent's program.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProtectedRecord } from '../../src/core/audit/records';
import { makeDirs, runCli } from './gate-progs/cli';
import { AS_NOBODY, NOBODY, rootAndNobodyDirs } from './helpers/as-users';
import { ownedWorkspace } from './helpers/procs';


let dirs: ReturnType<typeof makeDirs>;
let n = 0;

beforeAll(async () => {
  dirs = await rootAndNobodyDirs('wsdepth');
});
afterAll(() => dirs?.cleanup());

const POLICY = `[meta]
version = 1
default_action = "allow"

[filesystem]
read_globs = ["/**"]
write_globs = ["\${WORKSPACE}/**"]
`;

/** Every class tools read from the directory they run in (or per project), one file each (a directory's file
 *  for the classes guarded as directories). */
const FILES = [
  'rust-toolchain',
  'rust-toolchain.toml',
  '.cargo/config.toml',
  'mise.toml',
  'mise.dev.toml',
  '.tool-versions',
  'mise-tasks/build',
  '.claude/settings.json',
  '.mcp.json',
  '.gemini/settings.json',
  'lefthook.yml',
  '.config/lefthook.yaml',
  '.pre-commit-config.yaml',
  '.pre-commit-config.yml',
  'hk.pkl',
  '.config/hk.pkl',
  '.idea/workspace.xml',
  '.zed/settings.json',
  '.dir-locals.el',
  '.gate.toml',
  // JavaScript package managers (red-team R113).
  '.yarnrc',
  '.yarnrc.yml',
  '.yarn/releases/yarn-4.5.0.cjs',
  '.yarn/plugins/plugin.cjs',
  '.pnpmfile.cjs',
  'bunfig.toml',
  '.npmrc',
];

/** The path a record is about for a file of FILES: the guarded directory for the classes guarded whole. */
function guardedPath(dir: string, f: string): string {
  const whole = ['mise-tasks', '.claude', '.gemini', '.idea', '.zed', '.yarn/releases', '.yarn/plugins'].find((d) => f === d || f.startsWith(`${d}/`));
  return whole ? path.join(dir, whole) : path.join(dir, f);
}

function setup(who: 'root' | 'nobody'): { ws: string; state: string; policy: string } {
  const w = ownedWorkspace(path.join(dirs.root, `${who}-${++n}`), POLICY, { owner: who === 'nobody' ? NOBODY : undefined });
  const crate = path.join(w.ws, 'crates', 'foo');
  fs.mkdirSync(path.join(crate, 'src'), { recursive: true });
  fs.writeFileSync(path.join(crate, 'Cargo.toml'), '[package]\nname = "foo"\nversion = "0.1.0"\nedition = "2021"\n');
  fs.writeFileSync(path.join(crate, 'src', 'main.rs'), 'fn main() {}\n');
  // The user's own toolchain file in another crate: what the agent's rewrite is put back to.
  fs.mkdirSync(path.join(w.ws, 'crates', 'bar'), { recursive: true });
  fs.writeFileSync(path.join(w.ws, 'crates', 'bar', 'rust-toolchain.toml'), '[toolchain]\nchannel = "stable"\n');
  if (who === 'nobody') execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, w.ws]);
  return w;
}

/** The agent's writes: every file of FILES in `dir` (relative), a control beside them, and the user's toolchain
 *  file of crates/bar rewritten (refused by the kernel as root: a read-only bind mount). */
function writes(dir: string): string {
  return [
    ...FILES.map((f) => `mkdir -p "$(dirname ${dir}/${f})" && printf 'agent\\n' > ${dir}/${f}`),
    `printf 'kept\\n' > ${dir}/notes.txt`,
  ].join('; ');
}

function protectedRecords(records: readonly { type: string }[]): ProtectedRecord[] {
  return records.filter((x): x is ProtectedRecord => x.type === 'protected');
}

describe('gate: tool, agent, hook-manager and editor configs below the workspace root (red-team R107)', () => {
  for (const who of ['root', 'nobody'] as const) {
    it(`written in crates/foo/ and in a directory made during the session: put back, recorded; a file beside them kept (${who})`, async () => {
      const w = setup(who);
      const script = [
        writes('crates/foo'),
        // A directory made during the session, two levels, written at once and again after a pause (both the
        // walk of the new directory and its watch must see them).
        `mkdir -p newpkg/sub && ${writes('newpkg/sub')}`,
        'sleep 0.4',
        `mkdir -p later/deep; sleep 0.3; ${writes('later/deep')}`,
        `printf '[toolchain]\\npath = "/tmp/x"\\n' > crates/bar/rust-toolchain.toml 2>/dev/null || echo refused`,
        'sleep 0.5',
      ].join('; ');
      const audit = path.join(w.state, 'audit.jsonl');
      const r = await runCli(['bash', '-c', script], { policy: w.policy, audit, cwd: w.ws, wrap: who === 'nobody' ? AS_NOBODY : [] });
      expect(r.code, r.stderr).toBe(0);
      const recs = protectedRecords(r.records);
      for (const dir of ['crates/foo', 'newpkg/sub', 'later/deep']) {
        const abs = path.join(w.ws, dir);
        for (const f of FILES) {
          expect(fs.existsSync(path.join(abs, f)), `${dir}/${f} kept`).toBe(false);
          expect(recs.find((x) => x.path === guardedPath(abs, f)), `${dir}/${f} recorded`).toMatchObject({ change: 'created', reverted: true });
        }
        expect(fs.readFileSync(path.join(abs, 'notes.txt'), 'utf8'), `${dir}/notes.txt`).toBe('kept\n');
      }
      expect(recs.find((x) => x.path === path.join(w.ws, 'crates/foo/rust-toolchain.toml'))).toMatchObject({ class: 'tool-config' });
      expect(recs.find((x) => x.path === path.join(w.ws, 'crates/foo/.claude'))).toMatchObject({ class: 'agent-config' });
      expect(recs.find((x) => x.path === path.join(w.ws, 'crates/foo/hk.pkl'))).toMatchObject({ class: 'hook-manager' });
      expect(recs.find((x) => x.path === path.join(w.ws, 'crates/foo/.idea'))).toMatchObject({ class: 'editor' });
      // The user's file: as it was — the kernel refused the write (a read-only bind mount in the agent's mount
      // namespace: root's, and uid 65534's through a user namespace, R106), or where it has none it was put back.
      expect(fs.readFileSync(path.join(w.ws, 'crates/bar/rust-toolchain.toml'), 'utf8')).toBe('[toolchain]\nchannel = "stable"\n');
      if (/"mountns":"none"/.test(JSON.stringify(r.start))) expect(recs.find((x) => x.path === path.join(w.ws, 'crates/bar/rust-toolchain.toml'))).toMatchObject({ change: 'modified', reverted: true });
      else expect(r.stdout + r.stderr).toMatch(/refused|Read-only file system/);
    });
  }

  const cargo = spawnSync('cargo', ['--version'], { stdio: 'ignore' }).status === 0 && spawnSync('rustup', ['--version'], { stdio: 'ignore' }).status === 0;
  // Needs rustup's cargo on the machine (the repro's tool); the guard itself is tried above either way.
  it.runIf(cargo)('the repro: a rust-toolchain.toml naming the agent\'s "cargo" next to a crate — the user\'s cargo metadata there (what rust-analyzer runs on folder open) runs it without the gate, not after a gated session', async () => {
    const w = setup('nobody');
    const marker = path.join(dirs.root, `ran-${++n}`);
    const fake = `mkdir -p .tc/bin && printf '#!/bin/sh\\necho ran >> ${marker}\\n' > .tc/bin/cargo && chmod +x .tc/bin/cargo && cp .tc/bin/cargo .tc/bin/rustc && printf '[toolchain]\\npath = "%s/.tc"\\n' "$PWD" > crates/foo/rust-toolchain.toml`;
    const userCargo = (): void => {
      spawnSync('cargo', ['metadata', '--format-version', '1', '--offline'], { cwd: path.join(w.ws, 'crates', 'foo'), stdio: 'ignore', timeout: 60_000 });
    };
    // Control: the same write without the gate.
    execFileSync('bash', ['-c', fake], { cwd: w.ws });
    userCargo();
    expect(fs.existsSync(marker)).toBe(true);
    fs.rmSync(marker);
    fs.rmSync(path.join(w.ws, 'crates', 'foo', 'rust-toolchain.toml'));
    fs.rmSync(path.join(w.ws, '.tc'), { recursive: true });
    const r = await runCli(['bash', '-c', `${fake}; sleep 0.3`], { policy: w.policy, audit: path.join(w.state, 'audit.jsonl'), cwd: w.ws, wrap: AS_NOBODY });
    expect(r.code, r.stderr).toBe(0);
    expect(fs.existsSync(path.join(w.ws, 'crates', 'foo', 'rust-toolchain.toml'))).toBe(false);
    userCargo();
    expect(fs.existsSync(marker)).toBe(false);
  });
});
