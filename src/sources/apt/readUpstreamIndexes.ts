import type { BuildContext } from '../kind.js';
import type { FetchStats } from '../../fetch/index.js';
import { fetchPackagesIndex } from './fetchPackagesIndex.js';
import { fetchUpstreamRelease, type UpstreamRelease } from './fetchUpstreamRelease.js';
import type { AptUpstreamSource } from './loadAptUpstreams.js';
import type { PackedIndex } from './packedIndex.js';

export interface UpstreamIndexes {
  /** one packed Packages index per upstream suite, component and architecture, in the order apt reads them */
  indexes: PackedIndex[];
  /** upstream suites read, with the keys that signed them (for review) */
  sources: Array<{ uri: string; suite: string; signers: string[] }>;
  /** each suite's verified Release, by "URI suite" */
  releases: Map<string, UpstreamRelease>;
}

/**
 * Read every suite of every upstream: the verified InRelease, then each component's Packages index per
 * architecture (checked against it), plus binary-all when the Release names "all" among its
 * architectures (as apt does).
 */
export async function readUpstreamIndexes(
  upstreams: AptUpstreamSource[],
  architectures: string[],
  ctx: Pick<BuildContext, 'cacheDir' | 'log'>,
  stats: FetchStats,
): Promise<UpstreamIndexes> {
  const out: UpstreamIndexes = { indexes: [], sources: [], releases: new Map() };
  for (const up of upstreams) {
    for (const suite of up.suites) {
      const release = await fetchUpstreamRelease(up.uri, suite, up.keys, stats);
      out.sources.push({ uri: up.uri, suite, signers: release.signers });
      out.releases.set(`${up.uri} ${suite}`, release);
      const allArchIndex =
        (release.fields.get('Architectures') ?? '').split(/\s+/).includes('all') && release.fields.get('No-Support-for-Architecture-all') !== 'Packages';
      for (const component of up.components) {
        const origin = { uri: up.uri, suite, component };
        for (const arch of [...architectures, ...(allArchIndex ? ['all'] : [])]) {
          const packed = await fetchPackagesIndex(release, origin, arch, { cacheDir: ctx.cacheDir, log: ctx.log, stats });
          if (packed) out.indexes.push(packed);
        }
      }
    }
  }
  return out;
}
