// The gate's own files out of the agent's reach (red-team R70): `agent-gate run` refuses to start when the CLI
// it runs from (loader, bundle, V8 code cache), the supervisor it starts, the shipped policies beside it, or a
// file an AGENT_GATE_* variable names is inside a write grant of the policy in force — the way a
// devDependency (node_modules/.bin/agent-gate in the workspace) or `npx agent-gate` (~/.npm/_npx, a default
// grant) installs it. Each case runs a copy of the real CLI and supervisor from such a place, with an agent
// that replaces the supervisor by a wrapper; the control is the same install outside the grants.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, SUPERVISOR, denyCurlPolicy, makeDirs, prepare, runCli } from './gate-progs/cli';
import { spawn } from 'node:child_process';

let dirs: ReturnType<typeof makeDirs>;
let stateHome = '';
let n = 0;
beforeAll(async () => {
  await prepare();
  dirs = makeDirs('ownfiles');
  fs.mkdirSync(path.join(os.homedir(), '.local', 'state'), { recursive: true });
  stateHome = fs.mkdtempSync(path.join(os.homedir(), '.local', 'state', 'gate-e2e-own-'));
});
afterAll(() => {
  dirs?.cleanup();
  if (stateHome) fs.rmSync(stateHome, { recursive: true, force: true });
});

/** A copy of the CLI and supervisor installed as a package at `dir` (dist/, policies/, package.json). */
function install(dir: string): string {
  fs.mkdirSync(path.join(dir, 'dist'), { recursive: true });
  fs.copyFileSync(CLI, path.join(dir, 'dist', 'cli.js'));
  fs.copyFileSync(SUPERVISOR, path.join(dir, 'dist', 'agent-gate-supervisor'));
  fs.chmodSync(path.join(dir, 'dist', 'agent-gate-supervisor'), 0o755);
  fs.cpSync(path.join(ROOT, 'policies'), path.join(dir, 'policies'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), '{"name":"agent-gate","main":"dist/cli.js"}\n');
  return path.join(dir, 'dist', 'cli.js');
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node <cli> run …` from an installed copy (its own supervisor: the one beside it). */
function runInstalled(cli: string, argv: string[], o: { cwd: string; policy?: string; env?: NodeJS.ProcessEnv; extra?: string[] }): Promise<Run> {
  const args = [cli, 'run', ...(o.policy ? ['--policy', o.policy] : []), '--accept-policy', '--audit', path.join(dirs.state, `own-${++n}.jsonl`), ...(o.extra ?? []), '--', ...argv];
  const env = { ...process.env, ...o.env };
  delete env.CI;
  delete env.AGENT_GATE_SUPERVISOR;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: o.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The agent's move: replace the supervisor beside `cli` with a wrapper that leaves a proof, then run the real one. */
function replaceSupervisor(cli: string, proof: string): string[] {
  const sup = path.join(path.dirname(cli), 'agent-gate-supervisor');
  return ['sh', '-c', `mv ${sup} ${sup}.real && printf '#!/bin/sh\\ntouch ${proof}\\nexec "$0.real" "$@"\\n' > ${sup} && chmod +x ${sup} && echo REPLACED`];
}

function workspace(): { ws: string; policy: string } {
  const ws = path.join(dirs.root, `ws-${++n}`);
  fs.mkdirSync(ws);
  const policy = path.join(dirs.root, `policy-${n}.toml`);
  fs.writeFileSync(policy, denyCurlPolicy({ writeGlobs: ['${WORKSPACE}/**'] }));
  return { ws, policy };
}

describe('gate: the gate\'s own files inside a write grant are refused at start (red-team R70)', () => {
  it('an install in the workspace (a devDependency): refused, nothing runs, and the message says which files and why; the same install outside the grants runs', async () => {
    const { ws, policy } = workspace();
    const cli = install(path.join(ws, 'node_modules', 'agent-gate'));
    const proof = path.join(dirs.root, `proof-${n}`);
    const r = await runInstalled(cli, replaceSupervisor(cli, proof), { cwd: ws, policy });
    expect(r.code).toBe(126);
    expect(r.stdout).not.toContain('REPLACED');
    expect(r.stderr).toContain("the gate's own files are where the agent may write");
    expect(r.stderr).toContain(path.join(ws, 'node_modules', 'agent-gate', 'dist'));
    expect(r.stderr).toContain('the shipped policies and agent profiles');
    expect(r.stderr).toContain('${WORKSPACE}/**');
    // The user's next run starts nothing the agent could have planted.
    const r2 = await runInstalled(cli, ['true'], { cwd: ws, policy });
    expect(r2.code).toBe(126);
    expect(fs.existsSync(proof)).toBe(false);
    // Control: installed outside the grants, the same agent runs — and its write to the install is refused
    // by Landlock.
    const outside = install(path.join(dirs.root, `global-${n}`));
    const r3 = await runInstalled(outside, replaceSupervisor(outside, proof), { cwd: ws, policy });
    expect(r3.stderr).not.toContain("the gate's own files");
    expect(r3.stdout).not.toContain('REPLACED');
    expect(r3.stderr).toMatch(/Permission denied|Operation not permitted/);
    const r4 = await runInstalled(outside, ['true'], { cwd: ws, policy });
    expect(r4.code).toBe(0);
    expect(fs.existsSync(proof)).toBe(false);
  });

  it('npx: an install in the agent\'s own npm cache (~/.cache/agent-gate/tools/npm/_npx, the shipped default policy\'s grant) is refused; one in the user\'s ~/.npm/_npx, which the agent cannot write (red-team R99), runs', async () => {
    const { ws } = workspace();
    const home = path.join(dirs.root, `home-${n}`);
    fs.mkdirSync(home);
    const cli = install(path.join(home, '.cache', 'agent-gate', 'tools', 'npm', '_npx', '0123abcd', 'node_modules', 'agent-gate'));
    // The CLI's state (accepted policies) outside every default grant.
    const env = { HOME: home, npm_config_cache: '', XDG_CACHE_HOME: '', XDG_STATE_HOME: stateHome };
    const r = await runInstalled(cli, ['true'], { cwd: ws, env });
    expect(r.code).toBe(126);
    expect(r.stderr).toContain("the gate's own files are where the agent may write");
    expect(r.stderr).toContain('${XDG_CACHE_HOME:-${HOME}/.cache}/agent-gate/tools/**');
    const user = install(path.join(home, '.npm', '_npx', '0123abcd', 'node_modules', 'agent-gate'));
    const r2 = await runInstalled(user, ['true'], { cwd: ws, env });
    expect(r2.stderr).not.toContain("the gate's own files");
    expect(r2.code, r2.stderr).toBe(0);
  });

  it('a command-line write grant over the install (-w), and a grant inside it, are refused too', async () => {
    const { ws, policy } = workspace();
    const root = path.join(dirs.root, `opt-${n}`);
    const cli = install(root);
    const r = await runInstalled(cli, ['true'], { cwd: ws, policy, extra: ['-w', `${root}/**`] });
    expect(r.code).toBe(126);
    expect(r.stderr).toContain(`from --write ${root}/**`);
    const r2 = await runInstalled(cli, ['true'], { cwd: ws, policy, extra: ['-w', `${root}/policies/agents/**`] });
    expect(r2.code).toBe(126);
    expect(r2.stderr).toContain('the shipped policies and agent profiles');
  });

  it('AGENT_GATE_SUPERVISOR or a test switch naming a file in a write grant is refused (red-team R80, the run half)', async () => {
    const { ws, policy } = workspace();
    fs.copyFileSync(SUPERVISOR, path.join(ws, 'sup'));
    fs.chmodSync(path.join(ws, 'sup'), 0o755);
    const r = await runCli(['true'], { policy, cwd: ws, audit: path.join(dirs.state, `own-${++n}.jsonl`), env: { AGENT_GATE_SUPERVISOR: path.join(ws, 'sup') } });
    // runCli passes --supervisor (the tests' own): the variable is in the environment all the same.
    expect(r.code).toBe(126);
    expect(r.stderr).toContain(`AGENT_GATE_SUPERVISOR in the gate's environment names ${ws}/sup`);
    fs.mkdirSync(path.join(ws, 'binfmt'));
    const r2 = await runCli(['true'], { policy, cwd: ws, audit: path.join(dirs.state, `own-${++n}.jsonl`), env: { AGENT_GATE_BINFMT_MISC: path.join(ws, 'binfmt') } });
    expect(r2.code).toBe(126);
    expect(r2.stderr).toContain('AGENT_GATE_BINFMT_MISC');
    // Control: the same switch pointing outside the grants starts (and says it is set).
    const outside = path.join(dirs.root, `binfmt-${n}`);
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'status'), 'enabled\n');
    const r3 = await runCli(['true'], { policy, cwd: ws, audit: path.join(dirs.state, `own-${++n}.jsonl`), env: { AGENT_GATE_BINFMT_MISC: outside } });
    expect(r3.code).toBe(0);
    expect(r3.stderr).toContain('test switch AGENT_GATE_BINFMT_MISC');
  });
});
