import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { request } from 'undici';
import { FetchError, IntegrityError } from '../../errors.js';
import { hashingTap } from '../../util/hashingTap.js';

/**
 * Bring a tarball into the download cache (CACHE/sha256/HEX) and return its path there; a file
 * already in the cache is not fetched again. The bytes are checked against the expected sha256
 * before they take their place in the cache, so a mismatch leaves nothing behind.
 */
export async function fetchTarball(src: string, expected: string, cacheDir: string, label: string): Promise<string> {
  const dest = join(cacheDir, 'sha256', expected);
  if (await stat(dest).then((s) => s.isFile(), () => false)) return dest;
  await mkdir(dirname(dest), { recursive: true });
  const tmp = `${dest}.${process.pid}.partial`;
  const tap = hashingTap();
  try {
    if (/^https?:\/\//.test(src)) {
      const res = await request(src).catch((err: Error) => {
        throw new FetchError(`${label}: cannot fetch ${src}: ${err.message}`, { cause: err, transient: true });
      });
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw new FetchError(`${label}: ${src} answered HTTP ${res.statusCode}, expected 200`, { transient: res.statusCode >= 500 });
      }
      await pipeline(res.body, tap.stream, createWriteStream(tmp));
    } else {
      await pipeline(createReadStream(src), tap.stream, createWriteStream(tmp)).catch((err: NodeJS.ErrnoException) => {
        throw new FetchError(`${label}: cannot read ${src}: ${err.code ?? err.message}`, { cause: err });
      });
    }
    const got = tap.result().sha256;
    if (got !== expected) {
      throw new IntegrityError(`${label}: ${src} has sha256 ${got}, but the spec expects ${expected}; if this new file is the one you trust, put its sha256 in the spec, else find out who changed it`);
    }
    await rename(tmp, dest);
    return dest;
  } finally {
    await rm(tmp, { force: true });
  }
}
