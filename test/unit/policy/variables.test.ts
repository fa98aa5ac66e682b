import { describe, expect, it } from 'vitest';
import { expandVariables } from '../../../src/core/policy/variables';
import { loadPolicyText } from '../../../src/core/policy/index';

describe('${VAR} and ${VAR:-default}', () => {
  it('expands a set variable, and says which are unset', () => {
    const e = expandVariables('${HOME}/x/${WHO}');
    expect(e.names).toEqual(['HOME', 'WHO']);
    expect(e.unset({ HOME: '/h' })).toEqual(['WHO']);
    expect(e.expand({ HOME: '/h', WHO: 'me' })).toBe('/h/x/me');
  });

  it('uses the default when the variable is unset or empty; the default may use ${OTHER}', () => {
    const e = expandVariables('${XDG_CACHE_HOME:-${HOME}/.cache}/**');
    expect(e.names).toEqual([]);
    expect(e.expand({ HOME: '/h' })).toBe('/h/.cache/**');
    expect(e.expand({ HOME: '/h', XDG_CACHE_HOME: '' })).toBe('/h/.cache/**');
    expect(e.expand({ HOME: '/h', XDG_CACHE_HOME: '/c' })).toBe('/c/**');
    // The default's variables are needed only when the default is used.
    expect(e.unset({})).toEqual(['HOME']);
    expect(e.unset({ XDG_CACHE_HOME: '/c' })).toEqual([]);
    expect(expandVariables('${A:-/literal}').expand({})).toBe('/literal');
  });

  it('a grant with a default loads; one whose default needs an unset variable is an error', () => {
    const text = '[filesystem]\nwrite_globs = ["${CARGO_HOME:-${HOME}/.cargo}/registry/**"]\n';
    const ok = loadPolicyText(text, '/p/.gate.toml', { env: { HOME: '/home/u' }, exists: () => true });
    expect(ok.policy?.filesystem.grants.find((g) => g.path === '/home/u/.cargo/registry')?.rights).toBe('w');
    const set = loadPolicyText(text, '/p/.gate.toml', { env: { HOME: '/home/u', CARGO_HOME: '/opt/cargo' }, exists: () => true });
    expect(set.policy?.filesystem.grants.some((g) => g.path === '/opt/cargo/registry')).toBe(true);
    const bad = loadPolicyText(text, '/p/.gate.toml', { env: {}, exists: () => true });
    expect(bad.policy).toBeNull();
    expect(bad.diagnostics[0]).toMatchObject({ code: 'unset-variable', line: 2 });
  });
});
