import { afterEach, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { writeCompressed, type Compression } from '../../src/sources/rootfs/writeCompressed.js';
import { run } from '../helpers/cli.js';
import { ToolError } from '../../src/errors.js';

/** 24 MiB in 64 KiB pieces, half random: more than any pipe or stream buffer holds, so back-pressure is exercised. */
async function* source(): AsyncGenerator<Buffer> {
  for (let i = 0; i < 384; i++) yield i % 2 ? randomBytes(65536) : Buffer.alloc(65536, i);
}

/** a writer that streams a generator's chunks into the compressor */
const from = (chunks: AsyncIterable<Buffer>) => (out: Writable) => pipeline(Readable.from(chunks), out, { end: false });

const DECOMPRESS: Record<Compression, string> = { gzip: 'gzip -dc', zstd: 'zstd -dc', xz: 'xz -dc' };

describe('writeCompressed', () => {
  const path = process.env.PATH;
  afterEach(() => {
    process.env.PATH = path;
  });

  it.each(['gzip', 'zstd', 'xz'] as const)('streams 24 MiB through %s and the standard tool reads back the same bytes', async (compress) => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-compress-'));
    const input = createHash('sha256');
    async function* tapped() {
      for await (const b of source()) {
        input.update(b);
        yield b;
      }
    }
    const dest = join(dir, `out.${compress}`);
    const r = await writeCompressed(from(tapped()), dest, compress, 1);
    expect(r.sha256).toBe(createHash('sha256').update(await readFile(dest)).digest('hex'));
    const back = await run('sh', ['-c', `${DECOMPRESS[compress]} ${dest} | sha256sum`]);
    expect(back.stdout.split(' ')[0]).toBe(input.digest('hex'));
  });

  it('names the missing tool and leaves no partial file when the compressor is not installed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-compress-'));
    process.env.PATH = dir;
    const err = await writeCompressed(from(source()), join(dir, 'out.tar.xz'), 'xz').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect(err).toMatchObject({ tool: 'xz', debianPackage: 'xz-utils', exitCode: 73, message: 'xz is not installed; install it (apt-get install xz-utils) or choose gzip' });
    expect(await readdir(dir)).toEqual([]);
  });

  it('reports a failing source and leaves no partial file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-compress-'));
    async function* broken(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(1 << 20);
      throw new Error('disk went away');
    }
    for (const c of ['gzip', 'zstd'] as const) await expect(writeCompressed(from(broken()), join(dir, `out.${c}`), c)).rejects.toThrow('disk went away');
    expect(await readdir(dir)).toEqual([]);
  });

  it.each(['gzip', 'zstd'] as const)('lets the writer fill a chunk again as soon as its write called back (%s)', async (compress) => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-compress-'));
    const expected = createHash('sha256');
    // one buffer, written 40 times with other bytes each time (as packDirectory reuses its few buffers)
    const reused = Buffer.alloc(1 << 20);
    const write = async (out: Writable) => {
      for (let i = 0; i < 40; i++) {
        reused.fill(i);
        expected.update(reused);
        await new Promise<void>((resolve, reject) => out.write(reused, (err) => (err ? reject(err) : resolve())));
      }
    };
    const dest = join(dir, `out.${compress}`);
    await writeCompressed(write, dest, compress, 1);
    const back = await run('sh', ['-c', `${DECOMPRESS[compress]} ${dest} | sha256sum`]);
    expect(back.stdout.split(' ')[0]).toBe(expected.digest('hex'));
  });
});
