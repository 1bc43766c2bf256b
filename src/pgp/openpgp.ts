import { createRequire } from 'node:module';
import type * as Api from 'openpgp';

/**
 * openpgp.js, as every ferry module calls it (types come from `import type * as openpgp from 'openpgp'`).
 * Its minified build: the package's ES module entry is the unminified 1.2 MB build, whose parse and source
 * cost every command that checks a signature 1.3 MiB more peak memory (`ferry verify` of the demo bundle,
 * issue 20's 64 MiB goal); the package gives the minified build to `require`, same code and version.
 */
export const pgp: typeof Api = createRequire(import.meta.url)('openpgp');
