import type { Manifest } from '../bundle/manifest.js';
import { readStoredManifest } from './readStoredManifest.js';
import { resolveRelease } from './resolveRelease.js';

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
  const { manifest, dir } = await readStoredManifest(store, digest);
  return { digest, manifest, dir };
}
