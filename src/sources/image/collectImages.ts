import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pMap from 'p-map';
import { IntegrityError, SpecError } from '../../errors.js';
import { fetchMany } from '../../fetch/fetchMany.js';
import type { FetchRequest } from '../../fetch/fetchToCache.js';
import type { SbomComponent } from '../../sbom/sbomComponent.js';
import type { BuildContext, BundleInput, KindResult } from '../kind.js';
import { INDEX_TYPES, OCI_DIR, OCI_INDEX, REF_NAME_ANNOTATION, SERVICES_ANNOTATION, parseImageDocument, type Descriptor } from './imageDocument.js';
import { parseImageLock, type ImageLock, type LockedImage } from './imageLockSchema.js';
import { createSourceOpener, imageSourceId } from './openImageSource.js';
import { planImages } from './lockImages.js';
import { lockMatchesSpec } from '../../specfile/lockMatchesSpec.js';
import { parseImageRef } from './parseImageRef.js';
import { reduceIndex } from './reduceIndex.js';
import { platformName, platformShown } from './imagePlatforms.js';
import { quoteInput } from '../../util/oneLine.js';
import { MAX_IMAGE_NAMED_PER_RELEASE, imageNamedCount, ownType, tooManyNamed, typeAgrees } from '../../util/imageNames.js';

/** What manifest.artifacts.image records per image: how ferry serve names it and hosts pull it. */
export interface ImageArtifactInfo {
  ref: string;
  registry: string;
  repository: string;
  tag: string;
  digest: string;
  mediaType: string;
  services: string[];
}

/**
 * Fetch exactly the locked manifests, configs and layers into the cache (each checked against its
 * digest and size as it streams; a changed blob is refused and nothing is cached), rebuild a reduced
 * index from the upstream one and check it is the locked one, and lay everything out as one OCI image
 * layout: oci/oci-layout, oci/index.json (one entry per image reference), oci/blobs/sha256/HEX (each
 * blob once, whichever images share it).
 */
export async function collectImages(section: unknown, ctx: BuildContext): Promise<KindResult> {
  const lock = checkedLock(section, ctx);
  const open = createSourceOpener({ baseDir: ctx.baseDir, scratchDir: ctx.workDir, registries: ctx.spec.upstreams.images?.registries ?? {}, env: process.env, log: ctx.log, stats: ctx.fetchStats });
  const files = new Map<string, { file: string; verified: boolean }>();
  /** verified: this build wrote the file and checked its digest as it did (not an older cache entry) */
  const add = (digest: string, file: string, verified: boolean) => {
    const b = files.get(digest) ?? { file, verified };
    b.verified ||= verified;
    files.set(digest, b);
  };
  const outDir = join(ctx.workDir, 'oci-images');
  await mkdir(outDir, { recursive: true });

  // All images' manifests and blobs in one download queue: `jobs` transfers at a time across images,
  // not one image after another (a small image would leave the queue idle while a large one finishes).
  // Each repository's authorization (a round trip to the registry, two with a token) is asked for at the
  // same time as the others', not one image after another before the first download.
  const manifestDigests = new Set(lock.images.flatMap((i) => [(i.upstream ?? i).digest, ...i.manifests.map((d) => d.digest)]));
  const planned: Array<{ image: LockedImage; reqs: FetchRequest[] }> = await pMap(
    lock.images,
    async (image) => {
      const source = open(parseImageRef(image.ref, `lock: images ${image.ref}`), image.source);
      await source.prepare();
      const dispatcher = await source.dispatcher();
      const items = [
        { d: image.upstream ?? image, what: 'manifest' as const },
        ...image.manifests.map((d) => ({ d, what: 'manifest' as const })),
        ...image.blobs.map((d) => ({ d, what: 'blob' as const })),
      ];
      // a build filling its bundle in place gets each entry's bytes written there as they arrive; a blob this
      // build does not read (a layer or config, not also a manifest of the lock) is written there alone
      const tee = (d: { digest: string; size: number }, what: 'manifest' | 'blob') =>
        ctx.placeDownload ? { tee: ctx.placeDownload(d.digest.slice(7), d.size, what === 'blob' && !manifestDigests.has(d.digest)) } : {};
      return { image, reqs: items.map((i) => ({ ...source.request(i.d, i.what), ...(dispatcher && { dispatcher }), ...tee(i.d, i.what) })) };
    },
    { concurrency: Math.max(1, ctx.jobs) },
  );
  const fetched = await fetchMany(
    planned.flatMap((p) => p.reqs),
    { cacheDir: ctx.cacheDir, log: ctx.log, stats: ctx.fetchStats, syncBatch: ctx.syncBatch, concurrency: Math.max(1, ctx.jobs), label: 'images' },
  );

  let at = 0;
  let named = 0;
  for (const { image, reqs } of planned) {
    const [top, ...results] = fetched.slice(at, (at += reqs.length));
    const topFile = top!.path;
    const platformManifests = results.slice(0, image.manifests.length);
    const blobResults = results.slice(image.manifests.length);
    const manifestFiles = platformManifests.map((r) => r.path);
    const topBytes = await readFile(topFile);
    const topDigest = (image.upstream ?? image).digest;
    const doc = parseImageDocument(topBytes, `${image.ref} (${topDigest})`, (image.upstream ?? image).mediaType);
    if (doc.mediaType !== image.mediaType || (image.upstream && doc.kind !== 'index')) {
      throw new IntegrityError(`lock: ${image.ref} names ${topDigest} as ${image.upstream && doc.mediaType === image.mediaType ? 'an index' : image.mediaType}, but it is ${doc.mediaType}; run ferry lock again`);
    }
    if (!typeAgrees(doc.json.mediaType, doc.mediaType)) {
      throw new IntegrityError(`lock: ${image.ref} names ${topDigest} as ${doc.mediaType}, the manifest ${ownType(doc.json.mediaType)}; run ferry lock again`);
    }
    // the manifests the carried index names are exactly the locked ones; a single manifest names none
    const reduced = doc.kind === 'index' && image.upstream ? reduceIndex(topBytes, doc, image.platforms, image.ref) : undefined;
    checkListsManifests(image, doc.kind === 'index' ? (reduced?.manifests ?? doc.manifests) : []);
    const blobCounts = await checkNamesLockedBlobs(image, doc.kind === 'index' ? manifestFiles : [topFile]);
    // as ferry serve counts them (the lock lists each image's blobs once; its manifests may repeat layers)
    named += imageNamedCount(doc.kind === 'index' ? image.manifests.length : undefined, blobCounts);
    if (named > MAX_IMAGE_NAMED_PER_RELEASE) throw new IntegrityError(`lock: ${tooManyNamed(image.ref)}; run ferry lock again`);
    if (doc.kind === 'index') await checkEntryTypes(image, reduced?.manifests ?? doc.manifests, manifestFiles);

    if (reduced) {
      if (reduced.digest !== image.digest) {
        throw new IntegrityError(`${image.ref}: the index reduced to ${image.platforms.join(', ')} is ${reduced.digest}, the lock says ${image.digest}; run ferry lock again and review the diff`);
      }
      const file = join(outDir, image.digest.slice(7));
      await writeFile(file, reduced.bytes);
      add(image.digest, file, true);
    } else {
      add(image.digest, topFile, !top!.fromCache);
    }
    // checked: fetched (hashed as it streamed), or copied out of a cache pack (hashed as it was copied)
    const checked = (r: { fromCache: boolean; checkedNow?: true }) => !r.fromCache || r.checkedNow === true;
    image.manifests.forEach((d, i) => add(d.digest, platformManifests[i]!.path, checked(platformManifests[i]!)));
    image.blobs.forEach((d, i) => add(d.digest, blobResults[i]!.path, checked(blobResults[i]!)));
  }

  return describeImages(lock, outDir, files);
}

/**
 * What collectImages returns for this lock, from the lock alone (nothing is downloaded): a build that
 * fills its bundle in place signs the manifest from this first. The blobs' files are not there yet.
 */
export async function planCollectedImages(section: unknown, ctx: BuildContext): Promise<KindResult> {
  const lock = checkedLock(section, ctx);
  const outDir = join(ctx.workDir, 'oci-images-plan');
  await mkdir(outDir, { recursive: true });
  return describeImages(lock, outDir, new Map());
}

/** the image section of the lock, checked against the spec */
function checkedLock(section: unknown, ctx: BuildContext): ImageLock {
  const lock = parseImageLock(section);
  // the lock pins digests; which images, from where, for which platforms and services is the spec's. A
  // source on another host would be sent the login of the reference's registry
  const wanted = planImages(ctx);
  const registries = ctx.spec.upstreams.images?.registries ?? {};
  lockMatchesSpec(
    'images',
    wanted.map((p) => ({ ref: p.ref.name, source: imageSourceId(p.ref, p.from, registries), platforms: p.platforms, services: p.services })),
    lock.images.map((i) => ({ ref: i.ref, source: i.source, platforms: i.platforms, services: i.services })),
  );
  wanted.forEach((p, i) => {
    const pinned = lock.images[i]!.upstream?.digest ?? lock.images[i]!.digest;
    if (p.ref.digest && p.ref.digest !== pinned) throw new SpecError(`lock: images ${p.ref.name} is pinned to ${pinned}, the spec names ${p.ref.digest}; run ferry lock again`);
  });
  // ferry serve would not serve a release naming more (a lock from before ferry lock refused it): refused
  // before anything is fetched, by what the lock alone shows (each manifest's repeated layers are counted
  // once its file is read)
  let named = 0;
  for (const image of lock.images) {
    const index = INDEX_TYPES.includes(image.mediaType);
    named += index ? 1 + image.manifests.length + new Set(image.manifests.map((d) => d.digest)).size + image.blobs.length : 1 + image.blobs.length;
    if (named > MAX_IMAGE_NAMED_PER_RELEASE) throw new IntegrityError(`lock: ${tooManyNamed(image.ref)}; run ferry lock again`);
  }
  return lock;
}

/**
 * The entries (each blob once, with the services of every image that carries it; the files collected
 * for them, none when planning), the OCI layout's own two files, written into outDir, the artifacts and
 * the SBOM components of a lock's images.
 */
async function describeImages(lock: ImageLock, outDir: string, files: Map<string, { file: string; verified: boolean }>): Promise<KindResult> {
  const blobs = new Map<string, { file: string; services: Set<string>; verified: boolean }>();
  for (const image of lock.images) {
    for (const digest of [image.digest, ...image.manifests.map((d) => d.digest), ...image.blobs.map((d) => d.digest)]) {
      const b = blobs.get(digest) ?? { file: files.get(digest)?.file ?? '', services: new Set<string>(), verified: files.get(digest)?.verified ?? false };
      for (const s of image.services) b.services.add(s);
      blobs.set(digest, b);
    }
  }
  const sizes = new Map(lock.images.flatMap((i) => [[i.digest, i.size] as const, ...[...i.manifests, ...i.blobs].map((d) => [d.digest, d.size] as const)]));
  // every blob was fetched against its digest and size (or, a reduced index, rebuilt and compared)
  const entries: BundleInput[] = [...blobs].map(([digest, b]) => ({
    path: `${OCI_DIR}/blobs/sha256/${digest.slice(7)}`,
    file: b.file,
    kind: 'image',
    services: [...b.services].sort(),
    known: { sha256: digest.slice(7), size: sizes.get(digest)! },
    verified: b.verified,
  }));
  const allServices = [...new Set(lock.images.flatMap((i) => i.services))].sort();
  const layoutFile = join(outDir, 'oci-layout');
  await writeFile(layoutFile, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const indexFile = join(outDir, 'index.json');
  const manifests = lock.images.map((i) => ({
    mediaType: i.mediaType,
    digest: i.digest,
    size: i.size,
    annotations: { [SERVICES_ANNOTATION]: [...i.services].sort().join(','), [REF_NAME_ANNOTATION]: i.ref },
  }));
  await writeFile(indexFile, JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
  entries.push({ path: `${OCI_DIR}/oci-layout`, file: layoutFile, kind: 'image', services: allServices });
  entries.push({ path: `${OCI_DIR}/index.json`, file: indexFile, kind: 'image', services: allServices });

  const images: ImageArtifactInfo[] = lock.images.map((i) => {
    const r = parseImageRef(i.ref, `lock: images ${i.ref}`);
    return { ref: r.name, registry: r.registry, repository: r.repository, tag: r.tag, digest: i.digest, mediaType: i.mediaType, services: [...i.services].sort() };
  });
  // the purl library loads after the downloads, not before the first request
  const { ociPurl } = await import('../../sbom/purl.js');
  const components: SbomComponent[] = images.map((i) => ({
    ref: ociPurl(i.repository, i.digest, `${i.registry}/${i.repository}`, i.tag),
    type: 'container',
    name: i.repository.split('/').pop()!,
    version: i.digest,
    purl: ociPurl(i.repository, i.digest, `${i.registry}/${i.repository}`, i.tag),
    sha256: i.digest.slice(7),
    path: `${OCI_DIR}/blobs/sha256/${i.digest.slice(7)}`,
    services: i.services,
    properties: [
      { name: 'ferry:image:ref', value: i.ref },
      { name: 'ferry:image:mediaType', value: i.mediaType },
      ...lock.images.find((l) => l.ref === i.ref)!.manifests.map((m) => ({ name: 'ferry:image:platform', value: `${m.platform ?? ''} ${m.digest}`.trim() })),
    ],
  }));
  return { entries, artifacts: { images }, components };
}

/**
 * The carried index was fetched (or rebuilt) by digest, so its entries are what was locked; a lock edited
 * by hand could still list other manifests than it names. They must be the same, in the same order.
 */
function checkListsManifests(image: LockedImage, named: Descriptor[]): void {
  const want = named.map((d) => `${d.digest} ${d.size}`);
  const locked = image.manifests.map((d) => `${d.digest} ${d.size}`);
  if (want.join() !== locked.join()) {
    const differ = want.find((d) => !locked.includes(d)) ?? locked.find((d) => !want.includes(d)) ?? want[0];
    const what = image.upstream ? 'reduced index' : named.length ? 'index' : 'manifest (a single image)';
    throw new IntegrityError(`lock: ${image.ref} lists ${locked.length} manifests, its ${what} names ${want.length}${differ ? ` (${differ.split(' ')[0]} is not in both)` : ''}; run ferry lock again and review the diff`);
  }
  // each entry's platform goes into the SBOM as the lock gives it: it must be the one the index gives
  const at = named.findIndex((d, i) => image.manifests[i]!.platform !== platformName(d.platform));
  if (at >= 0) {
    throw new IntegrityError(`lock: ${image.ref} gives ${named[at]!.digest} the platform ${JSON.stringify(image.manifests[at]!.platform ?? null).slice(0, 80)}, its index gives ${platformShown(named[at]!.platform)}; run ferry lock again and review the diff`);
  }
  // ferry serve answers each manifest with its entry's media type: a lock from before ferry lock checked that
  // the entry names its manifest's type (or edited by hand) must not make a bundle no host can pull from it
  const typed = named.findIndex((d, i) => image.manifests[i]!.mediaType !== d.mediaType);
  if (typed >= 0) {
    throw new IntegrityError(`lock: ${image.ref} gives ${named[typed]!.digest} the media type ${image.manifests[typed]!.mediaType}, its index calls it ${quoteInput(named[typed]!.mediaType, 100)}; run ferry lock again and review the diff`);
  }
}

/**
 * ferry serve answers each platform manifest with its entry's media type: a lock from before ferry lock checked
 * that it agrees with the manifest's own field must not make a bundle whose image no host can pull.
 */
async function checkEntryTypes(image: LockedImage, named: Descriptor[], manifestFiles: string[]): Promise<void> {
  const own = new Map<string, unknown>();
  for (const [i, d] of named.entries()) {
    const file = manifestFiles[i]!;
    if (!own.has(file)) own.set(file, parseImageDocument(await readFile(file), image.ref).json.mediaType);
    if (!typeAgrees(own.get(file), d.mediaType)) {
      throw new IntegrityError(`lock: ${image.ref}: its index calls ${d.digest} ${quoteInput(d.mediaType, 100)}, the manifest ${ownType(own.get(file))}; run ferry lock again`);
    }
  }
}

/**
 * The manifests were fetched by digest, so their content is what was locked; a lock edited by hand
 * could still list other blobs than they name. Every config and layer a manifest names must be carried.
 * Returns, for each manifest file once, how many configs and layers it names (repeats too).
 */
async function checkNamesLockedBlobs(image: LockedImage, manifestFiles: string[]): Promise<number[]> {
  const locked = new Set(image.blobs.map((b) => `${b.digest} ${b.size}`));
  const counts: number[] = [];
  // an index naming one manifest many times: its file is read once
  for (const file of new Set(manifestFiles)) {
    const doc = parseImageDocument(await readFile(file), image.ref);
    if (doc.kind !== 'manifest') throw new IntegrityError(`lock: ${image.ref} names an index where a manifest belongs; run ferry lock again`);
    counts.push(1 + doc.layers.length);
    for (const d of [doc.config, ...doc.layers]) {
      if (!locked.has(`${d.digest} ${d.size}`)) throw new IntegrityError(`lock: ${image.ref} does not list ${d.digest} (${d.size} bytes), which its manifest names; run ferry lock again and review the diff`);
    }
  }
  return counts;
}
