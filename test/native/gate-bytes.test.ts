// Bytes are bytes: the agent's command line, its environment and the workspace's path reach it unchanged
// whatever their encoding (Node's process.argv, process.env and process.cwd() have already replaced what is
// not UTF-8; the CLI reads them from /proc/self and the supervisor gets them as hex). Real CLI, real kernel.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAuditLog } from '../../src/core/audit/audit-log';
import type { DecisionRecord } from '../../src/core/audit/records';
import { CLI, SUPERVISOR, prepare } from './gate-progs/cli';

let base = '';
beforeAll(async () => {
  await prepare();
  fs.mkdirSync(path.join(os.homedir(), '.local', 'state'), { recursive: true });
  base = fs.mkdtempSync(path.join(os.homedir(), '.local', 'state', 'gate-e2e-bytes-'));
});
afterAll(() => {
  if (base) fs.rmSync(base, { recursive: true, force: true });
});

/** Run a bash script (whose $'…' strings make the bytes) that starts the CLI; stdout as bytes. */
function bash(script: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const e: NodeJS.ProcessEnv = { ...process.env, ...env, GATE: `${process.execPath} ${CLI} run -q --agent none --on-ask deny --supervisor ${SUPERVISOR}` };
    delete e.CI;
    const child = spawn('bash', ['-c', script], { cwd: base, env: e, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
  });
}

const decisions = (audit: string): DecisionRecord[] => readAuditLog(audit).filter((r): r is DecisionRecord => r.type === 'decision');

describe('bytes are bytes', () => {
  it("the agent's arguments: `run -- /bin/echo $'caf\\xe9'` prints the byte E9, not U+FFFD", async () => {
    const audit = path.join(base, 'argv.jsonl');
    const r = await bash(`mkdir -p ws-a && cd ws-a && $GATE --audit ${audit} -- /bin/echo $'caf\\xe9' $'\\xff\\xfe' plain`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toEqual(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20, 0xff, 0xfe, 0x20, ...Buffer.from('plain\n')]));
    // The record keeps each byte too (JSON carries a byte that is not UTF-8 as U+DC80+byte).
    expect(decisions(audit).find((d) => d.exe === '/usr/bin/echo')?.argv).toEqual(['/bin/echo', 'caf\udce9', '\udcff\udcfe', 'plain']);
  });

  it('the environment: a variable whose value (or name) is not UTF-8 arrives as its bytes; a channel variable still goes', async () => {
    const r = await bash(
      `mkdir -p ws-e && cd ws-e && export LATIN=$'caf\\xe9' && export TMUX=$'/tmp/tmux-\\xff/default' && env $'N\\xe4ME=v' bash -c '$GATE --audit ${path.join(base, 'env.jsonl')} -- bash -c "printf %s \\"\\$LATIN\\"; echo; echo tmux=\\\${TMUX-unset}; env | LC_ALL=C grep -a ^N.ME="'`,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toEqual(Buffer.concat([Buffer.from([0x63, 0x61, 0x66, 0xe9]), Buffer.from('\ntmux=unset\n'), Buffer.from([0x4e, 0xe4, 0x4d, 0x45]), Buffer.from('=v\n')]));
  });

  it('a workspace whose path is not UTF-8 gets its write grant (and nothing outside it does)', async () => {
    const audit = path.join(base, 'ws.jsonl');
    const r = await bash(`mkdir -p $'ws-\\xe9' && cd $'ws-\\xe9' && $GATE --audit ${audit} -- bash -c 'echo inside > file && echo wrote; echo outside > ../outside-file || echo refused'; cat $'${base}/ws-\\xe9/file'`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.toString('latin1')).toBe('wrote\nrefused\ninside\n');
    expect(fs.existsSync(path.join(base, 'outside-file'))).toBe(false);
    expect(decisions(audit)[0]?.cwd).toBe(`${base}/ws-\udce9`);
  });
});
