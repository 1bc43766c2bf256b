import { describe, expect, it } from 'vitest';
import { compareEpochs, compareReleaseAge } from '../../src/store/releaseOrder.js';

describe('release order', () => {
  it('orders epochs as instants, whatever UTC offset a manifest writes them with', () => {
    // 09:00+05:00 is 04:00Z: older than 05:00Z, though it sorts after it as text
    expect(compareEpochs('2026-11-25T09:00:00+05:00', '2026-11-25T05:00:00Z')).toBeLessThan(0);
    expect(compareEpochs('2026-11-25T05:00:00Z', '2026-11-25T09:00:00+05:00')).toBeGreaterThan(0);
    const releases = [
      { name: 'r', version: '2.0', epoch: '2026-11-25T05:00:00Z' },
      { name: 'r', version: '1.0', epoch: '2026-11-25T09:00:00+05:00' },
    ];
    expect([...releases].sort(compareReleaseAge).map((r) => r.version)).toEqual(['1.0', '2.0']);
  });

  it('orders one instant by version, numbers as numbers', () => {
    const epoch = '2026-11-25T00:00:00Z';
    const sorted = [{ version: '10.0.0', epoch }, { version: '9.0.0', epoch: '2026-11-25T01:00:00+01:00' }].sort(compareReleaseAge);
    expect(sorted.map((r) => r.version)).toEqual(['9.0.0', '10.0.0']);
  });
});
