// Helpers for the end-to-end gate tests: bundle the real CLI from source, run `agent-gate run` with the real
// supervisor, the real policy engine and the real kernel, and read the audit log it wrote.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { build } from 'esbuild';
import { readAuditLog } from '../../../src/core/audit/audit-log';
import type { AuditRecord, DecisionRecord, SessionRecord } from '../../../src/core/audit/records';
import { buildNative, PROGS, ROOT, SUPERVISOR } from '../helpers/gate';

export { PROGS, ROOT, SUPERVISOR };
export const prog = (name: string): string => path.join(PROGS, name);

/** The CLI bundle the tests run: built from the current source next to dist/cli.js (so `../policies` is the
 *  shipped policy directory), under its own name so a concurrent `npm run build` cannot swap it mid-test. */
export const CLI = path.join(ROOT, 'dist', 'gate-test-cli.js');

let prepared: Promise<void> | null = null;
export function prepare(): Promise<void> {
  prepared ??= (async () => {
    buildNative();
    await build({
      entryPoints: [path.join(ROOT, 'src', 'cli', 'main.ts')],
      outfile: CLI,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      external: ['node-pty'],
      logLevel: 'warning',
      absWorkingDir: ROOT,
    });
  })();
  return prepared;
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  records: AuditRecord[];
  decisions: DecisionRecord[];
  start: SessionRecord | undefined;
  end: SessionRecord | undefined;
}

export interface CliOptions {
  policy?: string;
  /** Omit to let the CLI choose its default audit path. */
  audit?: string;
  cwd: string;
  extra?: string[];
  env?: NodeJS.ProcessEnv;
  /** Called with the CLI's pid once spawned. */
  onSpawn?: (pid: number) => void;
  /** A command the CLI is run under (e.g. `unshare -m …`): it gets the node binary and its arguments last. */
  wrap?: string[];
  /** Pass --accept-policy (default: the tests' own policies are accepted as written; false to test the review). */
  accept?: boolean;
}

/** `node CLI run --policy P --accept-policy --audit A --supervisor S [extra] -- argv…`, stdio piped (no terminal). */
export function runCli(argv: string[], o: CliOptions): Promise<CliRun> {
  const args = [CLI, 'run', ...(o.policy ? ['--policy', o.policy] : []), ...(o.accept === false ? [] : ['--accept-policy']), ...(o.audit ? ['--audit', o.audit] : []), '--supervisor', SUPERVISOR, ...(o.extra ?? []), '--', ...argv];
  const env = { ...process.env, ...o.env };
  if (!o.env || !('CI' in o.env)) delete env.CI;
  return new Promise((resolve, reject) => {
    const [cmd, ...pre] = o.wrap && o.wrap.length > 0 ? [...o.wrap, process.execPath] : [process.execPath];
    const child = spawn(cmd, [...pre, ...args], { cwd: o.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    o.onSpawn?.(child.pid ?? 0);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const records = o.audit && fs.existsSync(o.audit) && fs.statSync(o.audit).isFile() ? readAuditLog(o.audit) : [];
      resolve({
        code,
        signal,
        stdout,
        stderr,
        records,
        decisions: records.filter((r): r is DecisionRecord => r.type === 'decision'),
        start: records.find((r): r is SessionRecord => r.type === 'session' && r.event === 'start'),
        end: records.find((r): r is SessionRecord => r.type === 'session' && r.event === 'end'),
      });
    });
  });
}

/** A fresh directory layout: a workspace (the agent's writable place) and a state dir for the audit log. */
export function makeDirs(prefix: string): { root: string; ws: string; state: string; audit: (name: string) => string; cleanup: () => void } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `gate-e2e-${prefix}-`));
  const ws = path.join(root, 'ws');
  const state = path.join(root, 'state');
  fs.mkdirSync(ws);
  fs.mkdirSync(state, { mode: 0o700 });
  return { root, ws, state, audit: (name) => path.join(state, `${name}.jsonl`), cleanup: () => fs.rmSync(root, { recursive: true, force: true }) };
}

/** The test policy: curl denied by name (and, through the engine, by identity), everything else allowed;
 *  writes sealed to the workspace (and /tmp for tools), so the audit log outside it is out of reach. */
export function denyCurlPolicy(opts: { writeGlobs?: string[]; curlAction?: 'deny' | 'ask'; filesystem?: boolean } = {}): string {
  const write = opts.writeGlobs ?? ['${WORKSPACE}/**'];
  const fsTable =
    opts.filesystem === false
      ? ''
      : `
[filesystem]
read_globs = ["/**"]
write_globs = [${write.map((g) => JSON.stringify(g)).join(', ')}]
require_enforced = true
`;
  return `[meta]
version = 1
default_action = "allow"
on_policy_error = "deny"
${fsTable}
[approval]
timeout_ms = 60000
on_timeout = "deny"

[[rule]]
id = "no-curl"
action = "${opts.curlAction ?? 'deny'}"
reason = "curl is not allowed in this test"
exe_basename = "curl"
`;
}

/** Decision records that concern curl (by canonical path or identity), allowed or denied. */
export function curlAllowed(run: CliRun, curlPaths: string[]): DecisionRecord[] {
  return run.decisions.filter((d) => d.verdict === 'allow' && (curlPaths.includes(d.exe ?? '') || curlPaths.includes(d.loader_target ?? '') || curlPaths.includes(d.interpreter ?? '')));
}
