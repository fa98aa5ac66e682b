// What socket mediation costs (issue 13, item 2; docs/performance.md, "Socket mediation"): the same work
// ungated and gated under the shipped default policy three ways — unix sockets not mediated
// (`[unix_sockets] allow = ["/**"]`), the default (unix sockets sealed: every connect(2) and listen(2) goes to
// the supervisor, which performs it), and the default plus a sealed [network] with DNS (connect, listen and
// every UDP send performed by the supervisor) — interleaved in rounds with a rotating order; a ratio is the
// median of the per-round ratios to the ungated run of the same round.
//
// Workloads: `npm ci` of test/agents/fixtures/npm-project from the npm cache (a fresh copy per run; whole
// process, start-up included), and three loops of 2000 socket calls timed from inside the sandbox: connect to
// its own unix listener, TCP connect to its own loopback listener, UDP sendto the resolver (each mediated in
// some variants only: the difference per call is what mediation costs one call).
//
// Usage: node scripts/run-ts.mjs bench/socket-cost.ts [--rounds N] (after npm run build)
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = process.cwd();
const CLI = path.join(ROOT, 'dist', 'cli.js');
const SUPERVISOR = path.join(ROOT, 'dist', 'agent-gate-supervisor');
const DEFAULT_POLICY = fs.readFileSync(path.join(ROOT, 'policies', 'default.gate.toml'), 'utf8');
const NPM_PROJECT = path.join(ROOT, 'test', 'agents', 'fixtures', 'npm-project');

const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 5;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-gate-socket-cost-'));
// The audit logs outside every write grant (the gate refuses a log the agent could rewrite).
const stateDir = path.join(os.homedir(), '.local', 'state');
fs.mkdirSync(stateDir, { recursive: true });
const audits = fs.mkdtempSync(path.join(stateDir, 'agent-gate-socket-cost-'));

const TCP_PORT = 47999;
// unix-open: nothing mediated (unix sockets and services on this host not sealed); unix-sealed: the default
// before R59 ([loopback] sealed = false); default: unix sockets and services on this host sealed (every
// addressed send mediated too); unix+net-sealed: the default plus a sealed [network] with DNS.
type Variant = 'ungated' | 'unix-open' | 'unix-sealed' | 'default' | 'unix+net-sealed';
const VARIANTS: Variant[] = ['ungated', 'unix-open', 'unix-sealed', 'default', 'unix+net-sealed'];

function policyFor(v: Variant): string | null {
  if (v === 'ungated') return null;
  let text = DEFAULT_POLICY;
  if (v === 'unix-open') {
    if (!/^allow = \[\]$/m.test(text)) throw new Error('the default policy has no "allow = []" line in [unix_sockets]');
    text = text.replace(/^allow = \[\]$/m, 'allow = ["/**"]');
  }
  if (v === 'unix-open' || v === 'unix-sealed') text += '\n[loopback]\nsealed = false\n';
  // 47999: the loopback listener the connect loop makes (granted, as a dev server's port would be);
  // 127.0.0.1 as the resolver, for the UDP loop (nothing needs to listen there: a datagram is sent or not).
  if (v === 'unix+net-sealed') text += `\n[network]\nconnect_tcp_ports = [443, ${TCP_PORT}]\nbind_tcp_ports = [${TCP_PORT}]\ndns = true\ndns_servers = ["127.0.0.1"]\n`;
  const file = path.join(tmp, `${v}.toml`);
  fs.writeFileSync(file, text);
  return file;
}
const POLICIES = new Map(VARIANTS.map((v) => [v, policyFor(v)]));

interface Workload {
  name: string;
  script: string;
  /** Set up a fresh working directory. */
  prepare: (dir: string) => void;
  /** The script prints `ELAPSED <ms>` (timed inside the sandbox: the gate's start-up excluded). */
  inner?: boolean;
}

// N socket calls in a loop, timed from inside: what one mediated call costs.
const loop = (body: string): string =>
  `/usr/bin/python3 -c "import socket, time\n${body.replace(/"/g, '\\"')}\nt = time.perf_counter()\nfor i in range(2000): once()\nprint('ELAPSED', (time.perf_counter() - t) * 1000)"`;
const WORKLOADS: Workload[] = [
  {
    name: 'npm ci (uvu, from the cache)',
    script: 'npm ci --no-audit --no-fund --prefer-offline --loglevel=error >/dev/null',
    prepare: (dir) => fs.cpSync(NPM_PROJECT, dir, { recursive: true }),
  },
  {
    name: '2000 × connect to its own unix listener',
    inner: true,
    prepare: () => undefined,
    // In $TMPDIR: the session's socket directory, the one place a gated agent may make a socket (R31).
    script: loop(`import os; p = os.path.join(os.environ.get('TMPDIR', '.'), 'own-%d.sock' % os.getpid()); s = socket.socket(socket.AF_UNIX); s.bind(p); s.listen(128)
def once():
    c = socket.socket(socket.AF_UNIX); c.connect(p); s.accept()[0].close(); c.close()`),
  },
  {
    name: '2000 × TCP connect to its own loopback listener',
    inner: true,
    prepare: () => undefined,
    script: loop(`s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', ${TCP_PORT})); s.listen(128)
def once():
    c = socket.socket(); c.connect(('127.0.0.1', ${TCP_PORT})); s.accept()[0].close(); c.close()`),
  },
  {
    name: '2000 × UDP sendto the resolver',
    inner: true,
    prepare: () => undefined,
    script: loop(`u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
def once():
    u.sendto(b'x' * 40, ('127.0.0.1', 53))`),
  },
];

function run(v: Variant, w: Workload, n: number): number {
  const dir = path.join(tmp, `ws-${n}`);
  fs.mkdirSync(dir);
  w.prepare(dir);
  const policy = POLICIES.get(v);
  const argv = policy
    ? [process.execPath, CLI, 'run', '--policy', policy, '--accept-policy', '--workspace', dir, '--supervisor', SUPERVISOR, '-q', '--on-ask', 'deny', '--audit', path.join(audits, `audit-${n}.jsonl`), '--', 'bash', '-c', w.script]
    : ['bash', '-c', w.script];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0] as string, argv.slice(1), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  let ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${v} ${w.name} failed (${r.status}): ${r.stderr}`);
  if (w.inner) {
    const m = /ELAPSED ([\d.]+)/.exec(r.stdout);
    if (!m) throw new Error(`${v} ${w.name}: no ELAPSED line: ${r.stdout}${r.stderr}`);
    ms = Number(m[1]);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return ms;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

console.log(`socket mediation cost: ${rounds} rounds, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
let n = 0;
for (const w of WORKLOADS) {
  run('ungated', w, ++n); // warm the caches
  const times = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
  const ratios = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
  for (let r = 0; r < rounds; r++) {
    const order = VARIANTS.map((_, i) => VARIANTS[(i + r) % VARIANTS.length] as Variant);
    const round = new Map<Variant, number>();
    for (const v of order) round.set(v, run(v, w, ++n));
    for (const v of VARIANTS) {
      times.get(v)?.push(round.get(v) as number);
      ratios.get(v)?.push((round.get(v) as number) / (round.get('ungated') as number));
    }
  }
  console.log(`\n${w.name}`);
  console.log('| variant | median ms | ÷ ungated (median of rounds) | ÷ unix-open |');
  console.log('|---|---|---|---|');
  for (const v of VARIANTS) {
    const overOpen = (times.get(v) as number[]).map((t, i) => t / ((times.get('unix-open') as number[])[i] as number));
    console.log(`| ${v} | ${median(times.get(v) as number[]).toFixed(0)} | ${median(ratios.get(v) as number[]).toFixed(2)} | ${v === 'ungated' ? '' : median(overOpen).toFixed(2)} |`);
  }
}
console.log(`\nload average after: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
fs.rmSync(tmp, { recursive: true, force: true });
fs.rmSync(audits, { recursive: true, force: true });
