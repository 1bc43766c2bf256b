import { join } from 'node:path';

/** A release name or version as it appears in STORE/refs/NAME/VERSION (the spec's rules for both). */
export const REF_SEGMENT_RE = /^[A-Za-z0-9][A-Za-z0-9._+~-]{0,254}$/;

/**
 * STORE/blobs/sha256/HEX        each artifact once, shared across bundles (read-only files)
 * STORE/bundles/DIGEST/...      one bundle's tree: hard links into blobs, plus manifest.json(.asc)
 * STORE/refs/NAME/VERSION       a text file: DIGEST + "\n"
 * STORE/releases/NAME/VERSION  symlink to ../../bundles/DIGEST (the only links in a store)
 * STORE/mirrors/NAME@VERSION   symlink to ../bundles/DIGEST/mirrors/NAME (a mirror snapshot)
 * STORE/mirrors/NAME           symlink to NAME@VERSION: the snapshot the stable URL serves
 * STORE/.tmp/                   import scratch; never served, swept when its process is gone
 */
export function storeLayout(storeDir: string) {
  return {
    root: storeDir,
    blobs: join(storeDir, 'blobs', 'sha256'),
    blob: (sha256: string) => join(storeDir, 'blobs', 'sha256', sha256),
    bundles: join(storeDir, 'bundles'),
    bundle: (digest: string) => join(storeDir, 'bundles', digest),
    refs: join(storeDir, 'refs'),
    ref: (name: string, version: string) => join(storeDir, 'refs', name, version),
    releases: join(storeDir, 'releases'),
    mirrors: join(storeDir, 'mirrors'),
    tmp: join(storeDir, '.tmp'),
  };
}
export type StoreLayout = ReturnType<typeof storeLayout>;
