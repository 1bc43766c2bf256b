import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BundleFormatError } from '../../errors.js';
import type { Manifest } from '../../bundle/manifest.js';
import { IMAGE_MANIFEST_MAX_BYTES, INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES, MAX_IMAGE_NAMED_PER_RELEASE, carriedImages, imageDescriptor, tooManyNamed } from '../../util/imageNames.js';

/** as deep as ferry serve walks an image (src/serve/registry/imageCatalog.ts) */
const MAX_DEPTH = 4;
const BLOB_PATH_RE = /^oci\/blobs\/sha256\/([0-9a-f]{64})$/;

interface Summary {
  /** an index's entries: sha256 and media type, or undefined for one without a sha256 digest */
  manifests?: Array<{ hex: string; mediaType: string } | undefined>;
  /** a manifest's config and layers */
  blobs?: number;
}

/**
 * Refuse (exit 68, as the layout's other refusals at import) a verified tree whose images name more manifests,
 * configs and layers in all than ferry serve serves of a release (MAX_IMAGE_NAMED_PER_RELEASE), counted as serve
 * counts them: each image on its own, an index and each of its entries, each manifest it reaches once with its
 * config and every layer. ferry lock and build refuse such images, so only a bundle made otherwise names more:
 * imported, serve would leave the images past the bound unserved. Documents ferry serve would not read (too
 * large, not JSON) name nothing here.
 */
export async function refuseTooManyNamed(treeDir: string, manifest: Manifest): Promise<void> {
  const { images } = carriedImages(manifest.artifacts);
  if (images.length === 0) return;
  const listed = new Map<string, number>();
  for (const e of manifest.entries) {
    const m = BLOB_PATH_RE.exec(e.path);
    if (m && m[1] === e.sha256) listed.set(e.sha256, e.size);
  }
  const docs = new Map<string, Promise<Summary | undefined>>();
  const read = (hex: string) => {
    let d = docs.get(hex);
    if (!d) docs.set(hex, (d = summarize(treeDir, hex, listed.get(hex)!)));
    return d;
  };
  let named = 0;
  for (const img of images) {
    const seen = new Set<string>();
    const count = (n: number) => {
      named += n;
      if (named > MAX_IMAGE_NAMED_PER_RELEASE) throw new BundleFormatError(`${tooManyNamed(img.ref)}; nothing was imported (ferry lock and build refuse such images: the bundle was made by something other than ferry build)`);
    };
    const walk = async (hex: string, mediaType: string, depth: number): Promise<void> => {
      if (seen.has(hex)) return;
      seen.add(hex);
      count(1);
      if (depth > MAX_DEPTH) return;
      const doc = await read(hex);
      if (!doc) return;
      if (INDEX_MEDIA_TYPES.has(mediaType)) {
        if (!doc.manifests) return;
        count(doc.manifests.length);
        for (const child of doc.manifests) {
          if (child && listed.has(child.hex) && MANIFEST_MEDIA_TYPES.has(child.mediaType)) await walk(child.hex, child.mediaType, depth + 1);
        }
      } else if (doc.blobs !== undefined) {
        count(doc.blobs);
      }
    };
    const hex = img.digest.slice('sha256:'.length);
    if (listed.has(hex)) await walk(hex, img.mediaType, 0);
  }
}

async function summarize(treeDir: string, hex: string, size: number): Promise<Summary | undefined> {
  if (size > IMAGE_MANIFEST_MAX_BYTES) return undefined;
  let doc: { manifests?: unknown; config?: unknown; layers?: unknown };
  try {
    doc = JSON.parse(await readFile(join(treeDir, 'oci/blobs/sha256', hex), 'utf8')) as typeof doc;
  } catch (err) {
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return undefined;
  return {
    ...(Array.isArray(doc.manifests) && { manifests: doc.manifests.map(imageDescriptor) }),
    ...(Array.isArray(doc.layers) && { blobs: 1 + doc.layers.length }),
  };
}
