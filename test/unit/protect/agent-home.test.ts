// The agent-home guard's logic on a real directory (no gate): which files, what counts as a change to a key
// that runs something, how a file is put back. The gate end to end is test/native/gate-agent-home.test.ts.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentHomeGuard, agentHomeFiles } from '../../../src/core/protect/agent-home';

let home = '';
let review = '';
let guard: AgentHomeGuard | null = null;
beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-home-'));
  review = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-home-review-'));
  fs.mkdirSync(path.join(home, '.gemini'));
  fs.mkdirSync(path.join(home, '.codex'));
});
afterEach(() => {
  guard?.stop();
  guard = null;
  for (const d of [home, review]) fs.rmSync(d, { recursive: true, force: true });
});

const start = (): AgentHomeGuard => (guard = AgentHomeGuard.start({ env: { HOME: home }, workspace: '/ws', writable: () => true, reviewDir: review }));

describe('agentHomeFiles', () => {
  it("names each agent's files, also where CLAUDE_CONFIG_DIR, CODEX_HOME and GEMINI_CLI_HOME put them", () => {
    const files = agentHomeFiles({ HOME: '/h', CLAUDE_CONFIG_DIR: '/c', CODEX_HOME: '/x', GEMINI_CLI_HOME: '/g' }).map((f) => f.path);
    expect(files).toEqual(
      expect.arrayContaining(['/c/.claude.json', '/h/.claude.json', '/x/config.toml', '/h/.codex/config.toml', '/x/hooks.json', '/g/.gemini/settings.json', '/h/.gemini/settings.json', '/h/.gemini/trustedFolders.json', '/h/.codex/.env']),
    );
  });
});

describe('AgentHomeGuard', () => {
  it('a write that changed only keys that run something is put back byte for byte (comments kept)', () => {
    const file = path.join(home, '.gemini', 'settings.json');
    const original = '{\n  // my comment\n  "general": { "maxAttempts": 1 }\n}\n';
    fs.writeFileSync(file, original);
    const g = start();
    fs.writeFileSync(file, JSON.stringify({ general: { maxAttempts: 1 }, mcpServers: { x: { command: '/bin/evil' } } }));
    const changes = g.checkAll();
    expect(fs.readFileSync(file, 'utf8')).toBe(original);
    expect(changes).toEqual([expect.objectContaining({ path: file, class: 'agent-home', reverted: true, rel: '~/.gemini/settings.json' })]);
  });

  it('ordinary keys and empty values are the agent\'s: nothing written, no record', () => {
    const file = path.join(home, '.claude.json');
    fs.writeFileSync(file, '{"numStartups": 1}');
    const g = start();
    fs.writeFileSync(file, JSON.stringify({ numStartups: 2, mcpServers: {}, projects: { '/p': { allowedTools: [], mcpServers: {}, hasTrustDialogAccepted: false } } }));
    const ino = fs.statSync(file).ino;
    expect(g.checkAll()).toEqual([]);
    expect(fs.statSync(file).ino).toBe(ino);
  });

  it('a symlink or a file that does not parse is put back whole; a file made by the agent with only a hook is removed', () => {
    const cfg = path.join(home, '.codex', 'config.toml');
    fs.writeFileSync(cfg, 'model = "o3"\n', { mode: 0o640 });
    const g = start();
    fs.rmSync(cfg);
    fs.symlinkSync('/etc/hostname', cfg);
    fs.writeFileSync(path.join(home, '.codex', 'hooks.json'), '{"Stop": [{"command": "/bin/evil"}]}');
    fs.writeFileSync(path.join(home, '.claude.json'), '{"mcpServers": ');
    const changes = g.checkAll();
    expect(fs.lstatSync(cfg).isFile()).toBe(true);
    expect(fs.readFileSync(cfg, 'utf8')).toBe('model = "o3"\n');
    expect(fs.statSync(cfg).mode & 0o777).toBe(0o640);
    expect(fs.existsSync(path.join(home, '.codex', 'hooks.json'))).toBe(false);
    expect(fs.existsSync(path.join(home, '.claude.json'))).toBe(false);
    expect(changes.map((c) => path.basename(c.path)).sort()).toEqual(['.claude.json', 'config.toml', 'hooks.json']);
    expect(changes.every((c) => c.reverted)).toBe(true);
  });

  it('during the session a half-written file is left to its writer; once it parses, only the keys that run something are put back', async () => {
    const file = path.join(home, '.claude.json');
    fs.writeFileSync(file, '{"numStartups": 1}');
    const g = start();
    fs.writeFileSync(file, '{"numStartups": 2, "mcpServers": {"x": {"command": "/bin/ev');
    await new Promise((r) => setTimeout(r, 150));
    expect(fs.readFileSync(file, 'utf8')).toContain('/bin/ev');
    fs.writeFileSync(file, '{"numStartups": 2, "mcpServers": {"x": {"command": "/bin/evil"}}}');
    await new Promise((r) => setTimeout(r, 400));
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ numStartups: 2 });
    expect(g.list()).toEqual([expect.objectContaining({ path: file, reverted: true })]);
  });
});
