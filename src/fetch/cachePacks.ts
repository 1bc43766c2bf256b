import { createHash } from 'node:crypto';
import { linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Logger } from '../ui/log.js';
import { uniqueName } from '../util/uniqueName.js';
import { writeAllAt } from '../util/writeAll.js';
import type { SyncBatch } from '../util/createSyncBatch.js';
import { cachedFile, tempFile } from './cachePaths.js';

/**
 * Blobs the cache holds inside a bundle rather than as files of their own (see cachePaths.ts):
 *   CACHE/packs/NAME.ferry   a hard link to a bundle a build wrote (or to the partial bundle of a build
 *                            that failed or was stopped), the same bytes on disk, no copy
 *   CACHE/packs/NAME.json    {"entries": [[SHA256, OFFSET, SIZE], ...]}: the blobs a download wrote only
 *                            there, each checked against its digest as it arrived
 * A build that fills its bundle in place (build/placeBundle.ts) writes a downloaded layer once, into the
 * bundle, instead of twice (cache and bundle). The first later lookup of such a blob copies it out of the
 * pack into CACHE/sha256/HEX, hashing it on the way (a pack is a link to a file the user may have changed
 * or a partial bundle whose bytes were never synced: what does not match is not used and is downloaded
 * again), and a pack whose every blob has its own file is removed.
 */
export interface PackEntry {
  sha256: string;
  offset: number;
  size: number;
}

const PACKS = 'packs';
const CHUNK = 1 << 20;
const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Keep `entries` of `file` in the cache: a hard link to the file in CACHE/packs, then its index, written
 * under a temporary name and renamed (an index never names a pack that is not there). Synchronous: it also
 * runs at exit, when a stopped build's partial bundle is about to be removed (util/holdScratch.ts).
 * Returns false when the file cannot be linked there (another file system, no hard links): the caller
 * copies the blobs instead, or lets them go.
 */
export function keepPack(cacheDir: string, file: string, entries: PackEntry[]): boolean {
  if (entries.length === 0) return true;
  const dir = join(cacheDir, PACKS);
  const name = uniqueName();
  const pack = join(dir, `${name}.ferry`);
  try {
    mkdirSync(dir, { recursive: true });
    linkSync(file, pack);
  } catch {
    return false;
  }
  const tmp = join(dir, `${name}.json.tmp`);
  try {
    writeFileSync(tmp, JSON.stringify({ entries: entries.map((e) => [e.sha256, e.offset, e.size]) }) + '\n', { mode: 0o644 });
    renameSync(tmp, join(dir, `${name}.json`));
    return true;
  } catch {
    rmSync(tmp, { force: true });
    rmSync(pack, { force: true });
    return false;
  }
}

/**
 * Copy `entries` of `file` into the cache as files of their own (when keepPack could not link it), each
 * checked against its digest; one that does not match is left out.
 */
export async function copyIntoCache(cacheDir: string, file: string, entries: PackEntry[]): Promise<void> {
  for (const e of entries) await restoreEntry(cacheDir, file, e);
}

/** The packs' indexes read by this process, per cache: sha256 -> where it is. */
const loaded = new Map<string, Map<string, Array<PackEntry & { pack: string }>>>();

function indexOf(cacheDir: string): Map<string, Array<PackEntry & { pack: string }>> {
  const known = loaded.get(cacheDir);
  if (known) return known;
  const byDigest = new Map<string, Array<PackEntry & { pack: string }>>();
  loaded.set(cacheDir, byDigest);
  const dir = join(cacheDir, PACKS);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return byDigest;
  }
  const have = new Set(names);
  for (const n of names) {
    // what a process killed between the link and its index left (the link is made just before the index)
    const orphan = (n.endsWith('.ferry') && !have.has(`${n.slice(0, -'.ferry'.length)}.json`)) || n.endsWith('.json.tmp');
    if (orphan) removeIfOld(join(dir, n));
    if (!n.endsWith('.json')) continue;
    const pack = join(dir, `${n.slice(0, -'.json'.length)}.ferry`);
    for (const e of readIndex(join(dir, n))) {
      const list = byDigest.get(e.sha256) ?? [];
      list.push({ ...e, pack });
      byDigest.set(e.sha256, list);
    }
  }
  return byDigest;
}

/** A file not touched for ORPHAN_AGE_MS: no process is still about to name it. */
const ORPHAN_AGE_MS = 60 * 60 * 1000;

function removeIfOld(path: string): void {
  try {
    if (Date.now() - statSync(path).mtimeMs > ORPHAN_AGE_MS) rmSync(path, { force: true });
  } catch {
    /* gone already */
  }
}

/** An index's entries; one that is damaged or not ferry's gives none (its blobs are downloaded again). */
function readIndex(path: string): PackEntry[] {
  try {
    const st = statSync(path);
    if (!st.isFile() || st.size > 64 << 20) return [];
    const doc = JSON.parse(readFileSync(path, 'utf8')) as { entries?: unknown };
    if (!Array.isArray(doc.entries)) return [];
    return doc.entries.flatMap((e: unknown) => {
      if (!Array.isArray(e) || e.length !== 3) return [];
      const [sha256, offset, size] = e as unknown[];
      const whole = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
      return typeof sha256 === 'string' && HEX64.test(sha256) && whole(offset) && whole(size) ? [{ sha256, offset, size }] : [];
    });
  } catch {
    return [];
  }
}

/**
 * When a pack holds the blob of this digest (and size, when known), copy it into CACHE/sha256/HEX, checked,
 * and return true. Packs whose every blob now has its own file are removed.
 */
export async function restoreFromPacks(cacheDir: string, sha256: string, size: number | undefined, log?: Logger, syncBatch?: SyncBatch): Promise<boolean> {
  const index = indexOf(cacheDir);
  const candidates = index.get(sha256);
  if (!candidates) return false;
  let restored = false;
  for (const c of [...candidates]) {
    if (size !== undefined && c.size !== size) continue;
    if (await restoreEntry(cacheDir, c.pack, c, syncBatch)) {
      restored = true;
      break;
    }
    log?.warn(`cache pack ${c.pack} does not give sha256 ${sha256} from its place (changed since, or unreadable); downloading it again`);
    // a pack whose bytes changed (or that cannot be read) is not used for any of its blobs: they are downloaded
    dropPack(cacheDir, c.pack);
  }
  // it has its own entry now (the cache answers it from there)
  if (restored) index.delete(sha256);
  retirePacks(cacheDir, candidates.map((c) => c.pack));
  return restored;
}

/**
 * Copy one entry of `file` into the cache under a temporary name, check it, sync it (or have the batch sync
 * it, as a download's entry), and rename it into place.
 */
async function restoreEntry(cacheDir: string, file: string, e: PackEntry, syncBatch?: SyncBatch): Promise<boolean> {
  const tmp = tempFile(cacheDir);
  let src: FileHandle | undefined;
  let out: FileHandle | undefined;
  try {
    src = await open(file, 'r');
    for (const dir of ['tmp', 'sha256']) await mkdir(join(cacheDir, dir), { recursive: true });
    out = await open(tmp, 'wx', 0o444);
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(1, e.size)));
    for (let n = 0; n < e.size; ) {
      const { bytesRead } = await src.read(buf, 0, Math.min(buf.length, e.size - n), e.offset + n);
      if (bytesRead === 0) return false;
      const chunk = buf.subarray(0, bytesRead);
      hash.update(chunk);
      await writeAllAt(out, [chunk], n);
      n += bytesRead;
    }
    if (hash.digest('hex') !== e.sha256) return false;
    if (!syncBatch) await out.sync();
    await out.close();
    out = undefined;
    await rename(tmp, cachedFile(cacheDir, e.sha256));
    syncBatch?.add(cachedFile(cacheDir, e.sha256), e.size);
    return true;
  } catch {
    return false;
  } finally {
    await out?.close().catch(() => {});
    await src?.close().catch(() => {});
    await rm(tmp, { force: true });
  }
}

/** Remove each of these packs (and its index) once every blob its index names has a file of its own. */
function retirePacks(cacheDir: string, packs: string[]): void {
  for (const pack of new Set(packs)) {
    const indexFile = pack.replace(/\.ferry$/, '.json');
    const entries = readIndex(indexFile);
    const covered = entries.every((e) => {
      try {
        return statSync(cachedFile(cacheDir, e.sha256)).size === e.size;
      } catch {
        return false;
      }
    });
    if (covered) dropPack(cacheDir, pack);
  }
}

/** Remove a pack, its index, and what this process read of it. */
function dropPack(cacheDir: string, pack: string): void {
  const indexFile = pack.replace(/\.ferry$/, '.json');
  const entries = readIndex(indexFile);
  rmSync(indexFile, { force: true });
  rmSync(pack, { force: true });
  const index = loaded.get(cacheDir);
  for (const e of entries) {
    const rest = index?.get(e.sha256)?.filter((c) => basename(c.pack) !== basename(pack));
    if (rest?.length) index!.set(e.sha256, rest);
    else index?.delete(e.sha256);
  }
}
