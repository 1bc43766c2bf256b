import { statfs } from 'node:fs/promises';
import { BundleFormatError, StoreError } from '../errors.js';
import { formatBytes } from '../ui/log.js';
import type { RunningTool } from '../util/runTool.js';

/** A listing of what unpacking writes: one record per member, and how many bytes a record's member holds. */
export interface Listing {
  start(): RunningTool;
  separator: '\n' | '\0';
  /** the member's size in bytes, or undefined for a record that writes no file of its own (a hard link, a line that is no member) */
  size(record: string): number | undefined;
  /** the folders unpacking makes for this record that no record of their own lists (each one inode and one block) */
  folders?(record: string): number;
}

/**
 * Refuses (71, one line, before anything is unpacked; 68 for a listing line over MAX_RECORD) to unpack `what` beside `dir` when the file system
 * that holds `dir` has less space (what an unprivileged user may use: root's reserve is left alone) or
 * fewer free inodes than its listing adds up to: a small signed tarball or git bundle can expand to
 * gigabytes of zeros or millions of files, filling the disk that other services write to. Each member
 * counts at its size in whole blocks, at least one, and so does each folder it makes that the listing
 * does not list itself. The listing is read as it comes and stopped as soon
 * as it is too much (a listing of a billion names is not read to its end). A file system that counts no
 * inodes (btrfs says 0) is judged by space only. What the listing tool says when it fails is left to the
 * unpacking, which fails at the same member with the tool's reason.
 */
/**
 * The longest record of a listing read (1 MiB): a member's line with a name a file system can hold is some
 * KiB (PATH_MAX, C-quoted); a longer one is not kept growing (each chunk re-joined to it), it is refused.
 */
const MAX_RECORD = 1 << 20;

export async function checkRoom(dir: string, what: string, listing: Listing): Promise<void> {
  const fs = await statfs(dir);
  const free = fs.bavail * fs.bsize;
  const inodes = fs.files > 0 ? fs.ffree : Infinity;
  let bytes = 0;
  let files = 0;
  let rest = '';
  const tool = listing.start();
  try {
    for await (const chunk of tool.stdout as AsyncIterable<Buffer>) {
      const records = (rest + chunk.toString('latin1')).split(listing.separator);
      rest = records.pop()!;
      if (rest.length > MAX_RECORD) break;
      for (const record of records) {
        const folders = listing.folders?.(record) ?? 0;
        files += folders;
        bytes += folders * fs.bsize;
        const size = listing.size(record);
        if (size === undefined) continue;
        files++;
        bytes += Math.max(1, Math.ceil(size / fs.bsize)) * fs.bsize;
      }
      if (bytes > free || files > inodes) break;
    }
  } finally {
    tool.kill();
    await tool.exited.catch(() => undefined);
  }
  if (rest.length > MAX_RECORD) {
    throw new BundleFormatError(`${what} lists a member whose entry runs past ${MAX_RECORD} bytes, a name no file system can hold: refused before unpacking anything`);
  }
  const where = `the file system holding ${dir}`;
  const refused = 'refused before unpacking anything; free space there or choose another --to';
  if (bytes > free) throw new StoreError(`${what} unpacks to more than the ${formatBytes(free)} free on ${where}: ${refused}`);
  if (files > inodes) throw new StoreError(`${what} unpacks to more than the ${inodes} files ${where} has room for: ${refused}`);
}
