import { FetchError, IntegrityError } from '../../errors.js';
import type { FetchStats } from '../../fetch/index.js';
import type { AptMirror } from '../../specfile/schema.js';
import type { BuildContext } from '../kind.js';
import { compareDebVersions } from './compareDebVersions.js';
import { readKeptRelease } from './fetchUpstreamRelease.js';
import type { AptUpstreamSource } from './loadAptUpstreams.js';
import type { AptMirrorLock, LockedMirrorDeb } from './lockAptMirror.js';
import { mirrorSelectionKey, readMirrorSelection } from './mirrorLockCache.js';
import { readUpstreamIndexes, type UpstreamIndexes, type UpstreamReleases } from './readUpstreamIndexes.js';
import { selectMirrorPackages } from './selectMirrorPackages.js';

/** The signed state a mirror's lock is proven by: `own`, the Releases the lock names (else the upstream's current ones). */
export type LockedMirrorState = UpstreamIndexes & { own: boolean };

/**
 * build --locked of an apt mirror: the signed state its lock is checked by. The Releases the lock was made
 * from (its sources' `release`, the sha256 of each verified Release text) as this machine kept them or the
 * upstream still serves them, verified again now against the spec's keyring (a Release past its Valid-Until
 * is not taken), with the Packages indexes they name (from the cache by digest, by-hash/, or the plain name
 * while it still has those bytes). When the lock names none, or they or their indexes cannot be had any
 * more (the cache gone and the upstream moved on), the Releases the upstream signs now, with their indexes:
 * the lock must then be what the spec selects from those (checkLockedSelection). Taken from its own
 * Releases, the lock's signers of each must be the ones that signed it (a lock is hostile input: the build
 * checks Releases against the spec's keyring, never the lock's list, and the list may not say otherwise).
 */
export async function readLockedMirrorState(
  where: string,
  lock: Pick<AptMirrorLock, 'sources' | 'architectures'>,
  upstreams: AptUpstreamSource[],
  ctx: Pick<BuildContext, 'cacheDir' | 'log'>,
  stats: FetchStats,
): Promise<LockedMirrorState> {
  const own = await readLockedReleases(where, lock.sources, upstreams, ctx.cacheDir, stats);
  if (own) {
    try {
      return { ...(await readUpstreamIndexes(upstreams, lock.architectures, ctx, stats, own)), own: true };
    } catch (err) {
      // an index of those Releases no longer served with those bytes (nor kept): the current ones below
      if (!(err instanceof IntegrityError || err instanceof FetchError)) throw err;
    }
  }
  ctx.log.info(`${where}: the signed Releases the lock was made from are not at hand (not kept here, no longer served, or not valid now): its selection is checked against the upstream's current ones`);
  return { ...(await readUpstreamIndexes(upstreams, lock.architectures, ctx, stats)), own: false };
}

/** The signed Releases the lock names, every one verified now, in the order apt reads them; undefined when one is not at hand. */
async function readLockedReleases(where: string, sources: AptMirrorLock['sources'], upstreams: AptUpstreamSource[], cacheDir: string, stats: FetchStats): Promise<UpstreamReleases | undefined> {
  const out: UpstreamReleases = { sources: [], releases: new Map() };
  for (const up of upstreams) {
    for (const suite of up.suites) {
      const locked = sources.find((s) => s.uri === up.uri && s.suite === suite);
      if (locked?.release === undefined) return undefined;
      const release = await readKeptRelease(up.uri, suite, up.keys, locked.release, stats, { checkValidUntil: up.checkValidUntil, cacheDir });
      if (release === undefined) return undefined;
      if ([...locked.signers].sort().join(' ') !== [...release.signers].sort().join(' ')) {
        throw new IntegrityError(
          `${where}: ${up.uri} ${suite}: the lock gives the signers ${JSON.stringify(locked.signers).slice(0, 300)}, the signed Release it was made from is signed by ${JSON.stringify(release.signers)} (checked against the spec's keyring); run ferry lock again and review the diff`,
        );
      }
      out.sources.push({ uri: up.uri, suite, signers: release.signers });
      out.releases.set(`${up.uri} ${suite}`, release);
    }
  }
  return out;
}

/** What names one selected file: suite, component, name, architecture, version and URL. */
type Selected = Pick<LockedMirrorDeb, 'suite' | 'component' | 'name' | 'architecture' | 'version' | 'url'>;

/**
 * The lock's .debs must be exactly those the spec's filter selects from the signed state (`state`,
 * readLockedMirrorState): what `ferry lock` selects from those indexes (selectMirrorPackages, or its
 * selection kept for that state and these settings, mirrorLockCache.ts). So a lock edited to leave out a
 * package the filter selects (the security update of a -security suite), to hold one at an older version the
 * signed index still lists, or to add one the filter does not select is refused in one line naming the
 * suite and the first package that differs (IntegrityError, exit 67), before any file is downloaded.
 */
export async function checkLockedSelection(
  where: string,
  locked: readonly LockedMirrorDeb[],
  mirror: Pick<AptMirror, 'architectures' | 'filter' | 'keep' | 'sources'>,
  upstreams: ReadonlyArray<{ uri: string; components: string[] }>,
  state: LockedMirrorState,
  cacheDir: string,
): Promise<void> {
  const kept = await readMirrorSelection(cacheDir, mirrorSelectionKey(mirror, upstreams, state));
  const selected: Selected[] =
    kept?.packages ??
    selectMirrorPackages(state.indexes, mirror, where).map((p) => ({
      suite: p.origin.suite,
      component: p.origin.component,
      name: p.name,
      architecture: p.architecture,
      version: p.version,
      url: `${p.origin.uri.replace(/\/+$/, '')}/${p.filename}`,
    }));
  const group = (p: Selected) => `${p.suite}\0${p.component}\0${p.name}\0${p.architecture}`;
  const file = (p: Selected) => `${group(p)}\0${p.version}\0${p.url}`;
  const lockFiles = new Set(locked.map(file));
  const selectedFiles = new Set(selected.map(file));
  const against = state.own ? "the upstream's signed indexes it was made from" : "the upstream's current signed indexes (those it was made from are not at hand)";
  const again = '; run ferry lock again and review the diff';
  for (const s of [...selected].sort(order)) {
    if (lockFiles.has(file(s))) continue;
    const held = locked.filter((l) => group(l) === group(s) && !selectedFiles.has(file(l))).sort(order)[0];
    const what = `${s.name} ${s.architecture} (${s.component})`;
    if (held === undefined) throw new IntegrityError(`${where}: suite ${s.suite}: the lock leaves out ${s.name} ${s.version} ${s.architecture} (${s.component}), which the spec's filter selects from ${against}${again}`);
    const how = compareDebVersions(held.version, s.version) < 0 ? 'holds back' : 'gives';
    throw new IntegrityError(`${where}: suite ${s.suite}: the lock ${how} ${what} at ${held.version}, where the spec's filter selects ${s.version} from ${against}${again}`);
  }
  const seen = new Set<string>();
  for (const l of [...locked].sort(order)) {
    const at = `${where}: suite ${l.suite}: the lock`;
    if (!selectedFiles.has(file(l))) throw new IntegrityError(`${at} adds ${l.name} ${l.version} ${l.architecture} (${l.component}), which the spec's filter does not select from ${against}${again}`);
    if (seen.has(file(l))) throw new IntegrityError(`${at} pins ${l.name} ${l.version} ${l.architecture} (${l.component}) twice${again}`);
    seen.add(file(l));
  }
}

function order(a: Selected, b: Selected): number {
  const cmp = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
  return cmp(a.suite, b.suite) || cmp(a.component, b.component) || cmp(a.name, b.name) || cmp(a.architecture, b.architecture) || compareDebVersions(a.version, b.version) || cmp(a.url, b.url);
}
