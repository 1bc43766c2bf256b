import { chmod, link, mkdir, mkdtemp, open, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import type * as openpgp from 'openpgp';
import { StoreError } from '../errors.js';
import { readBundle, type EntrySink, type VerifiedHead } from '../bundle/readBundle.js';
import { openBundleSource, type BundleSource } from '../bundle/openBundleSource.js';
import { MANIFEST_PATH, SIGNATURE_PATH, type Manifest, type ManifestEntry } from '../bundle/manifest.js';
import { verifyGitBundles } from '../sources/git/verifyGitBundles.js';
import type { VerifiedSignature } from '../pgp/verify.js';
import { silentLogger, type Logger } from '../ui/log.js';
import { writeFileAtomic } from '../util/writeFileAtomic.js';
import { readRef } from './readRef.js';
import { findLiveScratch } from './findLiveScratch.js';
import { storeLayout, type StoreLayout } from './storeLayout.js';
import { sweepStaleImports } from './sweepStaleImports.js';

export interface ImportResult {
  digest: string;
  name: string;
  version: string;
  /** true when the store already held this bundle: nothing was written */
  already: boolean;
  signers: VerifiedSignature[];
  entries: number;
  /** bytes of artifacts that were new to the store (the rest were already there as blobs) */
  newBytes: number;
}

export interface ImportOptions {
  storeDir: string;
  keys: openpgp.PublicKey[];
  log?: Logger;
  label?: string;
  /** called with the verified tree before it becomes visible (e.g. `git bundle verify`) */
  checkTree?(treeDir: string, head: VerifiedHead): Promise<void>;
}

/**
 * Verify and import a bundle in one streaming pass. Entries are written into a scratch folder of the
 * store (STORE/.tmp/import-*) as they are verified; only when everything matched is the tree renamed
 * into STORE/bundles/DIGEST — the single step that makes it visible — then blobs are linked and the
 * ref written. A failure removes the scratch folder; a killed import leaves only scratch that the next
 * import sweeps. Importing a bundle the store already holds is a no-op.
 */
export async function importBundle(source: string | Readable | BundleSource, opts: ImportOptions): Promise<ImportResult> {
  const log = opts.log ?? silentLogger;
  const layout = storeLayout(opts.storeDir);
  const src = typeof source === 'string' ? await openBundleSource(source) : isBundleSource(source) ? source : streamSource(source, opts.label ?? 'bundle');
  const { label, stream } = src;

  await Promise.all([layout.blobs, layout.bundles, layout.refs, layout.tmp].map((d) => mkdir(d, { recursive: true })));
  const swept = await sweepStaleImports(layout.tmp);
  if (swept > 0) log.info(`removed ${swept} scratch folder(s) left by interrupted imports`);

  const scratch = await mkdtemp(join(layout.tmp, 'import-'));
  await writeFile(join(scratch, 'pid'), `${process.pid}\n`);
  // after our scratch exists (gc does the same the other way round), so a gc starting now sees us or we see it
  const gc = await findLiveScratch(layout.tmp, 'gc');
  if (gc.length > 0) {
    stream.destroy();
    await rm(scratch, { recursive: true, force: true });
    throw new StoreError(`ferry gc (pid ${gc[0]!.pid}) is running on ${opts.storeDir}: import when it has finished`);
  }
  const tree = join(scratch, 'tree');
  await mkdir(tree);
  const made = new Set<string>([tree]);
  let already = false;

  try {
    const result = await src.read({
      keys: opts.keys,
      log,
      async onHead(head) {
        const { name, version } = head.manifest;
        const existing = await readRef(layout, name, version);
        if (existing && existing !== head.digest) {
          throw new StoreError(
            `${label}: the store already holds ${name} ${version} as ${existing}, this bundle is ${head.digest}. A release version names one bundle: bump the version, or remove the old release first`,
          );
        }
        // already imported: still check every byte (a tampered copy must be refused), but write nothing
        already = await exists(join(layout.bundle(head.digest), MANIFEST_PATH));
        // a differential bundle whose base is not here is refused before its bytes are read
        if (!already) await missingFromBase(layout, head.manifest, label);
        log.info(`${name} ${version}: signature good (${head.signers.map((s) => s.fingerprint).join(', ')}); checking ${head.manifest.entries.length} entries`);
        return true;
      },
      openEntry: async (entry) => (already ? undefined : fileSink(tree, entry, made)),
    });
    const { manifest, digest } = result;

    // split volumes: the last volume's and the whole bundle's sha256 are known only now
    await src.finalCheck(digest);

    if (already) {
      await writeRef(layout, manifest.name, manifest.version, digest);
      await rm(scratch, { recursive: true, force: true });
      return { digest, name: manifest.name, version: manifest.version, already, signers: result.signers, entries: manifest.entries.length, newBytes: 0 };
    }

    // differential bundles: the omitted entries come from releases already in the store (checked again:
    // a gc may have run since the head was read)
    const omitted = new Set(manifest.omitted ?? []);
    await missingFromBase(layout, manifest, label);
    for (const entry of manifest.entries) {
      if (!omitted.has(entry.path)) continue;
      await mkdirOnce(dirname(join(tree, entry.path)), made);
      await link(layout.blob(entry.sha256), join(tree, entry.path));
    }

    for (const [path, data] of [[MANIFEST_PATH, result.manifestBytes], [SIGNATURE_PATH, result.signature]] as const) {
      await writeFile(join(tree, path), data);
      await chmod(join(tree, path), 0o444);
    }

    // artifacts the store already has: share the blob instead of keeping a second copy
    let newBytes = 0;
    const fresh: ManifestEntry[] = [];
    for (const entry of manifest.entries) {
      if (omitted.has(entry.path)) continue;
      const blob = layout.blob(entry.sha256);
      if (await exists(blob)) {
        const target = join(tree, entry.path);
        await link(blob, `${target}.blob`);
        await rename(`${target}.blob`, target);
      } else {
        fresh.push(entry);
        newBytes += entry.size;
      }
    }

    await verifyGitBundles(tree, manifest, scratch);
    await opts.checkTree?.(tree, result);

    // the moment the release becomes visible
    try {
      await rename(tree, layout.bundle(digest));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      already = true; // a concurrent import of the same bundle won
    }
    const visible = layout.bundle(digest);
    for (const entry of fresh) {
      try {
        await link(join(visible, entry.path), layout.blob(entry.sha256));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    await writeRef(layout, manifest.name, manifest.version, digest);
    await rm(scratch, { recursive: true, force: true });
    return { digest, name: manifest.name, version: manifest.version, already, signers: result.signers, entries: manifest.entries.length, newBytes };
  } catch (err) {
    stream.destroy();
    await rm(scratch, { recursive: true, force: true });
    throw err;
  }
}

function isBundleSource(s: Readable | BundleSource): s is BundleSource {
  return typeof (s as BundleSource).finalCheck === 'function';
}

function streamSource(stream: Readable, label: string): BundleSource {
  return { label, stream, read: (o) => readBundle(stream, { ...o, label }), async finalCheck() {} };
}

/** Refuse a differential bundle whose omitted artifacts the store lacks, naming its base release. */
async function missingFromBase(layout: StoreLayout, manifest: Manifest, label: string): Promise<void> {
  const omitted = new Set(manifest.omitted ?? []);
  const missing = [];
  for (const entry of manifest.entries) {
    if (omitted.has(entry.path) && !(await exists(layout.blob(entry.sha256)))) missing.push(entry);
  }
  if (missing.length === 0) return;
  const base = manifest.base!;
  throw new StoreError(
    `${label} is a differential bundle over ${base.name} ${base.version} (${base.digest}), and this store lacks ${missing.length} artifact${missing.length === 1 ? '' : 's'} it takes from there (${missing
      .slice(0, 3)
      .map((e) => e.path)
      .join(', ')}${missing.length > 3 ? ', ...' : ''}): import ${base.name} ${base.version} first, or bring the full bundle`,
  );
}

async function fileSink(tree: string, entry: ManifestEntry, made: Set<string>): Promise<EntrySink> {
  const target = join(tree, entry.path);
  await mkdirOnce(dirname(target), made);
  let fh: FileHandle | undefined = await open(target, 'wx', 0o644);
  return {
    async write(chunk) {
      await fh!.write(chunk);
    },
    async commit() {
      await fh!.datasync();
      await fh!.close();
      fh = undefined;
      await chmod(target, 0o444);
    },
    async abort() {
      await fh?.close();
      fh = undefined;
      await rm(target, { force: true });
    },
  };
}

async function mkdirOnce(dir: string, made: Set<string>): Promise<void> {
  if (made.has(dir)) return;
  await mkdir(dir, { recursive: true });
  made.add(dir);
}

async function writeRef(layout: StoreLayout, name: string, version: string, digest: string): Promise<void> {
  if ((await readRef(layout, name, version)) === digest) return;
  await writeFileAtomic(layout.ref(name, version), `${digest}\n`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
