// System V IPC (red-team R33): shared memory, message queues and semaphores are found by key or id, with no path
// for Landlock to check. A root agent runs in an IPC namespace of its own (native/src/mountns.c): the segments
// and queues of processes outside are not there; its own work. Real CLI, supervisor and kernel, as root.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDirs, prepare, runCli } from './gate-progs/cli';
import { runOutside, startOutside, stopAllOutside } from './gate-progs/outside';

const PY = '/usr/bin/python3';
let dirs: ReturnType<typeof makeDirs>;
const KEY = 0x5a000000 + (process.pid & 0xffff);

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('gate-ipc runs as root (the IPC namespace is a root agent\'s)');
  await prepare();
  dirs = makeDirs('ipc');
});
afterAll(() => {
  stopAllOutside();
  runOutside(['ipcrm', '-M', String(KEY)]);
  runOutside(['ipcrm', '-Q', String(KEY + 1)]);
  dirs?.cleanup();
});

// ctypes: shmget/shmat and msgget/msgsnd by key, as an outside process and the agent would call them.
const LIB = `import ctypes, os, sys
l = ctypes.CDLL(None, use_errno=True)
l.shmat.restype = ctypes.c_void_p
def err(): return os.strerror(ctypes.get_errno())
`;

describe("gate: System V IPC of processes outside the gate", () => {
  it("a root agent finds neither the shared memory nor the message queue of a root process outside; its own IPC works", async () => {
    const outside = `${LIB}
shm = l.shmget(${KEY}, 4096, 0o1600)
p = l.shmat(shm, None, 0)
ctypes.memmove(p, b'OUTSIDE-SECRET', 14)
q = l.msgget(${KEY + 1}, 0o1600)
print('READY', shm, q, flush=True)
import time; time.sleep(120)`;
    const o = await startOutside([PY, '-c', outside], { ready: /READY \d+ \d+/ });
    const [, shmid, qid] = /READY (\d+) (\d+)/.exec(o.output()) ?? [];
    const agent = `${LIB}
shm = l.shmget(${KEY}, 0, 0)
print('RESULT shmget-key', 'ok' if shm >= 0 else err(), flush=True)
p = l.shmat(${shmid}, None, 0)
print('RESULT shmat-id', 'ok ' + ctypes.string_at(p, 14).decode() if p not in (None, ctypes.c_void_p(-1).value) else err(), flush=True)
q = l.msgget(${KEY + 1}, 0)
print('RESULT msgget-key', 'ok' if q >= 0 else err(), flush=True)
buf = ctypes.create_string_buffer(b'\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00from-the-agent')
print('RESULT msgsnd-id', 'ok' if l.msgsnd(${qid}, buf, 14, 0o4000) == 0 else err(), flush=True)
own = l.shmget(0, 4096, 0o1600)
mine = l.shmat(own, None, 0)
ctypes.memmove(mine, b'mine', 4)
print('RESULT own', ctypes.string_at(mine, 4).decode(), flush=True)
`;
    fs.writeFileSync(path.join(dirs.ws, 'ipc.py'), agent);
    const policy = path.join(dirs.ws, '.gate.toml');
    fs.writeFileSync(policy, `[meta]\nversion = 1\ndefault_action = "allow"\n[filesystem]\nread_globs = ["/**"]\nwrite_globs = ["\${WORKSPACE}/**"]\n`);
    const r = await runCli([PY, 'ipc.py'], { policy, audit: dirs.audit('ipc'), cwd: dirs.ws });
    const results = r.stdout.split('\n').filter((l) => l.startsWith('RESULT'));
    expect(results, r.stderr).toEqual([
      'RESULT shmget-key No such file or directory',
      'RESULT shmat-id Invalid argument',
      'RESULT msgget-key No such file or directory',
      'RESULT msgsnd-id Invalid argument',
      'RESULT own mine',
    ]);
    // Control: the same program outside the gate reads the secret and reaches the queue.
    const ctl = runOutside([PY, path.join(dirs.ws, 'ipc.py')]);
    expect(ctl.stdout).toContain('RESULT shmat-id ok OUTSIDE-SECRET');
    expect(ctl.stdout).toContain('RESULT msgsnd-id ok');
    o.stop();
  });
});
