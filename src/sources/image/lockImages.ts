import { readFile } from 'node:fs/promises';
import { ResolveError, SpecError } from '../../errors.js';
import { fetchToCache } from '../../fetch/fetchToCache.js';
import type { BuildContext } from '../kind.js';
import { MANIFEST_TYPES, parseImageDocument, type Descriptor, type ImageDocument } from './imageDocument.js';
import { MAX_IMAGE_NAMED_PER_RELEASE, imageNamedCount, ownType, tooManyNamed, typeAgrees } from '../../util/imageNames.js';
import { imagePlatforms, platformMatches, platformName, platformShown } from './imagePlatforms.js';
import type { ImageLock, LockedDescriptor, LockedImage } from './imageLockSchema.js';
import { createSourceOpener, type ImageSource } from './openImageSource.js';
import { parseImageRef } from './parseImageRef.js';
import { reduceIndex } from './reduceIndex.js';
import { quoteInput } from '../../util/oneLine.js';

/**
 * Pin every image the services name: the tag to the digest of its manifest or index (an index reduced
 * to the target platforms), and every manifest, config and layer it takes, with digest and size.
 * Undefined when no service carries images.
 */
export async function lockImages(ctx: BuildContext): Promise<ImageLock | undefined> {
  const wanted = planImages(ctx);
  if (wanted.length === 0) return undefined;
  const open = createSourceOpener({ baseDir: ctx.baseDir, scratchDir: ctx.workDir, registries: ctx.spec.upstreams.images?.registries ?? {}, env: process.env, log: ctx.log, stats: ctx.fetchStats });
  const images: LockedImage[] = [];
  // ferry serve serves no more of a release than this: refused here, as soon as it is crossed (a hostile
  // index is not walked to its end), rather than signed into a bundle the secure side cannot serve
  let named = 0;
  for (const w of wanted) {
    const source = open(w.ref, w.from);
    const count = (n: number) => {
      if ((named += n) > MAX_IMAGE_NAMED_PER_RELEASE) throw new ResolveError(tooManyNamed(w.ref.name));
    };
    const image = await lockImage(w.ref.name, source, w.platforms, w.services, ctx, count);
    ctx.log.info(`image ${w.ref.name}: ${w.ref.digest ? '' : `${w.ref.tag} -> `}${image.digest}${image.upstream ? ` (index ${image.upstream.digest} reduced to ${w.platforms.join(', ')})` : ''}`);
    images.push(image);
  }
  return { images };
}

async function lockImage(name: string, source: ImageSource, platforms: string[], services: string[], ctx: BuildContext, count: (n: number) => void): Promise<LockedImage> {
  const top = await source.resolve();
  const doc = parseImageDocument(top.bytes, `${name} (${top.digest})`, top.contentType);
  // a Docker image manifest without its mediaType field, which only the registry's Content-Type called one:
  // ferry serve would answer it so, and skopeo and podman refuse it (as they do from the registry itself)
  if (!typeAgrees(doc.json.mediaType, doc.mediaType)) throw new ResolveError(`${name} (${top.digest}): the registry calls it ${doc.mediaType}, the manifest ${ownType(doc.json.mediaType)}`);
  const base = { ref: name, source: source.id, platforms, services };
  if (doc.kind === 'manifest') {
    count(imageNamedCount(undefined, [1 + doc.layers.length]));
    await checkConfigPlatform(name, doc, source, platforms, ctx);
    return { ...base, digest: top.digest, size: top.bytes.length, mediaType: doc.mediaType, manifests: [], blobs: blobsOf(doc) };
  }
  const reduced = reduceIndex(top.bytes, doc, platforms, `${name} (${top.digest})`);
  count(imageNamedCount(reduced.manifests.length, []));
  const manifests: LockedDescriptor[] = [];
  // an index may name one manifest many times (a hostile one, tens of thousands of times): each is fetched
  // and its blobs taken once, not once per entry (a list of every entry's layers outgrew the heap)
  const fetched = new Map<string, { size: number; mediaType: string }>();
  const blobs = new Map<string, LockedDescriptor>();
  for (const entry of reduced.manifests) {
    const where = `${name} ${platformShown(entry.platform)} (${entry.digest})`;
    const sizeDiffers = (size: number) => new ResolveError(`${where}: the manifest has ${size} bytes, the index says ${entry.size}`);
    let child = fetched.get(entry.digest);
    if (!child) {
      const got = await source.manifest(entry.digest);
      if (got.bytes.length !== entry.size) throw sizeDiffers(got.bytes.length);
      const doc = parseImageDocument(got.bytes, where, entry.mediaType);
      if (doc.kind !== 'manifest') throw new ResolveError(`${where}: an index inside an index; ferry carries one level of index only`);
      // what the entry calls it is what ferry serve answers it as (its Content-Type), and what a client then
      // reads it as: an entry that is no image manifest type (text/html, a config type) is not served, and one
      // that calls an OCI manifest a Docker one (or the reverse) is refused by the clients that check
      if (!MANIFEST_TYPES.includes(entry.mediaType) || !typeAgrees(doc.json.mediaType, entry.mediaType)) {
        throw new ResolveError(`${where}: the index calls the manifest ${quoteInput(entry.mediaType, 100)}, the manifest ${ownType(doc.json.mediaType)}; ferry serve answers it by the index's word, which clients would refuse`);
      }
      count(imageNamedCount(undefined, [1 + doc.layers.length]));
      for (const b of blobsOf(doc)) if (!blobs.has(b.digest)) blobs.set(b.digest, b);
      fetched.set(entry.digest, (child = { size: got.bytes.length, mediaType: doc.mediaType }));
    }
    if (child.size !== entry.size) throw sizeDiffers(child.size);
    manifests.push({ digest: entry.digest, size: entry.size, mediaType: child.mediaType, platform: platformName(entry.platform) });
  }
  return {
    ...base,
    digest: reduced.digest,
    size: reduced.bytes.length,
    mediaType: doc.mediaType,
    ...(reduced.reduced && { upstream: { digest: top.digest, size: top.bytes.length, mediaType: doc.mediaType } }),
    manifests,
    blobs: [...blobs.values()],
  };
}

function blobsOf(doc: ImageDocument & { kind: 'manifest' }): LockedDescriptor[] {
  return dedupe([doc.config, ...doc.layers].map((d: Descriptor) => ({ digest: d.digest, size: d.size, mediaType: d.mediaType })));
}

function dedupe(ds: LockedDescriptor[]): LockedDescriptor[] {
  const seen = new Set<string>();
  return ds.filter((d) => !seen.has(d.digest) && seen.add(d.digest));
}

/**
 * A single-platform image runs on one platform, which only its config names: refuse one that is not
 * for the targets rather than carry an image the hosts cannot start. The config goes into the cache,
 * where the build finds it again.
 */
async function checkConfigPlatform(name: string, doc: ImageDocument & { kind: 'manifest' }, source: ImageSource, platforms: string[], ctx: BuildContext): Promise<void> {
  if (doc.config.size > 4 << 20) throw new ResolveError(`${name}: its config is ${doc.config.size} bytes; ferry reads configs up to 4 MiB`);
  const dispatcher = await source.dispatcher();
  const got = await fetchToCache(source.request(doc.config, 'blob'), { cacheDir: ctx.cacheDir, log: ctx.log, stats: ctx.fetchStats, ...(dispatcher && { dispatcher }) });
  let config: { os?: unknown; architecture?: unknown; variant?: unknown };
  try {
    config = JSON.parse(await readFile(got.path, 'utf8'));
  } catch {
    throw new ResolveError(`${name}: its config ${doc.config.digest} is not JSON`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new ResolveError(`${name}: its config ${doc.config.digest} is not a JSON object`);
  const platform = { os: String(config.os ?? ''), architecture: String(config.architecture ?? ''), ...(typeof config.variant === 'string' && { variant: config.variant }) };
  if (!platformMatches(platform, platforms)) {
    throw new ResolveError(`${name}: the image is for ${platformShown(platform)}, not ${platforms.join(', ')}; name its platform in platforms: [...] if the hosts run it, or pick the image for the targets`);
  }
}

export interface PlannedImage {
  ref: ReturnType<typeof parseImageRef>;
  from?: string;
  platforms: string[];
  services: string[];
  where: string;
}

/** The images the services name, each reference once (with every service that names it), sorted by reference. */
export function planImages(ctx: BuildContext): PlannedImage[] {
  const wanted = new Map<string, PlannedImage>();
  for (const [service, svc] of Object.entries(ctx.spec.services).sort(([a], [b]) => (a < b ? -1 : 1))) {
    svc.artifacts.images.forEach((image, i) => {
      const where = `services.${service}.artifacts.images[${i}]`;
      const ref = parseImageRef(image.ref, where);
      const platforms = imagePlatforms(ctx.spec, image.platforms, where);
      const key = ref.name;
      const seen = wanted.get(key);
      if (seen) {
        if (seen.ref.digest !== ref.digest || seen.from !== image.from || seen.platforms.join() !== platforms.join()) {
          throw new SpecError(`${where}: ${ref.name} is also named by ${seen.where} with another digest, source or platforms; the bundle carries one image per reference`);
        }
        if (!seen.services.includes(service)) seen.services.push(service);
        return;
      }
      // ferry serve answers images by repository and tag, without the registry (hosts reach it as a mirror
      // of every registry): two registries' images under one repository and tag would be one tag there
      const served = [...wanted.values()].find((p) => p.ref.repository === ref.repository && p.ref.tag === ref.tag);
      if (served) {
        throw new SpecError(`${where}: ${ref.name} and ${served.ref.name} (${served.where}) would both be served as ${ref.repository}:${ref.tag} (ferry serve names images without their registry); carry one of them, or the other under its own tag`);
      }
      wanted.set(key, { ref, from: image.from, platforms, services: [service], where });
    });
  }
  return [...wanted.values()].sort((a, b) => (a.ref.name < b.ref.name ? -1 : 1));
}
