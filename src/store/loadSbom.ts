import type * as openpgp from 'openpgp';
import { BundleFormatError, UsageError } from '../errors.js';
import type { Manifest } from '../bundle/manifest.js';
import { openBundleSource } from '../bundle/openBundleSource.js';
import { SBOM_PATH, type CdxBom } from '../sbom/cycloneDx.js';
import { parseCycloneDx } from '../sbom/parseCycloneDx.js';
import { checkSbomMatchesManifest } from './sbomMatchesManifest.js';
import { readReleaseFile } from './readReleaseFile.js';
import { readStoredManifest } from './readStoredManifest.js';
import { resolveRelease } from './resolveRelease.js';

export interface LoadedSbom {
  bom: CdxBom;
  /** the exact bytes the manifest lists */
  bytes: Buffer;
  /** the release's bundle digest */
  digest: string;
  label: string;
}

/** An SBOM larger than this is refused before it is held in memory (hostile input must not exhaust it). */
const SBOM_MAX_BYTES = 256 * 1024 * 1024;

/**
 * The SBOM of a bundle file, read in one verifying pass (the signature against `keys`, every entry
 * against the manifest), so what is printed is what the signers listed; and it must describe what the
 * manifest carries (checkSbomMatchesManifest), as from the store.
 */
export async function loadBundleSbom(path: string, keys: openpgp.PublicKey[]): Promise<LoadedSbom> {
  const src = await openBundleSource(path);
  const chunks: Buffer[] = [];
  let bytes: Buffer | undefined;
  const r = await src.read({
    keys,
    onHead: ({ manifest }) => void sbomEntry(manifest, src.label),
    async openEntry(entry) {
      if (entry.path !== SBOM_PATH) return undefined;
      // the chunks are lent by the source: keep copies
      return { write: (c) => void chunks.push(Buffer.from(c)), commit: () => void (bytes = Buffer.concat(chunks)), abort: () => void chunks.splice(0) };
    },
  });
  await src.finalCheck(r.digest);
  if (!bytes) throw new BundleFormatError(`${src.label}: differential bundle without its SBOM (${SBOM_PATH} comes from ${r.manifest.base?.name ?? 'its base'}): import it and run ferry sbom NAME/VERSION --store DIR`);
  return { bom: matching(parseCycloneDx(bytes, src.label), r.manifest, src.label), bytes, digest: r.digest, label: src.label };
}

/** The SBOM of an imported release (DIGEST, NAME/VERSION or NAME), re-hashed against its manifest. */
export async function loadStoredSbom(store: string, release: string): Promise<LoadedSbom> {
  const rel = await resolveRelease(store, release);
  const { manifest, dir } = await readStoredManifest(store, rel.digest);
  const label = `release ${rel.name}/${rel.version} (${rel.digest})`;
  const entry = sbomEntry(manifest, label);
  // a link, a FIFO (a read of it never ends) or a file of another size is refused by what it is, not read
  const bytes = await readReleaseFile(dir, entry);
  return { bom: matching(parseCycloneDx(bytes, label), manifest, label), bytes, digest: rel.digest, label };
}

/** The SBOM, once it describes what the manifest carries (a release imported by any ferry version is checked too). */
function matching(bom: CdxBom, manifest: Manifest, label: string): CdxBom {
  checkSbomMatchesManifest(bom, manifest, label);
  return bom;
}

function sbomEntry(manifest: Manifest, label: string) {
  const entry = manifest.entries.find((e) => e.path === SBOM_PATH);
  if (!entry) throw new UsageError(`${label} carries no SBOM (${SBOM_PATH}): ${manifest.created_by} built it before bundles carried one; build it again`);
  if (entry.size > SBOM_MAX_BYTES) throw new BundleFormatError(`${label}: its SBOM is ${entry.size} bytes, more than ferry reads (${SBOM_MAX_BYTES})`);
  return entry;
}
