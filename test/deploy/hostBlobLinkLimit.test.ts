import { link, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { sha256Hex } from '../../src/util/sha256.js';
import { writeRelease } from './storeFixture.js';

/**
 * On a host, a release's tree is made of hard links to DATA/blobs/sha256/HEX, and a file system holds only so
 * many names of one inode (ext4: 65,000). Once a release of 65,000 entries of one content (a careless or hostile
 * signer of any release name) had used them all, `ln` failed for every later release holding that content: the
 * tree lacked the file (the check went on as if it were there) and its steps failed. Such an entry is now a copy.
 */
describe('a blob on a host that has as many names as its file system allows', () => {
  let dir: string;
  let max: number | undefined;
  const content = 'a content another release linked 65,000 times\n';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-host-link-limit-'));
    // the host's blob, with every name its inode may have (what such a release leaves on the host)
    const blobs = join(dir, 'host/var/lib/ferry/blobs/sha256');
    await mkdir(blobs, { recursive: true });
    const blob = join(blobs, sha256Hex(content));
    await writeFile(blob, content, { mode: 0o644 });
    const others = join(dir, 'host/var/lib/ferry/bundles/flood');
    await mkdir(others, { recursive: true });
    for (let n = 1; n <= 70_000; n++) {
      try {
        await link(blob, join(others, `f${n}`));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EMLINK') throw err;
        max = n;
        break;
      }
    }
  }, 120_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('a later release holding that content is staged and deployed, its entry a copy', async (ctx) => {
    if (max === undefined) ctx.skip();
    const inventory = join(dir, 'inventory.yaml');
    await writeFile(inventory, stringify({ groups: { web: { hosts: ['runner'] } }, hosts: { runner: { transport: 'local', vars: { root: join(dir, 'host'), ferry_data_dir: '{{ root }}/var/lib/ferry', ferry_ansible_facts_dir: '' } } } }));
    const store = join(dir, 'store');
    writeRelease(store, { name: 'app', version: '1', services: { web: { version: '1.0.0', groups: ['web'], files: { 'shared.txt': content }, configure: [{ file: { src: 'shared.txt', dest: '{{ root }}/srv/shared.txt' } }] } } });
    const r = await ferry(['deploy', 'app@1', '--allow-local', '-i', inventory, '--store', store, '--push']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(await readFile(join(dir, 'host/srv/shared.txt'), 'utf8')).toBe(content);
  });
});
