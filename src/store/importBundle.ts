import { constants, existsSync } from 'node:fs';
import { chmod, copyFile, link, lstat, mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import pMap from 'p-map';
import type * as openpgp from 'openpgp';
import { FerryError, IntegrityError, StoreError } from '../errors.js';
import { readBundle, type EntrySink, type VerifiedHead } from '../bundle/readBundle.js';
import { openBundleSource, type BundleSource } from '../bundle/openBundleSource.js';
import { MANIFEST_PATH, SIGNATURE_PATH, type Manifest, type ManifestEntry } from '../bundle/manifest.js';
import { verifyGitBundles } from '../sources/git/verifyGitBundles.js';
import type { IgnoredSignature, VerifiedSignature } from '../pgp/verify.js';
import { silentLogger, type Logger } from '../ui/log.js';
import { createWriteQueue, type WriteQueue } from '../util/createWriteQueue.js';
import { fsyncDir } from '../util/fsyncDir.js';
import { makeDirectory } from '../util/makeDirectory.js';
import { sha256File } from '../util/sha256.js';
import { syncFileSystem } from '../util/syncFileSystem.js';
import { writeAll } from '../util/writeAll.js';
import { checkStoreFolders } from './checkStoreFolders.js';
import { checkStorePath, checkStoreTreeFile } from './checkStorePath.js';
import { claimRef } from './claimRef.js';
import { readRef } from './readRef.js';
import { readStoredManifest } from './readStoredManifest.js';
import { describeDamage, hashStoredTree, type StoredFileDamage } from './hashStoredTree.js';
import { whyStoredSignatureIsDamaged } from './checkStoredSignature.js';
import { findLiveScratch, LIVE_SCRATCH_NOTE } from './findLiveScratch.js';
import { makeScratch } from './scratchOwner.js';
import { storeLayout, type StoreLayout } from './storeLayout.js';
import { sweepStaleImports } from './sweepStaleImports.js';

export interface ImportResult {
  digest: string;
  name: string;
  version: string;
  /** true when the store already held this bundle: nothing was written but the stored files it mended (repaired) */
  already: boolean;
  signers: VerifiedSignature[];
  /** signatures that did not count (another one did), and why */
  ignored: IgnoredSignature[];
  entries: number;
  /** bytes of artifacts that were new to the store (the rest were already there as blobs) */
  newBytes: number;
  /** blobs (their sha256) found damaged on disk and rewritten from this bundle's verified bytes */
  repaired: string[];
  /** the stored manifest.json.asc was damaged and replaced by this bundle's verified signature */
  signatureReplaced: boolean;
}

export interface ImportOptions {
  storeDir: string;
  keys: openpgp.PublicKey[];
  log?: Logger;
  label?: string;
  /** called with the verified head before anything is written: throw to refuse the bundle (a signing policy) */
  checkHead?(head: VerifiedHead): Promise<void>;
  /** called with the verified tree before it becomes visible (e.g. `git bundle verify`) */
  checkTree?(treeDir: string, head: VerifiedHead): Promise<void>;
  /**
   * called last before the ref is created, when the store does not hold it yet (the audit log's `claiming`
   * record): throw to refuse; nothing is visible yet
   */
  beforeClaim?(release: { name: string; version: string; digest: string }): Promise<void>;
  /** called when a stored blob this bundle shares was found damaged and has been rewritten from the bundle's verified bytes */
  onRepaired?(blob: RepairedBlob): void;
}

export interface RepairedBlob {
  /** STORE/blobs/sha256/HEX */
  path: string;
  /** what it should hold (and holds again) */
  sha256: string;
  /** what it held */
  found: string;
}

/**
 * Verify and import a bundle in one streaming pass. Entries are written into a scratch folder of the
 * store (STORE/.tmp/import-*) as they are verified, without a sync each. When everything matched:
 * artifacts the store already holds are swapped for links to their blobs, new artifacts are linked
 * into blobs/, then one syncfs makes all of it durable, the tree is renamed into STORE/bundles/DIGEST,
 * and the ref is created exclusively (claimRef) — the step that makes the release visible. So a crash
 * at any point leaves nothing visible that is not durable.
 *
 * Of two imports of different bundles under one NAME/VERSION, exactly one creates the ref; the other
 * removes its tree and is refused (StoreError). A refused import takes back the blobs it added and a tree
 * it published without a ref (takeBack), unless another import runs at the same time: then they stay, as
 * what a killed import leaves does, until gc (its scratch is swept by the next import or gc); never a ref. Importing a bundle the
 * store already holds is a no-op, but for stored files changed on disk: rewritten from its verified bytes.
 */
export async function importBundle(source: string | Readable | BundleSource, opts: ImportOptions): Promise<ImportResult> {
  const log = opts.log ?? silentLogger;
  const layout = storeLayout(opts.storeDir);
  const src = typeof source === 'string' ? await openBundleSource(source) : isBundleSource(source) ? source : streamSource(source, opts.label ?? 'bundle');
  const { label } = src;

  try {
    await checkStoreFolders(layout);
  } catch (err) {
    src.close();
    throw err;
  }
  try {
    for (const d of [layout.blobs, layout.bundles, layout.refs, layout.tmp]) await makeDirectory(d);
  } catch (err) {
    src.close();
    const code = (err as NodeJS.ErrnoException).code;
    throw new StoreError(`${opts.storeDir}: cannot make the store's folders (${code ?? (err as Error).message}); nothing was imported: give a store folder this user can write`, { cause: err });
  }
  const swept = await sweepStaleImports(layout.tmp);
  if (swept > 0) log.info(`removed ${swept} scratch folder(s) left by interrupted imports`);

  // a Ctrl-C removes it at exit (cli/stopOnInterrupt.ts); a killed import's is swept by the next one
  const scratch = await makeScratch(layout.tmp, 'import');
  // after our scratch exists (gc does the same the other way round), so a gc starting now sees us or we see it
  const gc = await findLiveScratch(layout.tmp, 'gc');
  if (gc.length > 0) {
    src.close();
    await rm(scratch, { recursive: true, force: true });
    throw new StoreError(`ferry gc (pid ${gc[0]!.pid}, ${gc[0]!.dir}) is running on ${opts.storeDir}: import when it has finished (${LIVE_SCRATCH_NOTE})`);
  }
  const tree = join(scratch, 'tree');
  await mkdir(tree);
  const made = new Set<string>([tree]);
  const writes = createWriteQueue(WRITES_IN_FLIGHT);
  const flushes = createWriteQueue(1);
  // what large entries are copied into on their way to the disk (fileSink): about WRITE_AHEAD of them in all
  const pool = bufferPool(WRITE_BUFFER);
  // the sha256 of stored blobs a large entry shares, hashed on the worker threads while the bundle streams on (see linkBlobs)
  const prehashed = new Map<string, Promise<string | undefined>>();
  let already = false;
  /** already imported: what the stored copy holds that is not what its manifest says (checked before the bundle's entries stream, so that their verified bytes can mend it) */
  let stored: StoredCopyDamage = { mendable: new Map() };
  /** the sha256 of each blob this import linked into blobs/ (new to the store): a refusal takes them back */
  const created: string[] = [];
  /** the digest of the tree this import renamed into bundles/, until its ref is made */
  let published: string | undefined;
  running++;

  try {
    const result = await src.read({
      keys: opts.keys,
      log,
      async onHead(head) {
        await opts.checkHead?.(head);
        const { name, version } = head.manifest;
        const existing = await readRef(layout, name, version);
        if (existing && existing !== head.digest) throw versionTaken(label, name, version, existing, head.digest);
        // a mirror name belongs to one release name: another release's signer may not serve it (docs/mirrors.md)
        if (head.manifest.artifacts.mirror !== undefined) {
          const { refuseForeignMirrors } = await import('./syncMirrorLinks.js');
          await refuseForeignMirrors(opts.storeDir, head.manifest, label);
        }
        // already imported: still check every byte (a tampered copy must be refused), but write nothing,
        // except the verified bytes of entries whose stored copy changed on disk, to mend it with
        already = await holdsBundle(layout, head.digest);
        if (already) stored = await findStoredDamage(layout, head.manifest, head.manifestBytes, head.digest);
        // a differential bundle whose base is not here is refused before its bytes are read
        if (!already) await missingFromBase(layout, head.manifest, label);
        log.info(`${name} ${version}: signature good (${head.signers.map((s) => s.fingerprint).join(', ')}); checking ${head.manifest.entries.length} entries`);
        return true;
      },
      openEntry: async (entry) => {
        if (already) return stored.mendable.has(entry.path) ? fileSink(tree, entry, made, writes, flushes, pool) : undefined;
        if (entry.size > SMALL_ENTRY && !prehashed.has(entry.sha256)) prehashed.set(entry.sha256, prehashBlob(layout, entry));
        return fileSink(tree, entry, made, writes, flushes, pool);
      },
    });
    await writes.drain();
    await flushes.drain();
    const { manifest, digest } = result;
    const { name, version } = manifest;

    // split volumes: the last volume's and the whole bundle's sha256 are known only now
    await src.finalCheck(digest);
    let newBytes = 0;
    const repaired: string[] = [];
    const onRepaired = (blob: RepairedBlob) => {
      repaired.push(blob.sha256);
      log.warn(`${blob.path} held sha256 ${blob.found}, not ${blob.sha256}: damaged on disk; rewritten in place from this bundle's verified bytes (every release linking it is mended)`);
      opts.onRepaired?.(blob);
    };
    // already imported: the stored copy must be what was verified (it is claimed below when its ref is missing):
    // a file changed on disk is rewritten from the bundle's verified bytes, anything else refused
    if (already) {
      await mendStoredCopy(layout, stored, manifest, tree, label, onRepaired);
      if (stored.signature) await mendStoredSignature(layout.bundle(digest), stored.signature, result.signature, scratch, log);
    }
    if (!already) {
      newBytes = await linkBlobs(layout, manifest, tree, scratch, made, label, onRepaired, prehashed, created);
      await writeReadOnly(join(tree, MANIFEST_PATH), result.manifestBytes);
      await writeReadOnly(join(tree, SIGNATURE_PATH), Buffer.from(result.signature));
      await verifyGitBundles(tree, manifest, scratch);
      if (manifest.artifacts.image !== undefined) {
        await (await import('../sources/image/verifyImageIndex.js')).verifyImageIndex(tree, manifest);
        await (await import('../sources/image/refuseTooManyNamed.js')).refuseTooManyNamed(tree, manifest);
      }
      await opts.checkTree?.(tree, result);

      // one flush for every file, folder and blob link written above, before anything is visible
      await syncFileSystem(tree, 'nothing was made visible, check the disk and import again');
      try {
        await rename(tree, layout.bundle(digest));
        published = digest;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
        // a concurrent import of the same bundle published it first
      }
      await fsyncDir(layout.bundles);
    }

    if (opts.beforeClaim && (await readRef(layout, name, version)) !== digest) await opts.beforeClaim({ name, version, digest });
    // the moment the release becomes visible: exactly one import gets a NAME/VERSION
    const ref = await claimRef(layout, name, version, digest);
    published = undefined; // a ref names it, or (a conflict) it is taken away below as it always was
    if (ref.conflict) {
      // every import of this digest is refused the same way (the ref stays), so its tree is nobody's:
      // take it away, as gc would. Only here: after another failure a concurrent import of the same
      // bundle may be about to claim the ref for the tree it shares with us (gc removes it otherwise).
      if (await holdsBundle(layout, digest)) await rename(layout.bundle(digest), join(scratch, 'refused')).catch(ignoreMissing);
      throw versionTaken(label, name, version, ref.conflict, digest);
    }
    await rm(scratch, { recursive: true, force: true });
    return { digest, name, version, already: !ref.claimed, signers: result.signers, ignored: result.ignored, entries: manifest.entries.length, newBytes: ref.claimed ? newBytes : 0, repaired, signatureReplaced: already && stored.signature !== undefined };
  } catch (err) {
    src.close();
    await writes.settle(); // nothing may still be writing into the scratch being removed
    await flushes.settle();
    // the tree first: its names of the blobs this import made would count as another import's
    await rm(tree, { recursive: true, force: true });
    await rm(join(scratch, 'refused'), { recursive: true, force: true });
    // what stays is unreferenced: gc removes it
    await takeBack(layout, scratch, { blobs: created, tree: published }).catch(() => {});
    await rm(scratch, { recursive: true, force: true });
    // a path within the bundle's rules (4096 characters) can still be longer than the file system takes below the store
    if ((err as NodeJS.ErrnoException).code === 'ENAMETOOLONG') {
      throw new StoreError(`${label}: an entry's path is too long for the file system under ${opts.storeDir} (ENAMETOOLONG); nothing was imported`, { cause: err });
    }
    // a bundle larger than the space left (a split bundle's volumes joined, a hostile manifest's sizes) is a store problem
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      throw new StoreError(`${label}: the file system under ${opts.storeDir} is full (${code}); nothing was imported: free space (ferry gc) and import again`, { cause: err });
    }
    throw err;
  } finally {
    running--;
  }
}

/** importBundle calls running in this process (findLiveScratch sees only other processes' imports). */
let running = 0;

/**
 * A refused import takes back what it added to the store: the blobs it linked into blobs/ (a hostile bundle
 * refused after they were written must not leave them served by hash), and its tree when it had published it
 * (bundles/DIGEST) but made no ref. Never what another import may rely on: another import running (in any
 * process) may have found them there and be about to link or claim them, and one that already linked a blob
 * holds its inode under another name. So each is moved into the scratch (no import can find it there), then
 * put back when another import is running, or (a blob) when its inode has another name; what is put back (or
 * stays after a crash) is left to gc, as before. An import that found them before they were moved has had its
 * scratch since (made before the bundle is read), so the check made after the move sees it.
 */
async function takeBack(layout: StoreLayout, scratch: string, added: { blobs: string[]; tree?: string }): Promise<void> {
  if (added.blobs.length === 0 && added.tree === undefined) return;
  const othersRunning = async () => running > 1 || (await findLiveScratch(layout.tmp, 'import')).length > 0;
  if (await othersRunning()) return;
  // straight into the scratch (no folder to make: a full file system still takes renames)
  const trash = (name: string) => join(scratch, `taken-${name}`);
  let tree: string | undefined;
  if (added.tree !== undefined) await rename(layout.bundle(added.tree), trash('tree')).then(() => (tree = added.tree), ignoreMissing);
  const moved: string[] = [];
  for (const sha256 of added.blobs) {
    await rename(layout.blob(sha256), trash(sha256)).then(() => moved.push(sha256), ignoreMissing);
  }
  const others = await othersRunning();
  const putBack = (from: string, to: string, how: typeof link) =>
    how(from, to).catch((err: NodeJS.ErrnoException) => {
      // made again meanwhile, by an import that started after the move
      if (err.code !== 'EEXIST' && err.code !== 'ENOTEMPTY') throw err;
    });
  if (tree !== undefined) {
    if (others) await putBack(trash('tree'), layout.bundle(tree), rename);
    else await rm(trash('tree'), { recursive: true, force: true });
    await fsyncDir(layout.bundles);
  }
  for (const sha256 of moved) {
    const blob = trash(sha256);
    if (others || (await lstat(blob)).nlink > 1) await putBack(blob, layout.blob(sha256), link);
  }
  await fsyncDir(layout.blobs);
}

function isBundleSource(s: Readable | BundleSource): s is BundleSource {
  return typeof (s as BundleSource).finalCheck === 'function';
}

function streamSource(stream: Readable, label: string): BundleSource {
  return { label, stream, read: (o) => readBundle(stream, { ...o, label }), async finalCheck() {}, close: () => void stream.destroy() };
}

/** Refuse a differential bundle whose omitted artifacts the store lacks, naming its base release. */
async function missingFromBase(layout: StoreLayout, manifest: Manifest, label: string): Promise<void> {
  const omitted = new Set(manifest.omitted ?? []);
  const missing = [];
  for (const entry of manifest.entries) {
    if (omitted.has(entry.path) && !(await holdsBlob(layout, entry))) missing.push(entry);
  }
  if (missing.length === 0) return;
  const base = manifest.base!;
  const paths = `${missing
    .slice(0, 3)
    .map((e) => e.path)
    .join(', ')}${missing.length > 3 ? ', ...' : ''}`;
  const lacks = `${missing.length} artifact${missing.length === 1 ? '' : 's'} it takes from there (${paths})`;
  // the store holds that NAME/VERSION as another bundle: importing the base "first" cannot work (it would be refused)
  const held = await readRef(layout, base.name, base.version);
  if (held && held !== base.digest) {
    throw new StoreError(
      `${label} is a differential bundle over ${base.name} ${base.version} (${base.digest}), but this store holds ${base.name} ${base.version} as ${held}, which lacks ${lacks}: the bundle was made over another build of that release; bring the full bundle`,
    );
  }
  // the base is here, but not what the bundle says it took from it: made over another release, or altered
  if (/^[0-9a-f]{64}$/.test(base.digest) && existsSync(layout.bundle(base.digest))) {
    throw new StoreError(
      `${label} is a differential bundle over ${base.name} ${base.version} (${base.digest}), which this store holds, but ${missing.length} artifact${missing.length === 1 ? '' : 's'} it takes from there ${missing.length === 1 ? 'is' : 'are'} not in it with the sha256 the bundle lists (${paths}): the bundle was not made over that release; bring the full bundle`,
    );
  }
  throw new StoreError(
    `${label} is a differential bundle over ${base.name} ${base.version} (${base.digest}), and this store lacks ${lacks}: import ${base.name} ${base.version} first, or bring the full bundle`,
  );
}

/**
 * Complete the verified tree with blobs/: omitted entries (differential) become links to the store's
 * blobs; entries the store already holds are swapped for links to their blob (one copy on disk);
 * new ones are linked into blobs/. Returns the bytes new to the store.
 *
 * A blob the new release would link is re-hashed first (a large entry's while the bundle streamed: `prehashed`):
 * it was checked when it was stored, but may have changed on disk since (a disk fault, an edit by hand), and its size alone does not show that. A damaged
 * blob this bundle carries is rewritten in place from the bundle's verified copy (the same inode, so every
 * release that links it is mended too) and reported through onRepaired; a damaged blob a differential
 * bundle takes from its base (the bundle lacks its bytes) refuses the import (67).
 */
async function linkBlobs(layout: StoreLayout, manifest: Manifest, tree: string, scratch: string, made: Set<string>, label: string, onRepaired: (blob: RepairedBlob) => void, prehashed: Map<string, Promise<string | undefined>>, created: string[]): Promise<number> {
  // checked again: a gc may have run since the head was read
  await missingFromBase(layout, manifest, label);
  const omitted = new Set(manifest.omitted ?? []);
  // every blob checked before anything is linked: a refusal (a link, a damaged blob) changes nothing
  // a blob of another size is damaged too: the bundle carries the bytes, so it is rewritten below like any other
  const held = await pMap(manifest.entries, (entry) => !omitted.has(entry.path) && holdsBlob(layout, entry, 'any size'), { concurrency: WRITES_IN_FLIGHT });
  // each blob once, however many entries share it
  const shared = new Map<string, { entry: ManifestEntry; carried?: string }>();
  manifest.entries.forEach((entry, i) => {
    if (omitted.has(entry.path)) {
      if (!shared.has(entry.sha256)) shared.set(entry.sha256, { entry });
    } else if (held[i]) shared.set(entry.sha256, { entry, carried: join(tree, entry.path) });
  });
  await pMap(
    shared.values(),
    async ({ entry, carried }) => {
      const blob = layout.blob(entry.sha256);
      const found = (await prehashed.get(entry.sha256)) ?? (await hashBlob(blob));
      if (found === entry.sha256) return;
      if (carried === undefined) {
        throw new IntegrityError(
          `${blob} has sha256 ${found}, not ${entry.sha256}: the store is damaged, and ${label} takes ${entry.path} from it (differential over ${manifest.base!.name} ${manifest.base!.version}); nothing was imported: import the full bundle (it carries the bytes and mends the blob)`,
        );
      }
      await mendBlob(blob, carried, entry, found, onRepaired);
    },
    { concurrency: 4 },
  );
  let newBytes = 0;
  // the link is made outside the tree and renamed over the entry: no name of the bundle's own is touched; a blob
  // that has as many names as the file system allows keeps the entry's verified bytes as a copy of its own
  const swapForBlob = async (blob: string, target: string, i: number) => {
    const swap = join(scratch, `swap-${i}`);
    if (await linkUnlessFull(blob, swap)) await rename(swap, target);
  };
  // a content new to the store becomes its blob through its first entry; the bundle's other entries of that
  // content are swapped for links to it afterwards (one inode per sha256, as for contents the store held)
  const firstNew = new Map<string, number>();
  const laterNew: number[] = [];
  manifest.entries.forEach((entry, i) => {
    if (omitted.has(entry.path) || held[i]) return;
    if (firstNew.has(entry.sha256)) laterNew.push(i);
    else firstNew.set(entry.sha256, i);
  });
  await pMap(
    manifest.entries,
    async (entry, i) => {
      const target = join(tree, entry.path);
      const blob = layout.blob(entry.sha256);
      if (omitted.has(entry.path)) {
        await mkdirOnce(dirname(target), made);
        if (!(await linkUnlessFull(blob, target))) await copyBlob(blob, target, entry);
      } else if (held[i]) {
        await swapForBlob(blob, target, i);
      } else if (firstNew.get(entry.sha256) === i) {
        try {
          await link(target, blob);
          created.push(entry.sha256);
          newBytes += entry.size;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          // a concurrent import stored the same content between our check and our link: its blob is checked
          // (mended from our verified copy if it is not what it should be) and our entry becomes a link to it
          const found = await hashBlob(blob);
          if (found !== entry.sha256) await mendBlob(blob, target, entry, found, onRepaired);
          await swapForBlob(blob, target, i);
        }
      }
    },
    { concurrency: WRITES_IN_FLIGHT },
  );
  await pMap(laterNew, (i) => swapForBlob(layout.blob(manifest.entries[i]!.sha256), join(tree, manifest.entries[i]!.path), i), { concurrency: WRITES_IN_FLIGHT });
  return newBytes;
}

/**
 * Give `blob` the name `name`, unless it has as many names as its file system allows (EMLINK: 65,000 on ext4):
 * then false. Every entry of every release of one content is a name of its blob, so a bundle (a signed one
 * from a careless or hostile signer) of 65,000 entries of one content used up that content's names, and
 * every later import of a release that holds it failed (exit 74). Such an entry is stored as a file of its
 * own instead (as a store written by an earlier ferry holds some: verify, serve, gc and mending read them).
 */
async function linkUnlessFull(blob: string, name: string): Promise<boolean> {
  try {
    await link(blob, name);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EMLINK') return false;
    throw err;
  }
}

/** An omitted entry whose blob has no name left (linkUnlessFull): a read-only copy of the blob, hashed again. */
async function copyBlob(blob: string, target: string, entry: ManifestEntry): Promise<void> {
  await copyFile(blob, target, constants.COPYFILE_EXCL);
  await chmod(target, 0o444);
  const { sha256 } = await sha256File(target);
  if (sha256 !== entry.sha256) throw new IntegrityError(`${blob} has sha256 ${sha256}, not ${entry.sha256}, once copied for ${entry.path}: the store is damaged; nothing was imported: import the full bundle`);
}

/**
 * The sha256 of the stored blob a large entry would share, started as the entry begins to stream, so that
 * the worker threads hash it while the reader goes on (undefined when there is no such blob, or any
 * trouble: linkBlobs then checks and hashes the blob itself).
 */
function prehashBlob(layout: StoreLayout, entry: ManifestEntry): Promise<string | undefined> {
  const blob = layout.blob(entry.sha256);
  return checkStorePath(blob, 'file').then(
    async (st) => (st?.size === entry.size ? (await sha256File(blob)).sha256 : undefined), // another size: linkBlobs hashes it
    () => undefined,
  ).catch(() => undefined);
}

async function hashBlob(blob: string): Promise<string> {
  return (
    await sha256File(blob).catch((err: NodeJS.ErrnoException) => {
      throw new StoreError(`cannot read ${blob} (${err.code ?? err.message}): the store is damaged; nothing was imported`, { cause: err });
    })
  ).sha256;
}

/**
 * Write the verified copy's bytes over a damaged blob, in place (its size set to the entry's, same inode: the
 * trees that link it see the mended bytes), flush it, and hash it again: a disk that does not keep what was written refuses
 * the import (67).
 */
/** Rewrite a damaged blob (holding `found`) from the bundle's verified copy `carried`, and report it. */
async function mendBlob(blob: string, carried: string, entry: ManifestEntry, found: string, onRepaired: (blob: RepairedBlob) => void): Promise<void> {
  await rewriteBlob(blob, carried, entry).catch((err: NodeJS.ErrnoException) => {
    if (err instanceof FerryError) throw err;
    throw new StoreError(`${blob} has sha256 ${found}, not ${entry.sha256} (damaged on disk), and cannot be rewritten from the bundle (${err.code ?? err.message}); nothing was imported`, { cause: err });
  });
  onRepaired({ path: blob, sha256: entry.sha256, found });
}

async function rewriteBlob(blob: string, verified: string, entry: ManifestEntry): Promise<void> {
  const from = await open(verified, 'r');
  let to: FileHandle | undefined;
  try {
    // blobs are read-only (0444): writable for the rewrite only; O_NOFOLLOW, as checkStorePath insisted
    const ro = await open(blob, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      await ro.chmod(0o644);
    } finally {
      await ro.close();
    }
    to = await open(blob, constants.O_WRONLY | constants.O_NOFOLLOW);
    const buf = Buffer.allocUnsafe(Math.min(WRITE_BUFFER, Math.max(1, entry.size)));
    for (let at = 0; at < entry.size; ) {
      const { bytesRead } = await from.read(buf, 0, Math.min(buf.length, entry.size - at), at);
      if (bytesRead === 0) break;
      await writeAll(to, [buf.subarray(0, bytesRead)]);
      at += bytesRead;
    }
    await to.truncate(entry.size); // a blob that had grown
    await to.datasync();
    await to.chmod(0o444);
  } finally {
    await from.close();
    await to?.close();
  }
  const now = await hashBlob(blob);
  if (now !== entry.sha256) {
    throw new IntegrityError(`${blob} still has sha256 ${now}, not ${entry.sha256}, after it was rewritten from the bundle: the disk does not keep what is written; nothing was imported`);
  }
}

/** Whether blobs/sha256/HEX is there: a regular file (never a link) of the entry's size (or of any size, when asked). */
async function holdsBlob(layout: StoreLayout, entry: ManifestEntry, size: 'entry size' | 'any size' = 'entry size'): Promise<boolean> {
  const blob = layout.blob(entry.sha256);
  const st = await checkStorePath(blob, 'file');
  if (st && st.size !== entry.size && size === 'entry size') {
    throw new StoreError(`${blob} has ${st.size} bytes, but ${entry.path} with that sha256 has ${entry.size}: the store is damaged; remove that blob (and the releases using it) and import again`);
  }
  return st !== undefined;
}

/** A stored bundle tree's files that are not what its manifest says: by entry path, those of other bytes; and the first that is worse. */
interface StoredCopyDamage {
  /** regular files of the tree with other bytes (a blob changed or cut short on disk): the bundle's verified bytes mend them */
  mendable: Map<string, StoredFileDamage & { found: { sha256: string; size: number } }>;
  /** a manifest that does not hash to its digest, a file missing, a link, unreadable: refused */
  refusal?: Error;
  /** why the stored manifest.json.asc is not a signature of the manifest (checkStoredSignature.ts): this bundle's verified one replaces it */
  signature?: string;
}

/**
 * Every file of a stored bundle tree re-hashed against its manifest: a blob changed on disk behind ferry's
 * back (a disk fault, an edit by hand) must not be reported as sound, nor published when the ref is missing.
 * Nothing is thrown here: the bundle is verified first, whatever the store holds.
 */
async function findStoredDamage(layout: StoreLayout, manifest: Manifest, manifestBytes: Buffer, digest: string): Promise<StoredCopyDamage> {
  const out: StoredCopyDamage = { mendable: new Map() };
  try {
    await readStoredManifest(layout.root, digest);
    out.signature = await whyStoredSignatureIsDamaged(layout.bundle(digest), manifestBytes);
    await hashStoredTree(layout.bundle(digest), manifest, {
      onDamage(d) {
        if (d.found) out.mendable.set(d.entry.path, { ...d, found: d.found });
        else if (d.error instanceof FerryError) out.refusal ??= d.error;
        else out.refusal ??= new StoreError(`${describeDamage(d)}: the store is damaged; remove refs/${manifest.name}/${manifest.version}, run ferry gc and import again`, { cause: d.error });
      },
    });
  } catch (err) {
    out.refusal ??= err as Error;
  }
  return out;
}

/**
 * After the bundle verified: each stored file of other bytes, which is its blob (or a file of its own), rewritten
 * in place from the entry's verified copy in `tree` (the same inode, so every release linking it is mended too).
 * A copy with anything worse, a file linked elsewhere than its blob, or a damaged file a differential bundle
 * omits (it lacks the bytes), is refused before anything is rewritten.
 */
async function mendStoredCopy(layout: StoreLayout, stored: StoredCopyDamage, manifest: Manifest, tree: string, label: string, onRepaired: (blob: RepairedBlob) => void): Promise<void> {
  if (stored.refusal) throw stored.refusal;
  const omitted = new Set(manifest.omitted ?? []);
  const lacking = [...stored.mendable.values()].find((d) => omitted.has(d.entry.path));
  if (lacking) {
    throw new IntegrityError(
      `${describeDamage(lacking)}: the store is damaged, and ${label} omits ${lacking.entry.path} (differential over ${manifest.base!.name} ${manifest.base!.version}); nothing was mended: import the full bundle (it carries the bytes and mends the file)`,
    );
  }
  // what is rewritten is the blob named by the entry's sha256 when the tree's file is that blob (a hard link), or
  // the tree's file itself when it has no other name (a store written by ferry before it linked a bundle's second
  // entry of one content to the blob holds that entry as a copy of its own); a file of the tree with other names (another blob linked in its place) is not written through
  const targets = new Map<string, StoredFileDamage & { found: { sha256: string; size: number } }>();
  for (const d of stored.mendable.values()) {
    const blobPath = layout.blob(d.entry.sha256);
    const [file, blob] = await Promise.all([checkStoreTreeFile(d.tree, d.entry.path), checkStorePath(blobPath, 'file')]);
    const target = file && blob && file.ino === blob.ino && file.dev === blob.dev ? blobPath : file?.nlink === 1 ? d.file : undefined;
    if (target === undefined) {
      throw new IntegrityError(
        `${describeDamage(d)}, and it is neither the store's blob ${blobPath} nor a file of its own (${file?.nlink ?? 0} names): the store is damaged; nothing was mended: remove refs/${manifest.name}/${manifest.version}, run ferry gc and import again`,
      );
    }
    if (!targets.has(target)) targets.set(target, d);
  }
  for (const [target, d] of targets) {
    await rewriteBlob(target, join(tree, d.entry.path), d.entry).catch((err: NodeJS.ErrnoException) => {
      if (err instanceof FerryError) throw err;
      throw new StoreError(`${describeDamage(d)} (damaged on disk), and ${target} cannot be rewritten from the bundle (${err.code ?? err.message})`, { cause: err });
    });
    onRepaired({ path: target, sha256: d.entry.sha256, found: d.found.sha256 });
  }
}

/**
 * The stored signature file of the tree `dir`, damaged (`why`), replaced by the bundle's verified one: written
 * in the scratch, flushed, and renamed over it (a link or anything else there is replaced, never followed).
 */
async function mendStoredSignature(dir: string, why: string, signature: string, scratch: string, log: Logger): Promise<void> {
  const file = join(dir, SIGNATURE_PATH);
  const next = join(scratch, 'signature');
  try {
    // on the disk before it replaces the old one: a crash leaves one signature file or the other
    const fh = await open(next, 'wx', 0o444);
    await fh.writeFile(signature).then(() => fh.datasync()).finally(() => fh.close());
    await rename(next, file);
    await fsyncDir(dir);
  } catch (err) {
    throw new StoreError(`${why}, and it cannot be replaced by this bundle's signature (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }
  log.warn(`${why}: replaced by this bundle's verified signature`);
}

/** Whether bundles/DIGEST is a complete bundle tree (its manifest is written last, before the rename). */
async function holdsBundle(layout: StoreLayout, digest: string): Promise<boolean> {
  const dir = layout.bundle(digest);
  return (await checkStorePath(dir, 'folder')) !== undefined && (await checkStorePath(join(dir, MANIFEST_PATH), 'file')) !== undefined;
}

function versionTaken(label: string, name: string, version: string, existing: string, digest: string): StoreError {
  return new StoreError(
    `${label}: the store already holds ${name} ${version} as ${existing}, this bundle is ${digest}. A release version names one bundle: bump the version, or remove the old release first`,
  );
}

/** Entries up to this size are held in memory until verified, then written in the background. */
const SMALL_ENTRY = 64 * 1024;
/** Files written (or linked) at once: enough to keep the file system busy while the reader goes on. */
const WRITES_IN_FLIGHT = 16;
/** Bytes of a large entry handed to the disk and not yet written, above which the reader waits (see fileSink). */
const WRITE_AHEAD = 8 << 20;
/** Size of each write of a large entry: the lent chunks it is copied from are gathered into buffers of this size. */
const WRITE_BUFFER = 1 << 20;
/** Entries from this size on are flushed to disk as soon as they are complete (see fileSink). */
const FLUSH_EARLY = 8 << 20;

/**
 * Entries are written without a sync each: the whole tree is flushed once before it is published. A
 * small entry is written only after it verified, in the background (bounded), so that many small files
 * cost about what reading them costs; a larger one streams to its file as it is read. A large one is
 * also flushed (fdatasync) as soon as it is complete, one at a time in `flushes`, while the next entries
 * are read: the disk writes back during the pass instead of all of it at the final flush, which then finds
 * little left to do (the next large entry waits for the flush before it, so the page cache holds at most
 * about one entry not yet on disk).
 */
async function fileSink(tree: string, entry: ManifestEntry, made: Set<string>, writes: WriteQueue, flushes: WriteQueue, pool: BufferPool): Promise<EntrySink> {
  const target = join(tree, entry.path);
  if (entry.size <= SMALL_ENTRY) {
    const chunks: Buffer[] = [];
    return {
      write: (chunk) => void chunks.push(Buffer.from(chunk)),
      commit: () =>
        writes.add(async () => {
          await mkdirOnce(dirname(target), made);
          await writeReadOnly(target, Buffer.concat(chunks));
        }),
      abort: () => void (chunks.length = 0),
    };
  }
  await mkdirOnce(dirname(target), made);
  let fh: FileHandle | undefined = await open(target, 'wx', 0o644);
  // The chunks are lent (the source reads into them again soon): each is copied into a 1 MiB buffer of
  // `pool`, and a full buffer is written while the reader hashes on, in order, one write at a time, up to
  // WRITE_AHEAD bytes ahead of the disk; a buffer goes back to the pool only once its write has returned.
  // A failed write is thrown by the next write that waits, or by commit.
  let writing: Promise<void> = Promise.resolve();
  let ahead = 0;
  let filling: Buffer | undefined;
  let filled = 0;
  const queue = () => {
    const handle = fh!;
    const buf = filling!;
    const length = filled;
    filling = undefined;
    filled = 0;
    ahead += length;
    writing = writing.then(async () => {
      await writeAll(handle, [buf.subarray(0, length)]);
      ahead -= length;
      pool.give(buf);
    });
    writing.catch(() => {}); // awaited below or by commit; not unhandled meanwhile
  };
  return {
    async write(chunk) {
      for (let at = 0; at < chunk.length; ) {
        filling ??= pool.take();
        const n = chunk.copy(filling, filled, at);
        filled += n;
        at += n;
        if (filled === filling.length) queue();
      }
      if (ahead > WRITE_AHEAD) await writing;
    },
    async commit() {
      if (filled > 0) queue();
      try {
        await writing;
      } catch (err) {
        await fh!.close();
        fh = undefined;
        throw err;
      }
      const done = fh!;
      fh = undefined;
      try {
        await done.chmod(0o444); // blobs are read-only
      } catch (err) {
        await done.close();
        throw err;
      }
      if (entry.size < FLUSH_EARLY) return done.close();
      const flush = async () => {
        try {
          await done.datasync();
        } finally {
          await done.close();
        }
      };
      // an earlier flush that failed is thrown here: this file is closed all the same
      await flushes.add(flush).catch(async (err: unknown) => {
        await done.close();
        throw err;
      });
    },
    async abort() {
      filling = undefined;
      await writing.catch(() => {});
      await fh?.close();
      fh = undefined;
      await rm(target, { force: true });
    },
  };
}

/** Buffers of one size, used again and again: taking makes a new one only when none is free. */
interface BufferPool {
  take(): Buffer;
  give(buf: Buffer): void;
}

function bufferPool(size: number): BufferPool {
  const free: Buffer[] = [];
  return { take: () => free.pop() ?? Buffer.allocUnsafe(size), give: (buf) => void free.push(buf) };
}

/** A new file of the tree, read-only like every blob ('wx': never through an existing name or link). */
async function writeReadOnly(path: string, data: Uint8Array): Promise<void> {
  const fh = await open(path, 'wx', 0o644);
  try {
    await fh.write(data);
    await fh.chmod(0o444);
  } finally {
    await fh.close();
  }
}

async function mkdirOnce(dir: string, made: Set<string>): Promise<void> {
  if (made.has(dir)) return;
  await mkdir(dir, { recursive: true });
  made.add(dir);
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}
