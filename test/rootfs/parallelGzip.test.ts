import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { gunzipSync, gzipSync } from 'node:zlib';
import { parallelGzip } from '../../src/util/parallelGzip.js';
import { run } from '../helpers/cli.js';

const MiB = 1 << 20;

async function gz(data: Buffer, opts: Parameters<typeof parallelGzip>[0] = {}, piece = 65536): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let i = 0; i < data.length; i += piece) pieces.push(data.subarray(i, i + piece));
  return buffer(Readable.from(pieces).pipe(parallelGzip(opts)));
}

/** Half text (compressible, with repeats across block boundaries), half random. */
function sample(size: number): Buffer {
  const text = Buffer.from('root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n'.repeat(Math.ceil(size / 160)));
  return Buffer.concat([text.subarray(0, size >> 1), randomBytes(size - (size >> 1))]);
}

describe('parallelGzip', () => {
  it.each([0, 1, 32767, 32768, MiB - 1, MiB, MiB + 1, 3.5 * MiB])('round-trips %i bytes through gunzip', async (size) => {
    const data = sample(size);
    const out = await gz(data);
    expect(gunzipSync(out).equals(data)).toBe(true);
  });

  it('writes one gzip member that GNU gzip accepts, with no name and no time in its header', async () => {
    const data = sample(3 * MiB);
    const out = await gz(data);
    expect([...out.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
    const dir = await mkdtemp(join(tmpdir(), 'ferry-gz-'));
    await writeFile(join(dir, 'x.gz'), out);
    const t = await run('gzip', ['-tv', join(dir, 'x.gz')]);
    expect(t.code, t.stderr).toBe(0);
    const l = await run('gzip', ['-lv', join(dir, 'x.gz')]);
    expect(l.stdout).toContain(String(data.length));
  });

  it('gives the same bytes whatever the concurrency and however the input is cut', async () => {
    const data = sample(5 * MiB + 123);
    const a = await gz(data, { inFlight: 1 }, 4096);
    const b = await gz(data, { inFlight: 8 }, 1_000_003);
    expect(a.equals(b)).toBe(true);
  });

  it('compresses repeated content across its 1 MiB blocks (each block sees the 32 KiB before it)', async () => {
    const unit = randomBytes(20000);
    const data = Buffer.concat(Array.from({ length: 210 }, () => unit));
    const out = await gz(data);
    // five blocks: unprimed, each would pay for the random unit again (4 x 20000 more bytes than one
    // zlib stream); primed, they cost what one stream costs, give or take the sync-flush markers
    expect(out.length).toBeLessThan(gzipSync(data).length + 2000);
  });

  it('is done with a chunk when its write calls back: the writer may fill it again', async () => {
    const data = sample(5 * MiB + 77);
    const gzip = parallelGzip();
    const out = buffer(gzip);
    // one buffer for every write, overwritten with the next piece as soon as the last write called back
    const reused = Buffer.alloc(MiB);
    for (let at = 0; at < data.length; at += MiB) {
      const n = data.copy(reused, 0, at);
      await new Promise<void>((resolve, reject) => gzip.write(reused.subarray(0, n), (err) => (err ? reject(err) : resolve())));
    }
    gzip.end();
    expect(gunzipSync(await out).equals(data)).toBe(true);
  });
});
