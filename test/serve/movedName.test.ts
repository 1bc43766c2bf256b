import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lstat, mkdir, rename, stat, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { curl } from './curl.js';
import { makeStore, type StoredBundle, type TestStore } from './makeStore.js';
import { startServer, type TestServer } from './startServer.js';
import { until } from '../helpers/until.js';

/** Whole seconds of an HTTP date, or of a file time. */
const seconds = (d: string | Date) => Math.floor((typeof d === 'string' ? Date.parse(d) : d.getTime()) / 1000);

/**
 * A release name or /mirrors/NAME/ moved to a bundle whose file is older than the one it served: Last-Modified
 * was the file's time alone, so it went back, and a client that sends only If-Modified-Since (apt does) was
 * answered 304 and kept the content of before.
 */
describe('ferry serve: a name moved to an older file is never answered 304 with the content of before', () => {
  let t: TestStore;
  let older: StoredBundle;
  let newer: StoredBundle;
  let server: TestServer;

  beforeAll(async () => {
    t = await makeStore();
    older = await t.addBundle('app', '1', { 'files/conf': 'old\n', 'mirrors/deb/Release': 'old release\n' });
    newer = await t.addBundle('app', '2', { 'files/conf': 'new\n', 'mirrors/deb/Release': 'new release\n' });
    // the older bundle's files from 2020, the newer's from 2021 (what two imports a year apart leave)
    for (const [b, year] of [[older, 2020], [newer, 2021]] as const) {
      for (const path of ['files/conf', 'mirrors/deb/Release']) await utimes(join(t.store, 'bundles', b.digest, path), new Date(`${year}-01-01T00:00:00Z`), new Date(`${year}-01-01T00:00:00Z`));
    }
    const mirrors = join(t.store, 'mirrors');
    await mkdir(mirrors, { recursive: true });
    await symlink(`../bundles/${older.digest}/mirrors/deb`, join(mirrors, 'deb@1'));
    await symlink(`../bundles/${newer.digest}/mirrors/deb`, join(mirrors, 'deb@2'));
    await symlink('deb@2', join(mirrors, 'deb'));
    await t.setRef('moving', '1', newer.digest);
    server = await startServer(t.store);
  });
  afterAll(async () => {
    await server.close(1000);
    await t.cleanup();
  });

  /**
   * GET `url` with If-Modified-Since `since` until the answer comes from `digest` (the server reads a moved name
   * within a second); `moved` must hold first, so that the move is in a later second than `since` (HTTP dates
   * have whole seconds): `move` is repeated until it does.
   */
  async function afterMove(url: string, since: string, move: () => Promise<void>, changedAt: () => Promise<Date>, digest: string) {
    await move();
    await until('the move in a later second than Last-Modified', async () => {
      if (seconds(await changedAt()) > seconds(since)) return true;
      await move();
      return false;
    }, 50);
    let r = await curl('-H', `If-Modified-Since: ${since}`, url);
    await until('the moved name served', async () => {
      r = await curl('-H', `If-Modified-Since: ${since}`, url);
      return r.headers['x-ferry-bundle'] === digest;
    });
    return r;
  }

  it('a release name re-pointed to an older bundle: 200 with its content, Last-Modified not before the move', async () => {
    const url = `${server.url}/releases/moving/1/files/conf`;
    const first = await curl(url);
    expect([first.status, first.body.toString()]).toEqual([200, 'new\n']);
    const since = first.headers['last-modified']!;
    const ref = join(t.store, 'refs', 'moving', '1');
    const r = await afterMove(url, since, () => t.setRef('moving', '1', older.digest), async () => (await stat(ref)).ctime, older.digest);
    expect([r.status, r.body.toString()]).toEqual([200, 'old\n']);
    expect(seconds(r.headers['last-modified']!)).toBeGreaterThan(seconds(since));
    // and now that the client has it, its date answers 304 again
    expect((await curl('-H', `If-Modified-Since: ${r.headers['last-modified']}`, url)).status).toBe(304);
  });

  it('/mirrors/NAME/ switched to an older snapshot: 200 with its content', async () => {
    const url = `${server.url}/mirrors/deb/Release`;
    const first = await curl(url);
    expect([first.status, first.body.toString()]).toEqual([200, 'new release\n']);
    const since = first.headers['last-modified']!;
    const link = join(t.store, 'mirrors', 'deb');
    // as ferry mirror switch does: a new link renamed over the old one
    const sw = async () => {
      await symlink('deb@1', `${link}.tmp`);
      await rename(`${link}.tmp`, link);
    };
    const r = await afterMove(url, since, sw, async () => (await lstat(link)).ctime, older.digest);
    expect([r.status, r.body.toString()]).toEqual([200, 'old release\n']);
  });
});
