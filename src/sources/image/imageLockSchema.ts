import * as z from '../../util/zod.js';
import { SpecError } from '../../errors.js';
import { formatIssues } from '../../util/formatIssues.js';
import { MANIFEST_MAX_BYTES } from './imageDocument.js';
import { imageDigest, name } from '../../util/names.js';

const LockedDescriptor = z
  .object({
    digest: imageDigest,
    size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    mediaType: z.string().min(1),
    /** an index entry's platform, os/architecture[/variant] */
    platform: z.string().optional(),
  })
  .strict();
export type LockedDescriptor = z.infer<typeof LockedDescriptor>;

/** A manifest or index is read into memory by the build: no larger than ferry lock reads one. */
const manifestSize = z.number().int().min(0).max(MANIFEST_MAX_BYTES);
const LockedManifest = LockedDescriptor.extend({ size: manifestSize });

/** One image reference of the spec, pinned. */
const LockedImage = z
  .object({
    /** REGISTRY/REPOSITORY:TAG */
    ref: z.string().min(1),
    /** where it was read: the registry's base URL, or oci:PATH[:TAG] as the spec wrote it */
    source: z.string().min(1),
    platforms: z.array(z.string()),
    services: z.array(name).min(1),
    /** what the bundle's oci/index.json points at: the image's manifest, or its index reduced to the platforms */
    digest: imageDigest,
    size: manifestSize,
    mediaType: z.string().min(1),
    /** the index as the source serves it, when the bundle carries it reduced */
    upstream: LockedManifest.optional(),
    /** the index's entries the bundle carries (none for a single manifest) */
    manifests: z.array(LockedManifest),
    /** every config and layer those manifests name */
    blobs: z.array(LockedDescriptor),
  })
  .strict();
export type LockedImage = z.infer<typeof LockedImage>;

export const ImageLock = z.object({ images: z.array(LockedImage) }).strict();
export type ImageLock = z.infer<typeof ImageLock>;

/** The lock's images section: reviewed text, read as hostile input like the rest of the lock. */
export function parseImageLock(section: unknown): ImageLock {
  const parsed = ImageLock.safeParse(section);
  if (!parsed.success) throw new SpecError(formatIssues('lock: images', parsed.error) + '; run ferry lock again');
  return parsed.data;
}
