// A CLI run as another user than the terminal's owner (su, setpriv, sudo -u): the supervisor cannot open the
// terminal by its name, but the agent must still get a pty of its own — else it writes to the user's terminal
// itself and can draw over an approval question (red-team R51).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, SUPERVISOR, makeDirs, prepare } from './gate-progs/cli';

let dirs: ReturnType<typeof makeDirs>;
beforeAll(async () => {
  await prepare();
  dirs = makeDirs('terminal-owner');
});
afterAll(() => dirs?.cleanup());

const POLICY = `[meta]
version = 1
default_action = "allow"

[filesystem]
read_globs = ["\${WORKSPACE}/**"]
write_globs = ["\${WORKSPACE}/**"]
`;

describe('gate: the terminal belongs to another user', () => {
  it('a CLI run as uid 65534 on root\'s terminal still gives the agent a pty of its own (no "shares yours")', () => {
    const base = path.join(dirs.root, 'nobody');
    const ws = path.join(base, 'ws');
    fs.mkdirSync(ws, { recursive: true });
    fs.chmodSync(dirs.root, 0o755);
    fs.writeFileSync(path.join(ws, '.gate.toml'), POLICY);
    for (const p of [base, ws, path.join(ws, '.gate.toml')]) fs.chownSync(p, 65534, 65534);
    const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
    const cli = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'env', `HOME=${base}`, process.execPath, CLI, 'run', '-q', '--accept-policy', '--on-ask', 'deny', '--supervisor', SUPERVISOR, '--audit', path.join(base, 'audit.jsonl'), '--', 'bash', '-c', 'echo "agent=$(tty)"'];
    // script(1) makes a pty owned by root (this test's user): the outer terminal.
    const cmd = `echo "outer=$(tty)"; ${cli.map(quote).join(' ')}`;
    const env = { ...process.env };
    delete env.CI;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd: ws, env, encoding: 'utf8', timeout: 30_000 });
    const out = r.stdout + r.stderr;
    const outer = /outer=(\/dev\/pts\/\d+)/.exec(out)?.[1];
    const agent = /agent=(\/dev\/pts\/\d+)/.exec(out)?.[1];
    expect(outer, out).toBeDefined();
    expect(agent, out).toBeDefined();
    expect(agent, out).not.toBe(outer);
    expect(out).not.toContain('shares yours');
  });
});
