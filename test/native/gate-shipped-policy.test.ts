// The shipped policies parsed at build time (src/core/policy/shipped-toml.ts), through a real `agent-gate
// run`: the bundle's document is used for the shipped file's exact text, and a shipped file edited after the
// build is read as it is now, never as the bundle's copy. To tell the two apart, the bundle here is built
// (as scripts/build.mjs builds it, with the same steps) with a doctored table: the default policy's text maps
// to a document that also denies `echo`.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tomlTextHash } from '../../src/core/policy/shipped-toml';
import { buildNative, ROOT, SUPERVISOR } from './helpers/gate';

// Where no write grant of the default policy reaches (not under /tmp), as an installed CLI is.
const base = fs.mkdtempSync(path.join(os.homedir(), '.gate-shipped-policy-'));
const dist = path.join(base, 'dist');
const state = path.join(base, 'state');
const policyFile = path.join(base, 'policies', 'default.gate.toml');
const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'gate-shipped-policy-ws-'));
let shippedText = '';

beforeAll(async () => {
  const { shareToESM, shippedTomlTable } = await import('../../scripts/bundle-steps.mjs');
  buildNative();
  fs.mkdirSync(dist);
  fs.mkdirSync(state);
  fs.cpSync(path.join(ROOT, 'policies'), path.join(base, 'policies'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(base, 'package.json'));
  shippedText = fs.readFileSync(policyFile, 'utf8');
  const { table } = shippedTomlTable(ROOT);
  const sha = tomlTextHash(shippedText);
  const entry = table[sha];
  if (!entry) throw new Error('the default policy is not in the build table');
  const doc = JSON.parse(entry[1]) as { rule: { id: string; exe_basename?: string[] }[] };
  const rule = doc.rule.find((r) => r.id === 'deny-privilege-change');
  if (!rule?.exe_basename) throw new Error('the default policy has no deny-privilege-change rule');
  rule.exe_basename.push('echo');
  table[sha] = [entry[0], JSON.stringify(doc)];
  const common = {
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    logLevel: 'warning',
    absWorkingDir: ROOT,
    define: { AGENT_GATE_SHIPPED_TOML: JSON.stringify(JSON.stringify(table)) },
  } as const;
  await build({ ...common, entryPoints: [path.join(ROOT, 'src', 'cli', 'main.ts')], outfile: path.join(dist, 'cli-bundle.js'), external: ['node-pty'] });
  await build({ ...common, entryPoints: [path.join(ROOT, 'src', 'cli', 'loader.ts')], outfile: path.join(dist, 'cli.js') });
  shareToESM(path.join(dist, 'cli-bundle.js'));
}, 120_000);
afterAll(() => {
  fs.rmSync(base, { recursive: true, force: true });
  fs.rmSync(ws, { recursive: true, force: true });
});

function gateRun(program: string[]): { code: number | null; stdout: string; stderr: string; audit: string } {
  const audit = path.join(state, `audit-${Date.now()}-${Math.random().toString(16).slice(2)}.jsonl`);
  const r = spawnSync(process.execPath, [path.join(dist, 'cli.js'), 'run', '-q', '--on-ask', 'deny', '--audit', audit, '--supervisor', SUPERVISOR, '--', ...program], {
    cwd: ws,
    encoding: 'utf8',
    env: { ...process.env, CI: '1', XDG_STATE_HOME: state },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, audit: fs.existsSync(audit) ? fs.readFileSync(audit, 'utf8') : '' };
}

describe('shipped policies parsed at build time, through agent-gate run', () => {
  it('the shipped text as built: the bundle\'s document is the policy in force', () => {
    const r = gateRun(['/bin/echo', 'hello']);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/cannot run \/bin\/echo: Permission denied/);
    expect(r.audit).toMatch(/deny-privilege-change/);
    expect(r.code).not.toBe(0);
    // The rest of the policy is the bundle's too: a program it allows runs.
    const ok = gateRun(['/bin/sh', '-c', 'exit 7']);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(7);
  });

  it('the shipped file edited after the build (same length) is read as it is now', () => {
    // One character of a comment changed: the same length, another text.
    const i = shippedText.indexOf('# ');
    expect(i).toBeGreaterThanOrEqual(0);
    fs.writeFileSync(policyFile, `${shippedText.slice(0, i)}#!${shippedText.slice(i + 2)}`);
    const r = gateRun(['/bin/echo', 'hello']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hello\n');
    expect(r.code).toBe(0);
  });

  it('an edit that denies a program is honoured', () => {
    fs.writeFileSync(policyFile, shippedText.replace('"sudo", "su",', '"sudo", "su", "printf",'));
    const r = gateRun(['/usr/bin/printf', 'x']);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/cannot run \/usr\/bin\/printf: Permission denied/);
    expect(r.audit).toMatch(/deny-privilege-change/);
    expect(r.code).not.toBe(0);
    fs.writeFileSync(policyFile, shippedText);
  });
});
