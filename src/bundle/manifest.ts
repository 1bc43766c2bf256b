import * as z from '../util/zod.js';
import { BundleFormatError } from '../errors.js';
import { canonicalJson, canonicalMismatch } from '../util/canonicalJson.js';
import { sha256Hex } from '../util/sha256.js';
import { tooDenseToParse } from '../util/tooDenseToParse.js';
import { formatIssues } from '../util/formatIssues.js';
import { parseErrorReason } from '../util/oneLine.js';
import { aptDistribution, commit, entryPath, imageDigest, imageRegistry, imageRepository, imageTag, name, version } from '../util/names.js';

export const MANIFEST_PATH = 'manifest.json';
export const SIGNATURE_PATH = 'manifest.json.asc';
/** A manifest larger than this is refused before it is parsed (hostile input must not exhaust memory). */
export const MANIFEST_MAX_BYTES = 64 * 1024 * 1024;
export const SIGNATURE_MAX_BYTES = 1024 * 1024;
export const FORMAT = 'ferry-bundle/1';

export const ENTRY_KINDS = ['file', 'key', 'apt', 'apt-index', 'python', 'python-index', 'rootfs', 'git', 'sbom', 'image', 'mirror'] as const;
export type EntryKind = (typeof ENTRY_KINDS)[number];


const sha256 = z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex characters (a sha256)');

const ManifestEntry = z
  .object({
    path: entryPath,
    size: z.number().int().min(0),
    sha256,
    kind: z.enum(ENTRY_KINDS),
    services: z.array(name),
  })
  .strict();
export type ManifestEntry = z.infer<typeof ManifestEntry>;

/**
 * A step is `{ KIND: options }`. Which kinds exist, and their options, the step schemas check when a
 * release is planned or deployed (exit 65); every reader refuses here a key no kind could have, which
 * only a crafted manifest holds (a newline, a quote, text made to pass for ferry's own output).
 */
const Step = z.record(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'a step kind: a lowercase word like apt, file or command'), z.unknown());

const ManifestService = z
  .object({
    version,
    groups: z.array(name),
    artifacts: z.record(z.string(), z.unknown()),
    stage: z.array(Step),
    install: z.array(Step),
    configure: z.array(Step),
  })
  .strict();
export type ManifestService = z.infer<typeof ManifestService>;

/** Free text shown to people (created_by): one line, no control characters. */
const printable = z.string().max(200).regex(/^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]*$/u, 'one line of text without control characters');

/** An image the bundle's OCI layout carries: served as REPOSITORY, pulled by hosts as REGISTRY/REPOSITORY:TAG at DIGEST. */
const ManifestImage = z
  .looseObject({
    ref: z.string(),
    registry: imageRegistry,
    repository: imageRepository,
    tag: imageTag,
    digest: imageDigest,
    mediaType: z.enum(['application/vnd.oci.image.index.v1+json', 'application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json', 'application/vnd.docker.distribution.manifest.v2+json']),
    services: z.array(name),
  })
  .refine((i) => i.ref === `${i.registry}/${i.repository}:${i.tag}`, 'ref is REGISTRY/REPOSITORY:TAG of the same image');

/**
 * The sections of manifest.artifacts that hosts use (written into sources lists, git commands, paths):
 * only the fields deploy reads are checked; each kind may record more.
 */
const ManifestArtifacts = z.looseObject({
  apt: z.looseObject({ suite: aptDistribution, component: aptDistribution.optional(), packages: z.array(z.looseObject({ name: z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, 'a Debian package name'), version: z.string().regex(/^[A-Za-z0-9.+~:-]+$/, 'a Debian version') })).optional() }).optional(),
  git: z.record(name, z.looseObject({ path: entryPath, commit, shallow: z.array(commit).optional() })).optional(),
  rootfs: z.record(name, z.looseObject({ path: entryPath })).optional(),
  python: z.looseObject({ services: z.record(name, z.looseObject({ requirements: z.string() })).optional() }).optional(),
  // one image per REPOSITORY:TAG (whatever the registry): ferry serve names images without their registry and
  // deploy pulls by the full reference, so a second listing would have each of them pick another image
  // (what ferry build's planImages refuses in a spec)
  image: z
    .looseObject({
      images: z.array(ManifestImage).superRefine((images, ctx) => {
        const first = new Map<string, number>();
        images.forEach((img, i) => {
          const key = `${img.repository}:${img.tag}`;
          const at = first.get(key);
          if (at === undefined) first.set(key, i);
          else ctx.addIssue({ code: 'custom', path: [i], message: `${key} is listed again (first at images[${at}]): a bundle carries one image per repository and tag` });
        });
      }),
    })
    .optional(),
  // mirror names become store links (STORE/mirrors/NAME@VERSION) and URLs (/mirrors/NAME/)
  mirror: z.looseObject({ apt: z.record(name, z.looseObject({ suites: z.array(aptDistribution) })).optional(), python: z.record(name, z.looseObject({})).optional() }).optional(),
});

export const Manifest = z
  .object({
    format: z.literal(FORMAT),
    // name and version become store paths (refs/NAME/VERSION), service names fact files (FACTS/SERVICE.json)
    name,
    version,
    epoch: z.iso.datetime({ offset: true }),
    created_by: printable,
    targets: z.record(z.string(), z.unknown()),
    services: z.record(name, ManifestService),
    /** per artifact kind, what a host or the runner needs to use the entries (apt suite, wheel pins, rootfs names, git commits) */
    artifacts: ManifestArtifacts,
    /** for a differential bundle: the release whose artifacts it omits */
    base: z.object({ name, version, digest: sha256 }).strict().optional(),
    /** entries the tar omits because the base carries them (differential bundles) */
    omitted: z.array(entryPath).optional(),
    entries: z.array(ManifestEntry),
  })
  .strict();
export type Manifest = z.infer<typeof Manifest>;

export function serializeManifest(m: Manifest): Buffer {
  return Buffer.from(canonicalJson(m), 'utf8');
}

export function manifestDigest(bytes: Uint8Array): string {
  return sha256Hex(bytes);
}

/** Parse and validate manifest bytes; the bytes must already be canonical (what was signed is what is used). */
export function parseManifest(bytes: Uint8Array, label: string): Manifest {
  const dense = tooDenseToParse(bytes);
  if (dense) {
    throw new BundleFormatError(
      `${label}: manifest.json holds ${dense.containers} JSON objects and arrays in ${bytes.length} bytes, more than a ferry manifest ever has (${dense.allowed}): refused before parsing`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (err) {
    throw new BundleFormatError(`${label}: manifest.json is not JSON (${parseErrorReason(err)})`);
  }
  // one release, one byte string: a signed manifest with a duplicate key, extra whitespace or CRLF would
  // read as another bundle's content under another digest (and squat its NAME/VERSION)
  const at = canonicalMismatch(bytes, raw);
  if (at !== undefined) {
    throw new BundleFormatError(
      `${label}: manifest.json is not canonical JSON (it differs from its canonical form at byte ${at}): ferry reads a manifest only as it writes it: sorted keys, none twice, no whitespace, one LF at the end`,
    );
  }
  const parsed = Manifest.safeParse(raw);
  if (!parsed.success) throw new BundleFormatError(`${label}: manifest.json does not match format ${FORMAT}: ${formatIssues('manifest.json', parsed.error)}`);
  const m = parsed.data;
  const seen = new Set<string>();
  let prev = '';
  for (const e of m.entries) {
    if (seen.has(e.path)) throw new BundleFormatError(`${label}: manifest lists ${e.path} twice`);
    if (e.path === MANIFEST_PATH || e.path === SIGNATURE_PATH) throw new BundleFormatError(`${label}: manifest lists its own file ${e.path}`);
    // the stored tree holds manifest.json and its signature beside the entries: neither may be a folder
    const top = e.path.split('/')[0];
    if (e.path.includes('/') && (top === MANIFEST_PATH || top === SIGNATURE_PATH)) throw new BundleFormatError(`${label}: manifest lists ${e.path}, inside ${top}, which is the bundle's own file`);
    if (e.path <= prev) throw new BundleFormatError(`${label}: manifest entries are not sorted at ${e.path}`);
    prev = e.path;
    seen.add(e.path);
  }
  // a differential bundle omits listed entries only, each once, and names the release that carries them
  const omitted = new Set<string>();
  for (const path of m.omitted ?? []) {
    if (!seen.has(path)) throw new BundleFormatError(`${label}: manifest omits ${path}, which it does not list`);
    if (omitted.has(path)) throw new BundleFormatError(`${label}: manifest omits ${path} twice`);
    omitted.add(path);
  }
  if (omitted.size > 0 && !m.base) throw new BundleFormatError(`${label}: manifest omits entries but names no base release`);
  // the store that holds the base holds this NAME/VERSION as the base: it would refuse this bundle
  if (m.base && m.base.name === m.name && m.base.version === m.version) {
    throw new BundleFormatError(
      `${label}: manifest names ${m.name} ${m.version}, its own name and version, as its base: a store that holds that base refuses this bundle under the same NAME/VERSION; build it over an earlier release, or in full`,
    );
  }
  // a file and a folder of the same name cannot both exist
  for (const e of m.entries) {
    const parts = e.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (seen.has(dir)) throw new BundleFormatError(`${label}: manifest lists ${dir} as a file and as a folder`);
    }
  }
  return m;
}
