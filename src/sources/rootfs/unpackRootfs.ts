import { createReadStream } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { IntegrityError } from '../../errors.js';
import { startTool } from '../../util/runTool.js';
import type { TarCompression } from './detectCompression.js';
import { hashingTap } from '../../util/hashingTap.js';
import { checkRoom, type Listing } from '../checkRoom.js';

const DECOMPRESS: Record<TarCompression, string[]> = { gzip: ['-z'], zstd: ['--zstd'], xz: ['-J'], none: [] };

/**
 * Unpack a rootfs tarball into the new, empty folder `dir` with GNU tar, which restores everything a root
 * filesystem holds: numeric owners (when run as root), modes with setuid bits, symbolic and hard
 * links, device nodes, FIFOs. The bytes are hashed on their way into tar and compared with the
 * expected sha256; on a mismatch the caller throws the folder away.
 *
 * `dir` itself is made 0700 before the first member is written and stays so (tar's --no-overwrite-dir
 * leaves the archive's "./" entry out): a signed tarball's device nodes (a disk, /dev/mem, mode 0666) and
 * setuid-root programs are doors into this machine for any user who can reach them, so only the user who
 * extracted the tree can, as for /var/lib/machines.
 */
export async function unpackRootfs(file: string, compression: TarCompression, sha256: string, dir: string): Promise<void> {
  // listed first (one more pass over the file): a small tarball can hold gigabytes or millions of files
  await checkRoom(dirname(dir), `rootfs ${file}`, tarListing(file, compression));
  await chmod(dir, 0o700);
  const asRoot = process.getuid?.() === 0;
  const args = ['-x', ...DECOMPRESS[compression], '-f', '-', '-C', dir, '--numeric-owner', '-p', '--no-overwrite-dir', ...(asRoot ? ['--same-owner'] : ['--no-same-owner'])];
  const tar = startTool('tar', args, { doing: `tar ${args.join(' ')} unpacking ${file}` });
  tar.stdout.resume();
  const tap = hashingTap();
  // tar's own reason first: when it refuses a member and stops reading, the pipe into it breaks too
  const piped = pipeline(createReadStream(file), tap.stream, tar.stdin).then(
    () => undefined,
    (err: unknown) => {
      tar.kill();
      return err;
    },
  );
  await tar.exited;
  const pipeFailure = await piped;
  if (pipeFailure !== undefined) {
    if (!stoppedReading(pipeFailure)) throw pipeFailure;
    // tar ended well at the end-of-archive marker and read no further: the padding after it (a tarball
    // written with a large blocking factor ends in up to a record of zeros) is hashed here, from where
    // tar's input stopped, so that the sha256 still covers every byte of the file and what tar read is
    // the start of exactly the bytes the manifest records
    for await (const chunk of createReadStream(file, { start: tap.passed() })) tap.feed(chunk as Buffer);
  }
  const got = tap.result().sha256;
  if (got !== sha256) throw new IntegrityError(`${file} has sha256 ${got}, but the manifest records ${sha256}; the store was changed after import: import the bundle again`);
}

/** The pipe into tar broke because tar stopped reading (it exited), not because the file could not be read. */
function stoppedReading(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE';
}

/**
 * `tar -tv`'s listing (one member a line, names C-quoted): TYPE+MODE UID/GID SIZE (a device's MAJOR,MINOR)
 * DATE TIME "NAME" (a link's ` -> "TARGET"` or ` link to "TARGET"` after it); a hard link writes no file.
 * tar makes the folders a member's name passes through when no member of their own made them first: 100
 * members, each 60 folders deep, are 6,000 folders for a listing of 100 files. Those are counted as the
 * folders a name enters beyond those the previous member was in (exact for tar's usual order, folders
 * before what they hold; more, never fewer, for another order).
 */
function tarListing(file: string, compression: TarCompression): Listing {
  const args = ['-t', '-v', '--numeric-owner', '--quoting-style=c', ...DECOMPRESS[compression], '-f', file];
  /** the folders the previous member is in, or is */
  let current: string[] = [];
  return {
    start: () => {
      current = [];
      const tar = startTool('tar', args, { doing: `tar ${args.join(' ')} listing ${file}` });
      tar.stdin.end();
      return tar;
    },
    separator: '\n',
    size(line) {
      const [mode = '', , size = ''] = line.split(/\s+/, 3);
      if (mode === '' || mode.startsWith('h')) return undefined;
      return /^\d+$/.test(size) ? Number(size) : 0;
    },
    folders(line) {
      const name = quotedName(line);
      if (name === undefined) return 0;
      const parts = name.split('/').filter((p) => p !== '' && p !== '.');
      const above = parts.slice(0, -1);
      let shared = 0;
      while (shared < above.length && shared < current.length && above[shared] === current[shared]) shared++;
      current = line.startsWith('d') ? parts : above;
      return above.length - shared;
    },
  };
}

/** The first C-quoted string of a listing line, still escaped (a `/` never is): the member's name. No field before it holds a `"`. */
function quotedName(line: string): string | undefined {
  const start = line.indexOf('"');
  if (start < 0) return undefined;
  let end = start + 1;
  while (end < line.length && line[end] !== '"') end += line[end] === '\\' ? 2 : 1;
  return line.slice(start + 1, end);
}
