import { createReadStream } from 'node:fs';
import type { FetchStats } from '../../fetch/index.js';
import type { Logger } from '../../ui/log.js';
import { decompressStream } from './decompress.js';
import { fetchReleaseIndex } from './fetchReleaseIndex.js';
import type { UpstreamRelease } from './fetchUpstreamRelease.js';
import { PackedIndex, packIndex } from './packedIndex.js';
import { readParsedIndex, writeParsedIndex } from './parsedIndexCache.js';
import { readPackagesIndex } from './readPackagesIndex.js';
import type { AptOrigin, AptPackage } from './types.js';

/**
 * Fetch COMPONENT/binary-ARCH/Packages as the verified Release lists it (fetchReleaseIndex), then stream
 * it through the decompressor into package records, packed (packedIndex.ts) and kept in the cache
 * for the next lock (parsedIndexCache.ts). An index missing from Release yields nothing (a component
 * may lack an architecture).
 */
export async function fetchPackagesIndex(
  release: UpstreamRelease,
  origin: AptOrigin,
  arch: string,
  opts: { cacheDir: string; log: Logger; stats?: FetchStats },
): Promise<PackedIndex | undefined> {
  return fetchReleaseIndex(
    release,
    `${origin.component}/binary-${arch}/Packages`,
    opts,
    async ({ path, compression, url, sha256 }) => {
      const out: AptPackage[] = [];
      const raw = createReadStream(path, { highWaterMark: 1 << 20 });
      for await (const p of readPackagesIndex(decompressStream(raw, compression, url), origin, url)) out.push(p);
      const packed = packIndex(out);
      await writeParsedIndex(opts.cacheDir, sha256, packed);
      return PackedIndex.open(packed, origin)!;
    },
    // parsed before from the same bytes, which the signed Release names by this digest
    (sha256) => readParsedIndex(opts.cacheDir, sha256, origin),
  );
}
