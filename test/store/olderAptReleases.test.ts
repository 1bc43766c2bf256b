import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { olderAptReleases } from '../../src/store/olderAptReleases.js';

describe('olderAptReleases: which suites a mirror switch dates back', () => {
  let dir: string;
  const release = async (snapshot: string, suite: string, date: string) => {
    await mkdir(join(dir, snapshot, 'debian/dists', suite), { recursive: true });
    await writeFile(join(dir, snapshot, 'debian/dists', suite, 'Release'), `Origin: Debian\nSuite: ${suite}\nDate: ${date}\n`);
  };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-older-${process.pid}-`));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('names a suite whose Release is older in the snapshot switched to, not one that is newer', async () => {
    await release('a', 'bookworm', 'Sat, 10 Jun 2023 08:00:00 UTC');
    await release('b', 'bookworm', 'Sat, 03 Jun 2023 08:00:00 UTC');
    await release('a', 'bookworm-updates', 'Sat, 03 Jun 2023 08:00:00 UTC');
    await release('b', 'bookworm-updates', 'Sat, 10 Jun 2023 08:00:00 UTC');
    expect(await olderAptReleases(join(dir, 'a'), join(dir, 'b'))).toEqual([{ suite: 'bookworm', from: '2023-06-10T08:00:00.000Z', to: '2023-06-03T08:00:00.000Z' }]);
  });

  it('does not wait on a FIFO in place of a Release, nor read a sparse Release of gigabytes: such a suite counts as unreadable', async () => {
    await release('c', 'fifo', 'Sat, 10 Jun 2023 08:00:00 UTC');
    await mkdir(join(dir, 'd/debian/dists/fifo'), { recursive: true });
    expect(spawnSync('mkfifo', [join(dir, 'd/debian/dists/fifo/Release')]).status).toBe(0);
    await release('c', 'sparse', 'Sat, 10 Jun 2023 08:00:00 UTC');
    await release('d', 'sparse', 'Sat, 03 Jun 2023 08:00:00 UTC');
    await truncate(join(dir, 'd/debian/dists/sparse/Release'), 3 * 2 ** 30);
    await release('c', 'plain', 'Sat, 10 Jun 2023 08:00:00 UTC');
    await release('d', 'plain', 'Sat, 03 Jun 2023 08:00:00 UTC');
    expect(await olderAptReleases(join(dir, 'c'), join(dir, 'd'))).toEqual([{ suite: 'plain', from: '2023-06-10T08:00:00.000Z', to: '2023-06-03T08:00:00.000Z' }]);
  });
});
