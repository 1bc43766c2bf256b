import { constants } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreError } from '../errors.js';
import { type Manifest, MANIFEST_MAX_BYTES, MANIFEST_PATH, manifestDigest, parseManifest } from '../bundle/manifest.js';
import { isMissing } from '../util/isMissing.js';
import { checkStorePath } from './checkStorePath.js';
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
    // bundles/DIGEST and its manifest are real: a link planted there is refused, not followed
    await checkStorePath(dir, 'folder');
    const st = await checkStorePath(file, 'file');
    // no manifest is larger than a bundle's may be: a larger file (a sparse one of gigabytes in a store
    // someone else can write) is refused by its size, not read into memory by every command and serve worker
    if (st !== undefined && st.size > MANIFEST_MAX_BYTES) throw new StoreError(`${file} is ${st.size} bytes, more than a manifest may be (${MANIFEST_MAX_BYTES}): the store is damaged; re-import the bundle`);
    bytes = await readFile(file, { flag: constants.O_RDONLY | constants.O_NOFOLLOW });
  } catch (err) {
    if (err instanceof StoreError) throw err;
    if (isMissing(err)) throw new StoreError(`bundle ${digest} is not in the store ${store} (no ${file}); import it again`, { cause: err });
    throw new StoreError(`cannot read ${file}: ${(err as Error).message}; check the store's permissions`, { cause: err });
  }
  const actual = manifestDigest(bytes);
  if (actual !== digest) throw new StoreError(`${file} does not hash to its folder name ${digest} (its sha256 is ${actual}): the store is damaged; re-import the bundle`);
  return { manifest: parseManifest(bytes, file), bytes, dir, file };
}
