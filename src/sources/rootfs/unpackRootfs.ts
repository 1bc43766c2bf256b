import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { IntegrityError, ToolError } from '../../errors.js';
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
  const child = spawn('tar', args, { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4096);
  });
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? new ToolError('tar', 'tar') : new ToolError('tar', 'tar', { failure: err.message, cause: err })));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new ToolError('tar', 'tar', { failure: `tar ${args.join(' ')} (exit ${code}) unpacking ${file}: ${stderr.trim()}` }))));
  });
  exited.catch(() => {});
  const tap = hashingTap();
  try {
    await Promise.all([pipeline(createReadStream(file), tap.stream, child.stdin), exited]);
  } catch (err) {
    child.kill();
    throw err;
  }
  const got = tap.result().sha256;
  if (got !== sha256) throw new IntegrityError(`${file} has sha256 ${got}, but the manifest records ${sha256}; the store was changed after import: import the bundle again`);
}
