import { ResolveError } from '../../errors.js';
import type { FetchStats } from '../../fetch/index.js';
import type { BuildContext } from '../kind.js';
import { fetchSourcesIndex } from './fetchSourcesIndex.js';
import type { UpstreamRelease } from './fetchUpstreamRelease.js';
import type { AptSourcePackage, SourceFile } from './readSourcesIndex.js';
import type { AptPackage } from './types.js';

/** One pinned source package of a mirror in SPEC.lock.json: every file of its .dsc, with its upstream URL. */
export interface LockedMirrorSource {
  name: string;
  version: string;
  suite: string;
  component: string;
  files: Array<SourceFile & { url: string }>;
}

/** The source package a binary package was built from: `Source: name (version)`, `Source: name`, or its own name and version. */
export function sourceOf(p: Pick<AptPackage, 'name' | 'version' | 'source'>): { name: string; version: string } {
  const m = /^(\S+)(?:\s*\((\S+)\))?$/.exec((p.source ?? '').trim());
  return { name: m?.[1] ?? p.name, version: m?.[2] ?? p.version };
}

/**
 * Pin the source package of every kept binary package: read each suite's `COMPONENT/source/Sources`
 * (checked against the upstream's verified Release, as Packages are) and find the source by name and
 * version in the binary's own suite, its own component first. A binary whose source the upstream does
 * not list fails the lock, naming the binary (a mirror that promises sources must carry all of them).
 */
export async function lockAptSources(
  packages: readonly AptPackage[],
  releases: Map<string, UpstreamRelease>,
  components: readonly string[],
  ctx: Pick<BuildContext, 'cacheDir' | 'log'>,
  stats: FetchStats,
  where: string,
): Promise<LockedMirrorSource[]> {
  // by "URI suite": every component's source packages, by "name version"
  const read = new Map<string, Array<{ component: string; byKey: Map<string, AptSourcePackage> }>>();
  const suiteSources = async (uri: string, suite: string) => {
    const key = `${uri} ${suite}`;
    let got = read.get(key);
    if (!got) {
      got = [];
      for (const component of components) {
        const list = await fetchSourcesIndex(releases.get(key)!, component, { cacheDir: ctx.cacheDir, log: ctx.log, stats });
        got.push({ component, byKey: new Map(list.map((s) => [`${s.name} ${s.version}`, s])) });
      }
      read.set(key, got);
    }
    return got;
  };
  const out = new Map<string, LockedMirrorSource>();
  for (const p of packages) {
    const src = sourceOf(p);
    const inSuite = await suiteSources(p.origin.uri, p.origin.suite);
    const order = [...inSuite.filter((c) => c.component === p.origin.component), ...inSuite.filter((c) => c.component !== p.origin.component)];
    const found = order.map((c) => ({ component: c.component, s: c.byKey.get(`${src.name} ${src.version}`) })).find((x) => x.s);
    if (!found) {
      throw new ResolveError(
        `${where}: binary package ${p.name} ${p.version} (${p.origin.suite}/${p.origin.component}) was built from source ${src.name} ${src.version}, which the upstream's Sources indexes of ${p.origin.suite} do not list; drop "sources: true" or fix the upstream`,
      );
    }
    const s = found.s!;
    const base = `${p.origin.uri.replace(/\/+$/, '')}/${s.directory}/`;
    out.set(`${p.origin.suite} ${found.component} ${s.name} ${s.version}`, {
      name: s.name,
      version: s.version,
      suite: p.origin.suite,
      component: found.component,
      files: s.files.map((f) => ({ ...f, url: base + f.name })),
    });
  }
  return [...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, s]) => s);
}
