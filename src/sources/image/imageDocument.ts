import * as z from '../../util/zod.js';
import { ResolveError } from '../../errors.js';
import { formatIssues } from '../../util/formatIssues.js';
import { IMAGE_DIGEST_RE } from '../../util/names.js';
import { parseErrorReason, quoteInput } from '../../util/oneLine.js';
import { nestsDeeperThan } from '../../util/nestsDeeperThan.js';
import { IMAGE_MANIFEST_MAX_BYTES } from '../../util/imageNames.js';

/** The bundle's one OCI image layout. */
export const OCI_DIR = 'oci';
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
export const SERVICES_ANNOTATION = 'io.ferry.services';

export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const INDEX_TYPES: readonly string[] = [OCI_INDEX, DOCKER_LIST];
export const MANIFEST_TYPES: readonly string[] = [OCI_MANIFEST, DOCKER_MANIFEST];
/** What ferry asks a registry for: the two formats of each, never Docker's schema 1 (unsigned layer lists by name). */
export const ACCEPT_MANIFESTS = [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST].join(', ');
/** A manifest or index nests a few levels (index, entries, platform, its features); far more is not one. */
const MAX_DOCUMENT_DEPTH = 32;
/** Registries refuse manifests over 4 MiB; ferry refuses to read larger ones. */
export const MANIFEST_MAX_BYTES = IMAGE_MANIFEST_MAX_BYTES;

const digest = z.string().regex(IMAGE_DIGEST_RE, 'sha256: and 64 lowercase hex digits');
const Platform = z.looseObject({ os: z.string(), architecture: z.string(), variant: z.string().optional() });
export const Descriptor = z.looseObject({
  mediaType: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/, 'a media type'),
  digest,
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  platform: Platform.optional(),
  urls: z.array(z.string()).optional(),
});
export type Descriptor = z.infer<typeof Descriptor>;
export type Platform = z.infer<typeof Platform>;

export type ImageDocument =
  /** `json`: the document as served (field order kept), for a reduced index that differs only in its entries */
  | { kind: 'index'; mediaType: string; manifests: Descriptor[]; json: Record<string, unknown> }
  | { kind: 'manifest'; mediaType: string; config: Descriptor; layers: Descriptor[]; json: Record<string, unknown> };

const Index = z.looseObject({ schemaVersion: z.literal(2), mediaType: z.string().optional(), manifests: z.array(Descriptor) });
const Manifest = z.looseObject({ schemaVersion: z.literal(2), mediaType: z.string().optional(), config: Descriptor, layers: z.array(Descriptor) });

/**
 * Read an image manifest or index as an upstream serves it (hostile input: only what ferry uses is
 * checked, the bytes stay exactly as served). The media type is the document's own `mediaType`, else
 * the one the server announced, else what its fields say (OCI allows documents without one).
 */
export function parseImageDocument(bytes: Uint8Array, where: string, announced?: string): ImageDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new ResolveError(`${where}: the image manifest is not JSON (${parseErrorReason(err)})`);
  }
  // an index reduced to the targets is written back with its other fields as served: they must be writable
  if (nestsDeeperThan(raw, MAX_DOCUMENT_DEPTH)) throw new ResolveError(`${where}: the image manifest nests deeper than ${MAX_DOCUMENT_DEPTH} levels; not an image manifest or index`);
  const own = typeof (raw as { mediaType?: unknown })?.mediaType === 'string' ? (raw as { mediaType: string }).mediaType : undefined;
  const announcedType = announced?.split(';')[0]!.trim();
  const looksLikeIndex = typeof raw === 'object' && raw !== null && 'manifests' in raw;
  const mediaType = own ?? (announcedType && [...INDEX_TYPES, ...MANIFEST_TYPES].includes(announcedType) ? announcedType : looksLikeIndex ? OCI_INDEX : OCI_MANIFEST);
  if (INDEX_TYPES.includes(mediaType)) {
    const parsed = Index.safeParse(raw);
    if (!parsed.success) throw new ResolveError(formatIssues(`${where}: image index`, parsed.error));
    return { kind: 'index', mediaType, manifests: parsed.data.manifests, json: raw as Record<string, unknown> };
  }
  if (MANIFEST_TYPES.includes(mediaType)) {
    const parsed = Manifest.safeParse(raw);
    if (!parsed.success) throw new ResolveError(formatIssues(`${where}: image manifest`, parsed.error));
    for (const layer of parsed.data.layers) {
      if (layer.urls?.length) throw new ResolveError(`${where}: layer ${layer.digest} lives outside the registry (${quoteInput(layer.urls[0]!)}): ferry carries only images whose every layer the registry serves`);
    }
    return { kind: 'manifest', mediaType, config: parsed.data.config, layers: parsed.data.layers, json: raw as Record<string, unknown> };
  }
  throw new ResolveError(`${where}: media type ${quoteInput(mediaType)} is not an OCI or Docker v2 image manifest or index (Docker's schema 1 is not supported: push the image again with a current client)`);
}
