import * as z from './zod.js';
import { IMAGE_REPOSITORY_RE, imageDigest, imageRegistry, imageRepository, imageTag } from './names.js';
import { quoteInput } from './oneLine.js';

/**
 * The images a manifest carries, for the registry ferry serve answers and the image deploy step
 * (which puts names into host scripts): the name rules are names.ts's, shared with the image kind.
 */

/** Longest repository name accepted (the spec's clients limit the whole reference to 255). */
export const REPOSITORY_MAX = 255;
/** A full reference with tag: `registry.example/team/app:1.4`. */
export const IMAGE_REF_RE = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/**
 * Whether a document whose own `mediaType` field is `own` (undefined: it has none) may be answered as `type`
 * (the Content-Type a registry sends, the media type an index entry gives). The field, when there, must be
 * that type; OCI allows a document without one, but a Docker image manifest must carry its type (skopeo,
 * podman: `unsupported docker v2s2 media type: ""`).
 */
export function typeAgrees(own: unknown, type: string): boolean {
  return own === type || (own === undefined && type !== 'application/vnd.docker.distribution.manifest.v2+json');
}
/** What a document's own `mediaType` field says, for a message: `is TYPE`, or that it has none. */
export function ownType(own: unknown): string {
  return own === undefined ? 'has no mediaType field (an OCI document may omit it, a Docker image manifest may not)' : `is ${typeof own === 'string' ? quoteInput(own, 100) : 'no string'}`;
}
/** Image manifests and indexes over 4 MiB are refused by registries, by ferry lock and build, and not served. */
export const IMAGE_MANIFEST_MAX_BYTES = 4 << 20;
/**
 * How many manifests, configs and layers one release's images may name in all, each image's counted on its
 * own: ferry serve serves no more of a release (a thousand images of fifty layers for four platforms is
 * 200,000), ferry lock and ferry build refuse images beyond it, and ferry import a bundle naming more
 * (sources/image/refuseTooManyNamed.ts): only a store filled by an earlier ferry holds one.
 */
export const MAX_IMAGE_NAMED_PER_RELEASE = 250_000;
/**
 * What one image names as ferry serve counts it: an index and each of its entries (repeats too), and each
 * manifest it reaches once, with its config and every layer it lists (repeats too). `entries`: the entries
 * of the image's index (undefined: the image is a single manifest); `blobs`: config and layers of each
 * distinct manifest.
 */
export function imageNamedCount(entries: number | undefined, blobs: number[]): number {
  return (entries === undefined ? 0 : 1 + entries) + blobs.reduce((n, b) => n + 1 + b, 0);
}
/** The refusal of ferry lock and ferry build when a release's images name more than serve serves. */
export function tooManyNamed(ref: string): string {
  return `images: with ${ref} the release's images name more than ${MAX_IMAGE_NAMED_PER_RELEASE} manifests, configs and layers in all, more than ferry serve serves of a release; carry fewer images (or split them across releases)`;
}
/**
 * The media types a manifest is answered with: the OCI and Docker image manifest and index types, as
 * manifest.json allows for an image's top document. An index entry's type is the bundle's word too, and
 * becomes the Content-Type of its answer: `text/html` would have a browser render the manifest's bytes
 * as a page of the serve origin, and a line break is not a header at all.
 */
export const INDEX_MEDIA_TYPES: ReadonlySet<string> = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);
export const MANIFEST_MEDIA_TYPES: ReadonlySet<string> = new Set([...INDEX_MEDIA_TYPES, 'application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json']);

/** An index entry's or a manifest's config or layer descriptor: its sha256 and media type (undefined without a sha256 digest). */
export function imageDescriptor(d: unknown): { hex: string; mediaType: string } | undefined {
  if (!d || typeof d !== 'object') return undefined;
  const { digest, mediaType } = d as { digest?: unknown; mediaType?: unknown };
  if (typeof digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(digest)) return undefined;
  return { hex: digest.slice(7), mediaType: typeof mediaType === 'string' ? mediaType : 'application/vnd.oci.image.manifest.v1+json' };
}
export function isRepository(s: string): boolean {
  return s.length <= REPOSITORY_MAX && IMAGE_REPOSITORY_RE.test(s);
}

/** One image of `manifest.artifacts.image.images`, as the image kind records it. */
export const CarriedImage = z.looseObject({
  ref: z.string().regex(IMAGE_REF_RE, 'a full image reference with a tag (registry/repository:tag)'),
  registry: imageRegistry,
  repository: imageRepository,
  tag: imageTag,
  digest: imageDigest,
  mediaType: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.+\/-]{0,126}$/, 'a media type'),
  services: z.array(z.string()).optional(),
});
export type CarriedImage = z.infer<typeof CarriedImage>;

/** The images a manifest carries; entries that do not match the rules are returned in `invalid` with the reason. */
export function carriedImages(artifacts: Record<string, unknown>): { images: CarriedImage[]; invalid: string[] } {
  const section = artifacts.image as { images?: unknown } | undefined;
  const list = Array.isArray(section?.images) ? section.images : [];
  const images: CarriedImage[] = [];
  const invalid: string[] = [];
  list.forEach((raw, i) => {
    const parsed = CarriedImage.safeParse(raw);
    if (parsed.success) images.push(parsed.data);
    else invalid.push(`artifacts.image.images[${i}]: ${parsed.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`);
  });
  return { images, invalid };
}
