// Fake exec facts and a fake machine for policy tests: no real filesystem, so identity rules are exact.
import type { ExecFacts, FileFacts } from '../../../src/core/exec/facts';
import type { EvaluationContext, ProgramIdentity } from '../../../src/core/policy/index';
import { createEvaluator, loadPolicyText } from '../../../src/core/policy/index';
import type { PolicyEvaluator } from '../../../src/core/policy/evaluator';

/** A small fake machine: path (as named, may be a symlink) → canonical file. */
export const FILES: Record<string, FileFacts> = {
  '/usr/bin/git': { path: '/usr/bin/git', dev: '2049', ino: '100', size: 4000, sha256: 'a'.repeat(64) },
  '/usr/bin/curl': { path: '/usr/bin/curl', dev: '2049', ino: '101', size: 3000, sha256: 'c'.repeat(64) },
  '/usr/bin/dash': { path: '/usr/bin/dash', dev: '2049', ino: '102', size: 1250, sha256: 'd'.repeat(64) },
  '/usr/bin/bash': { path: '/usr/bin/bash', dev: '2049', ino: '103', size: 1300, sha256: 'b'.repeat(64) },
  '/usr/bin/python3.11': { path: '/usr/bin/python3.11', dev: '2049', ino: '104', size: 6800, sha256: 'e'.repeat(64) },
  '/usr/bin/rm': { path: '/usr/bin/rm', dev: '2049', ino: '105', size: 700, sha256: 'f'.repeat(64) },
  '/usr/bin/env': { path: '/usr/bin/env', dev: '2049', ino: '106', size: 500, sha256: '1'.repeat(64) },
  '/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2': { path: '/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', dev: '2049', ino: '107', size: 200, sha256: '2'.repeat(64) },
};
/** Symlinks of the fake machine. */
export const LINKS: Record<string, string> = {
  '/bin/sh': '/usr/bin/dash',
  '/usr/bin/sh': '/usr/bin/dash',
  '/bin/bash': '/usr/bin/bash',
  '/bin/git': '/usr/bin/git',
  '/bin/curl': '/usr/bin/curl',
  '/bin/rm': '/usr/bin/rm',
  '/usr/bin/python3': '/usr/bin/python3.11',
  '/lib64/ld-linux-x86-64.so.2': '/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2',
};

export function file(path: string): FileFacts {
  const target = LINKS[path] ?? path;
  const f = FILES[target];
  if (!f) throw new Error(`fake machine has no ${path}`);
  return { ...f };
}

export interface FakeContextOptions {
  writableGrants?: string[];
  filesystemSealed?: boolean;
  /** Record of hashProgram calls, to prove hashing is lazy. */
  hashed?: string[];
}

export function fakeContext(o: FakeContextOptions = {}): EvaluationContext {
  return {
    path: '/usr/local/bin:/usr/bin:/bin',
    writableGrants: o.writableGrants ?? [],
    filesystemSealed: o.filesystemSealed ?? false,
    statProgram(p: string): ProgramIdentity | null {
      const target = LINKS[p] ?? p;
      const f = FILES[target];
      return f ? { path: f.path, dev: f.dev, ino: f.ino, size: f.size } : null;
    },
    hashProgram(p: string): string | null {
      o.hashed?.push(p);
      return FILES[p]?.sha256 ?? null;
    },
    canonicalize(p: string): string {
      if (p === '/bin' || p.startsWith('/bin/')) return '/usr' + p;
      if (p === '/sbin' || p.startsWith('/sbin/')) return '/usr' + p;
      return LINKS[p] ?? p;
    },
  };
}

export function facts(argv: string[], over: Partial<ExecFacts> = {}): ExecFacts {
  const requestedPath = over.requestedPath ?? (argv[0]?.includes('/') ? argv[0] : `/usr/bin/${argv[0]}`);
  let exe: FileFacts | null = null;
  if ('exe' in over) exe = over.exe ?? null;
  else {
    try {
      exe = file(requestedPath);
    } catch {
      exe = null;
    }
  }
  return {
    requestId: 1,
    tid: 100,
    pid: 100,
    ppid: 99,
    uid: 1000,
    syscall: 'execve',
    argv,
    argvTruncated: false,
    cwd: '/work/ws',
    parent: { exe: '/usr/bin/bash', argv: ['bash'] },
    ...over,
    requestedPath,
    exe,
  };
}

/** Load a policy that must be free of errors, and an evaluator on the fake machine. */
export function policy(text: string, ctx: Partial<EvaluationContext> = fakeContext(), env: Record<string, string> = {}): PolicyEvaluator {
  const loaded = loadPolicyText(text, 'test.gate.toml', { env: { HOME: '/home/me', ...env }, realpath: (p) => (LINKS[p] ?? (FILES[p] ? p : null)), exists: () => true });
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
  if (!loaded.policy) throw new Error(`policy has errors: ${JSON.stringify(errors)}`);
  return createEvaluator(loaded.policy, ctx);
}

/** `[[rule]]` TOML for one rule. */
export function rule(id: string, action: string, keys: string): string {
  return `[[rule]]\nid = "${id}"\naction = "${action}"\n${keys}\n`;
}

export const META_DENY = '[meta]\nversion = 1\ndefault_action = "deny"\n';
export const META_ALLOW = '[meta]\nversion = 1\ndefault_action = "allow"\n';
