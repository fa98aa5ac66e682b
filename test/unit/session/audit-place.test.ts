import { describe, expect, it } from 'vitest';
import { chooseAuditDirectory } from '../../../src/core/session/audit-place';
import type { FilesystemPolicy } from '../../../src/core/policy/types';

const fsPolicy = (writes: string[]): FilesystemPolicy =>
  ({ enabled: true, handled: 'rwx', grants: writes.map((p) => ({ path: p, rights: 'rw', source: 'write_globs', everywhere: false })) }) as unknown as FilesystemPolicy;

describe('audit directory', () => {
  it('keeps the first candidate the agent cannot write', () => {
    expect(chooseAuditDirectory(['/var/lib/x/audit', '/srv/y'], fsPolicy(['/tmp']))).toEqual({ dir: '/var/lib/x/audit', skipped: [] });
  });

  it('passes over a candidate inside a write grant, saying why', () => {
    const r = chooseAuditDirectory(['/tmp/profile/audit', '/srv/state'], fsPolicy(['/tmp']));
    expect(r.dir).toBe('/srv/state');
    expect(r.skipped[0]?.dir).toBe('/tmp/profile/audit');
    expect(r.skipped[0]?.why).toMatch(/inside a path the agent may write \(\/tmp/);
  });

  it('finds none when every candidate is writable', () => {
    expect(chooseAuditDirectory(['/tmp/a', '/tmp/b'], fsPolicy(['/tmp'])).dir).toBeNull();
  });
});
