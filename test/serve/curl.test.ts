import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { curl } from './curl.js';
import { makeStore, sampleBundleFiles, type StoredBundle, type TestStore } from './makeStore.js';
import { startServer, type TestServer } from './startServer.js';
import { until } from '../helpers/until.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe.each([
  ['with small files served from memory', undefined],
  ['with every file read from disk (--cache 0)', 0],
])('ferry serve answers curl like a static file server, %s', (_label, cacheBytes) => {
  let t: TestStore;
  let bundle: StoredBundle;
  let server: TestServer;
  let base: string;
  const file = (p: string) => bundle.files.get(p)!;

  beforeAll(async () => {
    t = await makeStore();
    bundle = await t.addBundle('openstack', '2026.11.0', sampleBundleFiles());
    server = await startServer(t.store, { cacheBytes });
    base = `${server.url}/bundles/${bundle.digest}`;
  });
  afterAll(async () => {
    await server.close(1000);
    await t.cleanup();
  });

  it('serves a file by digest with its sha256 as ETag, length, type and an immutable cache policy', async () => {
    const f = file('apt/dists/bookworm/InRelease');
    const r = await curl(`${base}/apt/dists/bookworm/InRelease`);
    expect(r.status).toBe(200);
    expect(r.body.equals(f.content)).toBe(true);
    expect(r.headers.etag).toBe(`"${f.sha256}"`);
    expect(r.headers['content-length']).toBe(String(f.content.length));
    expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(r.headers['accept-ranges']).toBe('bytes');
    expect(r.headers['cache-control']).toContain('immutable');
    expect(r.headers['last-modified']).toMatch(/GMT$/);
  });

  it.each([
    ['apt/pool/main/h/hello/hello_2.10-3_amd64.deb', 'application/vnd.debian.binary-package'],
    ['apt/dists/bookworm/main/binary-amd64/Packages.gz', 'application/gzip'],
    ['apt/dists/bookworm/main/binary-amd64/Packages', 'text/plain; charset=utf-8'],
    ['apt/dists/bookworm/Release', 'text/plain; charset=utf-8'],
    ['apt/dists/bookworm/Release.gpg', 'application/pgp-signature'],
    ['python/files/demo-1.0-py3-none-any.whl', 'application/zip'],
    ['python/simple/demo/index.html', 'text/html; charset=utf-8'],
    ['keys/bundle.asc', 'application/pgp-keys'],
    ['manifest.json.asc', 'application/pgp-signature'],
    ['manifest.json', 'application/json'],
    ['rootfs/base.tar.gz', 'application/gzip'],
    ['git/app.bundle', 'application/octet-stream'],
  ])('serves %s as %s', async (path, type) => {
    const r = await curl(`${base}/${path}`);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe(type);
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(sha256(r.body)).toBe(file(path).sha256);
  });

  it('uses the bundle digest as the ETag of manifest.json', async () => {
    const r = await curl(`${base}/manifest.json`);
    expect(r.headers.etag).toBe(`"${bundle.digest}"`);
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const f = file('apt/pool/main/h/hello/hello_2.10-3_amd64.deb');
    const r = await curl('-I', `${base}/${f.path}`);
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe(String(f.content.length));
    expect(r.headers.etag).toBe(`"${f.sha256}"`);
    expect(r.body.length).toBe(0);
  });

  it('answers a single range with 206 and Content-Range', async () => {
    const f = file('apt/pool/main/h/hello/hello_2.10-3_amd64.deb');
    const r = await curl('-r', '100-1099', `${base}/${f.path}`);
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes 100-1099/${f.content.length}`);
    expect(r.headers['content-length']).toBe('1000');
    expect(r.body.equals(f.content.subarray(100, 1100))).toBe(true);
  });

  it('answers open-ended and suffix ranges', async () => {
    const f = file('apt/pool/main/h/hello/hello_2.10-3_amd64.deb');
    const open = await curl('-r', '69000-', `${base}/${f.path}`);
    expect(open.status).toBe(206);
    expect(open.body.equals(f.content.subarray(69000))).toBe(true);
    const suffix = await curl('-r', '-10', `${base}/${f.path}`);
    expect(suffix.status).toBe(206);
    expect(suffix.headers['content-range']).toBe(`bytes ${f.content.length - 10}-${f.content.length - 1}/${f.content.length}`);
    expect(suffix.body.equals(f.content.subarray(-10))).toBe(true);
  });

  it('resumes an interrupted download with curl -C', async () => {
    const { mkdtemp, writeFile, readFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const f = file('apt/pool/main/h/hello/hello_2.10-3_amd64.deb');
    const out = join(await mkdtemp(join(tmpdir(), 'ferry-curl-')), 'part.deb');
    await writeFile(out, f.content.subarray(0, 12345));
    const r = await curl('-C', '-', '-o', out, `${base}/${f.path}`);
    expect(r.status).toBe(206);
    expect(sha256(await readFile(out))).toBe(f.sha256);
  });

  it('answers 416 with the size for a range past the end', async () => {
    const f = file('python/files/demo-1.0-py3-none-any.whl');
    const r = await curl('-r', `${f.content.length}-`, `${base}/${f.path}`);
    expect(r.status).toBe(416);
    expect(r.headers['content-range']).toBe(`bytes */${f.content.length}`);
  });

  it('serves the whole file when several ranges are asked for', async () => {
    const f = file('python/files/demo-1.0-py3-none-any.whl');
    const r = await curl('-r', '0-1,5-6', `${base}/${f.path}`);
    expect(r.status).toBe(200);
    expect(r.body.equals(f.content)).toBe(true);
  });

  it.each([
    ['an end past 2^53', 'bytes=0-99999999999999999999999'],
    ['a start past 2^53', 'bytes=99999999999999999999-'],
    ['a suffix past 2^53', 'bytes=-99999999999999999999'],
    ['a start after its end', 'bytes=5-2'],
    ['hex numbers', 'bytes=0x10-0x20'],
    ['another unit', 'items=0-5'],
  ])('serves the whole file for a Range it cannot use: %s', async (_label, range) => {
    const f = file('python/files/demo-1.0-py3-none-any.whl');
    const r = await curl('-H', `Range: ${range}`, `${base}/${f.path}`);
    expect(r.status).toBe(200);
    expect(r.body.equals(f.content)).toBe(true);
  });

  it('answers 304 to If-None-Match with the current ETag, and 200 to a stale one', async () => {
    const f = file('python/simple/demo/index.html');
    const hit = await curl('-H', `If-None-Match: "${f.sha256}"`, `${base}/${f.path}`);
    expect(hit.status).toBe(304);
    expect(hit.body.length).toBe(0);
    expect(hit.headers.etag).toBe(`"${f.sha256}"`);
    const list = await curl('-H', `If-None-Match: "0000", W/"${f.sha256}"`, `${base}/${f.path}`);
    expect(list.status).toBe(304);
    const miss = await curl('-H', `If-None-Match: "${'0'.repeat(64)}"`, `${base}/${f.path}`);
    expect(miss.status).toBe(200);
    expect(miss.body.equals(f.content)).toBe(true);
  });

  it('answers 304 to If-Modified-Since at or after Last-Modified', async () => {
    const f = file('apt/dists/bookworm/Release');
    const first = await curl(`${base}/${f.path}`);
    const r = await curl('-H', `If-Modified-Since: ${first.headers['last-modified']}`, `${base}/${f.path}`);
    expect(r.status).toBe(304);
  });

  it('honours Range under If-Range only while the ETag still matches', async () => {
    const f = file('apt/pool/main/h/hello/hello_2.10-3_amd64.deb');
    const same = await curl('-r', '0-9', '-H', `If-Range: "${f.sha256}"`, `${base}/${f.path}`);
    expect(same.status).toBe(206);
    expect(same.body.equals(f.content.subarray(0, 10))).toBe(true);
    const changed = await curl('-r', '0-9', '-H', `If-Range: "${'f'.repeat(64)}"`, `${base}/${f.path}`);
    expect(changed.status).toBe(200);
    expect(changed.body.equals(f.content)).toBe(true);
  });

  it('answers 412 when If-Match does not match', async () => {
    const f = file('apt/dists/bookworm/Release');
    expect((await curl('-H', `If-Match: "${'1'.repeat(64)}"`, `${base}/${f.path}`)).status).toBe(412);
    expect((await curl('-H', `If-Match: "${f.sha256}"`, `${base}/${f.path}`)).status).toBe(200);
  });

  it('serves PEP 503 folders through index.html and redirects a folder without its slash', async () => {
    const root = await curl(`${base}/python/simple/`);
    expect(root.status).toBe(200);
    expect(root.body.equals(file('python/simple/index.html').content)).toBe(true);
    const project = await curl(`${base}/python/simple/demo/`);
    expect(project.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(project.body.equals(file('python/simple/demo/index.html').content)).toBe(true);
    const bare = await curl(`${base}/python/simple/demo`);
    expect(bare.status).toBe(301);
    expect(bare.headers.location).toBe(`/bundles/${bundle.digest}/python/simple/demo/`);
  });

  it('serves a release by name and version, revalidated, naming its bundle', async () => {
    const f = file('apt/dists/bookworm/InRelease');
    const r = await curl(`${server.url}/releases/openstack/2026.11.0/${f.path}`);
    expect(r.status).toBe(200);
    expect(r.body.equals(f.content)).toBe(true);
    expect(r.headers.etag).toBe(`"${f.sha256}"`);
    expect(r.headers['cache-control']).toBe('no-cache');
    expect(r.headers['x-ferry-bundle']).toBe(bundle.digest);
    const again = await curl('-H', `If-None-Match: ${r.headers.etag}`, `${server.url}/releases/openstack/2026.11.0/${f.path}`);
    expect(again.status).toBe(304);
  });

  it('lists releases as JSON at /releases/', async () => {
    const r = await curl(`${server.url}/releases/`);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(JSON.parse(r.body.toString())).toEqual({
      releases: [{ name: 'openstack', version: '2026.11.0', digest: bundle.digest, url: '/releases/openstack/2026.11.0/', bundle_url: `/bundles/${bundle.digest}/` }],
    });
    expect((await curl(`${server.url}/releases`)).headers.location).toBe('/releases/');
  });

  it('serves a newly imported release, and a re-pointed one, without a restart', async () => {
    const path = 'files/web/app.conf.j2';
    expect((await curl(`${server.url}/releases/openstack/2026.12.0/${path}`)).status).toBe(404);
    const next = await t.addBundle('openstack', '2026.12.0', sampleBundleFiles({ [path]: 'listen {{ port }} ssl\n' }));
    const fresh = await curl(`${server.url}/releases/openstack/2026.12.0/${path}`);
    expect(fresh.status).toBe(200);
    expect(fresh.body.toString()).toBe('listen {{ port }} ssl\n');
    // warm the cached answer for 2026.11.0, then re-point it as a re-import would
    expect((await curl(`${server.url}/releases/openstack/2026.11.0/${path}`)).headers['x-ferry-bundle']).toBe(bundle.digest);
    await t.setRef('openstack', '2026.11.0', next.digest);
    // the name's answer is trusted for at most a second of the server's clock: wait for it to move, however long the machine takes
    const seen = new Set<string>();
    await until('the re-pointed name to be served', async () => {
      const r = await curl(`${server.url}/releases/openstack/2026.11.0/${path}`);
      seen.add(`${r.status} ${r.headers['x-ferry-bundle']}`);
      return r.headers['x-ferry-bundle'] === next.digest;
    }, 20);
    // on the way: the old bundle or the new one, never an error
    expect([...seen].filter((x) => x !== `200 ${bundle.digest}` && x !== `200 ${next.digest}`)).toEqual([]);
    await t.setRef('openstack', '2026.11.0', bundle.digest);
  });

  it('serves an artifact by its hash under /blobs/sha256/', async () => {
    const f = file('rootfs/base.tar.gz');
    const r = await curl(`${server.url}/blobs/sha256/${f.sha256}`);
    expect(r.status).toBe(200);
    expect(r.headers.etag).toBe(`"${f.sha256}"`);
    expect(r.body.equals(f.content)).toBe(true);
    expect((await curl(`${server.url}/blobs/sha256/${'a'.repeat(64)}`)).status).toBe(404);
  });

  it('answers /healthz', async () => {
    const r = await curl(`${server.url}/healthz`);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body.toString())).toEqual({ status: 'ok' });
  });

  it('refuses methods other than GET and HEAD', async () => {
    const r = await curl('-X', 'POST', '-d', 'x', `${base}/manifest.json`);
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('GET, HEAD');
  });

  it('writes one access-log line per request, with status, bytes and range', async () => {
    const f = file('apt/pool/main/h/hello/hello_2.10-3_amd64.deb');
    const target = `/bundles/${bundle.digest}/${f.path}`;
    const before = server.accessLog.length;
    await curl('-r', '0-99', '-A', 'apt-test/1.0', `${server.url}${target}`);
    await curl(`${server.url}/bundles/${bundle.digest}/no/such/file`);
    const [ranged, missing] = server.accessLog.slice(before);
    expect(server.accessLog.length - before).toBe(2);
    expect(ranged).toMatchObject({ method: 'GET', target, status: 206, bytes: 100, range: 'bytes=0-99', ua: 'apt-test/1.0', remote: '127.0.0.1' });
    expect(missing).toMatchObject({ status: 404, reason: 'not in the bundle manifest' });
  });
});
