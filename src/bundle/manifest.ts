import { z } from 'zod';
import { BundleFormatError } from '../errors.js';
import { canonicalJson } from '../util/canonicalJson.js';
import { sha256Hex } from '../util/sha256.js';
import { formatIssues } from '../util/formatIssues.js';

export const MANIFEST_PATH = 'manifest.json';
export const SIGNATURE_PATH = 'manifest.json.asc';
/** A manifest larger than this is refused before it is parsed (hostile input must not exhaust memory). */
export const MANIFEST_MAX_BYTES = 64 * 1024 * 1024;
export const SIGNATURE_MAX_BYTES = 1024 * 1024;
export const FORMAT = 'ferry-bundle/1';

export const ENTRY_KINDS = ['file', 'key', 'apt', 'apt-index', 'python', 'python-index', 'rootfs', 'git'] as const;
export type EntryKind = (typeof ENTRY_KINDS)[number];

/** Paths inside a bundle: relative, forward slashes, no empty, "." or ".." components, no NUL. */
export function isSafeBundlePath(p: string): boolean {
  if (p.length === 0 || p.length > 4096 || p.startsWith('/') || p.includes('\0') || p.includes('\\')) return false;
  return p.split('/').every((c) => c !== '' && c !== '.' && c !== '..');
}

const ManifestEntry = z
  .object({
    path: z.string().refine(isSafeBundlePath, 'a relative path without . or .. components'),
    size: z.number().int().min(0),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    kind: z.enum(ENTRY_KINDS),
    services: z.array(z.string()),
  })
  .strict();
export type ManifestEntry = z.infer<typeof ManifestEntry>;

const ManifestService = z
  .object({
    version: z.string(),
    groups: z.array(z.string()),
    artifacts: z.record(z.string(), z.unknown()),
    stage: z.array(z.record(z.string(), z.unknown())),
    install: z.array(z.record(z.string(), z.unknown())),
    configure: z.array(z.record(z.string(), z.unknown())),
  })
  .strict();
export type ManifestService = z.infer<typeof ManifestService>;

export const Manifest = z
  .object({
    format: z.literal(FORMAT),
    // name and version become store paths (refs/NAME/VERSION): no separators, no leading dot
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/).max(200),
    version: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+~-]*$/).max(200),
    epoch: z.string(),
    created_by: z.string(),
    targets: z.record(z.string(), z.unknown()),
    services: z.record(z.string(), ManifestService),
    /** per artifact kind, what a host or the runner needs to use the entries (apt suite, wheel pins, rootfs names, git commits) */
    artifacts: z.record(z.string(), z.unknown()),
    /** for a differential bundle: the release whose artifacts it omits */
    base: z.object({ name: z.string(), version: z.string(), digest: z.string() }).strict().optional(),
    /** entries the tar omits because the base carries them (differential bundles) */
    omitted: z.array(z.string()).optional(),
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
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new BundleFormatError(`${label}: manifest.json is not JSON (${(err as Error).message})`);
  }
  const parsed = Manifest.safeParse(raw);
  if (!parsed.success) throw new BundleFormatError(`${label}: manifest.json does not match format ${FORMAT}:\n${formatIssues('manifest.json', parsed.error)}`);
  const m = parsed.data;
  const seen = new Set<string>();
  let prev = '';
  for (const e of m.entries) {
    if (seen.has(e.path)) throw new BundleFormatError(`${label}: manifest lists ${e.path} twice`);
    if (e.path === MANIFEST_PATH || e.path === SIGNATURE_PATH) throw new BundleFormatError(`${label}: manifest lists its own file ${e.path}`);
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
