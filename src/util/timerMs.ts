/**
 * The longest delay Node's timers take: 2^31 - 1 ms, 24.8 days. A longer one fires after 1 ms (with a
 * TimeoutOverflowWarning), so `--timeout 3000000` (35 days: "no limit, really") timed out every command at once.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** `ms` as a timer can wait it: at most MAX_TIMER_MS. */
export function timerMs(ms: number): number {
  return Math.min(ms, MAX_TIMER_MS);
}
