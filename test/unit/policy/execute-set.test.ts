// The execute set the supervisor applies: which files a program-only deny makes the kernel refuse, and the
// Landlock grants that leave exactly those out (execute-set.ts). On a fake machine (helpers.ts) with a fake
// directory tree, so every grant is known.
import { describe, expect, it } from 'vitest';
import { planExecuteSet, type PlanIo } from '../../../src/core/policy/execute-set';
import { FILES, META_ALLOW, META_DENY, policy, rule } from './helpers';

type Node = { kind: 'dir' } | { kind: 'file'; dev: number; ino: number; size: number; nlink: number } | { kind: 'link'; to: string };

/** The fake machine's files (helpers.FILES, dev 2049 = 8:1), plus what a split walks past. */
function tree(extra: Record<string, Node> = {}): Record<string, Node> {
  const t: Record<string, Node> = {
    '/': { kind: 'dir' },
    '/usr': { kind: 'dir' },
    '/usr/bin': { kind: 'dir' },
    '/usr/lib': { kind: 'dir' },
    '/usr/lib/x86_64-linux-gnu': { kind: 'dir' },
    '/usr/share': { kind: 'dir' },
    '/bin': { kind: 'link', to: '/usr/bin' },
    '/tmp': { kind: 'dir' },
    '/work': { kind: 'dir' },
    '/usr/bin/sh': { kind: 'link', to: '/usr/bin/dash' },
    '/usr/bin/python3': { kind: 'link', to: '/usr/bin/python3.11' },
  };
  for (const f of Object.values(FILES)) t[f.path] = { kind: 'file', dev: Number(f.dev), ino: Number(f.ino), size: f.size, nlink: 1 };
  return { ...t, ...extra };
}

function fakeIo(t: Record<string, Node>, mountinfo = '22 1 8:1 / / rw - ext4 /dev/vda rw\n'): PlanIo {
  const real = (p: string): string | null => {
    const n = t[p];
    if (!n) {
      // A path under a symlinked directory.
      for (const [k, v] of Object.entries(t)) if (v.kind === 'link' && p.startsWith(`${k}/`)) return real(v.to + p.slice(k.length));
      return null;
    }
    return n.kind === 'link' ? real(n.to) : p;
  };
  return {
    lstat(p) {
      const n = t[p];
      if (!n) return null;
      if (n.kind === 'file') return { dev: n.dev, ino: n.ino, size: n.size, nlink: n.nlink, dir: false, file: true, link: false };
      return { dev: 2049, ino: 1, size: 0, nlink: 1, dir: n.kind === 'dir', file: false, link: n.kind === 'link' };
    },
    readdir(p) {
      const prefix = p === '/' ? '/' : `${p}/`;
      return Object.keys(t).filter((k) => k !== p && k.startsWith(prefix) && !k.slice(prefix.length).includes('/')).map((k) => k.slice(prefix.length));
    },
    realpath: real,
    mountinfo: () => mountinfo,
  };
}

/** The same machine, listing each directory with its entries' types (d_type), as DEFAULT_PLAN_IO does. */
function typedIo(t: Record<string, Node>, mountinfo?: string): PlanIo & { lstats: string[] } {
  const io = fakeIo(t, mountinfo);
  const lstats: string[] = [];
  return {
    ...io,
    lstats,
    lstat(p) {
      lstats.push(p);
      return io.lstat(p);
    },
    readdirTypes: (p) => io.readdir(p).map((name) => {
      const n = t[p === '/' ? `/${name}` : `${p}/${name}`];
      return { name, type: !n ? 'unknown' : n.kind };
    }),
  };
}

const DENY_CURL = META_ALLOW + rule('no-curl', 'deny', 'exe_basename = "curl"');

function plan(text: string, t = tree(), mountinfo?: string) {
  const ev = policy(text);
  return planExecuteSet(ev.policy, ev, fakeIo(t, mountinfo));
}

describe('execute set: denies the kernel enforces', () => {
  it('a program-only deny leaves that file out of an execute set that otherwise covers everything', () => {
    const p = plan(DENY_CURL);
    expect(p.excluded).toEqual([{ path: '/usr/bin/curl', ruleId: 'no-curl' }]);
    expect(p.fs?.handled).toBe('x');
    const x = p.fs!.grants.map((g) => g.path);
    // Every directory on the way to curl is split; everything else keeps execute; symlinks need no grant.
    expect(x).toEqual(['/tmp', '/usr/bin/bash', '/usr/bin/dash', '/usr/bin/env', '/usr/bin/git', '/usr/bin/python3.11', '/usr/bin/rm', '/usr/lib', '/usr/share', '/work']);
    expect(p.fs!.grants.every((g) => g.rights === 'x')).toBe(true);
    expect(p.rules).toBe(10);
    expect(p.splitRules).toBe(10);
  });

  it('a hard link met on the way is left out as well; one not found is reported', () => {
    const curl = FILES['/usr/bin/curl']!;
    const linked = { kind: 'file' as const, dev: 2049, ino: Number(curl.ino), size: curl.size, nlink: 3 };
    const p = plan(DENY_CURL, tree({ '/usr/bin/curl': linked, '/usr/bin/fetch': linked }));
    expect(p.excluded.map((e) => e.path).sort()).toEqual(['/usr/bin/curl', '/usr/bin/fetch']);
    expect(p.fs!.grants.map((g) => g.path)).not.toContain('/usr/bin/fetch');
    expect(p.warnings).toEqual(['/usr/bin/curl has 3 hard links and 2 were found where the execute set was split: a racing exec could still reach it through the others']);
  });

  it('listing entry types (no stat per entry) gives the same grants; a file with more links than found is still searched with a stat each', () => {
    const ev = policy(DENY_CURL);
    const typed = typedIo(tree());
    expect(planExecuteSet(ev.policy, ev, typed).fs).toEqual(plan(DENY_CURL).fs);
    // Only the candidates were stat'ed, not the entries of the split directories.
    expect(typed.lstats.filter((p) => !Object.keys(FILES).includes(p))).toEqual([]);
    const curl = FILES['/usr/bin/curl']!;
    const linked = { kind: 'file' as const, dev: 2049, ino: Number(curl.ino), size: curl.size, nlink: 2 };
    const t = tree({ '/usr/bin/curl': linked, '/usr/bin/fetch': linked });
    const p = planExecuteSet(ev.policy, ev, typedIo(t));
    expect(p.excluded.map((e) => e.path).sort()).toEqual(['/usr/bin/curl', '/usr/bin/fetch']);
    expect(p.fs).toEqual(plan(DENY_CURL, t).fs);
    expect(p.warnings).toEqual([]);
    // Seen through a bind mount, the file's links there are searched too (a stat per entry).
    const mountinfo = '22 1 8:1 / / rw - ext4 /dev/vda rw\n40 22 8:1 /usr/bin /mnt/tools rw - ext4 /dev/vda rw\n';
    const m = tree({ '/usr/bin/curl': linked, '/usr/bin/fetch': linked, '/mnt': { kind: 'dir' }, '/mnt/tools': { kind: 'dir' }, '/mnt/tools/curl': linked, '/mnt/tools/fetch': linked });
    const bound = planExecuteSet(ev.policy, ev, typedIo(m, mountinfo));
    expect(bound.fs).toEqual(plan(DENY_CURL, m, mountinfo).fs);
    expect(bound.fs!.grants.map((g) => g.path)).not.toContain('/mnt/tools/fetch');
  });

  it('the same file through a bind mount is left out there too', () => {
    const mountinfo = '22 1 8:1 / / rw - ext4 /dev/vda rw\n40 22 8:1 /usr/bin /mnt/tools rw - ext4 /dev/vda rw\n';
    const t = tree({ '/mnt': { kind: 'dir' }, '/mnt/tools': { kind: 'dir' }, '/mnt/tools/curl': { kind: 'file', dev: 2049, ino: 101, size: 3000, nlink: 1 }, '/mnt/tools/git': { kind: 'file', dev: 2049, ino: 100, size: 4000, nlink: 1 } });
    const p = plan(DENY_CURL, t, mountinfo);
    expect(p.excluded.map((e) => e.path)).toEqual(['/usr/bin/curl', '/mnt/tools/curl']);
    const x = p.fs!.grants.map((g) => g.path);
    expect(x).toContain('/mnt/tools/git');
    expect(x).not.toContain('/mnt/tools/curl');
    expect(x).not.toContain('/mnt');
  });

  it('with execute_globs, the policy execute grants above a denied file lose x and are split; the others stay', () => {
    const text = META_ALLOW + '[filesystem]\nread_globs = ["/**"]\nwrite_globs = ["/work/**"]\nexecute_globs = ["/usr/**", "/work/bin/**"]\nno_bootstrap_reads = true\n' + rule('no-curl', 'deny', 'exe_basename = "curl"');
    const p = plan(text);
    // read_globs = ["/**"] is split around /dev (landlock.ts), so reads are handled too.
    expect(p.fs?.handled).toBe('rwx');
    const byPath = new Map(p.fs!.grants.map((g) => [g.path, g.rights]));
    expect(byPath.get('/usr')).toBe('r'); // its x, now split; its read stays
    expect(byPath.get('/work/bin')).toBe('x');
    expect(byPath.get('/work')).toBe('rw');
    expect(byPath.get('/usr/bin/git')).toBe('x');
    expect(byPath.get('/usr/share')).toBe('x');
    expect(byPath.has('/usr/bin/curl')).toBe(false);
    expect(byPath.get('/tmp') ?? '').not.toContain('x'); // outside the policy's execute set: nothing added
  });

  it('only denies no exec could escape: an earlier allow or ask that could match keeps the file executable', () => {
    // An allow rule on curl with an argv key: some curl execs are allowed.
    expect(plan(META_ALLOW + rule('gh', 'allow', 'exe_basename = "curl"\nargv_host_in = ["github.com"]') + rule('no-curl', 'deny', 'exe_basename = "curl"')).excluded).toEqual([]);
    // An ask rule matches by the requested name too (ln -s /usr/bin/curl ./wget): the user could allow it.
    expect(plan(META_ALLOW + rule('ask-wget', 'ask', 'exe_basename = "wget"') + rule('no-curl', 'deny', 'exe_basename = "curl"')).excluded).toEqual([]);
    // …unless its negated program key rules curl out by identity.
    expect(plan(META_ALLOW + rule('ask-not-curl', 'ask', 'exe_basename_not = "curl"') + rule('no-curl', 'deny', 'exe_basename = "curl"')).excluded.map((e) => e.path)).toEqual(['/usr/bin/curl']);
    // An allow rule for another program, or a deny with more keys, does not matter.
    expect(plan(META_ALLOW + rule('git', 'allow', 'exe_basename = "git"') + rule('rm', 'deny', 'exe_basename = "rm"\nargv_contains = "-rf"') + rule('no-curl', 'deny', 'exe_basename = "curl"')).excluded.map((e) => e.path)).toEqual(['/usr/bin/curl']);
    // A deny with argv keys is not the kernel's: nothing to leave out, the policy's grants stand.
    const argvOnly = plan(META_ALLOW + rule('rm', 'deny', 'exe_basename = "rm"\nargv_contains = "-rf"'));
    expect(argvOnly).toMatchObject({ excluded: [], fs: null });
  });

  it('exe and exe_glob name files too; the default action does not', () => {
    expect(plan(META_ALLOW + rule('p', 'deny', 'exe = "/bin/bash"')).excluded.map((e) => e.path)).toEqual(['/usr/bin/bash']);
    expect(plan(META_ALLOW + rule('g', 'deny', 'exe_glob = "/usr/bin/python*"')).excluded.map((e) => e.path)).toEqual(['/usr/bin/python3.11']);
    expect(plan(META_DENY + rule('git', 'allow', 'exe_basename = "git"')).excluded).toEqual([]);
  });
});
