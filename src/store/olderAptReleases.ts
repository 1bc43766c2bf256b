import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseReleaseDate } from '../sources/apt/parseReleaseDate.js';
import { readRegularFile } from '../util/readRegularFile.js';

/** A Release file is a few kilobytes (bookworm's: 150 KiB with its hashes); more is not one. */
const RELEASE_MAX = 16 << 20;

/** A suite whose Release a switch dates before the one the stable URL served. */
export interface OlderRelease {
  suite: string;
  from: string;
  to: string;
}

/**
 * The apt suites of mirror snapshot `to` whose Release Date is before that of the same suite in `from`
 * (both folders STORE/mirrors/NAME@VERSION). apt ignores a Release dated before the one it already has
 * (it keeps its lists, as for a Release that did not change), so hosts that read `from` go on seeing its
 * packages after a switch back, and fetching them then fails (404). Anything unreadable counts as no
 * such suite: this only decides a warning. Each Release is read only when it is a regular file of at most
 * RELEASE_MAX bytes (a FIFO there held the mirror's switch forever, a sparse file of gigabytes was read whole).
 */
export async function olderAptReleases(from: string, to: string): Promise<OlderRelease[]> {
  const suites = await readdir(join(to, 'debian/dists')).catch(() => [] as string[]);
  const out: OlderRelease[] = [];
  for (const suite of suites.sort()) {
    const [a, b] = await Promise.all([releaseDate(join(from, 'debian/dists', suite, 'Release')), releaseDate(join(to, 'debian/dists', suite, 'Release'))]);
    if (a !== undefined && b !== undefined && b < a) out.push({ suite, from: new Date(a).toISOString(), to: new Date(b).toISOString() });
  }
  return out;
}

async function releaseDate(file: string): Promise<number | undefined> {
  const read = await readRegularFile(file, RELEASE_MAX).catch(() => undefined);
  const text = read?.bytes?.toString('utf8');
  const line = text?.split('\n').find((l) => l.startsWith('Date:'));
  return line === undefined ? undefined : parseReleaseDate(line.slice(5).trim());
}
