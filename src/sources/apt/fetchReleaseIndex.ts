import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fetchToCache, type FetchStats } from '../../fetch/index.js';
import { FetchError, IntegrityError } from '../../errors.js';
import { writeFileAtomic } from '../../util/writeFileAtomic.js';
import type { Logger } from '../../ui/log.js';
import { aptBool } from './aptBool.js';
import type { OtherHash, UpstreamRelease } from './fetchUpstreamRelease.js';

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
 * by-hash/ when the Release offers it) into the cache, checked against the Release's SHA256 (when it lists
 * one) and size by the downloader and against its other digests (compareDigests, SHA512 among them), and
 * hand it to `read`. `cached` may
 * answer from an earlier read of the same digest without fetching. An index missing from Release yields
 * undefined, and so does one whose uncompressed name it does not list (apt ignores such an index).
 */
export async function fetchReleaseIndex<T>(
  release: UpstreamRelease,
  base: string,
  opts: { cacheDir: string; log: Logger; stats?: FetchStats },
  read: (got: FetchedIndex) => Promise<T>,
  cached?: (sha256: string) => Promise<T | undefined>,
): Promise<T | undefined> {
  // apt looks an index up by its uncompressed name and skips one the Release lists only compressed
  if (!release.files.has(base)) return undefined;
  const listed = (['gz', 'xz', ''] as const).filter((e) => release.files.has(base + (e ? `.${e}` : '')));
  let missing: FetchError | undefined;
  for (const compression of listed) {
    const path = base + (compression ? `.${compression}` : '');
    const want = release.files.get(path)!;
    const url = release.distUrl + path;
    // with other digests to check, a parse of the file is taken only once they are known to match: from the
    // digests kept when these bytes were fetched (readIndexDigests), else from the file itself, fetched below
    // (a Release that lists the file in SHA512 alone gives no SHA256 to look it up by: it is fetched)
    const known = want.sha256 === undefined || want.others.length === 0 ? undefined : await readIndexDigests(opts.cacheDir, want.sha256);
    if (known) compareDigests(known, want.others, url);
    const before = want.sha256 !== undefined && (want.others.length === 0 || known) ? await cached?.(want.sha256) : undefined;
    if (before !== undefined) return before;
    // Acquire-By-Hash: the index named by its digest never changes under us while the mirror updates
    // (the plain name can already hold the next version of the file while InRelease is the old one).
    // apt asks by-hash/ of the strongest hash the Release lists for the file (SHA512 when listed), then the plain name
    const sha512 = want.others.find((o) => o.algorithm === 'SHA512')?.digest;
    const byHashName = sha512 ? `SHA512/${sha512}` : `SHA256/${want.sha256!}`;
    const byHash = aptBool(release.fields.get('Acquire-By-Hash')) ? `${release.distUrl}${path.slice(0, path.lastIndexOf('/') + 1)}by-hash/${byHashName}` : undefined;
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
    // without a SHA256 in the Release, the file's own (the cache's name for it) once its SHA512 matched
    const sha256 = want.sha256 ?? got.sha256;
    if (want.others.length > 0) {
      const digests = await digestsOf(got.path);
      compareDigests(digests, want.others, url);
      await writeIndexDigests(opts.cacheDir, sha256, digests);
      const parsed = await cached?.(sha256);
      if (parsed !== undefined) return parsed;
    }
    return read({ path: got.path, compression, url, sha256 });
  }
  if (missing) throw missing;
  return undefined;
}

const NODE_HASH: Record<OtherHash, string> = { SHA512: 'sha512', SHA1: 'sha1', MD5Sum: 'md5' };
type Digests = Record<OtherHash, string>;

/** The SHA512, SHA1 and MD5 of a file, in one read. */
async function digestsOf(path: string): Promise<Digests> {
  const names = Object.keys(NODE_HASH) as OtherHash[];
  const hashes = names.map((n) => createHash(NODE_HASH[n]));
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 16 })) for (const h of hashes) h.update(chunk as Buffer);
  return Object.fromEntries(names.map((n, i) => [n, hashes[i]!.digest('hex')])) as Digests;
}

/**
 * The index's digests in the Release's other hash lists (SHA512, SHA1, MD5Sum), which apt checks as well
 * as SHA256 ("Hash Sum mismatch"): an index whose SHA256 matches and another digest does not is refused,
 * one line. Its SHA256 was checked by the download.
 */
function compareDigests(found: Digests, others: ReadonlyArray<{ algorithm: OtherHash; digest: string }>, url: string): void {
  for (const { algorithm, digest } of others) {
    if (found[algorithm] !== digest) {
      throw new IntegrityError(`${url}: its ${algorithm} is ${found[algorithm]}, the signed Release says ${digest} (its SHA256 matches); a broken or tampered repository, refused as apt refuses it (Hash Sum mismatch)`);
    }
  }
}

/**
 * The other digests of the index file with this sha256, kept when it was fetched so that a lock reading
 * its parsed form (parsedIndexCache.ts) can check them without the file:
 *
 *   CACHE/apt-digests/v1/SHA256   {"SHA512": "...", "SHA1": "...", "MD5Sum": "..."}
 *
 * Anything else there (damaged, partial) is as good as absent: the file is fetched and hashed again.
 */
async function readIndexDigests(cacheDir: string, sha256: string): Promise<Digests | undefined> {
  const text = await readFile(digestsEntry(cacheDir, sha256), 'utf8').catch(() => undefined);
  try {
    const d = text === undefined ? undefined : (JSON.parse(text) as Partial<Record<OtherHash, unknown>>);
    const ok = d && (Object.keys(NODE_HASH) as OtherHash[]).every((n) => typeof d[n] === 'string' && /^[0-9a-f]+$/.test(d[n]));
    return ok ? (d as Digests) : undefined;
  } catch {
    return undefined;
  }
}

async function writeIndexDigests(cacheDir: string, sha256: string, digests: Digests): Promise<void> {
  await writeFileAtomic(digestsEntry(cacheDir, sha256), JSON.stringify(digests), { durable: false });
}

function digestsEntry(cacheDir: string, sha256: string): string {
  return join(cacheDir, 'apt-digests', 'v1', sha256);
}
