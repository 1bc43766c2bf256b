import { createHash } from 'node:crypto';
import { ResolveError } from '../../errors.js';
import type { Descriptor, ImageDocument } from './imageDocument.js';
import { platformMatches, platformName, platformShown, shortPlatform } from './imagePlatforms.js';

/** How many of the platforms an index offers a refusal names. */
const OFFERED_NAMED = 8;

export interface ReducedIndex {
  /** the index the bundle carries: the upstream bytes when every entry is kept, else the reduced document */
  bytes: Buffer;
  digest: string;
  /** the entries kept, in upstream order */
  manifests: Descriptor[];
  reduced: boolean;
}

/**
 * Keep the entries of a multi-platform index that are for the target platforms, in their order, with
 * every other field as it was. The result is a function of the upstream bytes and the platforms only, so
 * `build --locked` makes the same bytes the lock recorded. Refused when no entry fits (the image does not
 * run on the targets) or when an entry is itself an index (nested indexes are not carried).
 */
export function reduceIndex(upstream: Buffer, doc: ImageDocument & { kind: 'index' }, platforms: readonly string[], where: string): ReducedIndex {
  const keep = doc.manifests.map((m) => platformMatches(m.platform, platforms));
  const kept = doc.manifests.filter((_, i) => keep[i]);
  if (kept.length === 0) {
    // the index's own words: a few of them, each cut short (a hostile one lists thousands of long ones)
    const names = [...new Set(doc.manifests.map((m) => platformName(m.platform)))];
    const shown = names.slice(0, OFFERED_NAMED).map(shortPlatform);
    const offered = shown.join(', ') + (names.length > OFFERED_NAMED ? `, and ${names.length - OFFERED_NAMED} more` : '');
    throw new ResolveError(`${where}: the image offers ${offered || 'no platforms'}, none of ${platforms.join(', ')}; name the platforms to carry (platforms: [...]) or pick another image`);
  }
  for (const m of kept) {
    if (m.mediaType === doc.mediaType || m.mediaType.endsWith('index.v1+json') || m.mediaType.endsWith('manifest.list.v2+json')) {
      throw new ResolveError(`${where}: the index entry for ${platformShown(m.platform)} (${m.digest}) is itself an index; ferry carries one level of index only`);
    }
  }
  const reduced = kept.length !== doc.manifests.length;
  // the entries as served (field order and unknown fields kept), only fewer of them
  const bytes = reduced ? Buffer.from(JSON.stringify({ ...doc.json, manifests: (doc.json.manifests as unknown[]).filter((_, i) => keep[i]) })) : upstream;
  return { bytes, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, manifests: kept, reduced };
}
