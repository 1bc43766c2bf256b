import { describe, expect, it, vi } from 'vitest';
import { retryTransient } from '../../src/deploy/retryTransient.js';
import { TransientError } from '../../src/deploy/transport/TransientError.js';

/** the waits retryTransient asks for, each answered at once */
const waits = vi.hoisted(() => [] as number[]);
vi.mock('node:timers/promises', () => ({ setTimeout: async (ms: number) => void waits.push(ms) }));

/**
 * `--retry-delay` doubles at each retry; a Node timer asked for more than 2^31 - 1 ms fires after 1 ms (with a
 * TimeoutOverflowWarning), so past 24.8 days the retries ran back to back instead of waiting longest.
 */
describe('retryTransient with a wait longer than a Node timer can wait', () => {
  it('asks for 24.8 days at most, which a timer waits', async () => {
    let attempts = 0;
    const r = await retryTransient({ retries: 2, delayMs: 1_500_000_000 }, async () => {
      if (++attempts <= 2) throw new TransientError('connection reset');
      return 'ok';
    });
    expect(r).toBe('ok');
    expect(waits).toEqual([1_500_000_000, 2 ** 31 - 1]);
  });
});
