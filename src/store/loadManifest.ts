import { open } from 'node:fs/promises';
import { isFile } from '../util/isFile.js';
import { UsageError, BundleFormatError, FerryError } from '../errors.js';
import { canonicalMismatch } from '../util/canonicalJson.js';
import { readStoredManifest } from './readStoredManifest.js';
import { resolveRelease } from './resolveRelease.js';
import { MANIFEST_MAX_BYTES, MANIFEST_PATH, manifestDigest, parseManifest, type Manifest } from '../bundle/manifest.js';
import { tooDenseToParse } from '../util/tooDenseToParse.js';
import { INDEX_SUFFIX } from '../bundle/splitIndex.js';
import { openBundleSource } from '../bundle/openBundleSource.js';
import { readBundleHead } from '../bundle/readBundleHead.js';

export interface LoadedManifest {
  manifest: Manifest;
  digest: string;
  /** where it came from, for messages */
  label: string;
}

/**
 * The manifest of a release named by a bundle file (.ferry, split index or first volume), a manifest.json
 * file (as `ferry inspect --manifest` prints it), or with a store: DIGEST, NAME/VERSION or NAME.
 * Signatures are not checked here: a manifest read this way only chooses what a differential bundle
 * leaves out or what a diff shows; import verifies everything.
 */
export async function loadManifest(what: string, storeDir?: string): Promise<LoadedManifest> {
  if (await isFile(what)) {
    if (what.endsWith('.json') && !what.endsWith(INDEX_SUFFIX)) return fromBytes(await readManifestFile(what), what);
    const src = await openBundleSource(what);
    const head = await readBundleHead(src.label, src.stream);
    const loaded = fromBytes(head.manifestBytes, src.label);
    head.expectEpoch(loaded.manifest);
    return loaded;
  }
  if (!storeDir) throw new UsageError(`${what} is not a file: give a bundle, a split index, a manifest.json, or a release with --store DIR`);
  const release = await resolveRelease(storeDir, what);
  const { manifest } = await readStoredManifest(storeDir, release.digest);
  return { manifest, digest: release.digest, label: `${release.name} ${release.version} in ${storeDir}` };
}

/**
 * A manifest.json file, refused unread when it is larger than a bundle may carry (as the bundle readers
 * refuse one): read whole, 3 GiB ended in an internal error and 1.9 GiB was held in memory.
 */
async function readManifestFile(path: string): Promise<Buffer> {
  try {
    return await readBoundedFile(path);
  } catch (err) {
    // one stat can see but this user cannot open (EACCES), or damaged media (EIO): not a bug in ferry
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && !(err instanceof FerryError)) throw new UsageError(`cannot read manifest ${path} (${code})`, { cause: err });
    throw err;
  }
}

async function readBoundedFile(path: string): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    if (size > MANIFEST_MAX_BYTES) throw new BundleFormatError(`${path}: ${MANIFEST_PATH} is ${size} bytes, over the limit of ${MANIFEST_MAX_BYTES}`);
    // at most the size seen (a file that grows meanwhile is read no further)
    const buf = Buffer.alloc(size);
    let n = 0;
    for (let r; n < size && (r = await fh.read(buf, n, size - n, n)).bytesRead > 0; ) n += r.bytesRead;
    return buf.subarray(0, n);
  } finally {
    await fh.close();
  }
}

function fromBytes(bytes: Buffer, label: string): LoadedManifest {
  try {
    return { manifest: parseManifest(bytes, label), digest: manifestDigest(bytes), label };
  } catch (err) {
    // the digest names the release: it is the sha256 of the exact signed bytes, so a re-formatted copy would
    // name another one; parseManifest refuses it, this says how to get the right bytes (checked only on the
    // way out, so a good manifest is parsed and checked once)
    if (err instanceof BundleFormatError && reformatted(bytes)) {
      throw new BundleFormatError(`${label}: not the exact bytes of a bundle's manifest.json (re-formatted?): take it with ferry inspect BUNDLE --manifest`);
    }
    throw err;
  }
}

function reformatted(bytes: Buffer): boolean {
  if (tooDenseToParse(bytes)) return false; // parseManifest's refusal stands: parsing it is what must not happen
  try {
    return canonicalMismatch(bytes, JSON.parse(bytes.toString('utf8'))) !== undefined;
  } catch {
    return false; // not JSON at all: parseManifest says so
  }
}
