import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { makeDirectory } from '../util/makeDirectory.js';

import { basename, dirname, join } from 'node:path';
import { UsageError } from '../errors.js';
import { holdScratch } from '../util/holdScratch.js';
import { writeFileAtomic } from '../util/writeFileAtomic.js';
import { manifestDigest, parseManifest } from './manifest.js';
import { expectNoBytesAfterEnd, readBundleHead } from './readBundleHead.js';
import { FILE_NAME_RULE, indexFileName, isIndexFileName, SPLIT_FORMAT, volumeFileName, type SplitIndex } from './splitIndex.js';
import { quoteInput } from '../util/oneLine.js';
import { openPartial, partialPathFor, sweepDeadPartials } from '../util/partialFile.js';

export interface SplitResult {
  indexPath: string;
  index: SplitIndex;
}

/**
 * Cut a bundle into numbered volumes of at most `size` bytes (removable media, data diodes with a size
 * limit) and write NAME-VERSION.ferry.index.json with every volume's size and sha256 and the whole
 * bundle's. One streaming pass; volumes are written under .partial names of their own (util/partialFile.ts), an earlier index of the same
 * bundle name is removed before they take their names, and the index is written last, so a killed split
 * never leaves an index that points at incomplete volumes or at another split's.
 */
export async function splitBundle(bundlePath: string, opts: { size: number; outDir?: string }): Promise<SplitResult> {
  const outDir = opts.outDir ?? dirname(bundlePath);
  const bundleFile = basename(bundlePath);
  const head = await readBundleHead(bundlePath);
  const manifest = parseManifest(head.manifestBytes, bundlePath);
  head.expectEpoch(manifest);
  const total = (await stat(bundlePath)).size;
  expectNoBytesAfterEnd(bundlePath, head, manifest, total, 'nothing was split');
  const count = Math.ceil(total / opts.size);
  if (count > 100_000) throw new UsageError(`--size ${opts.size} would cut ${bundlePath} into ${count} volumes; choose a larger size`);
  // every reader refuses an index that names a file otherwise (a copy saved as "app-1.0 (1).ferry"): the
  // volumes would cross the air gap and be found unusable only there
  if (!isIndexFileName(bundleFile) || !isIndexFileName(volumeFileName(bundleFile, count, count))) {
    throw new UsageError(
      `${bundlePath}: a split index names its volumes by the bundle's file name, and ${quoteInput(bundleFile)} is not one it can carry (${FILE_NAME_RULE}): rename the bundle (e.g. to ${manifest.name}-${manifest.version}.ferry) and split it again`,
    );
  }
  await makeDirectory(outDir);
  await sweepDeadPartials(join(outDir, bundleFile), true);

  const whole = createHash('sha256');
  const volumes: SplitIndex['volumes'] = [];
  const partials: Array<{ partial: string; final: string }> = [];
  /** a Ctrl-C removes the volumes still under .partial names (cli/stopOnInterrupt.ts) */
  const held: Array<() => void> = [];
  let fh: FileHandle | undefined;
  let hash: Hash | undefined;
  let left = 0;
  const closeVolume = async () => {
    await fh!.sync();
    await fh!.close();
    fh = undefined;
    const n = volumes.length + 1;
    volumes.push({ file: volumeFileName(bundleFile, n, count), size: Math.min(opts.size, total - (n - 1) * opts.size), sha256: hash!.digest('hex') });
  };
  try {
    for await (const chunk of createReadStream(bundlePath, { highWaterMark: 4 << 20 }) as AsyncIterable<Buffer>) {
      let off = 0;
      while (off < chunk.length) {
        if (!fh) {
          const final = join(outDir, volumeFileName(bundleFile, volumes.length + 1, count));
          const partial = partialPathFor(final);
          partials.push({ partial, final });
          held.push(holdScratch(partial));
          fh = await openPartial(partial);
          hash = createHash('sha256');
          left = opts.size;
        }
        const part = chunk.subarray(off, off + Math.min(left, chunk.length - off));
        await fh.write(part);
        hash!.update(part);
        whole.update(part);
        off += part.length;
        left -= part.length;
        if (left === 0) await closeVolume();
      }
    }
    if (fh) await closeVolume();
    const index: SplitIndex = {
      format: SPLIT_FORMAT,
      bundle: bundleFile,
      size: total,
      sha256: whole.digest('hex'),
      digest: manifestDigest(head.manifestBytes),
      name: manifest.name,
      version: manifest.version,
      volumes,
    };
    // an index an earlier split left there goes first: a split stopped while its volumes replace the old
    // ones must not leave that index naming a mix of both (then reported as damaged copies)
    const indexPath = join(outDir, indexFileName(bundleFile));
    await rm(indexPath, { force: true });
    for (const p of partials) await rename(p.partial, p.final);
    await writeFileAtomic(indexPath, JSON.stringify(index, null, 2) + '\n');
    return { indexPath, index };
  } catch (err) {
    await fh?.close().catch(() => {});
    await Promise.all(partials.map((p) => rm(p.partial, { force: true })));
    throw err;
  } finally {
    for (const release of held) release();
  }
}
