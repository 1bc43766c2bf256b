import { constants, watch, type FSWatcher } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { StoreError } from '../errors.js';
import { SHA256_RE } from '../util/sha256.js';
import { isMissing } from '../util/isMissing.js';
import { checkStorePath } from '../store/checkStorePath.js';

export interface ResolvedRef {
  digest: string;
  changed: Date;
}

export interface RefResolver {
  /**
   * The bundle digest STORE/refs/NAME/VERSION names, and when the ref last changed (its change time: an import
   * renames a new ref into place), or undefined when there is no such release.
   */
  resolve(name: string, version: string): Promise<ResolvedRef | undefined>;
  /** Until when an answer built from this name's digest may be reused without reading the ref again. */
  reusableUntil(name: string, version: string): number;
  /** A number that changes whenever something under STORE/refs is reported changed (for caches built from every ref). */
  generation(): number;
  /** Stop watching the refs folder. */
  close(): void;
}

/** Answers older than this are read again even when no change was reported (network file systems drop inotify events). */
const MAX_AGE_MS = 1000;
/** Unknown names are remembered too (a client looping on a typo costs no disk reads), within this bound. */
const MAX_ENTRIES = 10_000;

/**
 * Resolve release names to bundle digests through STORE/refs/NAME/VERSION (a file holding DIGEST).
 *
 * Answers are cached so that a request by name costs no disk read, and the cache is dropped as soon
 * as anything under STORE/refs changes (inotify on refs/ and on each refs/NAME/), so a release that is
 * imported or re-pointed is served at once, without a restart. Each answer also expires after one
 * second, which bounds staleness where change notification is unavailable.
 */
export function createRefResolver(refsDir: string): RefResolver {
  // the read itself is cached, so the requests that arrive while a name is being read share that one read
  const cache = new Map<string, { digest: Promise<ResolvedRef | undefined>; at: number }>();
  const watchers = new Map<string, FSWatcher>();
  let closed = false;
  // bumped on every change (for caches built from the refs: see generation())
  let generation = 0;

  const invalidate = () => {
    generation++;
    cache.clear();
    watchNames();
  };
  const watchDir = (dir: string, onChange: () => void) => {
    if (closed || watchers.has(dir)) return;
    try {
      const w = watch(dir, { persistent: false }, onChange);
      w.on('error', () => {
        w.close();
        watchers.delete(dir);
        cache.clear();
      });
      watchers.set(dir, w);
    } catch {
      // the folder does not exist yet: the age limit covers it until it does
    }
  };
  // a new release name is a new folder under refs/: watch it too
  const watchNames = () => {
    watchDir(refsDir, invalidate);
    void readNames(refsDir).then((names) => {
      for (const n of names) watchDir(join(refsDir, n), invalidate);
    });
  };
  watchNames();

  return {
    resolve(name, version) {
      const key = `${name}/${version}`;
      const now = Date.now();
      const hit = cache.get(key);
      if (hit && now - hit.at < MAX_AGE_MS) return hit.digest;
      if (!watchers.has(refsDir)) watchNames();
      const digest = readRef(join(refsDir, name, version));
      if (cache.size >= MAX_ENTRIES) cache.clear();
      // a change while it is read clears the cache (invalidate), so a read that a change overtook is not kept
      cache.set(key, { digest, at: now });
      // a failed read is not kept: the next request reads again
      digest.catch(() => {
        if (cache.get(key)?.digest === digest) cache.delete(key);
      });
      return digest;
    },
    reusableUntil: (name, version) => (cache.get(`${name}/${version}`)?.at ?? 0) + MAX_AGE_MS,
    generation: () => generation,
    close() {
      closed = true;
      for (const w of watchers.values()) w.close();
      watchers.clear();
      cache.clear();
    },
  };
}

async function readRef(file: string): Promise<ResolvedRef | undefined> {
  let text: string;
  let changed: Date;
  try {
    // refs/NAME and refs/NAME/VERSION are never links: one planted there is refused, not followed
    if (!(await checkStorePath(dirname(file), 'folder'))) return undefined;
    const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      changed = (await fh.stat()).ctime;
      text = await fh.readFile({ encoding: 'utf8' });
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (err instanceof StoreError) throw err;
    if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'EISDIR') return undefined;
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new StoreError(`${file} is a symbolic link: ferry does not follow links inside its store; remove it and re-import the release`);
    throw new StoreError(`cannot read ${file}: ${(err as Error).message}; check the store's permissions`, { cause: err });
  }
  const digest = text.trim();
  if (!SHA256_RE.test(digest)) throw new StoreError(`${file} should hold a bundle digest (64 hex characters) but holds ${JSON.stringify(text.slice(0, 80))}; re-import the release`);
  return { digest, changed };
}

async function readNames(refsDir: string): Promise<string[]> {
  try {
    return (await readdir(refsDir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return [];
  }
}
