import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { IntegrityError } from '../../errors.js';
import { quoteInput } from '../../util/oneLine.js';
import type { LockedDeb } from './aptKind.js';
import type { PackedIndex } from './packedIndex.js';
import type { AptPackage } from './types.js';
import type { FetchStats } from '../../fetch/index.js';
import type { BuildContext } from '../kind.js';
import type { AptUpstreamSource } from './loadAptUpstreams.js';
import { readUpstreamIndexes } from './readUpstreamIndexes.js';

/** What a lock pins of one .deb; a mirror's lock names the component it is published in too. */
type PinnedDeb = Omit<LockedDeb, 'services'> & { component?: string };

/** The URL a lock gives an index's package: its upstream's URI and its Filename, as `ferry lock` writes it. */
function packageUrl(p: AptPackage): string {
  return `${p.origin.uri.replace(/\/+$/, '')}/${p.filename}`;
}

/**
 * Every .deb a lock pins is one the upstreams' signed indexes list: the verified Packages indexes of the
 * spec's suites, components and the lock's architectures (readUpstreamIndexes, the ones `ferry lock`
 * reads) must hold a stanza of that name, version and architecture, at that URL, of that size and
 * Priority, with that SHA256. A stanza that gives SHA512 only (pinDebSha256) matches on the rest, and
 * the downloaded file is checked against its SHA512 afterwards (checkSha512). So a hand-edited lock
 * cannot pin a file of the upstream's pool that no suite of the spec lists (an old version dropped from
 * the index, another suite's file, an unsigned corner of the server). An entry that names its component (a
 * mirror's, which publishes it there) must be listed by that component's index. Throws one line naming the
 * first entry no index lists, or both Priorities when an index lists its file with another one (the
 * published index repeats the lock's: a hand-edited Priority would reach hosts) (IntegrityError, exit 67). Returns, by the index of the locked entry, the
 * SHA512s that remain to be checked; `matched` is given each entry's index stanza (its Source field).
 */
export function checkLockedInIndexes(locked: readonly PinnedDeb[], indexes: readonly PackedIndex[], matched?: (at: number, p: AptPackage) => void): Map<number, string> {
  const sha512s = new Map<number, string>();
  locked.forEach((l, at) => {
    let sha512: string | undefined;
    let found: AptPackage | undefined;
    let withSha512: AptPackage | undefined;
    // the component of an index that lists the file, when it is not the one the lock publishes it in
    let elsewhere: string | undefined;
    // an index stanza of the file with another Priority than the lock's (which the published index would give)
    let otherPriority: AptPackage | undefined;
    for (const packed of indexes) {
      const id = packed.lookup(l.name);
      if (id === undefined) continue;
      for (const i of packed.recordsNamed(id)) {
        const p = packed.get(i);
        if (p.name !== l.name || p.version !== l.version || p.architecture !== l.architecture || p.size !== l.size) continue;
        if (packageUrl(p) !== l.url) continue;
        if (p.sha256 !== l.sha256 && !(p.sha256 === '' && p.sha512)) continue;
        if (l.component !== undefined && p.origin.component !== l.component) {
          elsewhere ??= p.origin.component;
          continue;
        }
        if ((p.priority ?? '') !== (l.priority ?? '')) {
          otherPriority ??= p;
          continue;
        }
        if (p.sha256 === l.sha256) found ??= p;
        else if (sha512 === undefined) [sha512, withSha512] = [p.sha512, p];
      }
      if (found) break;
    }
    if (found) return void matched?.(at, found);
    if (sha512 !== undefined) {
      sha512s.set(at, sha512);
      return void matched?.(at, withSha512!);
    }
    if (elsewhere !== undefined) {
      throw new IntegrityError(
        `${l.url}: the lock publishes ${l.name} ${l.version} ${l.architecture} in component ${l.component}, but the signed Packages index that lists that file is component ${elsewhere}'s; run ferry lock again and review the diff`,
      );
    }
    if (otherPriority !== undefined) {
      const where = `${otherPriority.origin.suite}${otherPriority.origin.component ? `/${otherPriority.origin.component}` : ''}`;
      throw new IntegrityError(
        `${l.url}: the lock pins ${l.name} ${l.version} ${l.architecture} with Priority ${l.priority ?? 'none'}, but no signed Packages index of the spec's upstreams lists that file with it: ${where}'s gives Priority ${otherPriority.priority === undefined ? 'none' : quoteInput(otherPriority.priority, 40)}; run ferry lock again and review the diff`,
      );
    }
    throw new IntegrityError(
      `${l.url}: the lock pins ${l.name} ${l.version} ${l.architecture} (sha256 ${l.sha256}, ${l.size} bytes), but no signed Packages index of the spec's upstreams lists that file; run ferry lock again and review the diff`,
    );
  });
  return sha512s;
}

/**
 * build --locked of an apt closure: read the upstreams' signed Packages indexes (readUpstreamIndexes) and
 * check the locked .debs against them (checkLockedInIndexes). A warm build reads the signed Releases this
 * machine kept (verified again now) and asks the upstream again only when they do not list every locked file
 * (the upstream moved on since this machine's last lock). Returns the SHA512s left to check (checkSha512).
 */
export async function checkLockedUpstreams(
  locked: readonly PinnedDeb[],
  upstreams: AptUpstreamSource[],
  architectures: string[],
  ctx: Pick<BuildContext, 'cacheDir' | 'log'>,
  stats: FetchStats,
): Promise<Map<number, string>> {
  const read = await readUpstreamIndexes(upstreams, architectures, ctx, stats, undefined, true);
  try {
    return checkLockedInIndexes(locked, read.indexes);
  } catch (err) {
    if (!(err instanceof IntegrityError) || ![...read.releases.values()].some((r) => r.cached)) throw err;
    return checkLockedInIndexes(locked, (await readUpstreamIndexes(upstreams, architectures, ctx, stats)).indexes);
  }
}

/** A downloaded .deb whose index stanza gives SHA512 only must match it (exit 67, one line). */
export async function checkSha512(file: string, expected: string, l: PinnedDeb): Promise<void> {
  const hash = createHash('sha512');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  const found = hash.digest('hex');
  if (found !== expected) {
    throw new IntegrityError(`${l.url}: the lock pins ${l.name} ${l.version} ${l.architecture} (sha256 ${l.sha256}), whose sha512 ${found} is not the ${expected} the signed Packages index lists; run ferry lock again and review the diff`);
  }
}
