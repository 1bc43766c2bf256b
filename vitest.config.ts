import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

// ferry calls openpgp.js's minified build, which the package gives to `require` (src/pgp/openpgp.ts); the
// tests' `import 'openpgp'` must reach that same copy, or keys and signatures they make are another copy's
// classes to ferry's.
const openpgp = createRequire(import.meta.url).resolve('openpgp');

export default defineConfig({
  resolve: { alias: { openpgp } },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/globalSetup.ts'],
    // Hang detectors, not estimates: on a loaded 2-core machine a lab test takes many times as long as
    // when idle. Tests wait by polling for conditions (a port that answers, a file that appears) and fail
    // at once when what they wait for has died, so only a real hang ever reaches these.
    testTimeout: 20 * 60_000,
    hookTimeout: 20 * 60_000,
    pool: 'forks',
  },
});
