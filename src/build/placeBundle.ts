import { createHash } from 'node:crypto';
import { readSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import pMap from 'p-map';
import { IntegrityError } from '../errors.js';
import { holdScratch } from '../util/holdScratch.js';
import { partialBundlePath } from './partialBundlePath.js';
import { writeAllAt } from '../util/writeAll.js';
import { copyIntoCache, keepPack, type PackEntry } from '../fetch/cachePacks.js';
import type { TeeWriter } from '../fetch/createDownloadFile.js';
import { planTar } from '../bundle/writeTar.js';
import { MANIFEST_PATH, SIGNATURE_PATH } from '../bundle/manifest.js';

/** An entry as packBundle takes it: its place in the bundle, its digest, the file that holds its bytes. */
export interface PlacedEntry {
  path: string;
  size: number;
  sha256: string;
  file: string;
  /** the build hashed the file's bytes as it wrote them: not hashed again when copied */
  verified?: boolean;
}

/** A bundle written in place: its layout fixed by the signed manifest, its entries filled in any order. */
export interface PlacedBundle {
  /** where a download of this digest and size writes its bytes; undefined unless exactly one entry is it */
  writer(sha256: string, size: number): TeeWriter | undefined;
  /**
   * a download wrote every byte of this digest's entry through its writer, and the digest matched; `only`:
   * the bundle has the only copy (the cache keeps it from the bundle: fetch/cachePacks.ts)
   */
  placed(sha256: string, only: boolean): void;
  /** copy in every entry no download placed (hashing those not verified), then rename the bundle into place */
  finish(entries: PlacedEntry[]): Promise<number>;
  /** stop: wait for writes in flight, remove the partial bundle */
  abort(): Promise<void>;
}

const CHUNK = 1 << 20;
/** downloads' bytes written after which the bundle is synced (as well as when a download completes) */
const SYNC_EVERY = 32 << 20;
/** entries copied in at once */
const COPIES = 4;

/**
 * Open the partial bundle (partialBundlePath.ts) next to `bundlePath` with packBundle's layout (writeTar's planTar: the manifest,
 * its signature, then `entries` in the order given, callers sort), every header written now; the entries'
 * bytes are written at their offsets as they come (downloads, through `writer`) or by `finish`. The file
 * gets its final name only once every entry is in; a failure or interrupt leaves no bundle (the partial
 * is held as scratch, util/holdScratch.ts). The bytes are packBundle's (test/build/placeBundle.test.ts).
 */
export async function openPlacedBundle(
  bundlePath: string,
  manifestBytes: Uint8Array,
  signature: string,
  entries: Array<{ path: string; size: number; sha256: string }>,
  mtime: Date,
  cacheDir: string,
): Promise<PlacedBundle> {
  const tmp = await partialBundlePath(bundlePath);
  /** entries whose only copy is in this bundle: the cache keeps them from it, whether the build ends well or not */
  const onlyHere = new Map<string, PackEntry>();
  // stopped (Ctrl-C, SIGTERM): the layers downloaded so far stay in the cache, the partial bundle goes
  const release = holdScratch(tmp, () => keepPack(cacheDir, tmp, [...onlyHere.values()]));
  const signatureBytes = Buffer.from(signature, 'utf8');
  const { places, size } = planTar(
    [{ path: MANIFEST_PATH, size: manifestBytes.length }, { path: SIGNATURE_PATH, size: signatureBytes.length }, ...entries],
    mtime,
  );
  let fh;
  try {
    // read and write: a download stopped part-way reads back what it wrote (to keep it in the cache)
    fh = await open(tmp, 'wx+', 0o644);
  } catch (err) {
    release();
    throw err;
  }
  const file = fh;
  const pending = new Set<Promise<void>>();
  let closed = false;
  const track = (p: Promise<void>): Promise<void> => {
    if (closed) return Promise.reject(new Error(`${tmp} is closed`));
    pending.add(p);
    const settled = () => void pending.delete(p);
    p.then(settled, settled);
    return p;
  };
  const settle = async () => {
    closed = true;
    while (pending.size > 0) await Promise.allSettled([...pending]);
  };
  const abort = async () => {
    await settle();
    await file.close().catch(() => {});
    await keepInCache(tmp);
    await rm(tmp, { force: true });
    release();
  };
  /** what only this bundle (or partial bundle) holds, into the cache: a link to it, else copies */
  const keepInCache = async (at: string) => {
    const kept = [...onlyHere.values()];
    onlyHere.clear();
    if (!keepPack(cacheDir, at, kept)) await copyIntoCache(cacheDir, at, kept);
  };
  // What only this bundle holds is synced as it comes (every SYNC_EVERY bytes and as each download completes),
  // one sync at a time while the downloads go on (as cache entries of 8 MiB or more are), so the sync before
  // the rename has little left to write (syncing only as layers completed: 1.03x skopeo on 1 GiB; so: 0.89x).
  let syncing = false;
  let syncAgain = false;
  /** bytes downloads wrote since the last sync began */
  let unsynced = 0;
  const syncSoon = (): void => {
    if (syncing || closed) {
      syncAgain = syncing;
      return;
    }
    syncing = true;
    unsynced = 0;
    track(file.datasync())
      .catch(() => {})
      .finally(() => {
        syncing = false;
        if (syncAgain) {
          syncAgain = false;
          syncSoon();
        }
      });
  };
  const at = new Map<string, { dataAt: number; size: number } | undefined>();
  entries.forEach((e, i) => {
    const place = { dataAt: places[i + 2]!.dataAt, size: e.size };
    // two entries with the same bytes: a download cannot fill both, finish copies them
    at.set(e.sha256, at.has(e.sha256) ? undefined : place);
  });
  const placed = new Set<string>();
  try {
    // the headers, the manifest and its signature; padding and the trailer are zeros (the file's size set last)
    await pMap(places, (p) => track(writeAllAt(file, [p.header], p.headerAt)), { concurrency: 8 });
    await track(writeAllAt(file, [Buffer.from(manifestBytes)], places[0]!.dataAt));
    await track(writeAllAt(file, [signatureBytes], places[1]!.dataAt));
    await file.truncate(size);
  } catch (err) {
    await abort();
    throw err;
  }
  return {
    writer(sha256, bytes) {
      const place = at.get(sha256);
      if (!place || place.size !== bytes) return undefined;
      return {
        readSync: (buf, offset) => readSync(file.fd, buf, 0, Math.min(buf.length, Math.max(0, place.size - offset)), place.dataAt + offset),
        write(bufs, offset) {
          const n = bufs.reduce((sum, b) => sum + b.length, 0);
          // the download checks its size before it writes; this keeps a mistake from reaching the next entry
          if (offset + n > place.size) return Promise.reject(new IntegrityError(`${sha256}: ${offset + n} bytes do not fit the ${place.size} bytes of its entry`));
          return track(writeAllAt(file, bufs, place.dataAt + offset)).then(() => {
            unsynced += n;
            if (unsynced >= SYNC_EVERY) syncSoon();
          });
        },
      };
    },
    placed(sha256, only) {
      const place = at.get(sha256);
      if (!place) return;
      placed.add(sha256);
      if (!only) return;
      onlyHere.set(sha256, { sha256, offset: place.dataAt, size: place.size });
      syncSoon();
    },
    async finish(filled) {
      try {
        // a few copies at a time; after a failure none starts, and the ones running finish before the
        // partial is removed, so the first failure is the one reported
        const queue = filled.map((e, i) => ({ e, dataAt: places[i + 2]!.dataAt })).filter(({ e, dataAt }) => !(placed.has(e.sha256) && at.get(e.sha256)?.dataAt === dataAt));
        let failure: { error: unknown } | undefined;
        const copier = async () => {
          // two buffers per copier, used again and again: one is read into while the other is written
          const bufs: [Buffer, Buffer] = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
          for (let job = queue.shift(); job && !failure; job = queue.shift()) {
            await copyInto(file, job.dataAt, job.e, bufs, track).catch((error: unknown) => void (failure ??= { error }));
          }
        };
        await Promise.all(Array.from({ length: COPIES }, copier));
        if (failure) throw failure.error;
        await settle();
        // the cache has no other copy of what was written here alone: as durable as its own entries
        if (onlyHere.size > 0) await file.datasync();
        await file.close();
        await rename(tmp, bundlePath);
        release();
        await keepInCache(bundlePath);
        return size;
      } catch (err) {
        await abort();
        throw err;
      }
    },
    abort,
  };
}

/** Copy an entry's file to its place, checking its size (and its digest unless verified), as writeTar does. */
async function copyInto(
  out: Awaited<ReturnType<typeof open>>,
  dataAt: number,
  e: PlacedEntry,
  bufs: [Buffer, Buffer],
  track: (p: Promise<void>) => Promise<void>,
): Promise<void> {
  const hash = e.verified ? undefined : createHash('sha256');
  const fh = await open(e.file, 'r');
  let n = 0;
  let writing: Promise<void> = Promise.resolve();
  try {
    // a byte more than expected is asked for, so a file that grew is seen
    for (let k = 0; ; k ^= 1) {
      const buf = bufs[k]!;
      const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, e.size - n + 1), null);
      await writing;
      if (bytesRead === 0 || n + bytesRead > e.size) {
        n += bytesRead;
        break;
      }
      const chunk = buf.subarray(0, bytesRead);
      hash?.update(chunk);
      writing = track(writeAllAt(out, [chunk], dataAt + n));
      n += bytesRead;
    }
  } finally {
    // the buffer being written is not lent to the next copy before its write settled
    await writing.catch(() => {});
    await fh.close();
  }
  await writing;
  if (n !== e.size) throw new IntegrityError(`${e.file} changed while being packed: expected ${e.size} bytes, read ${n}`);
  const got = hash?.digest('hex');
  if (got !== undefined && got !== e.sha256) {
    throw new IntegrityError(`${e.file} has sha256 ${got}, but the manifest records ${e.sha256} for ${e.path}; the file was damaged or changed on disk (delete it from the cache and build again)`);
  }
}
