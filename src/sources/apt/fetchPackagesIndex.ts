import { createReadStream } from 'node:fs';
import type { FetchStats } from '../../fetch/index.js';
import { IntegrityError } from '../../errors.js';
import type { Logger } from '../../ui/log.js';
import { decompressStream } from './decompress.js';
import { fetchReleaseIndex } from './fetchReleaseIndex.js';
import type { UpstreamRelease } from './fetchUpstreamRelease.js';
import { PackedIndexWriter, type PackedIndex } from './packedIndex.js';
import { readParsedIndex, writeParsedIndex } from './parsedIndexCache.js';
import { readPackagesIndex } from './readPackagesIndex.js';
import type { AptOrigin } from './types.js';

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
      const raw = createReadStream(path, { highWaterMark: 1 << 20 });
      await writeParsedIndex(opts.cacheDir, sha256, await packPackagesIndex(decompressStream(raw, compression, url), origin, url));
      // from the file, as the next lock will: of the packed index only its number table stays in memory
      const packed = await readParsedIndex(opts.cacheDir, sha256, origin);
      if (!packed) throw new IntegrityError(`${url}: the packed index just written to the cache (${opts.cacheDir}/apt-parsed) does not read back whole: check the disk`);
      return packed;
    },
    // parsed before from the same bytes, which the signed Release names by this digest
    (sha256) => readParsedIndex(opts.cacheDir, sha256, origin),
  );
}

/** Parse and pack a Packages index; nothing of the parsing outlives the packed parts it returns. */
async function packPackagesIndex(text: AsyncIterable<Buffer | string>, origin: AptOrigin, url: string): Promise<Uint8Array[]> {
  const writer = new PackedIndexWriter();
  for await (const p of readPackagesIndex(text, origin, url)) writer.add(p);
  return writer.finish();
}
