// The user's own start-up files in the home directory: what the user's next ordinary step runs without choosing
// to — a new shell, a login, git, ssh, pip, a desktop session, an editor — outside the gate (red-team R109).
// The default policy grants none of them; they become writable when the workspace is the home directory (or
// holds it), when a dotfiles repository in the workspace is what they link to (stow, yadm), or under a policy
// that does not seal writes. Then the workspace guard keeps each whole: any change put back at once, the agent's
// version kept for review (class `home-startup`).
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Files, relative to $HOME. */
const FILES = [
  // Shells: interactive, login, logout (bash, zsh, sh), readline; PAM's and X's session environment.
  '.bashrc', '.bash_profile', '.bash_login', '.bash_logout', '.bash_aliases', '.profile', '.zshrc', '.zshenv', '.zprofile', '.zlogin',
  '.zlogout', '.kshrc', '.mkshrc', '.inputrc', '.pam_environment', '.xprofile', '.xsessionrc', '.xsession', '.xinitrc',
  // Tools that run commands their config names: git (fsmonitor, pager, aliases…), ssh (ProxyCommand,
  // LocalCommand, Match exec), npm/yarn (script-shell, node-options), curl/wget (proxies, outputs), pip (index:
  // what it installs), tmux/screen (run-shell), vim/emacs/gdb init files, the Python start-up a PYTHONSTARTUP names.
  '.gitconfig', '.config/git/config', '.config/git/attributes', '.ssh/config', '.ssh/rc', '.ssh/environment', '.ssh/authorized_keys',
  '.npmrc', '.yarnrc', '.yarnrc.yml', '.curlrc', '.wgetrc', '.config/pip/pip.conf', '.pip/pip.conf', '.pydistutils.cfg',
  '.tmux.conf', '.config/tmux/tmux.conf', '.screenrc', '.vimrc', '.exrc', '.gvimrc', '.emacs', '.emacs.d/init.el', '.gdbinit', '.pythonrc', '.pythonrc.py',
  '.direnvrc', '.config/direnv/direnvrc', '.config/starship.toml', '.tool-versions', '.config/mise/config.toml', '.envrc',
];
/** Directories, relative to $HOME, kept whole: what is in them runs (fish's and systemd's drop-ins, XDG autostart,
 *  login environment, editors' init and plugins, the user's own programs on PATH). */
const DIRS = [
  '.config/fish', '.config/autostart', '.config/systemd/user', '.config/environment.d', '.config/nvim', '.vim',
  '.config/direnv/lib', '.config/git/hooks', '.local/bin', '.bashrc.d', '.zshrc.d', '.oh-my-zsh/custom',
];

export interface HomeStartupPath {
  /** Where it is guarded: the file itself when a symlink leads to it (a dotfiles repository). */
  path: string;
  /** As the user knows it: `~/.bashrc`. */
  rel: string;
  kind: 'file' | 'dir';
}

/** The user's start-up files and directories under `home`, each where it really is (followed through
 *  symlinks, as the shell reading it would); those that do not exist are guarded where they would be made. */
export function homeStartupPaths(home: string): HomeStartupPath[] {
  if (!home || home === '/') return [];
  const out: HomeStartupPath[] = [];
  const add = (rel: string, kind: 'file' | 'dir'): void => {
    const at = path.join(home, rel);
    // Most are absent: a plain lstat says so without an exception (this runs at every start).
    let real = at;
    try {
      const there = fs.lstatSync(at, { throwIfNoEntry: false }) ? at : fs.lstatSync(path.dirname(at), { throwIfNoEntry: false }) ? path.dirname(at) : null;
      if (there) real = there === at ? fs.realpathSync(at) : path.join(fs.realpathSync(there), path.basename(at));
    } catch {
      // A dangling link, or a home this user cannot look into (EACCES: then the agent cannot write it either):
      // guarded where it would be made.
    }
    if (!out.some((x) => x.path === real)) out.push({ path: real, rel: `~/${rel}`, kind });
  };
  for (const f of FILES) add(f, 'file');
  for (const d of DIRS) add(d, 'dir');
  return out;
}
