// End to end: agent profiles through `agent-gate run` — picked from the program or with --agent, merged
// into the shipped default policy, their state made before the start, and -v saying what may be written.
// (The real agents from npm are tried in test/agents/, `npm run test:agents`.)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDirs, prepare, runCli } from './gate-progs/cli';

let dirs: ReturnType<typeof makeDirs>;
let home = '';
let state = '';
const audit = (name: string): string => path.join(state, `${name}.jsonl`);
beforeAll(async () => {
  await prepare();
  dirs = makeDirs('agents');
  // A home and the audit logs outside /tmp, which the default policy lets the agent write.
  fs.mkdirSync(path.join(os.homedir(), '.local', 'state'), { recursive: true });
  home = fs.mkdtempSync(path.join(os.homedir(), '.local', 'state', 'gate-e2e-home-'));
  state = fs.mkdtempSync(path.join(os.homedir(), '.local', 'state', 'gate-e2e-audit-'));
});
afterAll(() => {
  dirs?.cleanup();
  for (const d of [home, state]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

describe('agent profiles through agent-gate run', () => {
  it('a shell is the shell profile: its history goes to a directory made for it, and -v lists the grants', async () => {
    const r = await runCli(['bash', '-c', 'echo "HISTFILE=$HISTFILE"; echo x >> "$HISTFILE" && echo wrote; echo y > ~/.bash_history || echo refused'], {
      audit: audit('shell'),
      cwd: dirs.ws,
      env: { HOME: home },
      extra: ['-v', '--on-ask', 'deny'],
    });
    expect(r.code, r.stderr).toBe(0);
    const histfile = path.join(home, '.cache', 'agent-gate', 'shell', 'history');
    expect(r.stdout).toContain(`HISTFILE=${histfile}\nwrote\nrefused\n`);
    expect(r.stderr).toMatch(/agent-gate: policy: built-in default .*; agent profile: shell\n/);
    expect(r.stderr).toContain('agent-gate: agent profile shell (detected: the command is bash; ');
    expect(r.stderr).toContain(`agent-gate: made ${path.join(home, '.cache', 'agent-gate', 'shell')} (so its grant applies)`);
    expect(r.stderr).toContain('outside these grants the kernel answers EACCES ("Permission denied")');
    expect(r.stderr).toContain(`agent-gate:   w   ${path.join(home, '.cache', 'agent-gate', 'shell')}  (write_globs \${XDG_CACHE_HOME:-\${HOME}/.cache}/agent-gate/shell/**)`);
    expect(r.stderr).toContain(`agent-gate:   w   ${dirs.ws}  (write_globs \${WORKSPACE}/**)`);
    expect(r.stderr).toContain('/.bash_history: Permission denied');
    expect(fs.readFileSync(histfile, 'utf8')).toBe('x\n');
    expect(r.decisions.filter((d) => d.verdict === 'deny' || d.layer === 'approval')).toEqual([]);
  });

  it('--agent none: no profile (nothing made, the environment as it was)', async () => {
    const r = await runCli(['bash', '-c', 'echo "HISTFILE=${HISTFILE:-unset}"'], { audit: audit('none'), cwd: dirs.ws, env: { HOME: path.join(home, 'other') }, extra: ['--agent', 'none'] });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('HISTFILE=unset\n');
    expect(r.stderr).not.toContain('agent profile');
  });

  it('--agent picks a profile for any program; an unknown one stops the run and lists the profiles', async () => {
    const r = await runCli(['sh', '-c', 'echo "GEMINI_SANDBOX=$GEMINI_SANDBOX"; ls -d ~/.gemini'], { audit: audit('given'), cwd: dirs.ws, env: { HOME: home }, extra: ['--agent', 'gemini'] });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`GEMINI_SANDBOX=false\n${path.join(home, '.gemini')}\n`);
    expect(r.stderr).toContain('; agent profile: Gemini CLI');
    const bad = await runCli(['true'], { audit: audit('bad'), cwd: dirs.ws, env: { HOME: home }, extra: ['--agent', 'nope'] });
    expect(bad.code).toBe(126);
    expect(bad.stderr).toContain("no agent profile 'nope'; the profiles are: aider, claude, codex, gemini, shell");
  });
});
