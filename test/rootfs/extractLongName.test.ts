import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ferry, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { buildAndImport, writeSpec } from './helpers.js';

/**
 * A rootfs tarball whose one member has a name of 2 MiB (a GNU long-name header): `ferry extract` reads the
 * listing as it comes, and a listing line that long is refused (68, one line) before anything is unpacked,
 * instead of being kept growing, every chunk joined to it again.
 */
describe('ferry extract of a rootfs with a member name past any file system', () => {
  let dir: string;
  let store: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-extract-long-name-'));
    const tarball = join(dir, 'long.tar.gz');
    const py = `import tarfile, io\nt = tarfile.open(${JSON.stringify(tarball)}, 'w:gz', format=tarfile.GNU_FORMAT)\ni = tarfile.TarInfo('x' * (2 << 20))\ni.size = 1\nt.addfile(i, io.BytesIO(b'x'))\nt.close()\n`;
    const r = await run('python3', ['-c', py]);
    if (r.code !== 0) throw new Error(r.stderr);
    const sum = createHash('sha256').update(await readFile(tarball)).digest('hex');
    const key = await writeKey(dir, 'team');
    const spec = await writeSpec(dir, `rootfs:\n  long: { tarball: { src: long.tar.gz, sha256: ${sum} } }\n`, 'longname');
    store = join(dir, 'store');
    await buildAndImport({ spec, key, out: join(dir, 'out'), cache: join(dir, 'cache'), store });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('refuses it with one line (68) and leaves nothing under --to', async () => {
    const to = join(dir, 'to');
    await mkdir(to);
    const r = await ferry(['extract', 'longname/1.0.0', 'rootfs/long', '--store', store, '--to', join(to, 'long')]);
    expect(r.code, r.stderr).toBe(68);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^ferry: rootfs \S+ lists a member whose entry runs past 1048576 bytes, a name no file system can hold: refused before unpacking anything$/),
    ]);
    expect(await readdir(to)).toEqual([]);
  });
});
