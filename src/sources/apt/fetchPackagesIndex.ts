import { createReadStream } from 'node:fs';
import { fetchToCache, type FetchStats } from '../../fetch/index.js';
import { FetchError, IntegrityError } from '../../errors.js';
import type { Logger } from '../../ui/log.js';
import { decompressStream } from './decompress.js';
import type { UpstreamRelease } from './fetchUpstreamRelease.js';
import { PackedIndexWriter, type PackedIndex } from './packedIndex.js';
import { readParsedIndex, writeParsedIndex } from './parsedIndexCache.js';
import { readPackagesIndex } from './readPackagesIndex.js';
import type { AptOrigin } from './types.js';

/**
 * Fetch COMPONENT/binary-ARCH/Packages(.gz|.xz) as the verified Release lists it (gz preferred, then
 * xz, then plain, the next one when the upstream lacks a file; through by-hash/ when the Release offers it) into the cache, checked against the Release's SHA256 by the downloader, then stream
 * it through the decompressor into package records, packed (packedIndex.ts) and kept in the cache
 * for the next lock (parsedIndexCache.ts). An index missing from Release yields nothing
 * (a component may lack an architecture) unless `required`.
 */
export async function fetchPackagesIndex(
  release: UpstreamRelease,
  origin: AptOrigin,
  arch: string,
  opts: { cacheDir: string; log: Logger; stats?: FetchStats },
): Promise<PackedIndex | undefined> {
  const base = `${origin.component}/binary-${arch}/Packages`;
  const listed = ['.gz', '.xz', ''].filter((e) => release.files.has(base + e));
  let missing: FetchError | undefined;
  for (const ext of listed) {
    const path = base + ext;
    const want = release.files.get(path)!;
    const url = release.distUrl + path;
    // parsed before from the same bytes, which the signed Release names by this digest
    const parsed = await readParsedIndex(opts.cacheDir, want.sha256, origin);
    if (parsed) return parsed;
    // Acquire-By-Hash: the index named by its digest never changes under us while the mirror updates
    // (the plain name can already hold the next version of the file while InRelease is the old one).
    const byHash = release.fields.get('Acquire-By-Hash') === 'yes' ? `${release.distUrl}${path.slice(0, path.lastIndexOf('/'))}/by-hash/SHA256/${want.sha256}` : undefined;
    const req = { sha256: want.sha256, size: want.size, label: url };
    const notFound = (err: unknown) => err instanceof FetchError && err.status === 404;
    let got;
    try {
      got = byHash
        ? await fetchToCache({ ...req, url: byHash }, opts).catch((err: unknown) => {
            if (notFound(err)) return fetchToCache({ ...req, url }, opts);
            throw err;
          })
        : await fetchToCache({ ...req, url }, opts);
    } catch (err) {
      // like apt, a mirror that lacks one compression the Release lists is asked for the next one
      if (!notFound(err)) throw err;
      missing = err as FetchError;
      continue;
    }
    const raw = createReadStream(got.path, { highWaterMark: 1 << 20 });
    await writeParsedIndex(opts.cacheDir, want.sha256, await packPackagesIndex(decompressStream(raw, ext.slice(1) as 'gz' | 'xz' | '', url), origin, url));
    // from the file, as the next lock will: of the packed index only its number table stays in memory
    const packed = await readParsedIndex(opts.cacheDir, want.sha256, origin);
    if (!packed) throw new IntegrityError(`${url}: the packed index just written to the cache (${opts.cacheDir}/apt-parsed) does not read back whole: check the disk`);
    return packed;
  }
  if (missing) throw missing;
  return undefined;
}

/** Parse and pack a Packages index; nothing of the parsing outlives the packed parts it returns. */
async function packPackagesIndex(text: AsyncIterable<Buffer | string>, origin: AptOrigin, url: string): Promise<Uint8Array[]> {
  const writer = new PackedIndexWriter();
  for await (const p of readPackagesIndex(text, origin, url)) writer.add(p);
  return writer.finish();
}
