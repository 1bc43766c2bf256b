import { createReadStream } from 'node:fs';
import type { FetchStats } from '../../fetch/index.js';
import type { Logger } from '../../ui/log.js';
import { lendFileChunks } from '../../util/lendFileChunks.js';
import { decompressStream } from './decompress.js';
import { fetchReleaseIndex } from './fetchReleaseIndex.js';
import type { UpstreamRelease } from './fetchUpstreamRelease.js';
import { PackedIndex, PackedIndexWriter } from './packedIndex.js';
import { readParsedIndex, writeParsedIndex } from './parsedIndexCache.js';
import { readPackagesIndex } from './readPackagesIndex.js';
import type { AptOrigin } from './types.js';

/**
 * Fetch COMPONENT/binary-ARCH/Packages (a flat repository's Packages) as the verified Release lists it (fetchReleaseIndex), then stream
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
    // a flat repository has one Packages index, for every architecture, beside its Release
    release.flat ? 'Packages' : `${origin.component}/binary-${arch}/Packages`,
    opts,
    async ({ path, compression, url, sha256 }) => {
      const parts = await packPackagesIndex(readIndexText(path, compression, url), origin, url);
      await writeParsedIndex(opts.cacheDir, sha256, parts);
      // used as it is in memory, not read back: a read-back would hold a second copy of the tables while it checks
      return PackedIndex.fromParts(parts, origin);
    },
    // parsed before from the same bytes, which the signed Release names by this digest
    (sha256) => readParsedIndex(opts.cacheDir, sha256, origin),
  );
}

/**
 * The text of an index file in 64 KiB pieces. A plain file is read into four buffers lent again and again
 * (the control-file parser copies what it keeps): a read stream's new buffer per piece is garbage once
 * parsed, and a 50 MB index piled up ~11 MiB of them between collections (peak RSS of the closure
 * benchmark 123 -> 112 MiB). A compressed one goes through the decompressor, whose output pieces are
 * new buffers either way; its input is read in 64 KiB pieces (1 MiB ones piled up ~30 MiB).
 */
export function readIndexText(path: string, compression: 'gz' | 'xz' | '', url: string): AsyncIterable<Buffer | string> {
  if (compression === '') return lendFileChunks(path, { chunk: 1 << 16 });
  return decompressStream(createReadStream(path, { highWaterMark: 1 << 16 }), compression, url);
}

/** Parse and pack a Packages index; nothing of the parsing outlives the packed parts it returns. */
async function packPackagesIndex(text: AsyncIterable<Buffer | string>, origin: AptOrigin, url: string): Promise<Uint8Array[]> {
  const writer = new PackedIndexWriter();
  for await (const p of readPackagesIndex(text, origin, url)) writer.add(p);
  return writer.finish();
}
