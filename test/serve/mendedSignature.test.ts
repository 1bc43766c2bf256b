import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHash } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ferry, run } from '../helpers/cli.js';
import { serveOneImageRelease, type ServedImageRelease } from '../helpers/oneImageRelease.js';

const haveTools = (await run('sh', ['-c', 'command -v umoci'])).code === 0;

/**
 * manifest.json.asc is the one file of a bundle folder that changes: importing the bundle again replaces a
 * damaged stored signature with the bundle's verified one. ferry serve hashed the signature it found when it
 * first read the bundle and kept serving those bytes from memory (or, once they left it, answered 500 for the
 * new file, whose sha256 was not the one it had taken) until it was restarted. It now notices the file was
 * replaced, at its once-a-second look at the bundle, and serves the mended signature.
 */
describe.skipIf(!haveTools)('ferry serve after ferry import mends a damaged stored signature', () => {
  let t: ServedImageRelease;
  beforeAll(async () => {
    t = await serveOneImageRelease('ferry-mended-signature', { name: 'app', version: '1.0.0', ref: 'registry.example/team/app:1', files: { 'etc/app.conf': 'app\n' } });
  });
  afterAll(() => t?.stop());

  it('serves the verified signature once the import has replaced the damaged one', async () => {
    const { store, digest, bundle, keyring, serve } = t;
    const file = join(store, 'bundles', digest, 'manifest.json.asc');
    const good = await readFile(file);
    // damaged on disk before ferry serve first reads this bundle
    await chmod(file, 0o644);
    await writeFile(file, 'not a signature\n');
    const url = `${serve.url}/bundles/${digest}/manifest.json.asc`;
    for (const path of [url, `${serve.url}/releases/app/1.0.0/manifest.json.asc`]) {
      const damaged = await fetch(path);
      expect(damaged.status).toBe(200);
      expect(await damaged.text()).toBe('not a signature\n');
    }

    const mended = await ferry(['import', bundle, '--keyring', keyring, '--store', store]);
    expect(mended.code, mended.stderr).toBe(0);
    expect(mended.stderr).toMatch(/replaced by this bundle's verified signature/);
    expect(await readFile(file)).toEqual(good);

    // what ferry serve answers follows within its once-a-second look at the bundle
    await vi.waitFor(
      async () => {
        for (const path of [url, `${serve.url}/releases/app/1.0.0/manifest.json.asc`]) {
          const r = await fetch(path);
          expect(r.status).toBe(200);
          expect(Buffer.from(await r.arrayBuffer())).toEqual(good);
          expect(r.headers.get('etag')).toBe(`"${createHash('sha256').update(good).digest('hex')}"`);
        }
      },
      { timeout: 20_000, interval: 100 },
    );
  }, 60_000);
});
