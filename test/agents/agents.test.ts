// The real agents from npm (installed by scripts/install-agents.mjs into .cache/agents), each under its
// profile and the shipped default policy, against the same agent run ungated: it starts, `--version` says
// the same, its non-interactive call reaches the network and fails there as it does ungated (nothing here
// can reach the APIs), it writes its state, no ask and no denial, and nothing is left running.
//
// Each run gets a fresh home in a place the default policy does not let the agent write, so the state it
// writes there is writable because of its profile.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAuditLog } from '../../src/core/audit/audit-log';
import { AGENT_BIN, filesUnder, gated, marker, prepare, processesWith, run, scratch, timings } from './helpers';

let area: ReturnType<typeof scratch>;
let n = 0;
beforeAll(async () => {
  await prepare();
  for (const b of ['claude', 'codex', 'gemini']) {
    if (!fs.existsSync(path.join(AGENT_BIN, b))) throw new Error(`${b} is not installed in ${AGENT_BIN}: run node scripts/install-agents.mjs (npm run test:agents does)`);
  }
  area = scratch('agents');
});
afterAll(() => {
  area?.cleanup();
  if (timings.length) {
    console.log('\nagent runs, ungated and gated (wall time; informational):');
    for (const t of timings) console.log(`  ${t.name.padEnd(44)} ${(t.ungatedMs / 1000).toFixed(1).padStart(6)} s  ${(t.gatedMs / 1000).toFixed(1).padStart(6)} s  ×${(t.gatedMs / t.ungatedMs).toFixed(2)}  asks ${t.asks}  denials ${t.denials}`);
  }
});

/** A fresh home and workspace (a git repository, as agents expect) for one run. */
function place(tag: string, seed?: (home: string) => void): { home: string; ws: string; audit: string } {
  const dir = path.join(area.root, `${++n}-${tag}`);
  const home = path.join(dir, 'home');
  const ws = path.join(dir, 'ws');
  fs.mkdirSync(home, { recursive: true });
  fs.mkdirSync(ws, { recursive: true });
  fs.mkdirSync(path.join(ws, '.git'));
  fs.writeFileSync(path.join(ws, 'README.md'), '# a project\n');
  seed?.(home);
  return { home, ws, audit: path.join(dir, 'audit.jsonl') };
}

interface AgentCase {
  id: 'claude' | 'codex' | 'gemini';
  name: string;
  version: RegExp;
  /** API keys that cannot work, and what keeps the failure quick. */
  env: Record<string, string>;
  seed?: (home: string) => void;
  args: string[];
  /** The run never ends by itself (Codex waits for the network forever): stop it once this appears. */
  until?: RegExp;
  /** The failure message, normalised (timestamps and temp names out), or null when absent. */
  message: (out: string) => string | null;
  expected: string;
  /** Exit status of a run that ends by itself. */
  exit?: number;
  /** The state a run must have written under its home. */
  state: (files: string[], home: string, ws: string) => void;
  /** What only the gated run has: state its profile made for it. */
  gatedState?: (files: string[]) => void;
}

const CASES: AgentCase[] = [
  {
    id: 'claude',
    name: 'Claude Code',
    version: /^2\.1\.332 \(Claude Code\)\n$/,
    env: { ANTHROPIC_API_KEY: 'sk-ant-api03-not-a-real-key', CLAUDE_CODE_MAX_RETRIES: '0' },
    args: ['-p', 'Say hello.'],
    message: (out) => out.split('\n').find((l) => l.startsWith('API Error:')) ?? null,
    expected: "API Error: Can't reach the API server — check your internet or DNS (ENOTFOUND)",
    exit: 1,
    state: (files, home, ws) => {
      // The transcript of this very session, and the global config (written in place, without its lock).
      const slug = ws.replace(/[^A-Za-z0-9]/g, '-');
      expect(files.filter((f) => f.startsWith(`.claude/projects/${slug}/`) && f.endsWith('.jsonl')).length).toBe(1);
      expect(JSON.parse(fs.readFileSync(path.join(home, '.claude.json'), 'utf8'))).toHaveProperty('firstStartTime');
    },
    // Made by the profile (empty) so that a login inside the gate can be kept.
    gatedState: (files) => expect(files).toContain('.claude/.credentials.json'),
  },
  {
    id: 'codex',
    name: 'Codex CLI',
    version: /^codex-cli 0\.171\.0\n$/,
    env: { OPENAI_API_KEY: 'sk-not-a-real-key' },
    args: ['exec', '--skip-git-repo-check', 'Say hello.'],
    until: /Reconnecting\.\.\. waiting for network/,
    message: (out) => (/ERROR: Reconnecting\.\.\. waiting for network/.test(out) ? 'ERROR: Reconnecting... waiting for network' : null),
    expected: 'ERROR: Reconnecting... waiting for network',
    state: (files) => {
      expect(files.some((f) => /^\.codex\/sessions\/\d{4}\/\d{2}\/\d{2}\/rollout-.*\.jsonl$/.test(f))).toBe(true);
      expect(files.some((f) => /^\.codex\/state_\d+\.sqlite$/.test(f))).toBe(true);
    },
  },
  {
    id: 'gemini',
    name: 'Gemini CLI',
    version: /^0\.61\.0\n$/,
    env: { GEMINI_API_KEY: 'not-a-real-key' },
    // One attempt instead of ten with back-off (its documented setting), in both runs alike.
    seed: (home) => {
      fs.mkdirSync(path.join(home, '.gemini'));
      fs.writeFileSync(path.join(home, '.gemini', 'settings.json'), JSON.stringify({ general: { maxAttempts: 1, retryFetchErrors: false } }));
    },
    args: ['--skip-trust', '-p', 'Say hello.'],
    message: (out) => {
      const line = out.split('\n').find((l) => l.startsWith('Error when talking to Gemini API'));
      // The report goes to the temporary directory ($TMPDIR: the session's own directory under the gate).
      return line ? line.replace(/\S*\/gemini-client-error-\S+\.json/, '<report>') : null;
    },
    expected: 'Error when talking to Gemini API Full report available at: <report> Error: exception TypeError: fetch failed sending request',
    exit: 1,
    state: (files) => {
      expect(files).toContain('.gemini/projects.json');
      expect(files.some((f) => /^\.gemini\/tmp\/[^/]+\/chats\/session-.*\.jsonl$/.test(f))).toBe(true);
    },
  },
];

describe.each(CASES)('$name under its profile and the default policy', (c) => {
  const bin = path.join(AGENT_BIN, c.id);
  const envFor = (home: string, mark: [string, string]): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...c.env, HOME: home, [mark[0]]: mark[1] };
    delete env.CI; // the agents behave as for a user; --on-ask deny answers any ask
    return env;
  };

  it('--version: the same answer, no ask, no denial, its profile picked from the program', async () => {
    const u = place(`${c.id}-version-ungated`, c.seed);
    const g = place(`${c.id}-version-gated`, c.seed);
    const mark = marker();
    const ungated = await run(bin, ['--version'], { cwd: u.ws, env: envFor(u.home, mark) });
    const r = await gated([bin, '--version'], { cwd: g.ws, env: envFor(g.home, mark), audit: g.audit });
    expect(ungated.stdout).toMatch(c.version);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(ungated.stdout);
    expect(r.stderr).toContain(`; agent profile: ${c.name}\n`);
    expect(r.asks).toEqual([]);
    expect(r.denials).toEqual([]);
    expect(r.decisions.some((d) => d.rule_id === `agent-${c.id}`)).toBe(true);
    expect(readAuditLog(g.audit).filter((x) => x.type === 'protected')).toEqual([]);
    expect(await processesWith(mark)).toEqual([]);
  });

  it('its non-interactive call fails at the network as it does ungated; it writes its state; nothing is left running', async () => {
    const u = place(`${c.id}-call-ungated`, c.seed);
    const g = place(`${c.id}-call-gated`, c.seed);
    const mark = marker();
    const o = { timeoutMs: 180_000, ...(c.until ? { until: c.until } : {}) };
    const ungated = await run(bin, c.args, { cwd: u.ws, env: envFor(u.home, mark), ...o });
    expect(c.message(ungated.stdout + ungated.stderr), ungated.stdout + ungated.stderr).toBe(c.expected);
    const r = await gated([bin, ...c.args], { cwd: g.ws, env: envFor(g.home, mark), audit: g.audit, ...o });
    const out = r.stdout + r.stderr;
    expect(c.message(out), out).toBe(c.expected);
    if (c.exit !== undefined) {
      expect(ungated.code).toBe(c.exit);
      expect(r.code, out).toBe(c.exit);
    } else {
      expect([ungated.stopped, r.stopped]).toEqual([true, true]);
    }
    expect(r.asks).toEqual([]);
    expect(r.denials).toEqual([]);
    // Nothing it wrote to its own config was put back or offered for review (agent-home.ts: only keys that
    // run programs are, and the agent's ordinary writes change none).
    expect(readAuditLog(g.audit).filter((x) => x.type === 'protected')).toEqual([]);
    c.state(filesUnder(g.home), g.home, g.ws);
    c.gatedState?.(filesUnder(g.home));
    // The ungated run wrote the same kinds of state: the profile's grants cover what the agent writes.
    c.state(filesUnder(u.home), u.home, u.ws);
    expect(await processesWith(mark)).toEqual([]);
    timings.push({ name: `${c.name}: ${c.args.join(' ')}`, ungatedMs: ungated.ms, gatedMs: r.ms, asks: r.asks.length, denials: r.denials.length });
  });
});

describe('what the profiles change', () => {
  it("Codex's own sandbox cannot nest in the gate: its profile starts it without (the gate checks the command instead)", async () => {
    const bin = path.join(AGENT_BIN, 'codex');
    const g = place('codex-sandbox');
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: g.home };
    delete env.CI;
    const r = await gated([bin, 'sandbox', '--', '/bin/echo', 'ran-inside'], { cwd: g.ws, env, audit: g.audit, extra: ['-v'] });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('ran-inside\n');
    expect(r.stderr).toContain('started as: ');
    expect(r.stderr).toContain('--no-daemon -c sandbox_mode="danger-full-access" sandbox -- /bin/echo ran-inside');
    expect(r.decisions.some((d) => d.exe === '/usr/bin/echo' && d.argv.join(' ') === '/bin/echo ran-inside' && d.verdict === 'allow')).toBe(true);
    // Without the profile Codex tries its bubblewrap, which cannot make its namespaces inside the gate.
    // (--no-daemon first, as the profile puts it: the gate judges a static-pie program's first argument.)
    const h = place('codex-sandbox-none');
    // The CLI's state (accepted policies) outside the granted home: a run whose grants cover it is refused.
    const none = await gated([bin, '--no-daemon', 'sandbox', '--', '/bin/echo', 'ran-inside'], { cwd: h.ws, env: { ...env, HOME: h.home, XDG_STATE_HOME: path.join(path.dirname(h.home), 'state') }, audit: h.audit, extra: ['--agent', 'none', '-w', `${h.home}/**`] });
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/^bwrap: (No permissions to create a new namespace|setting up uid map: Permission denied)/m);
    expect(none.stdout).toBe('');
  });

  it('without its profile, Gemini CLI cannot save its project registry (the write its profile grants)', async () => {
    const c = CASES.find((x) => x.id === 'gemini')!;
    const g = place('gemini-no-profile', c.seed);
    const env: NodeJS.ProcessEnv = { ...process.env, ...c.env, HOME: g.home };
    delete env.CI;
    const r = await gated([path.join(AGENT_BIN, 'gemini'), ...c.args], { cwd: g.ws, env, audit: g.audit, extra: ['--agent', 'none'], timeoutMs: 120_000 });
    expect(r.stdout + r.stderr).toMatch(/Failed to save project registry to .*\/\.gemini\/projects\.json: Error: EACCES: permission denied/);
    expect(fs.existsSync(path.join(g.home, '.gemini', 'projects.json'))).toBe(false);
  });
});
