import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FetchError } from '../../src/errors.js';
import { fetchBytes } from '../../src/fetch/fetchBytes.js';
import { fetchToCache } from '../../src/fetch/fetchToCache.js';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';

/**
 * A file: URL names a file of this machine; one that names another host (file://server/srv/debian) or
 * holds an encoded "/" is none, and Node's fileURLToPath throws a TypeError for it, which reached the
 * user as "internal error … This is a bug in ferry" (exit 74). It is a source ferry cannot read: exit 69,
 * one line, and nothing is written.
 */
describe('a file: URL that names no file of this machine', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-file-url-host-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  for (const url of ['file://otherhost/srv/debian/x', 'file:///srv/a%2Fb/x']) {
    it(`the downloader refuses ${url} with a FetchError naming it`, async () => {
      const a = await fetchBytes(url).catch((e: unknown) => e);
      expect(a).toBeInstanceOf(FetchError);
      expect((a as Error).message).toMatch(new RegExp(`^unsupported source "${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}": .*; a file:// URL names a file of this machine`));
      const cache = join(dir, `cache-${url.length}`);
      const b = await fetchToCache({ url }, { cacheDir: cache }).catch((e: unknown) => e);
      expect(b).toBeInstanceOf(FetchError);
    });
  }

  it('ferry lock refuses an apt upstream file://HOST/…: exit 69, one line, no lock written', async () => {
    const key = await writeKey(dir, 'upstream');
    await writeFile(
      join(dir, 'spec.yaml'),
      [
        'name: fh',
        'version: 1.0.0',
        'epoch: 2026-11-25T00:00:00Z',
        'targets: { debian: { suite: bookworm } }',
        `upstreams: { apt: [ { uri: "file://otherhost/srv/debian", keyring: ${key.public} } ] }`,
        'services:',
        '  app: { version: "1", groups: [all], artifacts: { apt: [curl] } }',
        '',
      ].join('\n'),
    );
    const r = await ferry(['lock', join(dir, 'spec.yaml'), '--cache', join(dir, 'cache')]);
    expect(r.code, r.stderr).toBe(69);
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).toMatch(/^ferry: .*unsupported source "file:\/\/otherhost\/srv\/debian.*a file:\/\/ URL names a file of this machine/);
    expect((await readdir(dir)).filter((f) => f.includes('lock'))).toEqual([]);
  });
});
