import { FetchError, IntegrityError } from '../../errors.js';
import type { FetchStats } from '../../fetch/createFetchStats.js';
import { fetchBytes } from '../../fetch/fetchBytes.js';
import { fetchToCache } from '../../fetch/fetchToCache.js';
import type { Logger } from '../../ui/log.js';
import type { SyncBatch } from '../../util/createSyncBatch.js';
import { sha256Hex } from '../../util/sha256.js';
import type { IndexFile } from './indexFile.js';
import { readWheelMetadata } from './readWheelMetadata.js';

const MAX_METADATA_BYTES = 16 * 1024 * 1024;

export interface DistMetadata {
  text: string;
  /** where it came from: the index's PEP 658 file, or the wheel itself (then in the cache) */
  source: 'pep658' | 'wheel';
  /** the wheel, when it had to be downloaded to read its METADATA */
  wheel?: { path: string; sha256: string; size: number };
}

/**
 * A wheel's core metadata: the PEP 658 `.metadata` file when the index offers one (a few KiB instead of
 * the whole wheel; its sha256 checked when the index gives one), else METADATA read out of the wheel,
 * which is then downloaded into the cache, where the build finds it again.
 */
export async function readDistMetadata(file: IndexFile, opts: { cacheDir: string; log: Logger; stats?: FetchStats; syncBatch?: SyncBatch }): Promise<DistMetadata> {
  if (file.metadata) {
    const url = `${file.url}.metadata`;
    let body: Buffer | undefined;
    try {
      body = (await fetchBytes(url, { maxBytes: MAX_METADATA_BYTES, stats: opts.stats })).body;
    } catch (err) {
      if (!(err instanceof FetchError && err.status === 404)) throw err;
      opts.log.warn(`${file.filename}: the index announces PEP 658 metadata but ${url} is missing; reading METADATA from the wheel`);
    }
    if (body) {
      const got = sha256Hex(body);
      if (file.metadata.sha256 && got !== file.metadata.sha256) {
        throw new IntegrityError(`${url}: sha256 is ${got}, the index announced ${file.metadata.sha256}; the index is inconsistent or the transfer was altered`);
      }
      return { text: body.toString('utf8'), source: 'pep658' };
    }
  }
  const wheel = await fetchToCache({ url: file.url, sha256: file.sha256, size: file.size, label: file.filename }, { cacheDir: opts.cacheDir, log: opts.log, stats: opts.stats, syncBatch: opts.syncBatch });
  return { text: await readWheelMetadata(wheel.path, file.filename), source: 'wheel', wheel };
}
