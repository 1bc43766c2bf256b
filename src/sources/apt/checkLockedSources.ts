import { IntegrityError } from '../../errors.js';
import { quoteInput } from '../../util/oneLine.js';
import type { FetchStats } from '../../fetch/index.js';
import type { BuildContext } from '../kind.js';
import { fetchSourcesIndex } from './fetchSourcesIndex.js';
import type { AptUpstreamSource } from './loadAptUpstreams.js';
import { sourceOf, type LockedMirrorSource } from './lockAptSources.js';
import type { AptSourcePackage } from './readSourcesIndex.js';
import type { UpstreamRelease } from './fetchUpstreamRelease.js';
import type { AptPackage } from './types.js';

/** One signed Sources index: its upstream's URI, and its source packages by "name version". */
interface ReadSources {
  uri: string;
  byKey: Map<string, AptSourcePackage[]>;
}

/** A name or version from the lock (hostile text) in a message: as is when it is a plain word, else quoted (quoteInput). */
const shown = (s: string) => (/^[A-Za-z0-9][A-Za-z0-9.+~:_-]{0,199}$/.test(s) ? s : quoteInput(s, 200));

/** A locked file as the index would give it: name, size, sha256 and URL (the upstream's URI, the Directory, the name). */
const fileKey = (f: { name: string; size: number; sha256: string; url: string }) => JSON.stringify([f.name, f.size, f.sha256, f.url]);

/**
 * Every source package a mirror's lock pins is one the signed Sources index of its suite and component
 * lists (as lockAptSources read it): that name and version, every file the index gives for it at the URL
 * its Directory gives, with that size and sha256, and no other file. So a hand-edited lock cannot make the
 * mirror publish, and the bundle key sign, a file of the upstream's pool no suite lists as that source
 * (an old vulnerable tarball, another suite's source, a file no index names). Throws one line naming the
 * first package or file no index lists (IntegrityError, exit 67).
 */
export function checkLockedSourcesInIndexes(locked: readonly LockedMirrorSource[], sourcesOf: (suite: string, component: string) => readonly ReadSources[]): void {
  for (const sp of locked) {
    const what = `source package ${shown(sp.name)} ${shown(sp.version)} (${sp.suite}/${sp.component})`;
    const candidates = sourcesOf(sp.suite, sp.component).flatMap((r) => (r.byKey.get(`${sp.name} ${sp.version}`) ?? []).map((s) => ({ uri: r.uri, s })));
    const listed = candidates.map(({ uri, s }) => s.files.map((f) => fileKey({ ...f, url: `${uri.replace(/\/+$/, '')}/${s.directory}/${f.name}` })).sort());
    const pinned = sp.files.map(fileKey).sort();
    if (listed.some((l) => l.length === pinned.length && l.every((k, i) => k === pinned[i]))) continue;
    const again = `; run ferry lock again and review the diff`;
    if (listed.length === 0) throw new IntegrityError(`the lock pins ${what}, but no signed Sources index of the spec's upstreams lists it in ${sp.suite}/${sp.component}${again}`);
    // name the first file that differs from the first entry the index gives
    const unlisted = sp.files.find((f) => !listed[0]!.includes(fileKey(f)));
    if (unlisted) {
      throw new IntegrityError(
        `${unlisted.url}: the lock pins ${shown(unlisted.name)} (sha256 ${unlisted.sha256}, ${unlisted.size} bytes) as a file of ${what}, but the signed Sources index does not list that file for it${again}`,
      );
    }
    const missing = listed[0]!.find((k) => !pinned.includes(k));
    if (missing) throw new IntegrityError(`the lock pins ${what} without ${(JSON.parse(missing) as [string])[0]}, a file the signed Sources index lists for it${again}`);
    throw new IntegrityError(`the lock pins ${what} with ${pinned.length} files, the signed Sources index lists ${listed[0]!.length}${again}`);
  }
}

/** A locked .deb of a mirror, with the signed index stanza it matched (checkLockedInIndexes), whose Source names its source package. */
export interface MatchedDeb {
  deb: { name: string; version: string; architecture: string; suite: string; component: string; url: string };
  stanza: AptPackage;
}

/**
 * build --locked of a mirror with sources: read the signed Sources indexes of one suite's upstreams, as the
 * signed `releases` the lock is checked by name them (readLockedMirrorState), and check the suite's locked
 * source packages against them (checkLockedSourcesInIndexes) and, with `sources: true`, against its locked
 * .debs (checkLockedSourceComponents). `components`: the spec's, in its order, whose Sources indexes are read.
 */
export async function checkLockedSourceUpstreams(
  locked: readonly LockedMirrorSource[],
  upstreams: AptUpstreamSource[],
  releases: ReadonlyMap<string, UpstreamRelease>,
  ctx: Pick<BuildContext, 'cacheDir' | 'log'>,
  stats: FetchStats,
  binaries?: { debs: readonly MatchedDeb[]; components: readonly string[] },
): Promise<void> {
  if (locked.length === 0 && !binaries?.debs.length) return;
  const indexes = new Map<string, ReadSources[]>();
  // each (suite, component) a locked source package names, and with binaries every component, of every upstream of that suite
  const wanted = [...locked.map((sp) => ({ suite: sp.suite, component: sp.component })), ...(binaries ? binaries.debs.flatMap(({ deb }) => binaries.components.map((component) => ({ suite: deb.suite, component }))) : [])];
  for (const { suite, component } of wanted) {
    const key = `${suite} ${component}`;
    if (indexes.has(key)) continue;
    const got: ReadSources[] = [];
    for (const up of upstreams.filter((u) => u.suites.includes(suite))) {
      const byKey = new Map<string, AptSourcePackage[]>();
      for (const s of await fetchSourcesIndex(releases.get(`${up.uri} ${suite}`)!, component, { cacheDir: ctx.cacheDir, log: ctx.log, stats })) {
        const k = `${s.name} ${s.version}`;
        byKey.set(k, [...(byKey.get(k) ?? []), s]);
      }
      got.push({ uri: up.uri, byKey });
    }
    indexes.set(key, got);
  }
  const sourcesOf = (suite: string, component: string) => indexes.get(`${suite} ${component}`) ?? [];
  checkLockedSourcesInIndexes(locked, sourcesOf);
  if (binaries) checkLockedSourceComponents(binaries.debs, locked, binaries.components, sourcesOf);
}

/**
 * A mirror with `sources: true` carries the source package of every .deb it publishes, as `ferry lock`
 * pins it (lockAptSources): the source the .deb's signed index stanza names (its Source field), from the
 * first component of its suite whose signed Sources index of the .deb's upstream lists it, the .deb's own
 * component first, then the spec's `components` in their order. So the lock's source packages of a suite
 * must be exactly those: one left out would leave the mirror without it; one moved to another component
 * that also lists it would be published where a host's `deb-src … main` does not look; one no locked .deb
 * is built from is a source package the mirror was not asked for. Throws one line naming the first
 * (IntegrityError, exit 67).
 */
export function checkLockedSourceComponents(
  debs: readonly MatchedDeb[],
  locked: readonly LockedMirrorSource[],
  components: readonly string[],
  sourcesOf: (suite: string, component: string) => readonly ReadSources[],
): void {
  const again = '; run ferry lock again and review the diff';
  const expected = new Set<string>();
  for (const { deb: d, stanza } of debs) {
    const src = sourceOf(stanza);
    const ofSuite = locked.filter((sp) => sp.suite === d.suite && sp.name === src.name && sp.version === src.version);
    if (ofSuite.length === 0) {
      throw new IntegrityError(
        `${d.url}: the lock pins ${d.name} ${d.version} ${d.architecture} (${d.suite}/${d.component}), built from source ${src.name} ${src.version}, but no source package ${src.name} ${src.version} of ${d.suite}, which "sources: true" publishes${again}`,
      );
    }
    const order = [d.component, ...components.filter((c) => c !== d.component)];
    const lists = (c: string) => sourcesOf(d.suite, c).some((r) => r.uri === stanza.origin.uri && r.byKey.has(`${src.name} ${src.version}`));
    const component = order.find(lists);
    // none: checkLockedSourcesInIndexes has refused the locked one already
    if (component === undefined) continue;
    if (!ofSuite.some((sp) => sp.component === component)) {
      throw new IntegrityError(
        `the lock pins source package ${shown(src.name)} ${shown(src.version)} of ${d.url} in ${d.suite}/${ofSuite[0]!.component}, but ferry lock takes it from ${d.suite}/${component}, ${component === d.component ? "the .deb's own component" : 'the first of the spec\'s components'} whose signed Sources index lists it${again}`,
      );
    }
    expected.add(`${d.suite} ${component} ${src.name} ${src.version}`);
  }
  const extra = locked.find((sp) => !expected.has(`${sp.suite} ${sp.component} ${sp.name} ${sp.version}`));
  if (extra) {
    throw new IntegrityError(
      `the lock pins source package ${shown(extra.name)} ${shown(extra.version)} (${extra.suite}/${extra.component}), which is not the source ferry lock takes for any .deb the lock publishes in ${extra.suite}${again}`,
    );
  }
}
