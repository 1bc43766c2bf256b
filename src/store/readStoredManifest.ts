import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreError } from '../errors.js';
import { type Manifest, MANIFEST_PATH, manifestDigest, parseManifest } from '../bundle/manifest.js';
import { isMissing } from '../util/isMissing.js';
import { storeLayout } from './storeLayout.js';

export interface StoredManifest {
  manifest: Manifest;
  /** the exact bytes: their sha256 is the digest */
  bytes: Buffer;
  /** STORE/bundles/DIGEST: the bundle tree */
  dir: string;
  /** STORE/bundles/DIGEST/manifest.json */
  file: string;
}

/**
 * The manifest of a stored bundle, re-hashed: the digest names exactly these bytes, so a store changed
 * behind ferry's back is noticed before anything is taken from it. Every reader of a stored release
 * (deploy, extract, list, gc, diff, serve) comes through here.
 */
export async function readStoredManifest(store: string, digest: string): Promise<StoredManifest> {
  const dir = storeLayout(store).bundle(digest);
  const file = join(dir, MANIFEST_PATH);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    if (isMissing(err)) throw new StoreError(`bundle ${digest} is not in the store ${store} (no ${file}); import it again`, { cause: err });
    throw new StoreError(`cannot read ${file}: ${(err as Error).message}; check the store's permissions`, { cause: err });
  }
  const actual = manifestDigest(bytes);
  if (actual !== digest) throw new StoreError(`${file}: its sha256 is ${actual}, not the digest ${digest} it is stored under; the store is damaged, import the bundle again`);
  return { manifest: parseManifest(bytes, file), bytes, dir, file };
}
