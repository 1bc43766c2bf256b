import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AptMirror } from '../../specfile/schema.js';
import { canonicalJson } from '../../util/canonicalJson.js';
import { sha256Hex } from '../../util/sha256.js';
import { writeFileAtomic } from '../../util/writeFileAtomic.js';
import { VERSION } from '../../version.js';
import type { LockedMirrorSource } from './lockAptSources.js';
import type { LockedMirrorDeb } from './lockAptMirror.js';
import type { UpstreamReleases } from './readUpstreamIndexes.js';

/** What a mirror's lock pins, as the upstream's indexes and the mirror's settings determine it. */
export interface MirrorSelection {
  packages: LockedMirrorDeb[];
  sourcePackages?: LockedMirrorSource[];
}

/** Changes whenever what is kept, or how it is chosen, changes: older entries are then simply not read. */
const LAYOUT = 1;

/**
 * The selection of an apt mirror (the pinned .debs and source packages) kept in the download cache, so that
 * locking again while the upstream has not changed (the usual weekly refresh of most suites) verifies the
 * upstream's signed InRelease and stops there: no index is opened, nothing is selected or resolved again.
 *
 *   CACHE/apt-mirror-lock/vLAYOUT/KEY   (canonical JSON: { key, packages, sourcePackages? })
 *
 * KEY is the sha256 of the mirror's settings that choose files (upstream URIs and components, architectures,
 * filter, keep, sources), ferry's version, and the sha256 of the text of every upstream Release as verified
 * in THIS run. A signed Release names every index it has by its sha256, so it fixes their bytes, and the
 * selection is a function of those bytes and the settings: the entry is only ever used for the state the
 * signature just vouched for, exactly like the packed indexes it was computed from (parsedIndexCache.ts).
 * The signers are not part of the entry: they come from this run's verification. A new InRelease (even one
 * re-signed with the same content and a new date) gives another key, and the lock is computed again. An
 * entry that does not read back whole (or names another key) is ignored and rewritten.
 */
export function mirrorSelectionKey(
  mirror: Pick<AptMirror, 'architectures' | 'filter' | 'keep' | 'sources'>,
  upstreams: ReadonlyArray<{ uri: string; components: string[] }>,
  read: UpstreamReleases,
): string {
  return sha256Hex(
    canonicalJson({
      layout: LAYOUT,
      ferry: VERSION,
      upstreams: upstreams.map((u) => ({ uri: u.uri, components: u.components })),
      architectures: mirror.architectures,
      filter: mirror.filter ?? null,
      keep: mirror.keep,
      sources: mirror.sources,
      releases: read.sources.map(({ uri, suite }) => ({ uri, suite, sha256: read.releases.get(`${uri} ${suite}`)!.sha256 })),
    }),
  );
}

function entry(cacheDir: string, key: string): string {
  return join(cacheDir, 'apt-mirror-lock', `v${LAYOUT}`, key);
}

/** The selection locked before for this key, or undefined (not cached, or not intact). */
export async function readMirrorSelection(cacheDir: string, key: string): Promise<MirrorSelection | undefined> {
  const text = await readFile(entry(cacheDir, key), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as { key?: unknown; packages?: unknown; sourcePackages?: unknown };
    if (v.key !== key || !Array.isArray(v.packages) || !v.packages.every(isLockedDeb)) return undefined;
    if (v.sourcePackages !== undefined && !Array.isArray(v.sourcePackages)) return undefined;
    return { packages: v.packages, ...(v.sourcePackages ? { sourcePackages: v.sourcePackages as LockedMirrorSource[] } : {}) };
  } catch {
    return undefined;
  }
}

/** Keep a selection for the next lock of the same upstream state. */
export async function writeMirrorSelection(cacheDir: string, key: string, selection: MirrorSelection): Promise<void> {
  // computed again whenever it does not read back whole (a crash before write-back): no fsync
  await writeFileAtomic(entry(cacheDir, key), canonicalJson({ key, ...selection }), { durable: false });
}

function isLockedDeb(p: unknown): p is LockedMirrorDeb {
  const d = p as Record<string, unknown>;
  return (
    typeof d === 'object' &&
    d !== null &&
    ['name', 'version', 'architecture', 'suite', 'component', 'url', 'sha256'].every((k) => typeof d[k] === 'string') &&
    Number.isSafeInteger(d.size)
  );
}
