// The node-pty loader has no vscode import: tested here with a fake require.
import { describe, expect, it } from 'vitest';
import { loadNodePty, nodePtyCandidates } from '../../../src/extension/terminal/node-pty';

describe('node-pty loader', () => {
  it("probes VS Code's node_modules, then node_modules.asar, then its own", () => {
    expect(nodePtyCandidates('/app').map((c) => c.request)).toEqual(['/app/node_modules/node-pty', '/app/node_modules.asar/node-pty', 'node-pty']);
  });

  it('names every path tried when none loads', () => {
    const tried: string[] = [];
    expect(() =>
      loadNodePty('/app', (r) => {
        tried.push(r);
        if (r === 'node-pty') return {};
        throw new Error(`Cannot find module '${r}'\nRequire stack: …`);
      }),
    ).toThrow(/cannot load node-pty[^]*\/app\/node_modules\/node-pty\): Cannot find module[^]*\/app\/node_modules.asar\/node-pty[^]*the extension's own \(node-pty from its node_modules\): loaded, but it has no spawn\(\)/);
    expect(tried).toHaveLength(3);
  });

  it('takes the first that loads', () => {
    const mod = { spawn: () => null };
    expect(loadNodePty('/app', (r) => (r.includes('asar') ? mod : (() => { throw new Error('no'); })()))).toBe(mod);
  });
});
