import { constants } from 'node:fs';
import { access, lstat, mkdir, readdir, rename, rm, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreError, UsageError } from '../errors.js';
import type { Manifest } from '../bundle/manifest.js';
import { silentLogger, type Logger } from '../ui/log.js';
import { checkStoreFolders } from './checkStoreFolders.js';
import { checkStorePath } from './checkStorePath.js';
import { readReleaseRefs } from './readReleaseRefs.js';
import { resolveRelease } from './resolveRelease.js';
import { SHA256_RE } from '../util/sha256.js';
import { findLiveScratch, LIVE_SCRATCH_NOTE } from './findLiveScratch.js';
import { readStoredManifest } from './readStoredManifest.js';
import { makeScratch } from './scratchOwner.js';
import { storeLayout, type StoreLayout } from './storeLayout.js';
import { sweepStaleImports } from './sweepStaleImports.js';
import { syncReleaseLinks } from './syncReleaseLinks.js';
import { syncMirrorLinks } from './syncMirrorLinks.js';
import { resolveMirror } from './resolveMirror.js';
import { compareReleaseAge } from './releaseOrder.js';

export interface GcOptions {
  storeDir: string;
  /** releases to keep per name, newest by epoch first */
  keep: number;
  /** report what would go, change nothing */
  dryRun?: boolean;
  /**
   * releases that must stay whatever their age: the ones hosts run. Each a full digest (kept as it is: a
   * host may report a release this store never had, and then there is nothing to protect), a unique
   * digest prefix, or NAME/VERSION (as resolveRelease reads them). The CLI fills it from --protect and
   * from the digests the hosts' facts report.
   */
  protect?: Iterable<string>;
  log?: Logger;
}

export interface GcRelease {
  name: string;
  version: string;
  digest: string;
  epoch: string;
  /** why it stays: newest N, or protected */
  reason?: 'newest' | 'protected';
}

export interface GcResult {
  dryRun: boolean;
  kept: GcRelease[];
  removed: GcRelease[];
  /** bundle trees no ref points at (left by an interrupted gc or import) */
  orphans: string[];
  blobs: number;
  /** bytes the removed blobs held on disk */
  bytes: number;
  /** stale scratch folders swept from STORE/.tmp */
  scratch: number;
}

/**
 * Remove releases beyond the newest `keep` per name (never a protected one), then every blob no kept
 * release references, and stale scratch. Each step leaves a consistent store if gc is killed after it:
 * the ref goes first (the release stops being visible; STORE/releases links follow), then its tree is renamed into gc's scratch
 * folder (swept like an interrupted import's), then unreferenced blobs. A later gc finishes the job:
 * trees without a ref and blobs without a kept release are removed whenever they are found.
 */
export async function collectGarbage(opts: GcOptions): Promise<GcResult> {
  const log = opts.log ?? silentLogger;
  if (!Number.isInteger(opts.keep) || opts.keep < 1) throw new UsageError(`--keep must be a whole number of releases, at least 1 (got ${opts.keep})`);
  const protect = new Set<string>();
  for (const p of opts.protect ?? []) protect.add(/^[0-9a-f]{64}$/.test(p) ? p : (await resolveRelease(opts.storeDir, p)).digest);
  const layout = storeLayout(opts.storeDir);
  // before anything is created or read: mkdir and readdir would follow a planted link out of the store
  await checkStoreFolders(layout);
  if (!(await checkStorePath(layout.refs, 'folder'))) throw new StoreError(`${opts.storeDir} is not a ferry store (no refs/ folder)`);
  const dryRun = opts.dryRun ?? false;

  let scratchDir: string | undefined;
  let scratch = 0;
  if (!dryRun) {
    // a read-only mount, or another user's store: said in one line before anything is tried
    await access(opts.storeDir, constants.W_OK).catch((err: NodeJS.ErrnoException) => {
      throw new StoreError(`${opts.storeDir}: cannot write to the store (${err.code ?? err.message}); gc removed nothing: make the store writable for this user`, { cause: err });
    });
    await mkdir(layout.tmp, { recursive: true });
    // a Ctrl-C removes it at exit (cli/stopOnInterrupt.ts): what was moved into it was already unreferenced
    scratchDir = await makeScratch(layout.tmp, 'gc');
  }

  try {
    if (!dryRun) {
      // an import between its rename and its ref would look like an orphan: gc waits for imports to
      // finish. Checked after gc's own folder exists (imports do the same), so one of the two sees the other.
      const imports = await findLiveScratch(layout.tmp, 'import');
      if (imports.length > 0) throw new StoreError(`an import (pid ${imports[0]!.pid}, ${imports[0]!.dir}) is running on ${opts.storeDir}: run gc when it has finished (${LIVE_SCRATCH_NOTE})`);
      scratch = await sweepStaleImports(layout.tmp);
    } else {
      // the same report as the real run: the scratch folders it would sweep
      scratch = await sweepStaleImports(layout.tmp, { dryRun: true });
    }
    const releases = await readReleases(layout);
    // the snapshot each mirror's stable URL serves stays, whatever its age (ferry mirror switch chose it)
    for (const digest of await servedMirrorDigests(opts.storeDir)) protect.add(digest);
    const kept: GcRelease[] = [];
    const removed: GcRelease[] = [];
    const byName = new Map<string, Array<GcRelease & { manifest: Manifest }>>();
    for (const r of releases) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
    const keptManifests: Manifest[] = [];
    for (const list of byName.values()) {
      list.sort((a, b) => compareReleaseAge(b, a));
      list.forEach((r, i) => {
        const { manifest, ...release } = r;
        if (i < opts.keep || protect.has(r.digest)) {
          kept.push({ ...release, reason: i < opts.keep ? 'newest' : 'protected' });
          keptManifests.push(manifest);
        } else removed.push(release);
      });
    }
    const keptDigests = new Set(kept.map((r) => r.digest));
    const removedDigests = new Set(removed.map((r) => r.digest));
    const orphans = (await storedDigests(layout.bundles, 'folder', log)).filter((d) => !keptDigests.has(d) && !removedDigests.has(d));

    const referenced = new Set(keptManifests.flatMap((m) => m.entries.map((e) => e.sha256)));
    const unreferenced = (await storedDigests(layout.blobs, 'file', log)).filter((b) => !referenced.has(b));
    let bytes = 0;
    for (const b of unreferenced) bytes += (await lstat(layout.blob(b)).catch(() => ({ size: 0 }))).size;

    if (!dryRun) {
      for (const r of removed) {
        await unlink(layout.ref(r.name, r.version)).catch(ignoreMissing);
        await rmdir(join(layout.refs, r.name)).catch(() => {}); // only when it was the name's last ref
        log.info(`removed ${r.name} ${r.version} (${r.digest})`);
      }
      // STORE/releases/NAME/VERSION links (nginx) follow the refs before the trees they point at go
      await syncReleaseLinks(opts.storeDir, (file, why) => log.warn(`ignoring ${file}: ${why}`));
      await syncMirrorLinks(opts.storeDir, { onInvalid: (file, why) => log.warn(`ignoring ${file}: ${why}`) });
      for (const digest of [...removed.map((r) => r.digest), ...orphans]) {
        const trash = join(scratchDir!, digest);
        await rename(layout.bundle(digest), trash).catch(ignoreMissing);
        await rm(trash, { recursive: true, force: true });
      }
      for (const b of unreferenced) await unlink(layout.blob(b)).catch(ignoreMissing);
    }
    return { dryRun, kept, removed, orphans, blobs: unreferenced.length, bytes, scratch };
  } finally {
    if (scratchDir) await rm(scratchDir, { recursive: true, force: true });
  }
}

/**
 * Every release with its manifest. Refs are validated as `ferry list` does (a name, a version, a digest;
 * no links) and any damage stops gc: a ref's digest becomes the path of a tree gc may remove, and a
 * release whose manifest cannot be read uses blobs gc cannot know.
 */
async function readReleases(layout: StoreLayout): Promise<Array<GcRelease & { manifest: Manifest }>> {
  const refs = await readReleaseRefs(layout.refs, (file, why) => {
    throw new StoreError(`${file}: ${why}; gc removes nothing until that ref is fixed or removed`);
  });
  const out: Array<GcRelease & { manifest: Manifest }> = [];
  for (const { name, version, digest } of refs) {
    let manifest: Manifest;
    try {
      ({ manifest } = await readStoredManifest(layout.root, digest));
    } catch (err) {
      // a damaged release is not gc's to judge: without its manifest its blobs are unknown, so stop
      throw new StoreError(`refs/${name}/${version} points at ${digest}, whose manifest cannot be read (${(err as Error).message}): repair or remove that ref, then run gc again`);
    }
    out.push({ name, version, digest, epoch: manifest.epoch, manifest });
  }
  return out;
}

/**
 * The digest-named entries of bundles/ or blobs/sha256/: gc removes only those. A link there is
 * refused (gc never follows one); anything else that is not ferry's is left alone and reported.
 */
async function storedDigests(dir: string, kind: 'folder' | 'file', log: Logger): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, d.name);
    if (!SHA256_RE.test(d.name)) {
      if (!d.name.startsWith('.')) log.warn(`leaving ${path} alone: not a name ferry gives`);
      continue;
    }
    if (d.isSymbolicLink()) await checkStorePath(path, kind); // throws, naming the link
    if (kind === 'folder' ? d.isDirectory() : d.isFile()) out.push(d.name);
    else log.warn(`leaving ${path} alone: not a ${kind}`);
  }
  return out.sort();
}

/** The bundles STORE/mirrors/NAME (the stable mirror URLs) point at. */
async function servedMirrorDigests(store: string): Promise<string[]> {
  const dir = storeLayout(store).mirrors;
  if (!(await checkStorePath(dir, 'folder'))) return [];
  const out: string[] = [];
  for (const name of await readdir(dir)) {
    if (name.startsWith('.') || name.includes('@')) continue;
    const served = await resolveMirror(store, name);
    if (served) out.push(served.digest);
  }
  return out;
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}
