import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreError } from '../errors.js';
import { MANIFEST_PATH, SIGNATURE_PATH, SIGNATURE_MAX_BYTES } from '../bundle/manifest.js';
import { readStoredManifest, type StoredManifest } from '../store/readStoredManifest.js';
import { storeLayout } from '../store/storeLayout.js';
import { sha256Hex } from '../util/sha256.js';
import { isMissing } from '../util/isMissing.js';

/** What the server needs to know about a file of a bundle without touching the disk. */
export interface IndexedFile {
  sha256: string;
  size: number;
}

/** One imported bundle's manifest, as a lookup table from bundle path to digest and size. */
export interface BundleIndex {
  digest: string;
  dir: string;
  files: Map<string, IndexedFile>;
  /** the manifest.json.asc file that was hashed (undefined: none), for noticing its replacement */
  signature?: FileIdentity;
}

/** Which file a path held: a re-import that mends a damaged signature renames a new file over it. */
interface FileIdentity {
  ino: number;
  size: number;
  mtimeMs: number;
}

/** A bundle found in the store: its index, when it was last checked for removal and last seen in place. */
interface Loaded {
  index: Promise<BundleIndex | undefined>;
  checkedAt: number;
  seenAt: number;
  /** the index's entries, counted against the cache's bound */
  entries: number;
}

/**
 * The most manifest entries the indexes a worker keeps may hold together: some 300 bytes of memory each (path,
 * digest, size), so about 150 MiB. Counting bundles alone let 32 manifests of a signer's choosing (64 MiB each,
 * some 300,000 entries) take gigabytes per worker; a Debian mirror's 60,000 packages are an eighth of it.
 */
const MAX_ENTRIES = 500_000;

/**
 * Manifests of the bundles being served, parsed once per digest. A bundle directory is immutable
 * (its name is the sha256 of its manifest) but for manifest.json.asc, which an import replaces when the
 * stored one is damaged; and `ferry gc` may remove the bundle. So at most once a second per bundle a
 * background check looks for its manifest and forgets the bundle when it is gone (files served from
 * memory stop within that second), or when its signature file is no longer the one that was hashed.
 * Concurrent first requests for one bundle share a single load; the most recently used `capacity`
 * bundles found in the store are kept, as long as their entries together stay within `maxEntries` (the
 * most recent one is kept whatever its size). A digest that is not in the store is remembered only while it
 * is being looked up: made-up digests (a client chooses them) neither push a bundle out nor stay.
 */
export class BundleIndexCache {
  /** bundles found in the store, least recently used first */
  private readonly loaded = new Map<string, Loaded>();
  /** first loads in flight */
  private readonly loading = new Map<string, Promise<BundleIndex | undefined>>();
  /** the entries of the loaded indexes together */
  private entries = 0;

  private readonly bundlesDir: string;

  constructor(
    private readonly store: string,
    private readonly capacity = 32,
    private readonly maxEntries = MAX_ENTRIES,
  ) {
    this.bundlesDir = storeLayout(store).bundles;
  }

  /** `undefined` when no bundle with this digest is in the store (not cached: it may be imported later). */
  get(digest: string): Promise<BundleIndex | undefined> {
    const hit = this.loaded.get(digest);
    if (hit) {
      // refresh its place in the LRU order
      this.loaded.delete(digest);
      this.loaded.set(digest, hit);
      const now = Date.now();
      if (now - hit.checkedAt > RECHECK_MS) {
        hit.checkedAt = now;
        stat(join(this.bundlesDir, digest, MANIFEST_PATH)).then(
          () => {
            hit.seenAt = now;
            // the signature is the one file of a bundle folder that changes (ferry import mends a damaged one):
            // its sha256 was taken from the disk, so a replaced signature is read and hashed again
            void signatureReplaced(hit.index).then((replaced) => {
              if (replaced && this.loaded.get(digest) === hit) this.forget(digest);
            });
          },
          (err: unknown) => {
            if (isMissing(err) && this.loaded.get(digest) === hit) this.forget(digest);
          },
        );
      }
      return hit.index;
    }
    const pending = this.loading.get(digest);
    if (pending) return pending;
    const now = Date.now();
    const p = loadBundleIndex(this.store, digest);
    this.loading.set(digest, p);
    p.then(
      (index) => {
        this.loading.delete(digest);
        // seen in place only once the load found its manifest: a missing bundle lends no answer any lifetime
        if (!index) return;
        this.loaded.set(digest, { index: p, checkedAt: now, seenAt: now, entries: index.files.size });
        this.entries += index.files.size;
        while (this.loaded.size > this.capacity || (this.entries > this.maxEntries && this.loaded.size > 1)) this.forget(this.loaded.keys().next().value as string);
      },
      () => this.loading.delete(digest),
    );
    return p;
  }

  private forget(digest: string): void {
    const gone = this.loaded.get(digest);
    if (gone === undefined) return;
    this.loaded.delete(digest);
    this.entries -= gone.entries;
  }

  /**
   * Until when an answer built from this bundle may be reused without asking again: a second after
   * its manifest was last seen in place, so a removed bundle stops being served within that second.
   */
  reusableUntil(digest: string): number {
    return (this.loaded.get(digest)?.seenAt ?? 0) + RECHECK_MS;
  }
}

/** How often a cached bundle is checked for removal. */
const RECHECK_MS = 1000;

async function loadBundleIndex(store: string, digest: string): Promise<BundleIndex | undefined> {
  let stored: StoredManifest;
  try {
    stored = await readStoredManifest(store, digest);
  } catch (err) {
    if (err instanceof StoreError && err.cause !== undefined && isMissing(err.cause)) return undefined;
    throw err;
  }
  const { manifest, bytes, dir } = stored;
  const files = new Map<string, IndexedFile>();
  for (const e of manifest.entries) files.set(e.path, { sha256: e.sha256, size: e.size });
  // the manifest's own hash is the digest; the signature is not listed in it, so hash it here once
  files.set(MANIFEST_PATH, { sha256: digest, size: bytes.length });
  let signature: FileIdentity | undefined;
  try {
    // the identity and the bytes of one open file: a signature renamed over it meanwhile is noticed at the next check
    const fh = await open(join(dir, SIGNATURE_PATH));
    try {
      const st = await fh.stat();
      signature = { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
      if (st.size <= SIGNATURE_MAX_BYTES) {
        const sig = await fh.readFile();
        if (sig.length === st.size) files.set(SIGNATURE_PATH, { sha256: sha256Hex(sig), size: sig.length });
      }
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (!isMissing(err)) throw new StoreError(`cannot read ${join(dir, SIGNATURE_PATH)}: ${(err as Error).message}`, { cause: err });
  }
  return { digest, dir, files, signature };
}

/** Whether the bundle's manifest.json.asc is no longer (or now) the file its index hashed. */
async function signatureReplaced(loading: Promise<BundleIndex | undefined>): Promise<boolean> {
  const index = await loading.catch(() => undefined);
  if (!index) return false;
  const now = await stat(join(index.dir, SIGNATURE_PATH)).catch((err: unknown) => (isMissing(err) ? undefined : index.signature));
  const was = index.signature;
  if (now === undefined || was === undefined) return now !== was;
  return now.ino !== was.ino || now.size !== was.size || now.mtimeMs !== was.mtimeMs;
}
