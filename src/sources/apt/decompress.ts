import { spawn } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { FerryError } from '../../errors.js';

/**
 * Decompress gzip in-process; xz and zstd through Debian's `xz` and `zstd` tools (Node 20's zlib has
 * neither). `kind` is the file extension: "gz", "xz", "zst" or "" for plain data.
 */
export async function decompress(data: Buffer, kind: string, label: string): Promise<Buffer> {
  switch (kind) {
    case '':
      return data;
    case 'gz':
      try {
        return gunzipSync(data);
      } catch (err) {
        throw new FerryError(`${label}: not valid gzip data (${(err as Error).message})`);
      }
    case 'xz':
      return runFilter('xz', ['-dc'], data, label);
    case 'zst':
      return runFilter('zstd', ['-dcq'], data, label);
    default:
      throw new FerryError(`${label}: unsupported compression .${kind} (ferry reads .gz, .xz, .zst and plain files)`);
  }
}

function runFilter(cmd: string, args: string[], input: Buffer, label: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', (e) =>
      reject(new FerryError(`${label}: cannot run ${cmd} (${e.message}); install the Debian package ${cmd === 'xz' ? 'xz-utils' : 'zstd'}`)),
    );
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new FerryError(`${label}: ${cmd} failed: ${err.trim() || `exit ${code}`}`))));
    child.stdin.on('error', () => {}); // reported through 'close'
    child.stdin.end(input);
  });
}
