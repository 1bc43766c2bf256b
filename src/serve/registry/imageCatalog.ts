import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { BundleFormatError, StoreError } from '../../errors.js';
import { readReleaseRefs, type ReleaseRef } from '../../store/readReleaseRefs.js';
import { readStoredManifest } from '../../store/readStoredManifest.js';
import { storeLayout } from '../../store/storeLayout.js';
import { IMAGE_MANIFEST_MAX_BYTES, INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES, MAX_IMAGE_NAMED_PER_RELEASE as MAX_NAMED_PER_RELEASE, carriedImages, imageDescriptor as descriptor, ownType, typeAgrees } from '../../util/imageNames.js';
import { isMissing } from '../../util/isMissing.js';
import { sha256Hex } from '../../util/sha256.js';
import { compareEpochs, compareReleaseVersions } from '../../store/releaseOrder.js';
import { parseErrorReason } from '../../util/oneLine.js';

/** A manifest (image manifest or index) as the registry answers it: its bytes are the blob `sha256`. */
export interface ServedManifest {
  sha256: string;
  size: number;
  mediaType: string;
}

/** What one repository name serves: tags, every manifest reachable from them, every blob they use. */
export interface Repository {
  /** tag -> manifest, and the release whose tag won (see `buildCatalog`) */
  tags: Map<string, ServedManifest & { release: string }>;
  manifests: Map<string, ServedManifest>;
  /** sha256 -> size of each config, layer and manifest blob of the repository's images */
  blobs: Map<string, number>;
}

export interface ImageCatalog {
  repositories: Map<string, Repository>;
}

/** One image of one bundle: its tag and the blobs reachable from its manifest. */
interface BundleImage {
  repository: string;
  tag: string;
  top: ServedManifest;
  manifests: Map<string, ServedManifest>;
  blobs: Map<string, number>;
}

/** Manifests larger than this are not read (the distribution registry's own limit is 4 MiB; ferry lock and build refuse larger). */
const MANIFEST_MAX = IMAGE_MANIFEST_MAX_BYTES;
/** The image graph is walked this deep at most (index -> manifest is 2; nested indexes are rare). */
const MAX_DEPTH = 4;
/** Answers older than this are rebuilt even when no change was reported. */
const MAX_AGE_MS = 1000;
const BLOB_PATH_RE = /^oci\/blobs\/sha256\/([0-9a-f]{64})$/;

/**
 * The registry view of the store: every image carried by a release (manifest.artifacts.image), under
 * its repository name. A repository serves only the manifests and blobs reachable from its own
 * images' manifests, and only those the bundle lists (a blob of another image, or any other file of
 * the store, is not there for it). Manifests are read from the store and checked against their
 * sha256 before they are parsed.
 *
 * Two releases of one name may carry the same repository and tag (at different digests): the tag names the
 * image of the release with the newest epoch (the build's date, signed in the manifest), ties going to the
 * greater VERSION (numbers compared as numbers, as ferry gc does). When releases of several names carry a
 * repository, a tag of it is served only when every one of those names tags it, at one digest (each name's
 * signers are trusted for that name only). Every digest of every release stays reachable by digest.
 *
 * Rebuilt when anything under STORE/refs changes (`generation`) and at least every second; each
 * bundle's images are read once per bundle digest (a bundle folder never changes).
 */
export class ImageCatalogCache {
  private readonly perBundle = new Map<string, Promise<{ epoch: string; images: BundleImage[] }>>();
  private current?: { at: number; generation: number; catalog: Promise<ImageCatalog> };

  private readonly warned = new Set<string>();
  private readonly warn: (message: string) => void;

  constructor(
    private readonly store: string,
    private readonly generation: () => number,
    warn: (message: string) => void,
  ) {
    // the catalog is rebuilt every second while clients pull: say each thing once
    this.warn = (message) => {
      if (this.warned.has(message) || this.warned.size > 1000) return;
      this.warned.add(message);
      warn(message);
    };
  }

  get(): Promise<ImageCatalog> {
    const now = Date.now();
    const gen = this.generation();
    if (this.current && now - this.current.at < MAX_AGE_MS && this.current.generation === gen) return this.current.catalog;
    const catalog = this.build();
    this.current = { at: now, generation: gen, catalog };
    catalog.catch(() => {
      if (this.current?.catalog === catalog) this.current = undefined;
    });
    return catalog;
  }

  private async build(): Promise<ImageCatalog> {
    const layout = storeLayout(this.store);
    const refs = await readReleaseRefs(layout.refs);
    const releases: Array<ReleaseRef & { epoch: string; images: BundleImage[] }> = [];
    const live = new Set(refs.map((r) => r.digest));
    for (const digest of this.perBundle.keys()) if (!live.has(digest)) this.perBundle.delete(digest);
    for (const ref of refs) {
      const loaded = await this.bundleImages(ref);
      if (loaded) releases.push({ ...ref, ...loaded });
    }
    // later wins: oldest epoch first, ties by NAME, then VERSION compared as ferry gc and /mirrors/NAME/ do
    // (numbers as numbers: 10.0.0 after 9.0.0)
    releases.sort((a, b) => compareEpochs(a.epoch, b.epoch) || cmp(a.name, b.name) || compareReleaseVersions(a.version, b.version));
    const repositories = new Map<string, Repository>();
    /** repository -> tag -> release name -> what the newest release of that name tags */
    const claims = new Map<string, Map<string, Map<string, ServedManifest & { release: string }>>>();
    for (const r of releases) {
      for (const img of r.images) {
        let repo = repositories.get(img.repository);
        if (!repo) repositories.set(img.repository, (repo = { tags: new Map(), manifests: new Map(), blobs: new Map() }));
        let tags = claims.get(img.repository);
        if (!tags) claims.set(img.repository, (tags = new Map()));
        let byName = tags.get(img.tag);
        if (!byName) tags.set(img.tag, (byName = new Map()));
        const before = byName.get(r.name);
        if (before && before.sha256 !== img.top.sha256) {
          this.warn(`image ${img.repository}:${img.tag} is carried by ${before.release} and ${r.name} ${r.version} at different digests; the tag serves ${r.name} ${r.version}'s (newest epoch), the other stays reachable by digest`);
        }
        // a later release of the name (newer epoch) moves the name's claim, and the served tag with it
        byName.delete(r.name);
        byName.set(r.name, { ...img.top, release: `${r.name} ${r.version}` });
        for (const [k, v] of img.manifests) repo.manifests.set(k, v);
        for (const [k, v] of img.blobs) repo.blobs.set(k, v);
      }
    }
    // A signing policy trusts keys per release name, and a repository or tag is no release name. A tag is
    // served when every release name that carries the repository tags it, at one digest (the newest release
    // of each name counting): releases of another name that disagree, or that add a tag of their own to a
    // repository some other name carries too (team/app:latest beside another team's team/app:1.4), leave it
    // unserved, rather than letting whichever signed the newest epoch answer every host that pulls by tag.
    // Digests stay reachable.
    for (const [repository, tags] of claims) {
      const names = new Set([...tags.values()].flatMap((byName) => [...byName.keys()]));
      for (const [tag, byName] of tags) {
        const latest = [...byName.values()];
        const missing = [...names].filter((n) => !byName.has(n)).sort();
        if (latest.some((c) => c.sha256 !== latest[0]!.sha256) || missing.length > 0) {
          const carried = latest.map((c) => `${c.release}: sha256:${c.sha256.slice(0, 12)}`).join(', ');
          this.warn(
            `image ${repository}:${tag} is not served by tag: ${missing.length > 0 ? `releases named ${missing.join(', ')} carry ${repository} without this tag (${carried})` : `releases of different names tag it at different digests (${carried})`}; a tag is served when every release name that carries the repository tags it alike (pull by digest meanwhile)`,
          );
          continue;
        }
        repositories.get(repository)!.tags.set(tag, latest.at(-1)!);
      }
    }
    return { repositories };
  }

  private async bundleImages(ref: ReleaseRef): Promise<{ epoch: string; images: BundleImage[] } | undefined> {
    let p = this.perBundle.get(ref.digest);
    if (!p) {
      p = loadBundleImages(this.store, ref, this.warn);
      this.perBundle.set(ref.digest, p);
    }
    try {
      return await p;
    } catch (err) {
      this.perBundle.delete(ref.digest);
      // a damaged bundle, or a stored manifest this ferry cannot parse (an earlier ferry's looser format): that
      // release's images are left out; thrown on, it failed the whole catalog, and every /v2/ request with it
      if (err instanceof StoreError || err instanceof BundleFormatError) {
        this.warn(`release ${ref.name} ${ref.version}: its images are not served: ${err.message}`);
        return undefined;
      }
      throw err;
    }
  }
}

async function loadBundleImages(store: string, ref: ReleaseRef, warn: (m: string) => void): Promise<{ epoch: string; images: BundleImage[] }> {
  const { manifest } = await readStoredManifest(store, ref.digest);
  const label = `release ${ref.name} ${ref.version}`;
  const { images: carried, invalid } = carriedImages(manifest.artifacts);
  for (const why of invalid) warn(`${label}: not served: ${why}`);
  if (carried.length === 0) return { epoch: manifest.epoch, images: [] };
  // the bundle's OCI blobs by digest; a blob file must be named by its own sha256
  const listed = new Map<string, number>();
  for (const e of manifest.entries) {
    const m = BLOB_PATH_RE.exec(e.path);
    if (!m) continue;
    if (m[1] !== e.sha256) {
      warn(`${label}: ${e.path} has sha256 ${e.sha256}, not its name: not served`);
      continue;
    }
    listed.set(e.sha256, e.size);
  }
  const blobFile = storeLayout(store).blob;
  const images: BundleImage[] = [];
  // each manifest of the bundle is read, checked and parsed once, however many images reach it; what is
  // kept of it is only the descriptors a walk uses (a manifest may hold 4 MiB of other fields)
  const docs = new Map<string, Promise<ManifestSummary>>();
  const readOnce = (m: ServedManifest) => {
    let d = docs.get(m.sha256);
    if (!d) docs.set(m.sha256, (d = readManifestBlob(blobFile(m.sha256), m).then(summarize)));
    return d;
  };
  let named = 0;
  const count = (n: number) => {
    named += n;
    if (named > MAX_NAMED_PER_RELEASE) throw new StoreError(`the release's images name more than ${MAX_NAMED_PER_RELEASE} manifests, configs and layers in all`);
  };
  for (const [i, img] of carried.entries()) {
    if (named > MAX_NAMED_PER_RELEASE) {
      warn(`${label}: ${carried.length - i} of its ${carried.length} images (from ${img.ref}) are not served: the release's images name more than ${MAX_NAMED_PER_RELEASE} manifests, configs and layers in all`);
      break;
    }
    const hex = img.digest.slice('sha256:'.length);
    const size = listed.get(hex);
    if (size === undefined) {
      warn(`${label}: image ${img.ref} names ${img.digest}, which the bundle does not carry: not served`);
      continue;
    }
    const top: ServedManifest = { sha256: hex, size, mediaType: img.mediaType };
    const found: BundleImage = { repository: img.repository, tag: img.tag, top, manifests: new Map(), blobs: new Map() };
    try {
      await walk(top, 0);
      images.push(found);
    } catch (err) {
      if (!(err instanceof StoreError)) throw err;
      warn(`${label}: image ${img.ref} is not served: ${err.message}`);
    }

    // a manifest, its config and layers; an index, the manifests it lists that the bundle carries
    async function walk(m: ServedManifest, depth: number): Promise<void> {
      if (found.manifests.has(m.sha256)) return;
      count(1);
      found.manifests.set(m.sha256, m);
      found.blobs.set(m.sha256, m.size);
      if (depth > MAX_DEPTH) throw new StoreError(`manifests nested more than ${MAX_DEPTH} deep`);
      const doc = await readOnce(m);
      if (!typeAgrees(doc.own, m.mediaType)) {
        found.manifests.delete(m.sha256);
        found.blobs.delete(m.sha256);
        throw new TypeDisagrees(`manifest ${m.sha256} ${ownType(doc.own)}, the ${depth === 0 ? 'bundle' : 'index entry'} says ${m.mediaType}: it would be answered as that, which skopeo and podman refuse`);
      }
      // what it is, the bundle says (as ferry lock read it): a manifest that also holds a "manifests" list is
      // still a manifest, whose config and layers a client fetches
      if (INDEX_MEDIA_TYPES.has(m.mediaType)) {
        if (!Array.isArray(doc.manifests)) throw new StoreError(`index ${m.sha256} has no list of manifests`);
        count(doc.manifests.length);
        for (const child of doc.manifests) {
          // a multi-platform index reduced to the target platforms: the others are simply not carried
          if (!child || !listed.has(child.hex)) continue;
          if (!MANIFEST_MEDIA_TYPES.has(child.mediaType)) {
            warn(`${label}: image ${img.ref}: index ${m.sha256} lists sha256:${child.hex} as ${JSON.stringify(child.mediaType).slice(0, 100)}, not an OCI or Docker image manifest type: that entry is not served`);
            continue;
          }
          try {
            await walk({ sha256: child.hex, size: listed.get(child.hex)!, mediaType: child.mediaType }, depth + 1);
          } catch (err) {
            if (!(err instanceof TypeDisagrees)) throw err;
            // as an entry of a type that is no image manifest's: that entry is not served, the others are
            warn(`${label}: image ${img.ref}: ${err.message}; that entry of index ${m.sha256} is not served`);
          }
        }
        return;
      }
      if (!doc.blobs) throw new StoreError(`manifest ${m.sha256} has no list of layers`);
      count(doc.blobs.length);
      for (const blob of doc.blobs) {
        // a config or layer by another algorithm, in upper case, or no digest at all: a client could not
        // fetch it from here, and ferry could not check it
        if ('bad' in blob) throw new StoreError(`manifest ${m.sha256} names a config or layer without a sha256 digest ferry carries (${blob.bad})`);
        const bsize = listed.get(blob.hex);
        if (bsize === undefined) throw new StoreError(`manifest ${m.sha256} uses blob sha256:${blob.hex}, which the bundle does not carry`);
        found.blobs.set(blob.hex, bsize);
      }
    }
  }
  return { epoch: manifest.epoch, images };
}

type ManifestDoc = { mediaType?: unknown; manifests?: unknown; config?: unknown; layers?: unknown };

/** A manifest whose own `mediaType` field is not the type it would be answered with (its Content-Type). */
class TypeDisagrees extends StoreError {}

/** What a walk uses of a manifest or index: its entries (when it has a list), or its config and layers (when it has a list of layers). */
interface ManifestSummary {
  /** its own `mediaType` field, when it has one (cut short; null when it is no string) */
  own?: string | null;
  manifests?: Array<{ hex: string; mediaType: string } | undefined>;
  /** each a sha256, or for one ferry cannot use, what it names (cut short) */
  blobs?: Array<{ hex: string } | { bad: string }>;
}

function summarize(doc: ManifestDoc): ManifestSummary {
  return {
    ...(doc.mediaType !== undefined && { own: typeof doc.mediaType === 'string' ? doc.mediaType.slice(0, 300) : null }),
    ...(Array.isArray(doc.manifests) && { manifests: doc.manifests.map(descriptor) }),
    ...(Array.isArray(doc.layers) && {
      blobs: [doc.config, ...doc.layers].map((d) => descriptor(d) ?? { bad: describeDigest((d as { digest?: unknown } | null)?.digest) }),
    }),
  };
}

/**
 * What a descriptor names where a digest belongs, for a warning: a string or number as JSON, cut short; an
 * array or object only by its kind. Serialised whole, one nested as deep as a 4 MiB manifest allows overflowed
 * the stack, and that error failed the catalog of every release.
 */
function describeDigest(digest: unknown): string {
  if (digest !== null && typeof digest === 'object') return Array.isArray(digest) ? 'a JSON array' : 'a JSON object';
  return JSON.stringify(digest ?? null).slice(0, 90);
}

/** A manifest blob of the store, checked against its size and sha256 before it is parsed. */
async function readManifestBlob(file: string, m: ServedManifest): Promise<ManifestDoc> {
  if (m.size > MANIFEST_MAX) throw new StoreError(`manifest ${m.sha256} has ${m.size} bytes, more than ${MANIFEST_MAX}`);
  let bytes: Buffer;
  try {
    const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      bytes = Buffer.alloc(m.size);
      const { bytesRead } = await fh.read(bytes, 0, m.size, 0);
      const st = await fh.stat();
      if (bytesRead !== m.size || st.size !== m.size) throw new StoreError(`${file} has ${st.size} bytes, the bundle says ${m.size}: the store is damaged; re-import the release`);
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (err instanceof StoreError) throw err;
    if (isMissing(err)) throw new StoreError(`${file} is missing: the store is damaged; re-import the release`);
    throw new StoreError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const actual = sha256Hex(bytes);
  if (actual !== m.sha256) throw new StoreError(`${file} has sha256 ${actual}: the store is damaged; re-import the release`);
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as unknown;
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('not an object');
    return doc as { manifests?: unknown };
  } catch (err) {
    throw new StoreError(`manifest ${m.sha256} is not a JSON object (${parseErrorReason(err)})`);
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
