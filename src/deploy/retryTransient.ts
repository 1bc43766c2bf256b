import { setTimeout as sleep } from 'node:timers/promises';
import { TransientError } from './transport/TransientError.js';
import { timerMs } from '../util/timerMs.js';

export interface RetryPolicy {
  /** further attempts after the first */
  retries: number;
  /** the first wait; each next wait doubles */
  delayMs: number;
}

/**
 * Retry work that failed on the way to the host (dropped connection, refused connection, timeout)
 * with exponential backoff. A real failure of the work is thrown at once: repeating a failing step
 * would only hide it. The work must be idempotent; every deploy stage is.
 */
export async function retryTransient<T>(policy: RetryPolicy, work: (attempt: number) => Promise<T>, onRetry?: (err: TransientError, waitMs: number, attempt: number) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (err) {
      if (!(err instanceof TransientError) || attempt > policy.retries) throw err;
      const wait = policy.delayMs * 2 ** (attempt - 1);
      onRetry?.(err, wait, attempt);
      await sleep(timerMs(wait));
    }
  }
}
