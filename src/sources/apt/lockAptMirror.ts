import type { BuildContext } from '../kind.js';
import type { AptMirror } from '../../specfile/schema.js';
import { createFetchStats, type FetchStats } from '../../fetch/index.js';
import { loadAptUpstreams, type AptUpstreamSource } from './loadAptUpstreams.js';
import { fetchUpstreamReleases, readUpstreamIndexes, type UpstreamReleases } from './readUpstreamIndexes.js';
import { mirrorSelectionKey, readMirrorSelection, writeMirrorSelection, type MirrorSelection } from './mirrorLockCache.js';
import { pinDebSha256 } from './pinDebSha256.js';
import { selectMirrorPackages } from './selectMirrorPackages.js';
import { lockAptSources, type LockedMirrorSource } from './lockAptSources.js';
import { mirrorSuiteFields, type MirrorSuiteFields } from './mirrorSuiteFields.js';

/** One pinned .deb of a mirror in SPEC.lock.json, with the upstream suite and component it is published in. */
export interface LockedMirrorDeb {
  name: string;
  version: string;
  architecture: string;
  suite: string;
  component: string;
  url: string;
  size: number;
  sha256: string;
  priority?: string;
}

export interface AptMirrorLock {
  /** the suites published, each dated by its upstream Release (so an unchanged upstream gives the same bytes) */
  /** pin: the upstream Release's NotAutomatic (1) or NotAutomatic + ButAutomaticUpgrades (100), which the mirror's Release keeps */
  suites: MirrorSuiteFields[];
  components: string[];
  architectures: string[];
  /**
   * upstream suites read, with the keys that signed them (for review) and the sha256 of the verified Release
   * text (`release`), by which build --locked finds that Release again (checkLockedSelection.ts; absent in
   * locks written before it)
   */
  sources: Array<{ uri: string; suite: string; signers: string[]; release?: string }>;
  packages: LockedMirrorDeb[];
  /** with `sources: true`: the source package of every pinned .deb (absent otherwise) */
  sourcePackages?: LockedMirrorSource[];
}

/**
 * Pin one apt mirror: read the upstream's verified Release and Packages indexes for its suites,
 * components and architectures, select the packages (selectMirrorPackages) and pin every file; with
 * `sources: true`, also the source package of each (lockAptSources). When every verified Release is one an
 * earlier lock with the same settings read, that lock's selection stands and no index is read
 * (mirrorLockCache.ts).
 */
export async function lockAptMirror(name: string, mirror: AptMirror, ctx: BuildContext): Promise<AptMirrorLock> {
  const where = `mirrors.apt.${name}`;
  const stats = createFetchStats(ctx.fetchStats);
  const loaded = await loadAptUpstreams([{ uri: mirror.uri, keyring: mirror.keyring, suites: mirror.suites, components: mirror.components, check_valid_until: mirror.check_valid_until }], { baseDir: ctx.baseDir, where });
  // with `system`, the machine's sources name their components: the mirror keeps those it asks for
  const upstreams = loaded.map((u) => ({ ...u, components: u.components.filter((c) => mirror.components.includes(c)) }));
  // kept in the cache (not preferred to the upstream's: a lock reads the current ones), as an apt closure's
  // lock and every build keep them: the build after this lock proves it by the Releases it was made from,
  // even once the upstream has moved on
  const read = await fetchUpstreamReleases(upstreams, stats, { cacheDir: ctx.cacheDir });
  const { sources, releases } = read;
  const suites = [...new Set(sources.map((s) => s.suite))].sort().map((suite) =>
    mirrorSuiteFields(
      suite,
      [...releases.entries()].filter(([k]) => k.endsWith(` ${suite}`)).map(([, r]) => r.fields),
      ctx.epoch,
    ),
  );
  // the upstream's signed Releases are those of an earlier lock: its selection stands (mirrorLockCache.ts)
  const key = mirrorSelectionKey(mirror, upstreams, read);
  let selection = await readMirrorSelection(ctx.cacheDir, key);
  if (selection) ctx.log.info(`mirror ${name}: the upstream's signed Release is unchanged since an earlier lock: its selection stands`);
  else {
    selection = await selectFromIndexes(mirror, upstreams, read, ctx, stats, where);
    await writeMirrorSelection(ctx.cacheDir, key, selection);
  }
  const { packages, sourcePackages } = selection;
  ctx.log.info(`mirror ${name}: ${packages.length} packages${sourcePackages ? ` and ${sourcePackages.length} source packages` : ''} from ${sources.length} upstream suite(s)`);
  return {
    suites,
    components: [...mirror.components].sort(),
    architectures: [...mirror.architectures].sort(),
    sources: sources.map((s) => ({ ...s, release: releases.get(`${s.uri} ${s.suite}`)!.sha256 })),
    packages,
    ...(sourcePackages ? { sourcePackages } : {}),
  };
}

/** Read the upstream's Packages (and Sources) indexes and pin the files the mirror's filter selects. */
async function selectFromIndexes(
  mirror: AptMirror,
  upstreams: AptUpstreamSource[],
  read: UpstreamReleases,
  ctx: BuildContext,
  stats: FetchStats,
  where: string,
): Promise<MirrorSelection> {
  const { indexes } = await readUpstreamIndexes(upstreams, mirror.architectures, ctx, stats, read);
  const packages = selectMirrorPackages(indexes, mirror, where);
  const sourcePackages = mirror.sources ? await lockAptSources(packages, read.releases, mirror.components, ctx, stats, where) : undefined;
  // a stanza with SHA512 only: the lock pins the sha256 of the file that matches it
  const pins = await pinDebSha256(packages, ctx, stats);
  return {
    packages: packages.map((p, i) => ({
      name: p.name,
      version: p.version,
      architecture: p.architecture,
      suite: p.origin.suite,
      component: p.origin.component,
      url: `${p.origin.uri.replace(/\/+$/, '')}/${p.filename}`,
      size: p.size,
      sha256: pins[i]!,
      ...(p.priority ? { priority: p.priority } : {}),
    })),
    ...(sourcePackages ? { sourcePackages } : {}),
  };
}
