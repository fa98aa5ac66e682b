import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { FilesystemPolicy } from '../../../src/core/policy/types';
import { makeSocketDir, removeSocketDir, SOCKET_DIR_MAX_LENGTH, socketDirCandidates, socketDirRights, socketParentProblem } from '../../../src/core/session/socket-dir';
import { withSocketDir } from '../../../src/core/session/session';
import { encodeConfig } from '../../../src/core/session/wire';

const sealed = (writes: string[], handled = 'rw', x: string[] = []): FilesystemPolicy => ({
  enabled: true,
  handled,
  requireEnforced: true,
  grants: [...writes.map((p) => ({ path: p, rights: 'w', source: 'write_globs', widened: false })), ...x.map((p) => ({ path: p, rights: 'x', source: 'execute_globs', widened: false }))],
});

const tmpRoots: string[] = [];
afterEach(() => {
  for (const d of tmpRoots.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe("the session's socket directory (R31)", () => {
  it('goes in the state directory, else the runtime directory, else beside the audit log', () => {
    expect(socketDirCandidates({ XDG_RUNTIME_DIR: '/run/user/1000', HOME: '/home/u' }, '/logs/a.jsonl')).toEqual([
      path.join(os.homedir(), '.local', 'state', 'agent-gate'),
      '/run/user/1000/agent-gate',
      '/logs',
    ]);
    expect(socketDirCandidates({ XDG_RUNTIME_DIR: 'relative', XDG_STATE_HOME: '/st' }, '/st/agent-gate/a.jsonl')).toEqual(['/st/agent-gate']);
  });

  it('never under a write grant: its Landlock rule would move with it when the agent renames it', () => {
    const fsp = sealed(['/home/u/ws', '/tmp']);
    const id = (p: string): string => p;
    expect(socketParentProblem('/tmp/agent-gate', fsp, id)).toMatch(/inside the write grant \/tmp/);
    expect(socketParentProblem('/tmp', fsp, id)).toMatch(/inside the write grant \/tmp/);
    expect(socketParentProblem('/home/u/.local/state/agent-gate', fsp, id)).toBeNull();
    // Writes not sealed: nothing is out of reach, any place does.
    expect(socketParentProblem('/tmp/x', { ...fsp, enabled: false }, id)).toBeNull();
  });

  it("gets 'x' only when execution is sealed and the agent may run programs from its usual temporary directory", () => {
    expect(socketDirRights(sealed(['/tmp']), {})).toBe('rws');
    expect(socketDirRights(sealed(['/tmp'], 'rwx', ['/tmp']), {})).toBe('rwxs');
    expect(socketDirRights(sealed(['/tmp'], 'rwx', ['/usr']), {})).toBe('rws');
    expect(socketDirRights(sealed(['/t2'], 'rwx', ['/t2']), { TMPDIR: '/t2/me' })).toBe('rwxs');
  });

  it('is made 0700 in the first candidate out of reach, and removed', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sockdir-'));
    tmpRoots.push(root);
    const writable = path.join(root, 'w');
    const safe = path.join(root, 'safe', 'agent-gate');
    const made = makeSocketDir(sealed([writable]), [path.join(writable, 'agent-gate'), safe], {});
    expect(made.path?.startsWith(path.join(safe, 's-'))).toBe(true);
    expect(fs.statSync(made.path as string).mode & 0o777).toBe(0o700);
    expect(made.warnings).toEqual([]);
    fs.writeFileSync(path.join(made.path as string, 'f'), '');
    expect(removeSocketDir(made.path as string)).toBeNull();
    expect(fs.existsSync(made.path as string)).toBe(false);
  });

  it('none out of reach: no directory (sockets nowhere), said in words; a long one is warned about', () => {
    const none = makeSocketDir(sealed(['/']), ['/x/agent-gate'], {});
    expect(none.path).toBeNull();
    expect(none.warnings[0]).toMatch(/can make no socket or FIFO anywhere, and TMPDIR is left as it was/);
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sockdir-'));
    tmpRoots.push(root);
    const deep = path.join(root, 'x'.repeat(SOCKET_DIR_MAX_LENGTH));
    const long = makeSocketDir(sealed([]), [deep], {});
    expect(long.path).not.toBeNull();
    expect(long.warnings[0]).toMatch(/characters long: socket paths under it may not fit/);
    // A shorter place out of reach further down the list is taken first.
    const short = makeSocketDir(sealed([]), [deep, path.join(root, 'short')], {});
    expect(path.dirname(short.path as string)).toBe(path.join(root, 'short'));
    expect(short.warnings).toEqual([]);
  });

  it("TMPDIR, TMUX_TMPDIR and SQLITE_TMPDIR name it; the policy's own [env] set comes after and wins", () => {
    const env = withSocketDir({ remove: [], pass: [], set: [['TMPDIR', '/mine']] }, { path: '/s' });
    expect(env.set).toEqual([
      ['TMPDIR', '/s'],
      ['TMUX_TMPDIR', '/s'],
      ['SQLITE_TMPDIR', '/s'],
      ['TMPDIR', '/mine'],
    ]);
    expect(withSocketDir(undefined, undefined).set).toEqual([]);
  });

  it("is sent as an 's' grant, with or without [filesystem]", () => {
    const text = encodeConfig({ fs: null, net: null, socketDir: { path: '/s', rights: 'rws' }, require: { fs: false, net: false }, timeout: { ms: 0, action: 'allow' } }, []);
    expect(text).toContain(`FS rights=rws path=${Buffer.from('/s').toString('hex')}\n`);
    expect(text).not.toContain('FS_HANDLED');
  });
});
