import { fetchToCache, type FetchStats } from '../../fetch/index.js';
import { FetchError } from '../../errors.js';
import type { Logger } from '../../ui/log.js';
import { aptBool } from './aptBool.js';
import type { UpstreamRelease } from './fetchUpstreamRelease.js';

/** One index file as fetched: where it is in the cache, its compression, URL and verified digest. */
export interface FetchedIndex {
  path: string;
  compression: 'gz' | 'xz' | '';
  url: string;
  sha256: string;
}

/**
 * Fetch BASE(.gz|.xz) (e.g. main/binary-amd64/Packages, main/source/Sources) as the verified Release
 * lists it (gz preferred, then xz, then plain, the next one when the upstream lacks a file; through
 * by-hash/ when the Release offers it) into the cache, checked against the Release's SHA256 by the
 * downloader, and hand it to `read`. `cached` may answer from an earlier read of the same digest
 * without fetching. An index missing from Release yields undefined.
 */
export async function fetchReleaseIndex<T>(
  release: UpstreamRelease,
  base: string,
  opts: { cacheDir: string; log: Logger; stats?: FetchStats },
  read: (got: FetchedIndex) => Promise<T>,
  cached?: (sha256: string) => Promise<T | undefined>,
): Promise<T | undefined> {
  const listed = (['gz', 'xz', ''] as const).filter((e) => release.files.has(base + (e ? `.${e}` : '')));
  let missing: FetchError | undefined;
  for (const compression of listed) {
    const path = base + (compression ? `.${compression}` : '');
    const want = release.files.get(path)!;
    const url = release.distUrl + path;
    const before = await cached?.(want.sha256);
    if (before !== undefined) return before;
    // Acquire-By-Hash: the index named by its digest never changes under us while the mirror updates
    // (the plain name can already hold the next version of the file while InRelease is the old one).
    const byHash = aptBool(release.fields.get('Acquire-By-Hash')) ? `${release.distUrl}${path.slice(0, path.lastIndexOf('/'))}/by-hash/SHA256/${want.sha256}` : undefined;
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
    return read({ path: got.path, compression, url, sha256: want.sha256 });
  }
  if (missing) throw missing;
  return undefined;
}
