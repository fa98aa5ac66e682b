import { describe, expect, it } from 'vitest';
import { facts, fakeContext, file, META_ALLOW, META_DENY, policy, rule } from './helpers';

const decide = (text: string, argv: string[], over = {}, ctx = fakeContext()) => policy(text, ctx).evaluate(facts(argv, over));

describe('first match, defaults, lists', () => {
  it('uses default_action when no rule matches, with a null rule id', () => {
    const d = decide(META_DENY + rule('g', 'allow', 'exe_basename = "git"'), ['curl', 'x']);
    expect(d).toMatchObject({ action: 'deny', ruleId: null, layer: 'default', matched: [] });
    expect(d.reason).toContain('default_action');
    expect(decide(META_ALLOW, ['curl']).action).toBe('allow');
    expect(decide('[meta]\ndefault_action = "ask"\n', ['curl']).action).toBe('ask');
  });

  it('defaults to deny without [meta]', () => {
    expect(decide(rule('g', 'allow', 'exe_basename = "git"'), ['curl']).action).toBe('deny');
  });

  it('takes the first matching rule, top to bottom', () => {
    const text = META_DENY + rule('first', 'ask', 'exe_basename = "git"') + rule('second', 'allow', 'exe_basename = "git"');
    expect(decide(text, ['git', 'status'])).toMatchObject({ action: 'ask', ruleId: 'first' });
    const swapped = META_DENY + rule('second', 'allow', 'exe_basename = "git"') + rule('first', 'deny', 'exe_basename = "git"\nargv_regex = "push"');
    expect(decide(swapped, ['git', 'push'])).toMatchObject({ action: 'allow', ruleId: 'second' });
  });

  it('a rule with no match keys matches every exec', () => {
    const d = decide(META_ALLOW + rule('all', 'deny', 'reason = "nothing runs"'), ['git']);
    expect(d).toMatchObject({ action: 'deny', ruleId: 'all', reason: 'nothing runs', matched: [] });
  });

  it('ANDs keys and treats a list as any-of', () => {
    const text = META_DENY + rule('r', 'allow', 'exe_basename = ["git", "bash"]\nargv_contains = ["status", "--version"]');
    expect(decide(text, ['git', 'status']).action).toBe('allow');
    expect(decide(text, ['bash', '--version']).action).toBe('allow');
    expect(decide(text, ['git', 'push']).action).toBe('deny');
    expect(decide(text, ['curl', 'status']).action).toBe('deny');
    expect(decide(text, ['git', 'status']).matched).toEqual(['exe_basename', 'argv_contains']);
  });

  it('carries the reason of the deciding rule', () => {
    expect(decide(META_DENY + rule('c', 'deny', 'exe_basename = "curl"\nreason = "no egress"'), ['curl']).reason).toBe('no egress');
  });
});

describe('match keys and their _not forms', () => {
  const one = (keys: string, argv: string[], over = {}) => decide(META_DENY + rule('r', 'allow', keys), argv, over).action;

  it('exe: canonical path, symlink values resolved at load', () => {
    expect(one('exe = "/usr/bin/git"', ['git'])).toBe('allow');
    expect(one('exe = "/bin/sh"', ['/bin/sh'])).toBe('allow'); // value resolves to /usr/bin/dash
    expect(one('exe = "/bin/sh"', ['/usr/bin/dash'])).toBe('allow');
    expect(one('exe = "/usr/bin/git"', ['curl'])).toBe('deny');
    expect(one('exe_not = "/usr/bin/git"', ['curl'])).toBe('allow');
    expect(one('exe_not = "/usr/bin/git"', ['git'])).toBe('deny');
  });

  it('exe: same file (hard link) or same content (copy) is the same program', () => {
    const hardLink = { ...file('/usr/bin/git'), path: '/work/ws/g' };
    expect(one('exe = "/usr/bin/git"', ['/work/ws/g'], { exe: hardLink })).toBe('allow');
    const copy = { ...file('/usr/bin/git'), path: '/work/ws/g', ino: '999' };
    expect(one('exe = "/usr/bin/git"', ['/work/ws/g'], { exe: copy })).toBe('allow');
    const otherContent = { ...copy, sha256: '0'.repeat(64) };
    expect(one('exe = "/usr/bin/git"', ['/work/ws/g'], { exe: otherContent })).toBe('deny');
  });

  it('exe_basename and exe_basename_not', () => {
    expect(one('exe_basename = "git"', ['git'])).toBe('allow');
    expect(one('exe_basename = "git"', ['curl'])).toBe('deny');
    expect(one('exe_basename_not = "git"', ['curl'])).toBe('allow');
    expect(one('exe_basename_not = ["git", "curl"]', ['curl'])).toBe('deny');
  });

  it('exe_glob: * stops at /, ** crosses it, prefix canonicalised', () => {
    expect(one('exe_glob = "/usr/bin/*"', ['git'])).toBe('allow');
    expect(one('exe_glob = "/usr/*"', ['git'])).toBe('deny');
    expect(one('exe_glob = "/usr/**"', ['git'])).toBe('allow');
    expect(one('exe_glob = "/bin/*"', ['git'])).toBe('allow'); // /bin → /usr/bin
    expect(one('exe_glob = "/usr/bin/g*"', ['curl'])).toBe('deny');
    expect(one('exe_glob_not = "/usr/bin/g*"', ['curl'])).toBe('allow');
  });

  it('exe_glob expands ${VAR} at load time', () => {
    const ev = policy(META_DENY + rule('r', 'allow', 'exe_glob = "${TOOLS}/*"'), fakeContext(), { TOOLS: '/usr/bin' });
    expect(ev.evaluate(facts(['git'])).action).toBe('allow');
  });

  it('argv_regex is searched in argv joined by spaces, argv[0] as invoked, anchored only by the pattern', () => {
    expect(one('argv_regex = "status"', ['git', 'status'])).toBe('allow');
    expect(one("argv_regex = '^git status$'", ['git', 'status'])).toBe('allow');
    expect(one("argv_regex = '^git status$'", ['/usr/bin/git', 'status'])).toBe('deny');
    expect(one("argv_regex = 'a b'", ['x', 'a', 'b'], { exe: file('/usr/bin/git') })).toBe('allow');
    expect(one("argv_regex_not = 'push'", ['git', 'push'])).toBe('deny');
    expect(one("argv_regex_not = 'push'", ['git', 'pull'])).toBe('allow');
    expect(one("argv_regex = ['^x', 'pull']", ['git', 'pull'])).toBe('allow');
  });

  it('argv_contains looks at arguments after argv[0] only, exact equality', () => {
    expect(one('argv_contains = "-f"', ['rm', '-f', 'x'])).toBe('allow');
    expect(one('argv_contains = "rm"', ['rm', 'x'])).toBe('deny');
    expect(one('argv_contains = "-f"', ['rm', '-rf', 'x'])).toBe('deny');
    expect(one('argv_contains_not = "-f"', ['rm', 'x'])).toBe('allow');
  });

  it('argv_host_in: every URL host must be listed; none means false', () => {
    const k = 'argv_host_in = ["github.com", "*.example.com"]';
    expect(one(k, ['curl', 'https://github.com/a'])).toBe('allow');
    expect(one(k, ['curl', 'HTTPS://GitHub.COM:443/a'])).toBe('allow');
    expect(one(k, ['curl', 'https://api.example.com/x'])).toBe('allow');
    expect(one(k, ['curl', 'https://example.com/x'])).toBe('deny'); // *.x is subdomains only
    expect(one(k, ['curl', 'https://github.com/a', 'https://evil.test/b'])).toBe('deny');
    expect(one(k, ['curl', '--url=https://user:pw@evil.test/b', 'https://github.com'])).toBe('deny');
    expect(one(k, ['curl', '--version'])).toBe('deny');
    expect(one(k, ['curl', 'https://github.com.evil.test/'])).toBe('deny');
    // Any scheme counts: a non-http second URL cannot ride along with an allowed one.
    expect(one(k, ['curl', 'https://github.com/a', 'ftp://evil.test/x'])).toBe('deny');
    expect(one(k, ['git', 'clone', 'ssh://git@github.com:22/o/r'])).toBe('allow');
    expect(one('argv_host_in_not = ["github.com"]', ['curl', 'https://github.com/a', 'http://evil.test'])).toBe('allow');
    expect(one('argv_host_in_not = ["github.com"]', ['curl', 'https://github.com/a'])).toBe('deny');
  });

  it('cwd_glob', () => {
    expect(one('cwd_glob = "/work/**"', ['git'])).toBe('allow');
    expect(one('cwd_glob = "/work/*"', ['git'], { cwd: '/work/ws/sub' })).toBe('deny');
    expect(one('cwd_glob_not = "/work/**"', ['git'])).toBe('deny');
  });

  it('uid', () => {
    expect(one('uid = 1000', ['git'])).toBe('allow');
    expect(one('uid = [0, 1001]', ['git'])).toBe('deny');
    expect(one('uid_not = 0', ['git'])).toBe('allow');
  });

  it('parent_exe and parent_argv', () => {
    expect(one('parent_exe = "/usr/bin/bash"', ['git'])).toBe('allow');
    expect(one('parent_exe = "/bin/bash"', ['git'])).toBe('allow'); // canonicalised
    expect(one('parent_exe_not = "/usr/bin/bash"', ['git'])).toBe('deny');
    expect(one('parent_argv = "^bash$"', ['git'])).toBe('allow');
    expect(one('parent_argv_not = "^bash"', ['git'])).toBe('deny');
    expect(one('parent_exe = "/usr/bin/bash"', ['git'], { parent: null })).toBe('deny');
    expect(one('parent_exe_not = "/usr/bin/bash"', ['git'], { parent: null })).toBe('allow');
  });

  it('an allow rule with argv keys never matches a truncated argv; a deny rule still does', () => {
    expect(one('argv_regex = "^git status"', ['git', 'status'], { argvTruncated: true })).toBe('deny');
    expect(decide(META_ALLOW + rule('d', 'deny', 'argv_contains = "x"'), ['git', 'x'], { argvTruncated: true }).action).toBe('deny');
  });

  it('a cut argv: deny and ask rules on argv match even when the visible part does not (fail closed), and say so', () => {
    const rmRf = rule('deny-rm-rf-root', 'deny', 'exe_basename = "rm"\nargv_regex = \'(^|\\s)-[a-zA-Z]*[rRf][a-zA-Z]*\\s+(/|~)(\\s|$)\'');
    const padded = ['rm', ...Array.from({ length: 4095 }, () => 'pad')];
    const cut = decide(META_ALLOW + rmRf, padded, { argvTruncated: true });
    expect(cut).toMatchObject({ action: 'deny', ruleId: 'deny-rm-rf-root', layer: 'rule', cacheable: false });
    expect(cut.reason).toContain("argv was cut at the gate's bound");
    // The same argv, not cut: the visible part decides.
    expect(decide(META_ALLOW + rmRf, padded).action).toBe('allow');
    // A visible match is an ordinary match (no note).
    expect(decide(META_ALLOW + rmRf, ['rm', '-rf', '/'], { argvTruncated: true }).reason).not.toContain('cut');
    // _not keys and argv_host_in are argv keys too; the program keys still have to match.
    const askNot = rule('ask-unless-safe', 'ask', 'exe_basename = "curl"\nargv_regex_not = "^curl --version$"');
    expect(decide(META_ALLOW + askNot, ['curl', '--version'], { argvTruncated: true }).action).toBe('ask');
    expect(decide(META_ALLOW + askNot, ['git', '--version'], { argvTruncated: true }).action).toBe('allow');
    const hosts = rule('deny-hosts', 'deny', 'exe_basename = "curl"\nargv_host_in = ["evil.example"]');
    expect(decide(META_ALLOW + hosts, ['curl', 'https://github.com'], { argvTruncated: true }).action).toBe('deny');
    // Other keys are still tested: a cwd the rule does not cover keeps it from matching.
    const inTmp = rule('deny-in-tmp', 'deny', 'exe_basename = "rm"\nargv_contains = "-rf"\ncwd_glob = "/tmp/**"');
    expect(decide(META_ALLOW + inTmp, padded, { argvTruncated: true }).action).toBe('allow');
    expect(decide(META_ALLOW + inTmp, padded, { argvTruncated: true, cwd: '/tmp/x' }).action).toBe('deny');
  });

  it('a cwd the supervisor could not read ("", e.g. longer than PATH_MAX): deny and ask rules on it match, allow rules do not (R38)', () => {
    const denyIn = rule('deny-id-in-ws', 'deny', 'exe_basename = "id"\ncwd_glob = "/ws/**"');
    const unread = decide(META_ALLOW + denyIn, ['id'], { cwd: '' });
    expect(unread).toMatchObject({ action: 'deny', ruleId: 'deny-id-in-ws', cacheable: false });
    expect(unread.reason).toContain('the working directory could not be read');
    expect(decide(META_ALLOW + denyIn, ['id'], { cwd: '/elsewhere' }).action).toBe('allow');
    expect(decide(META_ALLOW + rule('ask-out', 'ask', 'cwd_glob_not = "/ws/**"'), ['id'], { cwd: '' }).action).toBe('ask');
    expect(decide(META_DENY + rule('allow-in-ws', 'allow', 'cwd_glob = "/ws/**"'), ['id'], { cwd: '' }).action).toBe('deny');
    // Both unknown at once: the note names both.
    const both = decide(META_ALLOW + rule('d', 'deny', 'argv_contains = "x"\ncwd_glob = "/ws/**"'), ['id'], { cwd: '', argvTruncated: true });
    expect(both.action).toBe('deny');
    expect(both.reason).toContain('argv was cut');
    expect(both.reason).toContain('working directory');
  });
});

describe('names, symlinks and copies', () => {
  const ALLOW_GIT = META_DENY + rule('allow-git', 'allow', 'exe_basename = "git"');
  const DENY_CURL = META_ALLOW + rule('deny-curl', 'deny', 'exe_basename = "curl"');

  it('ln -s /usr/bin/curl ./git does not match an allow rule for git', () => {
    // The supervisor resolves the link: canonical path is /usr/bin/curl.
    const d = decide(ALLOW_GIT, ['./git'], { requestedPath: './git', exe: file('/usr/bin/curl') });
    expect(d).toMatchObject({ action: 'deny', ruleId: null });
  });

  it('cp /usr/bin/curl /work/ws/git does not match allow git, does match deny curl (by content)', () => {
    const copy = { ...file('/usr/bin/curl'), path: '/work/ws/git', ino: '5000' };
    const ctx = () => fakeContext({ filesystemSealed: true, writableGrants: ['/work/ws', '/tmp'] });
    expect(decide(ALLOW_GIT, ['./git'], { requestedPath: './git', exe: copy }, ctx()).action).toBe('deny');
    expect(decide(DENY_CURL, ['./git'], { requestedPath: './git', exe: copy }, ctx())).toMatchObject({ action: 'deny', ruleId: 'deny-curl' });
    // Not sealed: /work/ws is outside the trusted system roots, same outcome.
    expect(decide(ALLOW_GIT, ['./git'], { requestedPath: './git', exe: copy }).action).toBe('deny');
  });

  it('a copy of curl with bytes appended after its ELF end (prefix hash from the supervisor) is still curl (R34)', () => {
    const curl = file('/usr/bin/curl');
    const padded = { path: '/work/ws/c2', dev: '9', ino: '77', size: curl.size + 1, sha256: '1'.repeat(64), prefix: { size: curl.size, sha256: curl.sha256! } };
    expect(decide(DENY_CURL, ['./c2'], { requestedPath: './c2', exe: padded })).toMatchObject({ action: 'deny', ruleId: 'deny-curl' });
    // A prefix that is not curl's (other bytes, or another size) is an unknown program.
    expect(decide(DENY_CURL, ['./c2'], { requestedPath: './c2', exe: { ...padded, prefix: { size: curl.size, sha256: '2'.repeat(64) } } }).ruleId).toBe(null);
    expect(decide(DENY_CURL, ['./c2'], { requestedPath: './c2', exe: { ...padded, prefix: { size: curl.size - 1, sha256: curl.sha256! } } }).ruleId).toBe(null);
  });

  it('a copy whose content is unknown (no sha256) is not trusted by name', () => {
    const copy = { ...file('/usr/bin/git'), path: '/work/ws/git', ino: '5000' };
    delete copy.sha256;
    expect(decide(ALLOW_GIT, ['./git'], { requestedPath: './git', exe: copy }).action).toBe('deny');
  });

  it('a copy of git made by the agent is still git (same content)', () => {
    const copy = { ...file('/usr/bin/git'), path: '/work/ws/mygit', ino: '5001' };
    expect(decide(ALLOW_GIT, ['./mygit'], { requestedPath: './mygit', exe: copy }).action).toBe('allow');
  });

  it('/bin/sh (canonical /usr/bin/dash) matches exe_basename = "sh"', () => {
    const text = META_DENY + rule('sh', 'allow', 'exe_basename = "sh"');
    expect(decide(text, ['/bin/sh', '-c', 'x']).action).toBe('allow');
    expect(decide(text, ['sh'], { requestedPath: '/usr/bin/dash' }).action).toBe('allow');
  });

  it('python3 matches /usr/bin/python3.11', () => {
    const text = META_DENY + rule('py', 'allow', 'exe_basename = "python3"');
    expect(decide(text, ['python3.11'], { requestedPath: '/usr/bin/python3.11' }).action).toBe('allow');
  });

  it('a file named like a rule in a trusted place matches by name; in a writable place it does not', () => {
    const tool = { path: '/opt/tools/bin/deploy', dev: '7', ino: '1', size: 10 };
    const text = META_DENY + rule('deploy', 'allow', 'exe_basename = "deploy"');
    expect(decide(text, ['deploy'], { requestedPath: '/opt/tools/bin/deploy', exe: tool }).action).toBe('allow');
    const sealed = fakeContext({ filesystemSealed: true, writableGrants: ['/opt/tools'] });
    expect(decide(text, ['deploy'], { requestedPath: '/opt/tools/bin/deploy', exe: tool }, sealed).action).toBe('deny');
    const sealedElsewhere = fakeContext({ filesystemSealed: true, writableGrants: ['/work/ws'] });
    expect(decide(text, ['deploy'], { requestedPath: '/work/deploy', exe: { ...tool, path: '/work/deploy' } }, sealedElsewhere).action).toBe('allow');
  });

  it('deny and ask rules also match the requested name; allow rules never do', () => {
    const harmless = file('/usr/bin/git');
    expect(decide(DENY_CURL, ['./curl'], { requestedPath: './curl', exe: harmless })).toMatchObject({ action: 'deny', ruleId: 'deny-curl' });
    const askCurl = META_ALLOW + rule('ask-curl', 'ask', 'exe_basename = "curl"');
    expect(decide(askCurl, ['curl'], { requestedPath: '/x/curl', exe: harmless }).action).toBe('ask');
    // allow: requested name "git" and argv[0] "git" do not make curl match
    expect(decide(ALLOW_GIT, ['git'], { requestedPath: '/usr/bin/git', exe: file('/usr/bin/curl') }).action).toBe('deny');
    // exe values and globs of deny rules also see the requested path made absolute
    const denyPath = META_ALLOW + rule('d', 'deny', 'exe = "/work/ws/tool"');
    expect(decide(denyPath, ['./tool'], { requestedPath: 'tool', exe: harmless }).action).toBe('deny');
    const denyGlob = META_ALLOW + rule('d', 'deny', 'exe_glob = "/work/ws/bin/*"');
    expect(decide(denyGlob, ['bin/x'], { requestedPath: 'bin/x', exe: harmless }).action).toBe('deny');
    const allowGlob = META_DENY + rule('a', 'allow', 'exe_glob = "/work/ws/bin/*"');
    expect(decide(allowGlob, ['bin/x'], { requestedPath: 'bin/x', exe: harmless }).action).toBe('deny');
  });

  it('an allow rule with exe_basename_not refuses a program called by the excluded name', () => {
    const text = META_DENY + rule('all-but-curl', 'allow', 'exe_basename_not = "curl"');
    expect(decide(text, ['./curl'], { requestedPath: './curl', exe: file('/usr/bin/git') }).action).toBe('deny');
    expect(decide(text, ['git']).action).toBe('allow');
  });

  it('hashes a known program lazily, only for a same-size different file with a hash, once', () => {
    const hashed: string[] = [];
    const ctx = fakeContext({ hashed });
    const ev = policy(META_DENY + rule('g', 'allow', 'exe_basename = "git"'), ctx);
    ev.evaluate(facts(['git']));
    ev.evaluate(facts(['curl']));
    expect(hashed).toEqual([]);
    const copy = { ...file('/usr/bin/git'), path: '/work/ws/g', ino: '77' };
    ev.evaluate(facts(['./g'], { requestedPath: './g', exe: copy }));
    ev.evaluate(facts(['./g'], { requestedPath: './g', exe: copy }));
    expect(hashed).toEqual(['/usr/bin/git']);
  });
});

describe('interpreters and the dynamic loader', () => {
  const text = META_ALLOW
    + rule('deny-python-c', 'deny', 'exe_basename = "python3"\nargv_contains = "-c"\nreason = "inline code"')
    + rule('ask-curl', 'ask', 'exe_basename = "curl"');

  it('evaluates the interpreter as the kernel runs it and keeps the stricter verdict', () => {
    const script = { path: '/work/ws/run.py', dev: '9', ino: '1', size: 10 };
    const d = decide(text, ['./run.py', '-c', 'x'], { requestedPath: './run.py', exe: script, interpreter: { ...file('/usr/bin/python3.11') } });
    expect(d).toMatchObject({ action: 'deny', ruleId: 'deny-python-c', cacheable: false });
    expect(d.reason).toMatch(/^via interpreter \/usr\/bin\/python3\.11 \(rule 'deny-python-c'\): inline code/);
  });

  it('passes the interpreter argument and script path in argv', () => {
    const t = META_ALLOW + rule('env-bash', 'deny', "exe_basename = \"env\"\nargv_regex = '^/usr/bin/env bash \\./s\\.sh a$'");
    const script = { path: '/work/ws/s.sh', dev: '9', ino: '2', size: 10 };
    const d = decide(t, ['./s.sh', 'a'], { requestedPath: './s.sh', exe: script, interpreter: { ...file('/usr/bin/env'), arg: 'bash' } });
    expect(d).toMatchObject({ action: 'deny', ruleId: 'env-bash' });
  });

  it('a script allowed on its own is never cacheable', () => {
    const script = { path: '/work/ws/ok.sh', dev: '9', ino: '3', size: 10 };
    const d = decide(META_ALLOW, ['./ok.sh'], { requestedPath: './ok.sh', exe: script, interpreter: file('/usr/bin/dash') });
    expect(d).toMatchObject({ action: 'allow', cacheable: false });
  });

  it('evaluates the program behind ld-linux with argv from the program on', () => {
    const d = decide(text, ['ld.so', '--library-path', '/x', '/usr/bin/curl', 'https://e.test'], {
      requestedPath: '/lib64/ld-linux-x86-64.so.2',
      loaderTarget: file('/usr/bin/curl'),
    });
    expect(d).toMatchObject({ action: 'ask', ruleId: 'ask-curl', cacheable: false });
    expect(d.reason).toContain('via dynamic loader');
    const argvRule = META_ALLOW + rule('d', 'deny', "exe_basename = \"curl\"\nargv_regex = '^/usr/bin/curl https://e\\.test$'");
    expect(decide(argvRule, ['ld.so', '/usr/bin/curl', 'https://e.test'], { requestedPath: '/lib64/ld-linux-x86-64.so.2', loaderTarget: file('/usr/bin/curl') }).action).toBe('deny');
  });

  it('follows a #! chain: every level is judged, with the argv the kernel gives it', () => {
    const outer = { path: '/work/ws/outer', dev: '9', ino: '5', size: 10 };
    const inner = { path: '/work/ws/inner', dev: '9', ino: '6', size: 10, name: './inner', kind: 'script' as const };
    const curl = { ...file('/usr/bin/curl'), name: '/usr/bin/curl', arg: '-s', kind: 'script' as const };
    const chain = { requestedPath: './outer', exe: outer, interpreter: inner, interpreters: [inner, curl] };
    const d = decide(text, ['./outer', 'https://e.test'], chain);
    expect(d).toMatchObject({ action: 'ask', ruleId: 'ask-curl', cacheable: false });
    expect(d.reason).toContain('via interpreter /usr/bin/curl');
    // binfmt_script at each level: name [arg] <the previous level's name> …, the script's path for argv[0].
    const exact = META_ALLOW + rule('exact', 'deny', "exe_basename = \"curl\"\nargv_regex = '^/usr/bin/curl -s \\./inner \\./outer https://e\\.test$'");
    expect(decide(exact, ['./outer', 'https://e.test'], chain)).toMatchObject({ action: 'deny', ruleId: 'exact' });
    // A binfmt_misc handler: name file argv[1…], or with P name file argv[0] argv[1…].
    const misc = { ...file('/usr/bin/curl'), name: '/usr/bin/curl', kind: 'misc' as const };
    const bin = { path: '/work/ws/x.bin', dev: '9', ino: '8', size: 10 };
    const exactMisc = META_ALLOW + rule('m', 'deny', "exe_basename = \"curl\"\nargv_regex = '^/usr/bin/curl \\./x\\.bin -v$'");
    expect(decide(exactMisc, ['x', '-v'], { requestedPath: './x.bin', exe: bin, interpreter: misc, interpreters: [misc] })).toMatchObject({ action: 'deny', ruleId: 'm' });
    const exactP = META_ALLOW + rule('p', 'deny', "exe_basename = \"curl\"\nargv_regex = '^/usr/bin/curl \\./x\\.bin x -v$'");
    const miscP = { ...misc, preserveArgv0: true };
    expect(decide(exactP, ['x', '-v'], { requestedPath: './x.bin', exe: bin, interpreter: miscP, interpreters: [miscP] })).toMatchObject({ action: 'deny', ruleId: 'p' });
    expect(decide(text, ['x'], { requestedPath: './x.bin', exe: bin, interpreter: misc, interpreters: [misc] }).reason).toContain('via binfmt_misc interpreter /usr/bin/curl');
    // An ELF interpreter (PT_INTERP) runs with the program's own argv.
    const elf = { ...file('/usr/bin/curl'), name: '/usr/bin/curl', kind: 'elf' as const };
    const prog = { path: '/work/ws/prog', dev: '9', ino: '7', size: 10 };
    const e = decide(text, ['./prog'], { requestedPath: './prog', exe: prog, interpreter: elf, interpreters: [elf] });
    expect(e).toMatchObject({ action: 'ask', ruleId: 'ask-curl' });
    expect(e.reason).toContain('via ELF interpreter /usr/bin/curl');
  });

  it('a dynamic loader whose program could not be resolved is refused by the gate, before any rule', () => {
    const d = decide(META_ALLOW, ['ld.so', 'fetch'], { requestedPath: '/lib64/ld-linux-x86-64.so.2', loaderUnresolved: 'the dynamic loader would search for fetch and find nothing' });
    expect(d).toMatchObject({ action: 'deny', ruleId: null, layer: 'gate', cacheable: false });
    expect(d.reason).toContain('cannot be resolved to one file (the dynamic loader would search for fetch and find nothing)');
  });

  it('with an execute set: anonymous files and programs outside it are refused by the gate, everything else goes to the rules', () => {
    const ev = policy(text);
    ev.executeSet = { explicit: true, handled: true, covers: (p) => p.startsWith('/usr/') };
    const memfd = { path: '/memfd:x (deleted)', dev: '1', ino: '2', size: 3, nlink: 0 };
    expect(ev.evaluate(facts(['x'], { requestedPath: '', exe: memfd }))).toMatchObject({ action: 'deny', layer: 'gate' });
    const unlinked = { path: '/usr/bin/gone (deleted)', dev: '1', ino: '3', size: 3, nlink: 0 };
    expect(ev.evaluate(facts(['x'], { requestedPath: '/proc/self/fd/3', exe: unlinked })).reason).toContain('anonymous or deleted file');
    const outside = { path: '/work/ws/tool', dev: '1', ino: '4', size: 3, nlink: 1 };
    expect(ev.evaluate(facts(['./tool'], { requestedPath: './tool', exe: outside })).reason).toBe('the program (/work/ws/tool) is outside the execute set (execute_globs)');
    const viaLd = ev.evaluate(facts(['ld.so', '/work/ws/tool'], { requestedPath: '/lib64/ld-linux-x86-64.so.2', loaderTarget: outside }));
    expect(viaLd).toMatchObject({ action: 'deny', layer: 'gate' });
    expect(viaLd.reason).toContain('the program the dynamic loader would map (/work/ws/tool) is outside the execute set');
    expect(ev.evaluate(facts(['git', 'status']))).toMatchObject({ action: 'allow', layer: 'default' });
    // Without an execute set a nameless file is judged by the rules like any other (by its content).
    ev.executeSet = { explicit: false, handled: false, covers: () => true };
    expect(ev.evaluate(facts(['x'], { requestedPath: '', exe: memfd }))).toMatchObject({ action: 'allow', layer: 'default' });
  });

  it('a stricter verdict on the script itself stays', () => {
    const t = META_ALLOW + rule('deny-script', 'deny', 'exe_glob = "/work/**"');
    const script = { path: '/work/ws/x.sh', dev: '9', ino: '4', size: 10 };
    expect(decide(t, ['./x.sh'], { requestedPath: './x.sh', exe: script, interpreter: file('/usr/bin/dash') })).toMatchObject({ action: 'deny', ruleId: 'deny-script' });
  });
});

describe('cacheable', () => {
  const text = META_DENY
    + rule('git-status', 'allow', 'exe_basename = "git"\nargv_regex = "status"')
    + rule('curl', 'deny', 'exe_basename = "curl"')
    + rule('dash', 'allow', 'exe = "/usr/bin/dash"')
    + rule('ask-bash', 'ask', 'exe_basename = "bash"');

  it('program-only rules give cacheable verdicts', () => {
    expect(decide(text, ['curl'])).toMatchObject({ ruleId: 'curl', cacheable: true });
    expect(decide(text, ['/bin/sh'])).toMatchObject({ ruleId: 'dash', cacheable: true });
  });

  it('a verdict after a rule whose program keys matched but others did not is not cacheable', () => {
    expect(decide(text, ['git', 'status'])).toMatchObject({ ruleId: 'git-status', cacheable: false });
    expect(decide(text, ['git', 'push'])).toMatchObject({ ruleId: null, cacheable: false });
  });

  it('the default is cacheable when every rule was skipped on its program keys', () => {
    expect(decide(text, ['rm', 'x'])).toMatchObject({ ruleId: null, action: 'deny', cacheable: true });
  });

  it('ask is never cacheable', () => {
    expect(decide(text, ['bash'])).toMatchObject({ action: 'ask', cacheable: false });
  });

  it('a match through the requested name is not cacheable', () => {
    expect(decide(text, ['./curl'], { requestedPath: './curl', exe: file('/usr/bin/rm') })).toMatchObject({ ruleId: 'curl', cacheable: false });
  });

  it('a rule without program keys makes later verdicts uncacheable', () => {
    const t = META_DENY + rule('cwd', 'deny', 'cwd_glob = "/secret/**"') + rule('g', 'allow', 'exe_basename = "git"');
    expect(decide(t, ['git'])).toMatchObject({ ruleId: 'g', cacheable: false });
  });
});

describe('memoised program plans', () => {
  it('keep requested names, cwd and content apart across execs of one evaluator', () => {
    const ev = policy(META_ALLOW + rule('deny-curl', 'deny', 'exe_basename = "curl"') + rule('deny-x', 'deny', 'exe = "/work/a/x"'));
    const rm = file('/usr/bin/rm');
    expect(ev.evaluate(facts(['./curl'], { requestedPath: './curl', exe: rm })).ruleId).toBe('deny-curl');
    expect(ev.evaluate(facts(['rm'], { requestedPath: '/usr/bin/rm', exe: rm })).ruleId).toBe(null);
    expect(ev.evaluate(facts(['./curl'], { requestedPath: './curl', exe: rm })).ruleId).toBe('deny-curl');
    // The same relative path means different files in different directories.
    expect(ev.evaluate(facts(['./x'], { requestedPath: './x', exe: rm, cwd: '/work/a' })).ruleId).toBe('deny-x');
    expect(ev.evaluate(facts(['./x'], { requestedPath: './x', exe: rm, cwd: '/work/b' })).ruleId).toBe(null);
    // A file rewritten in place (same path and inode, new content) is identified anew.
    const planted = { path: '/work/ws/tool', dev: '9', ino: '9', size: 3000, sha256: '0'.repeat(64) };
    expect(ev.evaluate(facts(['./tool'], { requestedPath: './tool', exe: planted })).ruleId).toBe(null);
    expect(ev.evaluate(facts(['./tool'], { requestedPath: './tool', exe: { ...planted, sha256: file('/usr/bin/curl').sha256! } })).ruleId).toBe('deny-curl');
  });

  it('argv-dependent rules are still evaluated per exec', () => {
    const ev = policy(META_DENY + rule('git-status', 'allow', 'exe_basename = "git"\nargv_regex = "^git status"'));
    expect(ev.evaluate(facts(['git', 'status'])).action).toBe('allow');
    expect(ev.evaluate(facts(['git', 'push'])).action).toBe('deny');
    expect(ev.evaluate(facts(['git', 'status'])).action).toBe('allow');
  });
});

describe('on_policy_error', () => {
  it('an evaluation error gives on_policy_error\'s action with a reason, never a throw', () => {
    const ctx = fakeContext();
    ctx.hashProgram = () => {
      throw new Error('EIO reading /usr/bin/git');
    };
    const text = '[meta]\ndefault_action = "allow"\non_policy_error = "deny"\n' + rule('g', 'deny', 'exe_basename = "git"');
    const copy = { ...file('/usr/bin/git'), path: '/work/ws/g', ino: '55' };
    const d = policy(text, ctx).evaluate(facts(['./g'], { requestedPath: './g', exe: copy }));
    expect(d).toMatchObject({ action: 'deny', ruleId: null, cacheable: false });
    expect(d.reason).toContain('policy evaluation failed (EIO reading /usr/bin/git); on_policy_error is "deny"');
  });
});

describe('warmUp', () => {
  it('runs without touching verdicts or the fake machine\'s hashes', () => {
    const hashed: string[] = [];
    const ev = policy(META_DENY + rule('g', 'allow', 'exe_basename = "git"\nargv_regex = "status"'), fakeContext({ hashed }));
    ev.warmUp();
    expect(hashed).toEqual([]);
    expect(ev.evaluate(facts(['git', 'status'])).action).toBe('allow');
    expect(ev.evaluate(facts(['git', 'push'])).action).toBe('deny');
  });
});

describe('content sizes (HASH_SIZES)', () => {
  it('are the sizes of the programs the rules know by content (exe, exe_basename), each once, sorted', () => {
    const ev = policy(
      META_ALLOW +
        rule('a', 'deny', 'exe_basename = ["curl", "git", "no-such-program"]') +
        rule('b', 'ask', 'exe = "/bin/sh"') +
        rule('c', 'allow', 'exe_basename = "git"') +
        rule('d', 'allow', 'exe_glob = "/usr/bin/*"\nargv_regex = "x"'),
    );
    expect(ev.contentSizes()).toEqual([1250, 3000, 4000]);
    expect(policy(META_ALLOW + rule('g', 'allow', 'exe_glob = "/opt/**"')).contentSizes()).toEqual([]);
  });
});
