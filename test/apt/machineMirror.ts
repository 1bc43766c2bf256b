import { readFile } from 'node:fs/promises';
import { readSystemSources } from '../../src/sources/apt/readSystemSources.js';

/**
 * The machine's own Debian mirror, for the tests that use it. Opt-out with FERRY_TEST_MIRROR=0; they run
 * only when the mirror answers. The address comes from the machine's apt sources, never from this repository.
 */
export const codename = /^VERSION_CODENAME=(\S+)$/m.exec(await readFile('/etc/os-release', 'utf8').catch(() => ''))?.[1];
const firstSource = (await readSystemSources().catch(() => []))[0];
export const mirrorAnswers =
  process.env.FERRY_TEST_MIRROR !== '0' &&
  codename !== undefined &&
  firstSource !== undefined &&
  (await fetch(`${firstSource.uri.replace(/\/+$/, '')}/dists/${firstSource.suites[0]}/InRelease`, { method: 'HEAD', signal: AbortSignal.timeout(5000) }).then(
    (r) => r.ok,
    () => false,
  ));
