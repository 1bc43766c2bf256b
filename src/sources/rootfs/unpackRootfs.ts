import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { IntegrityError } from '../../errors.js';
import { startTool } from '../../util/runTool.js';
import type { TarCompression } from './detectCompression.js';
import { hashingTap } from '../../util/hashingTap.js';

const DECOMPRESS: Record<TarCompression, string[]> = { gzip: ['-z'], zstd: ['--zstd'], xz: ['-J'], none: [] };

/**
 * Unpack a rootfs tarball into the folder `dir` with GNU tar, which restores everything a root
 * filesystem holds: numeric owners (when run as root), modes with setuid bits, symbolic and hard
 * links, device nodes, FIFOs. The bytes are hashed on their way into tar and compared with the
 * expected sha256; on a mismatch the caller throws the folder away.
 */
export async function unpackRootfs(file: string, compression: TarCompression, sha256: string, dir: string): Promise<void> {
  const asRoot = process.getuid?.() === 0;
  const args = ['-x', ...DECOMPRESS[compression], '-f', '-', '-C', dir, '--numeric-owner', '-p', ...(asRoot ? ['--same-owner'] : ['--no-same-owner'])];
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
  if (pipeFailure !== undefined) throw pipeFailure;
  const got = tap.result().sha256;
  if (got !== sha256) throw new IntegrityError(`${file} has sha256 ${got}, but the manifest records ${sha256}; the store was changed after import: import the bundle again`);
}
