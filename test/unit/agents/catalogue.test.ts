import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { agentCatalogue, findAgent, locateAgents, missingAgentMessage, userShell } from '../../../src/core/agents/catalogue';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-gate-catalogue-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('agent catalogue', () => {
  it('has the built-in agents, then the shell, then the user entries', () => {
    const { agents, problems } = agentCatalogue([{ name: 'My agent', command: 'myagent', args: ['--fast'] }], { SHELL: '/usr/bin/zsh' });
    expect(problems).toEqual([]);
    expect(agents.map((a) => a.id)).toEqual(['claude', 'codex', 'gemini', 'aider', 'shell', 'custom:My agent']);
    expect(agents.find((a) => a.id === 'shell')).toMatchObject({ command: '/usr/bin/zsh', name: 'Shell (zsh)', profile: 'shell' });
    expect(agents.at(-1)).toMatchObject({ command: 'myagent', args: ['--fast'], builtin: false });
    expect(agents.at(-1)?.profile).toBeUndefined();
  });

  it('reports bad user entries and leaves them out', () => {
    const { agents, problems } = agentCatalogue([{ command: 'x' }, { name: 'y' }, { name: 'z', command: 'z', args: 'nope' }, { name: 'claude code', command: 'c' }, null as never], {});
    expect(agents).toHaveLength(5);
    expect(problems).toEqual([
      'agentGate.agents[0] has no name',
      'agentGate.agents[1] (y) has no command',
      'agentGate.agents[2] (z): args must be a list of strings',
      'agentGate.agents[3]: the name claude code is taken by another agent',
      'agentGate.agents[4] is not an object with name, command and args',
    ]);
  });

  it('escapes control characters in what it reports', () => {
    const { problems } = agentCatalogue([{ name: 'a\x1b[31m', command: 5 }], {});
    expect(problems[0]).toBe('agentGate.agents[0] (a\\e[31m) has no command');
  });

  it('uses /bin/bash when $SHELL is unset or relative', () => {
    expect(userShell({})).toBe('/bin/bash');
    expect(userShell({ SHELL: 'zsh' })).toBe('/bin/bash');
  });

  it('finds an agent by id, name or command', () => {
    const { agents } = agentCatalogue([], { SHELL: '/bin/bash' });
    expect(findAgent(agents, 'codex')?.name).toBe('Codex CLI');
    expect(findAgent(agents, 'gemini cli')?.id).toBe('gemini');
    expect(findAgent(agents, 'bash')?.id).toBe('shell');
    expect(findAgent(agents, 'nothing')).toBeUndefined();
  });

  it('marks what is not on PATH, and says how to install it', () => {
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'claude'), '#!/bin/sh\n', { mode: 0o755 });
    fs.writeFileSync(path.join(bin, 'codex'), 'not executable\n', { mode: 0o644 });
    const { agents } = agentCatalogue([], { SHELL: '/bin/sh' });
    const found = locateAgents(agents, { cwd: dir, path: bin });
    expect(found.find((f) => f.agent.id === 'claude')?.resolved).toBe(path.join(bin, 'claude'));
    expect(found.find((f) => f.agent.id === 'codex')?.resolved).toBeNull();
    expect(found.find((f) => f.agent.id === 'shell')?.resolved).toBe(fs.realpathSync('/bin/sh'));
    const codex = agents.find((a) => a.id === 'codex')!;
    expect(missingAgentMessage(codex)).toBe('Codex CLI is not installed: codex is not on PATH. To get it: npm install -g @openai/codex.');
    expect(agents.find((a) => a.id === 'gemini')?.install).toContain('@google/gemini-cli');
    expect(agents.find((a) => a.id === 'claude')?.install).toContain('@anthropic-ai/claude-code');
  });
});
