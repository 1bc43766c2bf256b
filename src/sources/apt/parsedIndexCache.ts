import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { writeFileAtomic } from '../../util/writeFileAtomic.js';
import type { AptOrigin, AptPackage } from './types.js';

/**
 * The parsed form of a Packages index, kept in the download cache so that the next `ferry lock` on the
 * same index skips downloading, decompressing and parsing it (about 2 s and most of the memory for
 * Debian's main). Keyed by the index file's sha256 as the verified Release lists it, so an entry is
 * only ever used for bytes the signed Release vouches for; the layout version in the path changes
 * whenever the parsed fields do. Origins are not stored: the same bytes may come from another URI.
 *
 *   CACHE/apt-parsed/v1/SHA256
 */
const LAYOUT = 'v1';

function entry(cacheDir: string, sha256: string): string {
  return join(cacheDir, 'apt-parsed', LAYOUT, sha256);
}

/** The packages of the index with this sha256, or undefined when not cached (or unreadable). */
export async function readParsedIndex(cacheDir: string, sha256: string, origin: AptOrigin): Promise<AptPackage[] | undefined> {
  const data = await readFile(entry(cacheDir, sha256)).catch(() => undefined);
  if (!data) return undefined;
  let packages: unknown;
  try {
    packages = deserialize(data);
  } catch {
    return undefined; // a damaged entry: parse the index again, which rewrites it
  }
  if (!Array.isArray(packages)) return undefined;
  for (const p of packages as AptPackage[]) p.origin = origin;
  return packages as AptPackage[];
}

export async function writeParsedIndex(cacheDir: string, sha256: string, packages: AptPackage[]): Promise<void> {
  const bare = packages.map(({ origin: _origin, ...rest }) => rest);
  await writeFileAtomic(entry(cacheDir, sha256), serialize(bare));
}
