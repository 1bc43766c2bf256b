import { createReadStream } from 'node:fs';
import type { FetchStats } from '../../fetch/index.js';
import type { Logger } from '../../ui/log.js';
import { decompressStream } from './decompress.js';
import { fetchReleaseIndex } from './fetchReleaseIndex.js';
import type { UpstreamRelease } from './fetchUpstreamRelease.js';
import { readSourcesIndex, type AptSourcePackage } from './readSourcesIndex.js';

/**
 * Fetch COMPONENT/source/Sources as the verified Release lists it (fetchReleaseIndex) and read its
 * source packages. A component without a Sources index in the Release yields nothing.
 */
export async function fetchSourcesIndex(
  release: UpstreamRelease,
  component: string,
  opts: { cacheDir: string; log: Logger; stats?: FetchStats },
): Promise<AptSourcePackage[]> {
  const got = await fetchReleaseIndex(release, `${component}/source/Sources`, opts, async ({ path, compression, url }) => {
    const out: AptSourcePackage[] = [];
    for await (const s of readSourcesIndex(decompressStream(createReadStream(path, { highWaterMark: 1 << 20 }), compression, url), url)) out.push(s);
    return out;
  });
  return got ?? [];
}
