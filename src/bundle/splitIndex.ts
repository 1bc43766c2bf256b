import * as z from '../util/zod.js';
import { BundleFormatError, UsageError } from '../errors.js';
import { formatIssues } from '../util/formatIssues.js';
import { SHA256_RE } from '../util/sha256.js';
import { parseErrorReason } from '../util/oneLine.js';
import { NOT_REGULAR, readRegularFile, type BoundedRead } from '../util/readRegularFile.js';

export const SPLIT_FORMAT = 'ferry-split/1';
export const INDEX_SUFFIX = '.index.json';
/** an index names files next to it: plain names only, so a hostile index cannot point anywhere else */
const FileName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+~-]*$/).max(255);
export const FILE_NAME_RULE = 'letters, digits and . _ + ~ -, starting with a letter or digit, at most 255 with the volume number';

/** Whether an index can name `file` (a bundle's or volume's file name): what a split checks before it writes one. */
export function isIndexFileName(file: string): boolean {
  return FileName.safeParse(file).success;
}
const Sha256 = z.string().regex(SHA256_RE);

/**
 * NAME-VERSION.ferry.index.json: where the volumes of a split bundle are and what each must hash to.
 * It is not signed: the bundle inside carries the signature and is verified end to end, so a forged
 * index can only make an import fail, never make a changed bundle pass. What the index adds is
 * *locating* damage: which volume is missing, truncated, corrupt or out of order.
 */
export const SplitIndex = z
  .object({
    format: z.literal(SPLIT_FORMAT),
    /** file name of the whole bundle the volumes reassemble to */
    bundle: FileName,
    size: z.number().int().min(1),
    sha256: Sha256,
    /** the bundle digest (sha256 of its manifest.json), release name and version: for people and for a cross-check */
    digest: Sha256,
    name: z.string(),
    version: z.string(),
    volumes: z.array(z.object({ file: FileName, size: z.number().int().min(1), sha256: Sha256 }).strict()).min(1).max(100_000),
  })
  .strict();
export type SplitIndex = z.infer<typeof SplitIndex>;

export function indexFileName(bundleFile: string): string {
  return `${bundleFile}${INDEX_SUFFIX}`;
}

/** NAME-VERSION.ferry.001 ...: at least three digits, more when there are more than 999 volumes, so names sort in order. */
export function volumeFileName(bundleFile: string, n: number, count: number): string {
  return `${bundleFile}.${String(n).padStart(Math.max(3, String(count).length), '0')}`;
}

/** A split index lists volumes (about 150 bytes each): anything larger than this is not one, and is not read. */
const SPLIT_INDEX_MAX_BYTES = 1024 * 1024;

export async function readSplitIndex(path: string): Promise<SplitIndex> {
  // one open, checked and read through the same handle: a FIFO (or a device) on the media would block the
  // read for ever, and a file swapped in between a check by path and a read by path would not be checked
  let got: BoundedRead;
  try {
    got = await readRegularFile(path, SPLIT_INDEX_MAX_BYTES);
  } catch (err) {
    throw new UsageError(`cannot read split index ${path} (${(err as NodeJS.ErrnoException).code})`);
  }
  if (got.refused !== undefined) {
    if (got.refused === NOT_REGULAR) throw new UsageError(`${path} is not a file`);
    const size = got.tooLarge !== undefined ? `${got.tooLarge} bytes` : 'more bytes';
    throw new BundleFormatError(`${path}: ${size}, larger than any split index (at most ${SPLIT_INDEX_MAX_BYTES}): not a ferry split index`);
  }
  const text = got.bytes.toString('utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new BundleFormatError(`${path}: not JSON (${parseErrorReason(err)})`);
  }
  const parsed = SplitIndex.safeParse(raw);
  if (!parsed.success) throw new BundleFormatError(`${path} is not a ferry split index (${SPLIT_FORMAT}): ${formatIssues(path, parsed.error)}`);
  const index = parsed.data;
  const sum = index.volumes.reduce((n, v) => n + v.size, 0);
  if (sum !== index.size) throw new BundleFormatError(`${path}: the volumes add up to ${sum} bytes, the index says the bundle is ${index.size}`);
  const names = new Set(index.volumes.map((v) => v.file));
  if (names.size !== index.volumes.length) throw new BundleFormatError(`${path}: a volume file is listed twice`);
  return index;
}
