import { describe, expect, it } from 'vitest';
import { acceptedRecord, reviewBannerLine, reviewPolicyText } from '../../../src/core/session/policy-review';
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
