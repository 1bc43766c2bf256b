import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Hang detectors, not estimates: on a loaded 2-core machine a lab test takes many times as long as
    // when idle. Tests wait by polling for conditions (a port that answers, a file that appears) and fail
    // at once when what they wait for has died, so only a real hang ever reaches these.
    testTimeout: 20 * 60_000,
    hookTimeout: 20 * 60_000,
    pool: 'forks',
  },
});
