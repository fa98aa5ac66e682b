import { describe, expect, it } from 'vitest';
import { createEvaluator, loadPolicyFile, loadPolicyText, verifyExamples, type Diagnostic } from '../../../src/core/policy/index';
import { fakeContext } from './helpers';

const ENV = { HOME: '/home/me', TOOLS: '/usr/bin' };
const load = (text: string) => loadPolicyText(text, 'p.toml', { env: ENV, exists: () => true, realpath: (p) => (p.startsWith('/usr/bin/') ? p : null) });
const diags = (text: string) => load(text).diagnostics;
/** The one diagnostic with this code, as "line:col severity". */
function at(text: string, code: string): string {
  const found = diags(text).filter((d) => d.code === code);
  expect(found, `expected one '${code}' in ${JSON.stringify(diags(text))}`).toHaveLength(1);
  const d = found[0] as Diagnostic;
  return `${d.line}:${d.column} ${d.severity}`;
}

describe('diagnostics with file:line:column', () => {
  it('syntax: from smol-toml, with its position', () => {
    const r = load('[meta]\nversion = 1\ndefault_action = "deny\n');
    expect(r.policy).toBeNull();
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]).toMatchObject({ code: 'syntax', severity: 'error', file: 'p.toml', line: 3 });
    expect(r.diagnostics[0]?.message).toMatch(/^TOML syntax: /);
  });

  it('unsafe-key: __proto__ is rejected, even quoted or dotted', () => {
    expect(at('[meta]\nversion = 1\n"__proto__" = 1\n', 'unsafe-key')).toBe('3:1 error');
    expect(at('[[rule]]\nid = "a"\naction = "deny"\n  constructor.x = 1\n', 'unsafe-key')).toBe('4:3 error');
    expect(load('[__proto__]\nx = 1\n').policy).toBeNull();
  });

  it('unknown-key with "did you mean"', () => {
    const text = '[meta]\nversion = 1\ndefault_acton = "deny"\n\n[[rule]]\nid = "a"\naction = "deny"\n    exe_basenme = "x"\n';
    const found = diags(text).filter((d) => d.code === 'unknown-key');
    expect(found.map((d) => `${d.line}:${d.column}`)).toEqual(['3:1', '8:5']);
    expect(found[0]?.message).toContain("did you mean 'default_action'?");
    expect(found[1]?.message).toContain("did you mean 'exe_basename'?");
    expect(at('[metaa]\nversion = 1\n', 'unknown-key')).toBe('1:1 error');
    expect(diags('[metaa]\n')[0]?.message).toContain("did you mean 'meta'?");
  });

  it('wrong-type: points at the value', () => {
    expect(at('[meta]\nversion = "1"\n', 'wrong-type')).toBe('2:11 error');
    expect(at('[[rule]]\nid = "a"\naction = "deny"\nuid = "root"\n', 'wrong-type')).toBe('4:7 error');
    expect(at('[filesystem]\nread_globs = "/tmp/**"\n', 'wrong-type')).toBe('2:14 error');
    expect(at('[network]\nconnect_tcp_ports = [443, "80"]\n', 'wrong-type')).toBe('2:27 error');
    expect(at('rule = 1\n', 'wrong-type')).toBe('1:1 error');
  });

  it('bad-value: enums, ranges, basenames with a slash, host names', () => {
    expect(at('[meta]\ndefault_action = "maybe"\n', 'bad-value')).toBe('2:18 error');
    expect(at('[network]\nbind_tcp_ports = [80, 70000]\n', 'bad-value')).toBe('2:23 error');
    expect(at('[[rule]]\nid = "a"\naction = "deny"\nexe_basename = ["ok", "a/b"]\n', 'bad-value')).toBe('4:23 error');
    expect(at('[[rule]]\nid = "a"\naction = "allow"\nargv_host_in = "https://github.com/"\n', 'bad-value')).toBe('4:16 error');
    expect(at('[approval]\non_timeout = "ask"\n', 'bad-value')).toBe('2:14 error');
  });

  it('missing-key: id and action, at the rule header', () => {
    expect(at('[meta]\nversion = 1\n\n[[rule]]\naction = "deny"\n', 'missing-key')).toBe('4:1 error');
    expect(at('[[rule]]\nid = "x"\n', 'missing-key')).toBe('1:1 error');
  });

  it('duplicate-id', () => {
    const text = '[[rule]]\nid = "a"\naction = "deny"\nexe_basename = "x"\n[[rule]]\nid = "a"\naction = "allow"\nexe_basename = "y"\n';
    expect(at(text, 'duplicate-id')).toBe('6:6 error');
    expect(diags(text)[0]?.ruleId).toBe('a');
  });

  it('bad-regex, with a hint for Python syntax', () => {
    expect(at("[[rule]]\nid = \"a\"\naction = \"deny\"\nargv_regex = ['ok', '(?P<x>a)']\n", 'bad-regex')).toBe('4:21 error');
    expect(diags("[[rule]]\nid = \"a\"\naction = \"deny\"\nargv_regex = '(?P<x>a)'\n")[0]?.message).toContain('(?<name>');
    expect(at("[[rule]]\nid = \"a\"\naction = \"deny\"\nparent_argv = '['\n", 'bad-regex')).toBe('4:15 error');
  });

  it('catastrophic-regex', () => {
    expect(at("[[rule]]\nid = \"a\"\naction = \"deny\"\nargv_regex = '^(a+)+$'\n", 'catastrophic-regex')).toBe('4:14 error');
    expect(at("[[rule]]\nid = \"a\"\naction = \"deny\"\nparent_argv_not = '(.*)*x'\n", 'catastrophic-regex')).toBe('4:19 error');
  });

  it('not-absolute and dotdot-glob in rules and [filesystem]', () => {
    expect(at('[[rule]]\nid = "a"\naction = "deny"\nexe = "bin/x"\n', 'not-absolute')).toBe('4:7 error');
    expect(at('[[rule]]\nid = "a"\naction = "deny"\nexe_glob = "/usr/../x/*"\n', 'dotdot-glob')).toBe('4:12 error');
    expect(at('[filesystem]\nwrite_globs = ["/tmp/**", "/a/../b"]\n', 'dotdot-glob')).toBe('2:27 error');
    expect(at('[filesystem]\nread_globs = ["x/**"]\n', 'not-absolute')).toBe('2:15 error');
  });

  it('unset-variable: an unset ${VAR} is an error, never an empty string', () => {
    expect(at('[filesystem]\nread_globs = ["${NOPE}/repo/**"]\n', 'unset-variable')).toBe('2:15 error');
    expect(at('[[rule]]\nid = "a"\naction = "deny"\nexe_glob = "${NOPE}/*"\n', 'unset-variable')).toBe('4:12 error');
    expect(diags('[filesystem]\nread_globs = ["${HOME}/repo/**"]\n')).toEqual([]);
  });

  it('unsupported-version', () => {
    expect(at('[meta]\nversion = 2\n', 'unsupported-version')).toBe('2:11 error');
  });

  it('empty-list (warning)', () => {
    expect(at('[[rule]]\nid = "a"\naction = "deny"\nexe_basename = []\n', 'empty-list')).toBe('4:16 warning');
  });

  it('exe-not-found (warning): the value stays literal', () => {
    const r = load('[[rule]]\nid = "a"\naction = "deny"\nexe = "/opt/nothing/here"\n');
    expect(r.policy).not.toBeNull();
    expect(r.diagnostics.map((d) => `${d.code} ${d.line}:${d.column} ${d.severity}`)).toEqual(['exe-not-found 4:7 warning']);
  });

  it('shadowed-rule (warning): a rule with no keys, or broader values with the same keys', () => {
    const noKeys = '[[rule]]\nid = "all"\naction = "deny"\n\n[[rule]]\nid = "never"\naction = "allow"\nexe_basename = "git"\n';
    expect(at(noKeys, 'shadowed-rule')).toBe('5:1 warning');
    const broader = '[[rule]]\nid = "vcs"\naction = "allow"\nexe_basename = ["git", "hg"]\n[[rule]]\nid = "git"\naction = "deny"\nexe_basename = "git"\nargv_regex = "push"\n';
    // An allow rule does not cover a later deny on program keys (deny also matches requested names).
    expect(diags(broader).filter((d) => d.code === 'shadowed-rule')).toEqual([]);
    const sameAction = '[[rule]]\nid = "vcs"\naction = "deny"\nexe_basename = ["git", "hg"]\n[[rule]]\nid = "git"\naction = "ask"\nexe_basename = "git"\nuid = 0\n';
    expect(at(sameAction, 'shadowed-rule')).toBe('5:1 warning');
    expect(diags(sameAction).find((d) => d.code === 'shadowed-rule')?.message).toContain("'vcs' matches everything");
    const narrowerEarlier = '[[rule]]\nid = "git-push"\naction = "deny"\nexe_basename = "git"\nargv_regex = "push"\n[[rule]]\nid = "git"\naction = "deny"\nexe_basename = "git"\n';
    expect(diags(narrowerEarlier)).toEqual([]);
    const notKeys = '[[rule]]\nid = "a"\naction = "deny"\nexe_basename_not = "git"\n[[rule]]\nid = "b"\naction = "deny"\nexe_basename_not = ["git", "hg"]\n';
    expect(at(notKeys, 'shadowed-rule')).toBe('5:1 warning');
  });

  it('widened-glob (warning) points at the glob in its list', () => {
    expect(at('[filesystem]\nread_globs = ["/tmp/**", "/etc/*.conf"]\n', 'widened-glob')).toBe('2:26 warning');
    expect(diags('[filesystem]\nread_globs = ["/tmp/**", "/etc/ssl/cert.pem", "/usr/**/*"]\n')).toEqual([]);
  });

  it('allow-glob-writable (warning): an allow exe_glob over a writable grant', () => {
    const text = '[filesystem]\nwrite_globs = ["/work/ws/**"]\n[[rule]]\nid = "ws-tools"\naction = "allow"\nexe_glob = "/work/**"\n';
    expect(at(text, 'allow-glob-writable')).toBe('6:12 warning');
    const safe = '[filesystem]\nwrite_globs = ["/work/ws/**"]\n[[rule]]\nid = "sys"\naction = "allow"\nexe_glob = "/usr/bin/*"\n';
    expect(diags(safe)).toEqual([]);
  });

  it('caller-controlled-allow (warning): an allow rule that names no program and rests on caller-set facts', () => {
    const head = '[meta]\nversion = 1\ndefault_action = "deny"\n';
    const make = head + '[[rule]]\nid = "under-make"\naction = "allow"\nparent_argv = "^make( |$)"\n';
    expect(at(make, 'caller-controlled-allow')).toBe('7:1 warning');
    const d = diags(make).find((x) => x.code === 'caller-controlled-allow');
    expect(d?.message).toContain("allow rule 'under-make' names no program and rests only on parent_argv");
    expect(d?.ruleId).toBe('under-make');
    for (const keys of ['argv_regex = "^x"', 'argv_contains = "--dry-run"', 'argv_host_in = "github.com"', 'cwd_glob = "/work/**"', 'exe_basename_not = "curl"\nargv_contains = "x"']) {
      expect(diags(head + `[[rule]]\nid = "r"\naction = "allow"\n${keys}\n`).map((x) => x.code)).toContain('caller-controlled-allow');
    }
    const parent = diags(head + '[[rule]]\nid = "r"\naction = "allow"\nparent_exe = "/usr/bin/make"\n').find((x) => x.code === 'caller-controlled-allow');
    expect(parent?.message).toContain('parent_exe names the program that asks');
    // Named programs, deny/ask rules and rules without caller-set keys are fine.
    for (const text of [
      head + '[[rule]]\nid = "r"\naction = "allow"\nexe_basename = "git"\nargv_regex = "^git status"\n',
      head + '[[rule]]\nid = "r"\naction = "deny"\nargv_contains = "-rf"\n',
      head + '[[rule]]\nid = "r"\naction = "ask"\nparent_argv = "^make"\n',
      head + '[[rule]]\nid = "r"\naction = "allow"\nuid = 1000\n',
    ]) {
      expect(diags(text).map((x) => x.code)).not.toContain('caller-controlled-allow');
    }
  });

  it('example-mismatch: a wrong example is an error pointing at it', () => {
    const text = '[[rule]]\nid = "git-ro"\naction = "allow"\nexe_basename = "git"\nargv_regex = \'^git (status|log)( |$)\'\nexamples_match = ["git status", "git push"]\nexamples_no_match = ["git log"]\n';
    const r = loadPolicyText(text, 'p.toml', { env: ENV });
    expect(r.policy).not.toBeNull();
    const found = verifyExamples(r.policy!, createEvaluator(r.policy!, { path: '/usr/bin:/bin' }));
    expect(found.map((d) => `${d.code} ${d.line}:${d.column} ${d.ruleId}`)).toEqual(['example-mismatch 6:33 git-ro', 'example-mismatch 7:22 git-ro']);
    expect(found[0]?.message).toContain('"git push" should match this rule but does not');
  });

  it('example-mismatch for a program that is not installed compares its name', () => {
    const text = '[[rule]]\nid = "c"\naction = "allow"\nexe_basename = "no-such-tool-xyz"\nexamples_match = ["no-such-tool-xyz run"]\nexamples_no_match = ["other-missing-tool"]\n';
    const r = loadPolicyText(text, 'p.toml', { env: ENV });
    expect(verifyExamples(r.policy!, createEvaluator(r.policy!, fakeContext()))).toEqual([]);
  });

  it('unreadable file', () => {
    const r = loadPolicyFile('/nonexistent/dir/.gate.toml');
    expect(r.policy).toBeNull();
    expect(r.diagnostics[0]).toMatchObject({ code: 'unreadable', line: 1, column: 1 });
  });

  it('reports all problems at once, in file order, with end columns', () => {
    const text = '[meta]\nversion = 9\n[[rule]]\nid = "a"\naction = "nope"\nargv_regex = "("\n';
    const d = diags(text);
    expect(d.map((x) => x.code)).toEqual(['unsupported-version', 'bad-value', 'bad-regex']);
    expect(d[2]).toMatchObject({ line: 6, column: 14, endLine: 6, endColumn: 17 });
  });
});
