// End to end: `--on-ask prompt` asks on the real terminal. The agent holds the terminal's foreground, so the
// prompt must take it for the question and give it back. A pseudo-terminal (util-linux `script`) stands in
// for the user's terminal; the test types the answers when the question appears.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAuditLog } from '../../src/core/audit/audit-log';
import type { DecisionRecord } from '../../src/core/audit/records';
import { CLI, SUPERVISOR, denyCurlPolicy, makeDirs, prepare, prog } from './gate-progs/cli';

let dirs: ReturnType<typeof makeDirs>;
let n = 0;
beforeAll(async () => {
  await prepare();
  dirs = makeDirs('approval');
});
afterAll(() => dirs?.cleanup());

interface PtyRun {
  output: string;
  code: number | null;
  decisions: DecisionRecord[];
}

/** What to type, once `after` has appeared in the output (past the previous answer's trigger). */
interface Answer {
  after: string;
  text: string;
  /** Type it this long after the trigger (the user reading the question). */
  delayMs?: number;
}
const PROMPT = '[n] deny > ';

/** Run the CLI on a pseudo-terminal, typing each answer when its trigger appears. */
function onPty(policyText: string, script: string, answers: Answer[]): Promise<PtyRun> {
  const ws = path.join(dirs.root, `ws-${++n}`);
  fs.mkdirSync(ws);
  fs.writeFileSync(path.join(ws, '.gate.toml'), policyText);
  const audit = dirs.audit(`pty-${n}`);
  const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const cmd = [process.execPath, CLI, 'run', '--accept-policy', '--audit', audit, '--supervisor', SUPERVISOR, '--on-ask', 'prompt', '--allow-root-without-filesystem', '--', 'bash', '-c', script].map(quote).join(' ');
  const env = { ...process.env };
  delete env.CI;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { cwd: ws, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let from = 0;
    const pending = [...answers];
    const onOutput = (d: Buffer): void => {
      output += d.toString('utf8');
      for (;;) {
        const next = pending[0];
        const at = next ? output.indexOf(next.after, from) : -1;
        if (!next || at < 0) break;
        from = at + next.after.length;
        pending.shift();
        if (next.delayMs) setTimeout(() => child.stdin.write(`${next.text}\n`), next.delayMs);
        else child.stdin.write(`${next.text}\n`);
      }
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
    child.on('error', reject);
    // A hang (e.g. the terminal not handed back) should fail with the output, not time the test out.
    const guard = setTimeout(() => {
      output += '\n[test: killed after 20 s]';
      child.kill('SIGKILL');
    }, 20_000);
    child.on('close', (code) => {
      clearTimeout(guard);
      const decisions = fs.existsSync(audit) ? readAuditLog(audit).filter((r): r is DecisionRecord => r.type === 'decision') : [];
      resolve({ output, code, decisions });
    });
  });
}

describe('gate: approval prompt on the terminal', () => {
  it('what the user approved is what runs: a path and argv rewritten while the question is up are refused (R47)', async () => {
    // askswap execs curl --version; 300 ms later its second thread rewrites the path and argv to touch PWNED; the
    // user answers y after 1.5 s. CONTINUE would make the kernel read them again and run touch.
    const r = await onPty(
      denyCurlPolicy({ curlAction: 'ask', filesystem: false }),
      `${prog('askswap')} 300 /usr/bin/curl /usr/bin/touch PWNED; ls PWNED`,
      [{ after: PROMPT, text: 'y', delayMs: 1500 }],
    );
    expect(r.output).toContain('curl --version');
    expect(r.output).toContain('RESULT execve errno=EACCES');
    expect(r.output).toMatch(/ls: cannot access 'PWNED'/);
    expect(r.output).toContain('refused after it was allowed: its path, arguments or working directory changed');
    const audit = dirs.audit(`pty-${n}`);
    const changed = readAuditLog(audit).filter((x) => (x as { type: string }).type === 'exec_changed');
    expect(changed).toHaveLength(1);
    expect(changed[0]).toMatchObject({ verdict: 'deny' });
  });

  it('y allows once, n denies; the record says who decided; the agent gets its terminal back', async () => {
    const r = await onPty(
      denyCurlPolicy({ curlAction: 'ask', filesystem: false }),
      'curl --version | head -1; curl --version; echo TYPE-NOW; read line; echo "agent-read=$line"',
      [
        { after: PROMPT, text: 'y' },
        { after: PROMPT, text: 'n' },
        { after: 'TYPE-NOW', text: 'hello-agent' },
      ],
    );
    expect(r.output).toContain('agent-gate: approve this command?');
    expect(r.output).toContain('curl --version');
    expect(r.output).toContain('why asked: rule no-curl: curl is not allowed in this test');
    expect(r.output).toMatch(/curl \d+\.\d+/);
    expect(r.output).toContain('/usr/bin/curl: Permission denied');
    // After the prompts, the agent (not the gate) reads the terminal again.
    expect(r.output).toContain('agent-read=hello-agent');
    const asked = r.decisions.filter((d) => d.rule_id === 'no-curl');
    expect(asked.map((d) => [d.verdict, d.layer, d.reason])).toEqual([
      ['allow', 'approval', 'allowed by the user (once) (asked by rule no-curl)'],
      ['deny', 'approval', 'denied by the user (asked by rule no-curl)'],
    ]);
    expect(r.code).toBe(0);
  });

  it('a: allows this exact command for the rest of the session and prints the rule to keep it', async () => {
    const r = await onPty(denyCurlPolicy({ curlAction: 'ask', filesystem: false }), 'curl --version >/dev/null; curl --version | head -1', [{ after: PROMPT, text: 'a' }]);
    // The narrowest rule (curl is a network tool: only this exact command), and where it goes.
    expect(r.output).toMatch(/To allow it always, add to \S+\/\.gate\.toml before line \d+ \(rule no-curl: first match wins\):/);
    expect(r.output).toContain('exe = "/usr/bin/curl"');
    expect(r.output).toContain('argv_regex = "^curl --version$"');
    expect(r.output).toContain('only this exact command can be always allowed: curl is a network tool');
    const asked = r.decisions.filter((d) => d.rule_id === 'no-curl');
    expect(asked).toHaveLength(2);
    expect(asked[1]?.reason).toMatch(/^allowed for this session: the user answered "always"/);
    expect(r.output.match(/approve this command\?/g)).toHaveLength(1);
  });

  it('the question is drawn on a reset, cleared screen: a scroll region and a fake prompt the agent painted are gone (red-team R30)', async () => {
    // The agent paints a fake question about a harmless command, confines scrolling to the last two rows, then
    // runs the command that asks.
    const fake = String.raw`printf '\033[2J\033[16;1Hagent-gate: approve this command?\n  git status --short\n\033[23;24r\033[?6h'`;
    const r = await onPty(denyCurlPolicy({ curlAction: 'ask', filesystem: false }), `${fake}; curl --version >/dev/null; echo "rc=$?"`, [{ after: PROMPT, text: 'n' }]);
    const real = r.output.lastIndexOf('approve this command?');
    const fakeAt = r.output.indexOf('git status --short');
    expect(fakeAt).toBeGreaterThanOrEqual(0);
    // Between the agent's last byte and the real question: margins reset, origin mode off, screen cleared.
    const between = r.output.slice(fakeAt, real);
    expect(between).toContain('\x1b[r');
    expect(between).toContain('\x1b[?6l');
    expect(between).toContain('\x1b[H\x1b[2J');
    expect(r.output.slice(real, r.output.indexOf(PROMPT, real))).toContain('curl --version');
    expect(r.output).toContain('rc=126');
  });

  it('one question per logical exec: a PATH search trying /usr/bin/curl, then /bin/curl (the same file) asks once', async () => {
    const r = await onPty(denyCurlPolicy({ curlAction: 'ask', filesystem: false }), 'PATH=/usr/bin:/bin env curl --version; echo "rc=$?"', [{ after: PROMPT, text: 'n' }]);
    expect(r.output.match(/approve this command\?/g)).toHaveLength(1);
    expect(r.output).toContain('rc=126');
    const asked = r.decisions.filter((d) => d.rule_id === 'no-curl');
    expect(asked.map((d) => [d.exe_requested, d.verdict])).toEqual([
      ['/usr/bin/curl', 'deny'],
      ['/bin/curl', 'deny'],
    ]);
    expect(asked[1]?.reason).toMatch(/^denied by the user \(the answer to request \d+: the same program, arguments and directory, tried again through another path\) \(asked by rule no-curl\)$/);
  });

  it('an agent flooding the user is cut off by max_per_minute: denied at once, the reason says so', async () => {
    const policy = denyCurlPolicy({ curlAction: 'ask', filesystem: false }).replace('on_timeout = "deny"', 'on_timeout = "deny"\nmax_per_minute = 2');
    const r = await onPty(policy, 'for i in 1 2 3; do curl --version >/dev/null && echo "ran-$i"; done', [
      { after: PROMPT, text: 'y' },
      { after: PROMPT, text: 'y' },
    ]);
    expect(r.output.match(/approve this command\?/g)).toHaveLength(2);
    expect(r.output).toContain('ran-2');
    expect(r.output).not.toContain('ran-3');
    const asked = r.decisions.filter((d) => d.rule_id === 'no-curl');
    expect(asked.map((d) => d.verdict)).toEqual(['allow', 'allow', 'deny']);
    expect(asked[2]?.reason).toMatch(/^approval rate limit exceeded: 2 prompts in the last minute \(max_per_minute = 2\)/);
  });

  it('while the question is up the agent\'s output waits and nothing typed reaches it; afterwards both flow again', async () => {
    // curl asks in the background of the agent's shell; meanwhile the shell prints and reads its own terminal.
    // The relay is held for the question: TYPE-NOW shows only after the answer, and the answer ('n') goes
    // to the prompt, never to the shell's read.
    const r = await onPty(
      denyCurlPolicy({ curlAction: 'ask', filesystem: false }),
      'curl --version & sleep 0.5; echo TYPE-NOW; read -r line; echo "agent-read=$line"; wait',
      [
        { after: PROMPT, text: 'n' },
        { after: 'TYPE-NOW', text: 'after-prompt' },
      ],
    );
    expect(r.output).toContain('agent-read=after-prompt');
    expect(r.output.indexOf('TYPE-NOW')).toBeGreaterThan(r.output.indexOf(PROMPT));
    expect(r.decisions.find((d) => d.rule_id === 'no-curl')).toMatchObject({ verdict: 'deny', layer: 'approval' });
    expect(r.code).toBe(0);
  });

  it('no answer within timeout_ms: on_timeout applies and the prompt is withdrawn', async () => {
    const policy = denyCurlPolicy({ curlAction: 'ask', filesystem: false }).replace('timeout_ms = 60000', 'timeout_ms = 300');
    const r = await onPty(policy, 'curl --version; echo TYPE-NOW; read line; echo "agent-read=$line"', [{ after: 'TYPE-NOW', text: 'hello-again' }]);
    expect(r.output).toContain('(no answer in time: denied)');
    expect(r.output).toContain('agent-read=hello-again');
    const asked = r.decisions.find((d) => d.rule_id === 'no-curl');
    expect(asked).toMatchObject({ verdict: 'deny', layer: 'timeout', reason: 'no answer within 300 ms: on_timeout = deny (asked by rule no-curl)' });
  });
});
