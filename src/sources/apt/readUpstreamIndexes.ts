import type { BuildContext } from '../kind.js';
import { aptBool } from './aptBool.js';
import type { FetchStats } from '../../fetch/index.js';
import { fetchPackagesIndex } from './fetchPackagesIndex.js';
import { fetchUpstreamRelease, type UpstreamRelease } from './fetchUpstreamRelease.js';
import type { AptUpstreamSource } from './loadAptUpstreams.js';
import type { PackedIndex } from './packedIndex.js';
import type { AptOrigin } from './types.js';

export interface UpstreamReleases {
  /** upstream suites read, with the keys that signed them (for review) */
  sources: Array<{ uri: string; suite: string; signers: string[] }>;
  /** each suite's verified Release, by "URI suite" */
  releases: Map<string, UpstreamRelease>;
}

export interface UpstreamIndexes extends UpstreamReleases {
  /** one packed Packages index per upstream suite, component and architecture, in the order apt reads them */
  indexes: PackedIndex[];
}

/** Fetch and verify the Release (InRelease) of every suite of every upstream, in the order apt reads them. */
export async function fetchUpstreamReleases(
  upstreams: AptUpstreamSource[],
  stats: FetchStats,
  cache: { cacheDir?: string; preferCached?: boolean } = {},
): Promise<UpstreamReleases> {
  const out: UpstreamReleases = { sources: [], releases: new Map() };
  for (const up of upstreams) {
    for (const suite of up.suites) {
      const release = await fetchUpstreamRelease(up.uri, suite, up.keys, stats, { checkValidUntil: up.checkValidUntil, ...cache });
      out.sources.push({ uri: up.uri, suite, signers: release.signers });
      out.releases.set(`${up.uri} ${suite}`, release);
    }
  }
  return out;
}

/**
 * Read every suite of every upstream: the verified InRelease (fetchUpstreamReleases, unless the caller
 * already has them), then each component's Packages index per architecture (checked against it), plus
 * binary-all when the Release names "all" among its architectures or names none (as apt does).
 */
export async function readUpstreamIndexes(
  upstreams: AptUpstreamSource[],
  architectures: string[],
  ctx: Pick<BuildContext, 'cacheDir' | 'log'>,
  stats: FetchStats,
  read?: UpstreamReleases,
  /** read each suite's signed Release from the cache's copy when it still verifies (fetchUpstreamRelease) */
  preferCached = false,
): Promise<UpstreamIndexes> {
  const out: UpstreamIndexes = { ...(read ?? (await fetchUpstreamReleases(upstreams, stats, { cacheDir: ctx.cacheDir, preferCached }))), indexes: [] };
  for (const up of upstreams) {
    for (const suite of up.suites) {
      const release = out.releases.get(`${up.uri} ${suite}`)!;
      // a Release without Architectures supports every one, "all" included (apt reads binary-all then too),
      // unless its No-Support-for-Architecture-all has the word `Packages` (words split at white space, as apt)
      const archs = release.fields.get('Architectures');
      const noAll = (release.fields.get('No-Support-for-Architecture-all') ?? '').split(/\s+/).includes('Packages');
      const allArchIndex = (archs === undefined || archs.split(/\s+/).includes('all')) && !noAll;
      if (release.flat) {
        // a flat repository: no components, one Packages index for every architecture (indexPackedSources keeps each one's)
        const packed = await fetchPackagesIndex(release, releaseOrigin(up.uri, suite, '', release.fields), '', { cacheDir: ctx.cacheDir, log: ctx.log, stats });
        if (packed) out.indexes.push(packed);
        continue;
      }
      for (const component of up.components) {
        const origin = releaseOrigin(up.uri, suite, component, release.fields);
        for (const arch of [...architectures, ...(allArchIndex ? ['all'] : [])]) {
          const packed = await fetchPackagesIndex(release, origin, arch, { cacheDir: ctx.cacheDir, log: ctx.log, stats });
          if (packed) out.indexes.push(packed);
        }
      }
    }
  }
  return out;
}

/** Where a suite's component comes from, with its pin and what `name/RELEASE` matches (its Suite and Codename, its Version). */
export function releaseOrigin(uri: string, suite: string, component: string, fields: ReadonlyMap<string, string>): AptOrigin {
  const releaseNames = ['Suite', 'Codename'].flatMap((name) => {
    const value = fields.get(name)?.trim();
    return value ? [value] : [];
  });
  const releaseVersion = fields.get('Version')?.trim();
  return { uri, suite, component, pin: releasePin(fields), releaseNames, ...(releaseVersion ? { releaseVersion } : {}) };
}

/** apt's default pin priority of a suite from its Release: NotAutomatic 1, with ButAutomaticUpgrades 100, else 500 (flags read as apt reads them, aptBool). */
export function releasePin(fields: ReadonlyMap<string, string>): number {
  if (!aptBool(fields.get('NotAutomatic'))) return 500;
  return aptBool(fields.get('ButAutomaticUpgrades')) ? 100 : 1;
}
