import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreError } from '../errors.js';
import { MANIFEST_PATH, manifestDigest, parseManifest, type Manifest } from '../bundle/manifest.js';

export interface StoredRelease {
  digest: string;
  /** STORE/bundles/DIGEST: the bundle's tree */
  dir: string;
  manifest: Manifest;
}

const DIGEST_RE = /^[0-9a-f]{64}$/;

/**
 * Find a release in the store: "NAME/VERSION" (through STORE/refs/NAME/VERSION) or a bundle digest.
 * The manifest is read back and checked against its digest, so a store changed behind ferry's back
 * is noticed before anything is taken from it.
 */
export async function resolveRelease(store: string, release: string): Promise<StoredRelease> {
  let digest: string;
  if (DIGEST_RE.test(release)) digest = release;
  else {
    const m = /^([^/]+)[/@]([^/]+)$/.exec(release);
    if (!m || m[1]!.startsWith('.') || m[2]!.startsWith('.')) throw new StoreError(`"${release}" is not a release; name it NAME/VERSION (as \`ferry import\` printed it) or by its bundle digest`);
    const ref = join(store, 'refs', m[1]!, m[2]!);
    const text = await readFile(ref, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new StoreError(`the store ${store} has no release ${m[1]} ${m[2]} (no ${ref}); import its bundle first, or list the store's refs/ folder`);
      throw new StoreError(`cannot read ${ref}: ${err.code ?? err.message}`);
    });
    digest = text.trim();
    if (!DIGEST_RE.test(digest)) throw new StoreError(`${ref} should hold a bundle digest (64 hex characters) but holds "${text.slice(0, 80).trim()}"; the store is damaged, import the bundle again`);
  }
  const dir = join(store, 'bundles', digest);
  const bytes = await readFile(join(dir, MANIFEST_PATH)).catch((err: NodeJS.ErrnoException) => {
    throw new StoreError(`the store ${store} has no bundle ${digest} (${err.code ?? err.message} reading its manifest); import it first`);
  });
  const found = manifestDigest(bytes);
  if (found !== digest) throw new StoreError(`${join(dir, MANIFEST_PATH)} has digest ${found}, not ${digest}: the store was changed after import; import the bundle again`);
  return { digest, dir, manifest: parseManifest(bytes, join(dir, MANIFEST_PATH)) };
}
