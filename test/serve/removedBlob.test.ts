import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { access, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ferry, run } from '../helpers/cli.js';
import { serveOneImageRelease, type ServedImageRelease } from '../helpers/oneImageRelease.js';

const haveTools = (await run('sh', ['-c', 'command -v umoci'])).code === 0;

/**
 * /blobs/sha256/HEX answered a small blob from memory (the verified-file cache, keyed by sha256) without
 * looking at the disk again: once ferry gc had removed it with its release, the worker that had served it
 * went on serving it for as long as it stayed in memory, while /bundles/, /releases/ and /v2/ answered 404
 * within a second. A blob answered by hash is now one still in the store, as the docs say of a removed
 * bundle: within the second a prepared answer lives.
 */
describe.skipIf(!haveTools)('a blob that ferry gc removed, asked for by its hash', () => {
  let t: ServedImageRelease;
  beforeAll(async () => {
    t = await serveOneImageRelease('ferry-removed-blob', { name: 'app', version: '1.0.0', ref: 'registry.example/team/app:1', files: { 'etc/app.conf': 'app\n' } });
  });
  afterAll(() => t?.stop());

  it('answers 404 once the blob is gone from the store', async () => {
    const manifest = t.image.digest.slice('sha256:'.length);
    const url = `${t.serve.url}/blobs/sha256/${manifest}`;
    for (const method of ['GET', 'HEAD']) expect((await fetch(url, { method })).status).toBe(200);
    // the release withdrawn (its ref removed), then collected: its tree and blobs go
    await rm(join(t.store, 'refs', 'app'), { recursive: true });
    const gc = await ferry(['gc', '--keep', '1', '--store', t.store]);
    expect(gc.code, gc.stderr).toBe(0);
    await expect(access(join(t.store, 'blobs', 'sha256', manifest))).rejects.toThrow();
    await vi.waitFor(
      async () => {
        for (const method of ['GET', 'HEAD']) {
          const r = await fetch(url, { method });
          expect([method, r.status]).toEqual([method, 404]);
          expect(r.headers.get('etag')).toBe(null);
        }
      },
      { timeout: 20_000, interval: 100 },
    );
  }, 60_000);
});
