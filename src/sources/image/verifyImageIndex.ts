import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BundleFormatError } from '../../errors.js';
import type { Manifest } from '../../bundle/manifest.js';
import { quoteInput } from '../../util/oneLine.js';
import { OCI_DIR, REF_NAME_ANNOTATION } from './imageDocument.js';

/** index.json of a bundle's OCI layout is small (one descriptor per image): more is not one ferry wrote. */
const MAX_INDEX_BYTES = 16 << 20;

/**
 * The OCI layout's index.json of an imported tree names exactly the images manifest.artifacts.image pins,
 * in its order: each descriptor's digest, media type and reference name (org.opencontainers.image.ref.name)
 * those of the image, and its size that of the blob the manifest lists for that digest. ferry build writes
 * it so; ferry itself loads images by the pinned descriptor, but an operator's `skopeo inspect
 * oci:STORE/bundles/DIGEST/oci:REF` and any tool reading the layout go by these names, so a signed bundle
 * whose index gives a reference to another image it carries (a decoy) is refused at import (exit 68), not
 * left for a person to trust. The importer calls this after every entry's sha256 matched.
 */
export async function verifyImageIndex(treeDir: string, manifest: Manifest): Promise<void> {
  const images = manifest.artifacts.image?.images ?? [];
  const indexPath = `${OCI_DIR}/index.json`;
  const listed = manifest.entries.some((e) => e.path === indexPath);
  if (images.length === 0 && !listed) return;
  const refuse = (why: string): never => {
    throw new BundleFormatError(`${indexPath}: ${why}; the layout must name exactly the images manifest.artifacts.image pins (the bundle was made by something other than ferry build)`);
  };
  if (!listed) refuse(`missing, though the manifest pins ${images.length} image(s)`);
  const entry = manifest.entries.find((e) => e.path === indexPath)!;
  if (entry.size > MAX_INDEX_BYTES) refuse(`${entry.size} bytes, more than ferry reads`);
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(join(treeDir, indexPath), 'utf8'));
  } catch (err) {
    if (err instanceof SyntaxError) refuse('not JSON');
    throw err;
  }
  const manifests = (doc as { manifests?: unknown } | null)?.manifests;
  if (!Array.isArray(manifests)) refuse('has no "manifests" list');
  const list = manifests as unknown[];
  if (list.length !== images.length) refuse(`names ${list.length} image(s), the manifest pins ${images.length}`);
  const sizes = new Map(manifest.entries.map((e) => [e.path, e.size]));
  images.forEach((img, i) => {
    const d = list[i] as { digest?: unknown; mediaType?: unknown; size?: unknown; annotations?: Record<string, unknown> } | null;
    const at = `manifests[${i}]`;
    if (d === null || typeof d !== 'object') return refuse(`${at} is not a descriptor`);
    const name = d.annotations?.[REF_NAME_ANNOTATION];
    if (name !== img.ref) refuse(`${at} is named ${typeof name === 'string' ? quoteInput(name) : 'nothing'}, the manifest pins ${img.ref} there`);
    if (d.digest !== img.digest) refuse(`${at} (${img.ref}) names ${typeof d.digest === 'string' ? quoteInput(d.digest, 80) : 'no digest'}, the manifest pins ${img.digest}`);
    if (d.mediaType !== img.mediaType) refuse(`${at} (${img.ref}) has media type ${typeof d.mediaType === 'string' ? quoteInput(d.mediaType) : 'none'}, the manifest pins ${img.mediaType}`);
    const blob = sizes.get(`${OCI_DIR}/blobs/sha256/${img.digest.slice('sha256:'.length)}`);
    if (blob !== undefined && d.size !== blob) refuse(`${at} (${img.ref}) gives size ${typeof d.size === 'number' ? d.size : 'none'}, its blob has ${blob} bytes`);
  });
}
