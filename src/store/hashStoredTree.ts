import { join } from 'node:path';
import pMap from 'p-map';
import { FerryError } from '../errors.js';
import type { Manifest, ManifestEntry } from '../bundle/manifest.js';
import { sha256File } from '../util/sha256.js';
import { checkStoreTreeFile } from './checkStorePath.js';

/** A file of a stored bundle tree that is not what its manifest says. */
export interface StoredFileDamage {
  /** STORE/bundles/DIGEST */
  tree: string;
  /** STORE/bundles/DIGEST/PATH */
  file: string;
  entry: ManifestEntry;
  /** what the file holds (when it could be read) */
  found?: { sha256: string; size: number };
  /** why it could not be read: missing, a link, not a regular file, an I/O error */
  error?: unknown;
}

/** One line for a damaged file: both sha256s and sizes, or why it could not be read. */
export function describeDamage(d: StoredFileDamage): string {
  if (d.found) return `${d.file} has sha256 ${d.found.sha256} (${d.found.size} bytes), but its manifest says ${d.entry.sha256} (${d.entry.size})`;
  if (d.error instanceof FerryError) return d.error.message;
  const err = d.error as NodeJS.ErrnoException | undefined;
  return `cannot read ${d.file} (${err?.code ?? err?.message ?? 'missing'})`;
}

export interface HashStoredTreeOptions {
  /** called for each damaged file (it may throw to stop at the first) */
  onDamage(d: StoredFileDamage): void;
  /** bytes of the manifest's entries hashed so far */
  onProgress?(bytes: number): void;
  /**
   * results by inode (dev:ino): a blob hard-linked into several trees is hashed once across calls. Only for
   * one run of a command: a file changed later is not hashed again.
   */
  hashed?: Map<string, { sha256: string; size: number }>;
}

/**
 * Re-hash every file of a stored bundle tree (bundles/DIGEST, its manifest already read and checked)
 * against its manifest: a blob changed on disk behind ferry's back (a disk fault, an edit by hand) is
 * shared by every tree that links it, and only its bytes tell. Each entry must be a regular file of the
 * tree, reached through real folders of the tree (never a link out of it: checkStoreTreeFile).
 */
export async function hashStoredTree(dir: string, manifest: Manifest, o: HashStoredTreeOptions): Promise<void> {
  let done = 0;
  const folders = new Set<string>();
  await pMap(
    manifest.entries,
    async (entry) => {
      const file = join(dir, entry.path);
      let found: { sha256: string; size: number };
      try {
        const st = await checkStoreTreeFile(dir, entry.path, folders);
        if (!st) return o.onDamage({ tree: dir, file, entry, error: undefined });
        const key = `${st.dev}:${st.ino}`;
        const known = o.hashed?.get(key);
        found = known ?? (await sha256File(file));
        if (!known) o.hashed?.set(key, found);
      } catch (error) {
        return o.onDamage({ tree: dir, file, entry, error });
      } finally {
        done += entry.size;
        o.onProgress?.(done);
      }
      if (found.sha256 !== entry.sha256 || found.size !== entry.size) o.onDamage({ tree: dir, file, entry, found });
    },
    { concurrency: 4 },
  );
}
