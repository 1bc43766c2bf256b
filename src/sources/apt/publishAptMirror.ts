import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { BuildContext, BundleInput, KindResult } from '../kind.js';
import { fetchMany, createFetchStats, freshDigests } from '../../fetch/index.js';
import { publicKeysArmored } from '../../pgp/sign.js';
import { mirrorRoot } from '../mirrorRoot.js';
import { checkLockedControls } from './checkLockedControls.js';
import { checkLockedInIndexes, checkSha512 } from './checkLockedInIndexes.js';
import { checkLockedSelection, readLockedMirrorState } from './checkLockedSelection.js';
import { checkLockedSourceUpstreams } from './checkLockedSources.js';
import { checkLockedSuiteFields, mirrorSuiteFields } from './mirrorSuiteFields.js';
import type { AptPackage } from './types.js';
import type { AptUpstreamSource } from './loadAptUpstreams.js';
import type { PublishedPackage } from './writeAptRepository.js';
import type { AptMirrorLock } from './lockAptMirror.js';
import type { AptMirror } from '../../specfile/schema.js';

/** The bundle key's public half inside each mirror, for hosts' signed-by (docs/mirrors.md). */
export const MIRROR_KEY_PATH = 'keys/bundle.asc';

/**
 * Fetch exactly the pinned files of one apt mirror and publish them as a signed repository under
 * mirrors/NAME/debian/: each upstream suite keeps its name, components and architectures; its Release
 * carries the upstream Release's date, so the same upstream state gives the same bytes in every refresh.
 * With source packages in the lock, their files go into the same pool folders and each suite's
 * components get source/Sources indexes (writeAptRepository). `spec`: the mirror as the spec gives it (its
 * filter, `sources` and `components` in the spec's order, which lockAptSources follows).
 */
export async function publishAptMirror(
  name: string,
  lock: AptMirrorLock,
  upstreams: AptUpstreamSource[],
  ctx: BuildContext,
  spec: AptMirror,
): Promise<KindResult & { packages: PublishedPackage[] }> {
  const stats = createFetchStats(ctx.fetchStats);
  // the lock is reviewed text anyone may have edited, checked before anything is downloaded against the signed
  // state it was made from, else the upstream's current one (readLockedMirrorState): each suite's date, pin,
  // Suite and Codename, which its Release repeats, what the upstream's signed Releases of that suite give
  // (checkLockedSuiteFields); each .deb one the signed Packages indexes of its own suite and component list
  // (as for the apt kind, checkLockedInIndexes), not any file of the upstream's pool nor one only another
  // suite lists; each source package one the signed Sources index of its suite and component lists, with
  // exactly its files, and with sources: true the one ferry lock takes for a .deb of the suite, from the
  // component it takes it from (checkLockedSourceUpstreams); and the .debs exactly those the spec's filter
  // selects from those indexes, none left out, held back or added (checkLockedSelection)
  const where = `lock: mirrors.apt.${name}`;
  const state = await readLockedMirrorState(where, lock, upstreams, ctx, stats);
  const sha512s = new Map<number, string>();
  const stanzas = new Map<number, AptPackage>();
  for (const locked of lock.suites) {
    const { suite } = locked;
    const ofSuite = upstreams.flatMap((u) => (u.suites.includes(suite) ? [{ ...u, suites: [suite] }] : []));
    checkLockedSuiteFields(where, locked, mirrorSuiteFields(suite, ofSuite.map((u) => state.releases.get(`${u.uri} ${suite}`)!.fields), ctx.epoch));
    const at = lock.packages.flatMap((p, i) => (p.suite === suite ? [i] : []));
    const left = checkLockedInIndexes(
      at.map((i) => lock.packages[i]!),
      state.indexes.filter((ix) => ix.origin.suite === suite),
      (j, p) => stanzas.set(at[j]!, p),
    );
    for (const [j, sha512] of left) sha512s.set(at[j]!, sha512);
    // with sources: true, the source packages of the suite are those ferry lock takes for its .debs, as their signed stanzas name them
    const binaries = spec.sources ? { debs: at.map((i) => ({ deb: lock.packages[i]!, stanza: stanzas.get(i)! })), components: spec.components } : undefined;
    await checkLockedSourceUpstreams((lock.sourcePackages ?? []).filter((sp) => sp.suite === suite), ofSuite, state.releases, ctx, stats, binaries);
  }
  await checkLockedSelection(where, lock.packages, spec, upstreams, state, ctx.cacheDir);
  const got = await fetchMany(
    lock.packages.map((p) => ({ url: p.url, sha256: p.sha256, size: p.size, label: `${p.name} ${p.version} (${p.url})` })),
    { cacheDir: ctx.cacheDir, log: ctx.log, stats, syncBatch: ctx.syncBatch, concurrency: ctx.jobs },
  );
  for (const [at, sha512] of sha512s) await checkSha512(got[at]!.path, sha512, lock.packages[at]!);
  // each source file checked against the sha256 the upstream's signed Sources index gave as it is fetched
  const sourceFiles = (lock.sourcePackages ?? []).flatMap((sp) => sp.files.map((f) => ({ sp, f })));
  const gotSources = await fetchMany(
    sourceFiles.map(({ sp, f }) => ({ url: f.url, sha256: f.sha256, size: f.size, label: `source ${sp.name} ${sp.version}: ${f.name} (${f.url})` })),
    { cacheDir: ctx.cacheDir, log: ctx.log, stats, syncBatch: ctx.syncBatch, concurrency: ctx.jobs },
  );
  const onDisk = new Map(sourceFiles.map(({ f }, i) => [f, gotSources[i]!.path]));
  const { writeAptRepository } = await import('./writeAptRepository.js');
  const root = mirrorRoot(name);
  const outDir = join(ctx.workDir, root, 'debian');
  const entries: BundleInput[] = [];
  const bySuite = new Map<string, PublishedPackage[]>();
  // downloaded now and checked as they streamed: packing does not hash them again
  const fresh = freshDigests([...got, ...gotSources]);
  for (const { suite, date, pin, releaseSuite, codename } of lock.suites) {
    const inSuite = lock.packages.map((p, i) => ({ p, file: got[i]!.path })).filter(({ p }) => p.suite === suite);
    const repo = await writeAptRepository({
      outDir,
      suite,
      components: lock.components,
      component: lock.components[0],
      architectures: lock.architectures,
      debs: inSuite.map(({ p, file }) => ({ file, sha256: p.sha256, size: p.size, priority: p.priority, component: p.component })),
      ...(lock.sourcePackages
        ? {
            sources: lock.sourcePackages
              .filter((sp) => sp.suite === suite)
              .map((sp) => ({ name: sp.name, version: sp.version, component: sp.component, files: sp.files.map((f) => ({ name: f.name, size: f.size, sha256: f.sha256, file: onDisk.get(f)! })) })),
          }
        : {}),
      date: new Date(date),
      ...(pin !== undefined ? { pin } : {}),
      ...(releaseSuite !== undefined ? { releaseSuite } : {}),
      ...(codename !== undefined ? { codename } : {}),
      signingKeys: ctx.signingKeys,
      origin: 'ferry',
      label: `ferry mirror ${name}`,
      jobs: ctx.jobs,
      // the debs are the cache's entries for their digests (fetchMany checked each)
      cacheDir: ctx.cacheDir,
    });
    checkLockedControls(inSuite.map(({ p }) => p), repo.packages);
    for (const p of repo.packages) {
      // the digest the upstream's signed index gives (checked on download, and again as the bundle packs it)
      entries.push({ path: `${root}/debian/${p.poolPath}`, file: p.file, kind: 'mirror', services: [], known: { sha256: p.sha256, size: p.size }, verified: fresh.has(p.sha256) });
    }
    for (const f of repo.sourceFiles) {
      entries.push({ path: `${root}/debian/${f.poolPath}`, file: f.file, kind: 'mirror', services: [], known: { sha256: f.sha256, size: f.size }, verified: fresh.has(f.sha256) });
    }
    for (const ix of repo.indexes) entries.push({ path: `${root}/debian/${ix.path}`, file: ix.file, kind: 'mirror', services: [] });
    bySuite.set(suite, repo.packages);
  }
  // each pool file once (several suites may list it), as of the suite a host takes it from by default (the
  // highest pin, then the first by name): its purl's distro is that suite's Codename, as its Release gives it
  const published: PublishedPackage[] = [];
  const distros = new Map<string, string>();
  for (const { suite, codename } of [...lock.suites].sort((a, b) => (b.pin ?? 500) - (a.pin ?? 500) || (a.suite < b.suite ? -1 : a.suite > b.suite ? 1 : 0))) {
    for (const p of bySuite.get(suite)!) {
      if (distros.has(p.poolPath)) continue;
      distros.set(p.poolPath, codename ?? suite);
      published.push(p);
    }
  }
  const keyFile = join(ctx.workDir, root, MIRROR_KEY_PATH);
  // a scratch file of the build like every file in workDir: no fsync (see buildBundle)
  await mkdir(dirname(keyFile), { recursive: true });
  await writeFile(keyFile, publicKeysArmored(await ctx.signingKeys()));
  entries.push({ path: `${root}/${MIRROR_KEY_PATH}`, file: keyFile, kind: 'mirror', services: [] });
  // the purl library (~10 ms to load) loads after the downloads, not before the first request
  const { debComponents } = await import('./debComponents.js');
  return {
    entries,
    packages: published,
    artifacts: {
      suites: lock.suites.map((s) => s.suite),
      // the Codename each suite's Release gives where it is not the suite's name: the distro of its .debs' purls
      ...(lock.suites.some((s) => s.codename !== undefined) ? { codenames: Object.fromEntries(lock.suites.flatMap((s) => (s.codename !== undefined ? [[s.suite, s.codename]] : []))) } : {}),
      components: lock.components,
      architectures: lock.architectures,
      packages: lock.packages.map((p) => ({ name: p.name, version: p.version, architecture: p.architecture, suite: p.suite, component: p.component })),
      ...(lock.sourcePackages ? { sourcePackages: lock.sourcePackages.map((s) => ({ name: s.name, version: s.version, suite: s.suite, component: s.component })) } : {}),
    },
    components: debComponents(published, () => [], `${root}/debian`, (p) => distros.get(p.poolPath)!),
  };
}
