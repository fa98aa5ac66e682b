import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AcceptedPolicyStore,
  acceptedRecord,
  decidePolicyUse,
  diffDisplay,
  refusalText,
  reviewBannerLine,
  reviewHeading,
  reviewPolicyText,
  storePlacement,
  wholeTextDisplay,
} from '../../../src/core/session/policy-review';
import { sha256Text } from '../../../src/core/session/policy-in-force';

describe('policy review', () => {
  const a = '[meta]\nversion = 1\ndefault_action = "ask"\n';
  const b = '[meta]\nversion = 1\ndefault_action = "allow"\n';

  it('takes the first policy seen as accepted, then uses it silently while it is unchanged', () => {
    expect(reviewPolicyText('.gate.toml', a, undefined)).toEqual({ kind: 'first-use', sha256: sha256Text(a) });
    expect(reviewPolicyText('.gate.toml', a, acceptedRecord(a, 'first-use'))).toEqual({ kind: 'unchanged', sha256: sha256Text(a) });
  });

  it('shows a changed policy as a diff against the accepted text', () => {
    const d = reviewPolicyText('.gate.toml', b, acceptedRecord(a, 'saved', '2026-01-01T00:00:00.000Z'));
    expect(d.kind).toBe('changed');
    if (d.kind !== 'changed') return;
    expect(d.diff).toContain('-default_action = "ask"\n+default_action = "allow"\n');
    expect(d.accepted.how).toBe('saved');
    expect(d.sha256).toBe(sha256Text(b));
  });

  it('says what changed when the accepted text is not known', () => {
    const d = reviewPolicyText('.gate.toml', b, { sha256: sha256Text(a), at: '', how: 'saved' });
    expect(d.kind === 'changed' && d.diff).toContain('+++ b/.gate.toml');
  });

  it('has a banner line for each outcome but the plain one', () => {
    expect(reviewBannerLine('rejected', '/w/.gate.toml')).toMatch(/rejected the change: this session uses the version you last accepted/);
    expect(reviewBannerLine('accepted', '/w/.gate.toml')).toMatch(/reviewed and accepted/);
    expect(reviewBannerLine('first-use', '/w/.gate.toml')).toMatch(/first use of \/w\/.gate.toml/);
    expect(reviewBannerLine('unchanged', '/w/.gate.toml')).toBeNull();
  });
});

describe('policy review for the CLI (R43): which text run may use, what it shows, where the records live', () => {
  const a = '[meta]\nversion = 1\ndefault_action = "ask"\n';
  const b = '[meta]\nversion = 1\ndefault_action = "allow"\n';
  const ws = (file = '/w/.gate.toml') => ({ file, kind: 'workspace' as const });
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'policy-review-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a file never accepted is shown whole and asked about, whether found in the workspace or named with --policy', () => {
    for (const kind of ['workspace', 'explicit'] as const) {
      const d = decidePolicyUse({ source: { file: '/w/p.toml', kind }, text: a, accepted: undefined, acceptFlag: false, shipped: false });
      expect(d).toMatchObject({ kind: 'review', first: true, sha256: sha256Text(a), display: ['1  [meta]', '2  version = 1', '3  default_action = "ask"'] });
    }
  });

  it('the text last accepted is used as it is; any change is shown as a diff; --accept-policy takes the text as it is; the shipped policies need nothing', () => {
    expect(decidePolicyUse({ source: ws(), text: a, accepted: acceptedRecord(a, 'command'), acceptFlag: false, shipped: false })).toEqual({ kind: 'use', why: 'unchanged', sha256: sha256Text(a) });
    const d = decidePolicyUse({ source: ws(), text: b, accepted: acceptedRecord(a, 'command'), acceptFlag: false, shipped: false });
    expect(d).toMatchObject({ kind: 'review', first: false });
    expect(d.kind === 'review' && d.display).toEqual(['--- a/.gate.toml', '+++ b/.gate.toml', '@@ -1,3 +1,3 @@', ' [meta]', ' version = 1', '-default_action = "ask"', '+default_action = "allow"']);
    expect(decidePolicyUse({ source: ws(), text: b, accepted: acceptedRecord(a, 'command'), acceptFlag: true, shipped: false })).toEqual({ kind: 'use', why: 'accept-flag', sha256: sha256Text(b) });
    expect(decidePolicyUse({ source: { file: '/x/default.gate.toml', kind: 'default' }, text: b, accepted: undefined, acceptFlag: false })).toMatchObject({ kind: 'use', why: 'shipped' });
    expect(decidePolicyUse({ source: { file: '/x/strict.gate.toml', kind: 'explicit' }, text: b, accepted: undefined, acceptFlag: false, shipped: true })).toMatchObject({ kind: 'use', why: 'shipped' });
  });

  it('shows bidi controls, invisible and control characters as escapes, in the whole text and in a diff', () => {
    const sneaky = '# rules \u202e "/**" \u2066\nid = "x\u200b"\r\nq = "\x1b[2J"\n';
    const whole = wholeTextDisplay(sneaky);
    expect(whole).toEqual(['1  # rules \\u202e "/**" \\u2066', '2  id = "x\\u200b"\\r', '3  q = "\\e[2J"']);
    const diff = diffDisplay(`--- a/.gate.toml\n+++ b/.gate.toml\n@@ -1 +1 @@\n-a\n+${sneaky.split('\n')[0]}\n`);
    expect(diff[4]).toBe('+# rules \\u202e "/**" \\u2066');
    // eslint-disable-next-line no-control-regex
    for (const l of [...whole, ...diff]) expect(l).not.toMatch(/[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069\u200b]/);
  });

  it('keeps a record per real path, 0600 in a 0700 directory; a symlink to an accepted file, a record that names another file or whose text does not hash is no record', () => {
    const store = new AcceptedPolicyStore(path.join(dir, 'state', 'accepted-policies'));
    const file = path.join(dir, 'p.toml');
    fs.writeFileSync(file, a);
    expect(store.get(file)).toBeUndefined();
    store.set(file, a, 'command');
    expect(store.get(file)).toMatchObject({ sha256: sha256Text(a), text: a, how: 'command' });
    expect(store.get(path.join(dir, '.', 'x', '..', 'p.toml'))).toMatchObject({ sha256: sha256Text(a) });
    // A repository's .gate.toml made a symlink to a policy accepted for another project: asked about.
    const link = path.join(dir, 'link.toml');
    fs.symlinkSync(file, link);
    expect(store.get(link)).toBeUndefined();
    const d = decidePolicyUse({ source: ws(link), text: a, accepted: store.get(link), acceptFlag: false, shipped: false });
    expect(d.kind === 'review' && reviewHeading(link, d)).toContain(`${link} -> ${file}`);
    expect(fs.statSync(store.dir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(store.recordFile(file)).mode & 0o777).toBe(0o600);
    // Copied to another file's name: not that file's record.
    const other = path.join(dir, 'other.toml');
    fs.writeFileSync(other, a);
    fs.copyFileSync(store.recordFile(file), store.recordFile(other));
    expect(store.get(other)).toBeUndefined();
    // Edited text with the old hash: not a record (reviewed as never accepted).
    const rec = JSON.parse(fs.readFileSync(store.recordFile(file), 'utf8')) as Record<string, string>;
    fs.writeFileSync(store.recordFile(file), JSON.stringify({ ...rec, text: b }));
    expect(store.get(file)).toBeUndefined();
    fs.writeFileSync(store.recordFile(file), '{not json');
    expect(store.get(file)).toBeUndefined();
  });

  it('refuses a store inside a write grant (either way round), warns when writes are not sealed', () => {
    const grants = (p: string) => ({ enabled: true, handled: ['r', 'w'], grants: [{ path: p, rights: 'rw', source: 'write_globs' }] }) as unknown as Parameters<typeof storePlacement>[1];
    const store = path.join(dir, 'state', 'agent-gate', 'accepted-policies');
    expect(storePlacement(store, grants(path.join(dir, 'state')))?.error).toMatch(/inside a path the agent may write/);
    expect(storePlacement(store, grants(path.join(store, 'sub')))?.error).toMatch(/inside a path the agent may write/);
    expect(storePlacement(store, grants(path.join(dir, 'ws')))).toBeNull();
    expect(storePlacement(store, { enabled: false, handled: [], grants: [] } as unknown as Parameters<typeof storePlacement>[1])?.warning).toMatch(/does not seal filesystem writes/);
  });

  it('the refusal names the command that accepts exactly the text shown', () => {
    const d = decidePolicyUse({ source: ws("/w/it's/.gate.toml"), text: a, accepted: undefined, acceptFlag: false, shipped: false });
    if (d.kind !== 'review') throw new Error('expected a review');
    const lines = refusalText("/w/it's/.gate.toml", d, 'CI is set');
    expect(lines.at(-1)).toContain(`agent-gate policy accept --sha256 ${sha256Text(a).slice(0, 16)} '/w/it'\\''s/.gate.toml'`);
    expect(lines.at(-1)).toContain('nobody could be asked (CI is set)');
  });
});
