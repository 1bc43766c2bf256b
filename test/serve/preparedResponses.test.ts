import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { curl, type CurlResponse } from './curl.js';
import { makeStore, sampleBundleFiles, type StoredBundle, type TestStore } from './makeStore.js';
import { startServer, type TestServer } from './startServer.js';
import { isPlainRequest, PreparedResponses, type PreparedResponse } from '../../src/serve/preparedResponses.js';
import type { IncomingMessage } from 'node:http';
import { until } from '../helpers/until.js';

/** Every header but Date (a second may pass between two answers). */
const headersOf = (r: CurlResponse) => Object.fromEntries(Object.entries(r.headers).filter(([k]) => k !== 'date'));

describe('ferry serve answers a repeated small-file request from its prepared answer, with nothing else changed', () => {
  let t: TestStore;
  let bundle: StoredBundle;
  let server: TestServer;
  // larger than what the loopback's socket buffers hold, so a download whose client reads nothing stays in flight
  const large = randomBytes(32 * 1024 * 1024);

  beforeAll(async () => {
    t = await makeStore();
    bundle = await t.addBundle('openstack', '2026.11.0', sampleBundleFiles({ 'rootfs/large.tar.gz': large }));
    server = await startServer(t.store);
  });
  afterAll(async () => {
    await server.close(1000);
    await t.cleanup();
  });

  const inRelease = () => bundle.files.get('apt/dists/bookworm/InRelease')!;

  it('answers GET and HEAD again with the same status, headers and bytes, by digest, by name and by hash, and logs each', async () => {
    const f = inRelease();
    const urls = [`/bundles/${bundle.digest}/${f.path}`, `/releases/openstack/2026.11.0/${f.path}`, `/blobs/sha256/${f.sha256}`];
    for (const path of urls) {
      const logged = server.accessLog.length;
      const first = await curl(`${server.url}${path}`);
      const again = [await curl(`${server.url}${path}`), await curl(`${server.url}${path}`)];
      const head = await curl('-I', `${server.url}${path}`);
      expect(first.status).toBe(200);
      expect(first.body.equals(f.content)).toBe(true);
      for (const r of again) {
        expect(r.status).toBe(200);
        expect(r.body.equals(f.content)).toBe(true);
        expect(headersOf(r)).toEqual(headersOf(first));
      }
      expect(head.status).toBe(200);
      expect(head.body.length).toBe(0);
      expect(headersOf(head)).toEqual(headersOf(first));
      // a line is written when the server sees its response complete, a moment after the client does
      await until('the access log lines', () => server.accessLog.length >= logged + 4, 10);
      const lines = server.accessLog.slice(logged);
      expect(lines.map((l) => [l.method, l.target, l.status, l.bytes])).toEqual([
        ['GET', path, 200, f.content.length],
        ['GET', path, 200, f.content.length],
        ['GET', path, 200, f.content.length],
        ['HEAD', path, 200, 0],
      ]);
      const named = path.startsWith('/releases/');
      expect(lines.map((l) => l.bundle)).toEqual(Array(4).fill(named ? bundle.digest : undefined));
      expect(first.headers['x-ferry-bundle']).toBe(named ? bundle.digest : undefined);
    }
  });

  it('still answers conditions and ranges on a URL answered before: 304, 412 and 206', async () => {
    const f = inRelease();
    const url = `${server.url}/releases/openstack/2026.11.0/${f.path}`;
    await curl(url);
    await curl(url);
    expect((await curl('-H', `If-None-Match: "${f.sha256}"`, url)).status).toBe(304);
    expect((await curl('-H', 'if-match: "0000"', url)).status).toBe(412);
    const part = await curl('-r', '2-5', url);
    expect(part.status).toBe(206);
    expect(part.body.equals(f.content.subarray(2, 6))).toBe(true);
    expect((await curl(url)).status).toBe(200);
  });

  it('answers a query string the same way as the URL without it', async () => {
    const f = inRelease();
    const url = `${server.url}/bundles/${bundle.digest}/${f.path}`;
    await curl(url);
    const r = await curl(`${url}?x=1`);
    expect(r.status).toBe(200);
    expect(r.body.equals(f.content)).toBe(true);
  });

  it('tells a keep-alive client to let go while shutting down, on a URL answered before', async () => {
    const f = inRelease();
    const small = `/bundles/${bundle.digest}/${f.path}`;
    await curl(`${server.url}${small}`);
    await curl(`${server.url}${small}`);
    const port = Number(new URL(server.url).port);
    // the large download holds the connection (its client reads nothing yet) while the server starts closing
    const socket = connect(port, '127.0.0.1');
    const request = (path: string) => `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`;
    socket.write(request(`/bundles/${bundle.digest}/rootfs/large.tar.gz`));
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve) =>
      socket.once('data', (c: Buffer) => {
        socket.pause();
        chunks.push(c);
        resolve();
      }),
    );
    const closed = server.close(20_000);
    // then the next request on that connection
    socket.write(request(small));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.resume();
    await new Promise((r) => socket.once('close', r));
    await closed;
    const all = Buffer.concat(chunks);
    const secondHead = all.indexOf('HTTP/1.1', large.length);
    expect(secondHead).toBeGreaterThan(0);
    const head = all.subarray(secondHead, all.indexOf('\r\n\r\n', secondHead)).toString('latin1');
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    expect(head.toLowerCase()).toContain('connection: close');
    expect(all.subarray(all.length - f.content.length).equals(f.content)).toBe(true);
    server = await startServer(t.store);
  });
});

describe('a prepared answer gives its bytes back with the cache', () => {
  it('reads and checks a file again once the cache has let it go, answering 500 for bytes that changed since', async () => {
    const t = await makeStore();
    const files = { 'files/a/one.conf': 'one '.repeat(250), 'files/a/two.conf': 'two '.repeat(250) };
    const bundle = await t.addBundle('small', '1', files);
    // room for one of the two files only
    const server = await startServer(t.store, { cacheBytes: 1500 });
    try {
      const one = `${server.url}/bundles/${bundle.digest}/files/a/one.conf`;
      expect((await curl(one)).status).toBe(200);
      expect((await curl(one)).status).toBe(200);
      expect((await curl(`${server.url}/bundles/${bundle.digest}/files/a/two.conf`)).status).toBe(200);
      const file = join(t.store, 'bundles', bundle.digest, 'files/a/one.conf');
      await chmod(file, 0o644);
      await writeFile(file, 'ONE '.repeat(250));
      expect((await curl(one)).status).toBe(500);
      expect(server.warnings.at(-1)).toContain(`${file} has sha256 `);
    } finally {
      await server.close(1000);
      await t.cleanup();
    }
  });
});

describe('PreparedResponses', () => {
  const answer = (over: Partial<PreparedResponse> = {}): PreparedResponse => ({ sha256: 'a'.repeat(64), headers: [], expires: 2000, generation: 1, ...over });

  it('gives an answer back only under the same refs generation and before it expires', () => {
    const p = new PreparedResponses();
    p.set('/x', answer());
    expect(p.get('/x', 1, 1999)).toBeDefined();
    expect(p.get('/x', 2, 1000)).toBeUndefined();
    // dropped for good once found stale
    expect(p.get('/x', 1, 1000)).toBeUndefined();
    p.set('/y', answer());
    expect(p.get('/y', 1, 2000)).toBeUndefined();
  });

  it('keeps no target with a query and none longer than 1024 characters', () => {
    const p = new PreparedResponses();
    p.set('/x?a=1', answer());
    p.set(`/${'x'.repeat(1024)}`, answer());
    expect(p.get('/x?a=1', 1, 0)).toBeUndefined();
    expect(p.get(`/${'x'.repeat(1024)}`, 1, 0)).toBeUndefined();
  });

  it('remembers at most 4096 targets, forgetting the oldest first', () => {
    const p = new PreparedResponses();
    for (let i = 0; i <= 4096; i++) p.set(`/f${i}`, answer());
    expect(p.get('/f0', 1, 0)).toBeUndefined();
    expect(p.get('/f1', 1, 0)).toBeDefined();
    expect(p.get('/f4096', 1, 0)).toBeDefined();
  });
});

describe('isPlainRequest', () => {
  const req = (...rawHeaders: string[]) => ({ rawHeaders }) as unknown as IncomingMessage;
  it('takes a request without conditions or range, whatever else it carries', () => {
    expect(isPlainRequest(req('Host', 'x', 'User-Agent', 'apt', 'Accept', '*/*', 'Iffy', '1', 'Ranges', 'no'))).toBe(true);
  });
  it.each(['If-None-Match', 'if-modified-since', 'IF-MATCH', 'If-Unmodified-Since', 'If-Range', 'Range', 'RANGE'])('refuses one with %s', (name) => {
    expect(isPlainRequest(req('Host', 'x', name, 'v'))).toBe(false);
  });
});
