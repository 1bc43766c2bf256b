import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ferry, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { buildAndImport, writeSpec } from './helpers.js';

/**
 * GNU tar stops reading at the end-of-archive marker: what follows it (the padding of a tarball written
 * with a large blocking factor, `tar -b 2048` pads to 1 MiB records) is never read. `ferry extract` fed
 * the file into tar and took the broken pipe for a failure: "internal error: write EPIPE" (exit 74) when
 * the rest passed the pipe's buffer, and, by a race, "Premature close" on small tarballs too. The rest is
 * now hashed apart, so the file's sha256 is still checked whole.
 */
describe('a rootfs tarball with bytes after its end-of-archive marker', () => {
  let dir: string;
  let key: Awaited<ReturnType<typeof writeKey>>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-rootfs-padded-'));
    key = await writeKey(dir, 'team');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('extract unpacks it (exit 0), as tar -x of the file does', async () => {
    const tree = join(dir, 'tree');
    await mkdir(join(tree, 'etc'), { recursive: true });
    await writeFile(join(tree, 'etc', 'motd'), 'padded\n');
    // 4 MiB records: the end marker comes in the first, almost all of the file is padding
    expect((await run('tar', ['-b', '8192', '-cf', join(dir, 'padded.tar'), '-C', tree, '.'])).code).toBe(0);
    const tarball = await readFile(join(dir, 'padded.tar'));
    expect(tarball.length).toBe(4 << 20);
    const spec = await writeSpec(dir, `rootfs:\n  padded: { tarball: { src: padded.tar, sha256: ${createHash('sha256').update(tarball).digest('hex')} } }\n`, 'padded');
    const store = join(dir, 'store');
    await buildAndImport({ spec, key, out: join(dir, 'out'), cache: join(dir, 'cache'), store });
    const to = join(dir, 'to');
    const r = await ferry(['extract', 'padded/1.0.0', 'rootfs/padded', '--store', store, '--to', to]);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(join(to, 'etc', 'motd'), 'utf8')).toBe('padded\n');
    expect((await readdir(dir)).filter((n) => n.startsWith('to') && n !== 'to')).toEqual([]);
  });
});
