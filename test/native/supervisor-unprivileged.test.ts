// The gate as an ordinary user (these tests run as root on the dev VM: root's CAP_SYS_PTRACE hides
// mistakes such as reading a non-dumpable process). The broker and the supervisor run as uid 65534 here.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildNative, prog, ROOT } from './helpers/gate';

let dir = '';
let bundle = '';
beforeAll(async () => {
  buildNative();
  dir = mkdtempSync(join(tmpdir(), 'gate-unpriv-'));
  chmodSync(dir, 0o755);
  bundle = join(dir, 'run.cjs');
  await build({
    entryPoints: [join(ROOT, 'test', 'native', 'helpers', 'unprivileged-run.ts')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    logLevel: 'warning',
  });
  chmodSync(bundle, 0o644);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Result {
  uid: number;
  status: { code: number | null };
  stdout: string;
  stderr: string;
  warnings: string[];
  events: { path?: string; argv: string[] }[];
  stats: Record<string, number> | null;
}

function runUnprivileged(argv: string[], env: NodeJS.ProcessEnv = {}): Result {
  const script = [bundle, JSON.stringify({ argv })];
  const asRoot = process.getuid?.() === 0;
  const cmd = asRoot ? 'setpriv' : process.execPath;
  const args = asRoot ? ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...script] : script;
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, HOME: '/tmp', TMPDIR: '/tmp', ...env }, timeout: 60_000 });
  if (r.status !== 0) throw new Error(`unprivileged run failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Result;
}

describe('supervisor: as an unprivileged user', () => {
  it('gates from the very first exec (the agent is readable before its first exec)', () => {
    const r = runUnprivileged(['bash', '-c', 'id -u; /bin/true && echo true-ok; curl --version; echo curl-rc=$?']);
    expect(r.uid).not.toBe(0);
    expect(r.stdout).toContain(`${r.uid}\n`);
    expect(r.stdout).toContain('true-ok');
    expect(r.stdout).toContain('curl-rc=126');
    expect(r.events[0]?.argv[0]).toBe('bash');
    expect(r.status.code).toBe(0);
  });

  it('denies (fail closed) an exec by a non-dumpable process and says why', () => {
    // Without the agent's user namespace (R106; as where the kernel refuses unprivileged ones): in it, the
    // supervisor, whose user namespace owns the agent's, may read a non-dumpable process and judges its exec.
    const r = runUnprivileged([prog('nodump'), '/usr/bin/true'], { AGENT_GATE_NO_MOUNTNS: '1' });
    expect(r.stdout).toContain('RESULT execv errno=EACCES');
    expect(r.events.map((e) => e.path)).toEqual([prog('nodump')]);
    expect(r.stats?.n_local).toBe(1);
    expect(r.warnings.join('\n')).toMatch(/denied an exec by pid \d+ \(nodump\): it made itself non-dumpable/);
  });
});

describe('supervisor: another process\'s secrets, as an unprivileged user (issue 13 item 6)', () => {
  it('environ, maps and mem of a process of the same user outside the gate are refused (Landlock ptrace scoping); its cmdline is not', () => {
    const secret = `sk-unpriv-${process.pid}-secret`;
    // Outside the gate, as the same unprivileged user: the kernel alone would let the agent read all of it.
    const outside = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'bash', '-c', `sleep 60; : ${secret}`], { env: { ...process.env, API_TOKEN: secret }, stdio: 'ignore' });
    try {
      const pid = outside.pid!;
      spawnSync('sleep', ['0.2']);
      const control = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'cat', `/proc/${pid}/environ`], { encoding: 'latin1' });
      expect(control.stdout).toContain(`API_TOKEN=${secret}`);
      const r = runUnprivileged(['bash', '-c', `for f in environ maps; do cat /proc/${pid}/$f; echo "$f-rc=$?"; done; dd if=/proc/${pid}/mem bs=1 count=1 skip=4096; echo "mem-rc=$?"; tr '\\0' ' ' < /proc/${pid}/cmdline; echo`]);
      expect(r.stdout).toContain('environ-rc=1');
      expect(r.stdout).toContain('maps-rc=1');
      expect(r.stdout).toContain('mem-rc=1');
      expect(r.stderr).toMatch(/environ: Permission denied/);
      expect(r.stdout).not.toContain('API_TOKEN');
      expect(r.stdout).toContain(secret); // the command line: readable to every user, as outside the gate
    } finally {
      // setpriv execs bash (same pid); its sleep is the one child.
      const kids = spawnSync('cat', [`/proc/${outside.pid}/task/${outside.pid}/children`], { encoding: 'utf8' }).stdout.trim().split(/\s+/).filter(Boolean);
      outside.kill('SIGKILL');
      for (const k of kids) spawnSync('kill', ['-KILL', k]);
    }
  });
});
