import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreError } from '../errors.js';
import { type Manifest, MANIFEST_PATH, manifestDigest, parseManifest } from '../bundle/manifest.js';
import { resolveRelease } from './resolveRelease.js';
import { storeLayout } from './storeLayout.js';

export interface Release {
  digest: string;
  manifest: Manifest;
  /** STORE/bundles/DIGEST: the bundle tree on the runner */
  dir: string;
}

/**
 * A release of the store, for deploying: a bundle digest (or a unique prefix), NAME@VERSION,
 * NAME/VERSION, or NAME for its newest. The manifest is re-hashed: the digest names exactly these
 * bytes, and facts on the hosts will record it.
 */
export async function loadRelease(store: string, ref: string): Promise<Release> {
  const { digest } = await resolveRelease(store, ref);
  const dir = storeLayout(store).bundle(digest);
  const file = join(dir, MANIFEST_PATH);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    throw new StoreError(`bundle ${digest} is not in the store ${store} (no ${file}); import it again`);
  }
  const actual = manifestDigest(bytes);
  if (actual !== digest) throw new StoreError(`${file}: its sha256 is ${actual}, not the digest ${digest} it is stored under; the store is damaged, import the bundle again`);
  return { digest, manifest: parseManifest(bytes, file), dir };
}
