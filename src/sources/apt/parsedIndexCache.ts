import { join } from 'node:path';
import { writeFileAtomic } from '../../util/writeFileAtomic.js';
import { PACKED_LAYOUT, PackedIndex } from './packedIndex.js';
import type { AptOrigin } from './types.js';

/**
 * The packed form of a Packages index (packedIndex.ts), kept in the download cache so that the next
 * `ferry lock` on the same index skips downloading, decompressing and parsing it, and decodes only the
 * packages it visits. Keyed by the index file's sha256 as the verified Release lists it, so an entry is
 * only ever used for bytes the signed Release vouches for; the layout version in the path changes
 * whenever the packed form does, so older caches are simply not read. An entry that is truncated or
 * damaged fails its own length and checksum and is rebuilt from the index.
 *
 *   CACHE/apt-parsed/vLAYOUT/SHA256
 */
function entry(cacheDir: string, sha256: string): string {
  return join(cacheDir, 'apt-parsed', `v${PACKED_LAYOUT}`, sha256);
}

/** The index with this sha256 as read from `origin`, or undefined when not cached (or not intact). */
export async function readParsedIndex(cacheDir: string, sha256: string, origin: AptOrigin): Promise<PackedIndex | undefined> {
  return PackedIndex.openFile(entry(cacheDir, sha256), origin);
}

/** Keep a packed index (PackedIndexWriter's parts) for the next lock. */
export async function writeParsedIndex(cacheDir: string, sha256: string, packed: readonly Uint8Array[]): Promise<void> {
  // rebuilt from the index whenever it fails its own length and checksum (a crash before write-back): no fsync
  await writeFileAtomic(entry(cacheDir, sha256), packed, { durable: false });
}
