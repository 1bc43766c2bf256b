import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { ferry, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { multiPlatformImage, umociImage, writeImageBundle, type FixtureImage } from '../helpers/ociImages.js';
import { startServer, type TestServer } from '../serve/startServer.js';

const skopeo = (args: string[]) => run('skopeo', args);
const haveTools = (await run('sh', ['-c', 'command -v skopeo && command -v umoci'])).code === 0;

/**
 * ferry serve answers the read-only OCI Distribution API over the images of the imported releases:
 * the real skopeo inspects and copies from it and gets exactly the pinned digests.
 */
describe.skipIf(!haveTools)('ferry serve as a registry (/v2/), with the real skopeo', () => {
  let dir: string;
  let store: string;
  let server: TestServer;
  let host: string;
  let app: FixtureImage;
  let multi: FixtureImage;
  let multiChildren: string[];
  let newer: FixtureImage;
  let other: FixtureImage;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-registry-'));
    store = join(dir, 'store');
    const team = await writeKey(dir, 'team');
    const key = await openpgp.readPrivateKey({ armoredKey: team.secretArmored });
    const appImage = await umociImage(join(dir, 'app'), 'amd64', { 'etc/app.conf': 'app 1.4\n', 'srv/data': 'x'.repeat(300_000) });
    const m = await multiPlatformImage(join(dir, 'multi'), { 'etc/multi.conf': 'multi\n' });
    multiChildren = m.children;
    const rel1 = join(dir, 'rel1.ferry');
    [app, multi] = await writeImageBundle(rel1, key, [
      { ref: 'registry.example/team/app:1.4', services: ['web'], layout: appImage.layout },
      { ref: 'registry.example/team/multi:2.0', services: ['web'], layout: m.layout },
    ], { name: 'images', version: '1.0.0', epoch: '2026-11-25T00:00:00.000Z' });
    // a newer release tags team/app:1.4 again, as another image; and carries a repository of its own
    const app2 = await umociImage(join(dir, 'app2'), 'amd64', { 'etc/app.conf': 'app 1.4 rebuilt\n' });
    const otherImage = await umociImage(join(dir, 'other'), 'amd64', { 'etc/other.conf': 'other\n', 'srv/random': randomBytes(200_000) });
    const rel2 = join(dir, 'rel2.ferry');
    [newer, other] = await writeImageBundle(rel2, key, [
      { ref: 'registry.example/team/app:1.4', services: ['web'], layout: app2.layout },
      { ref: 'registry.example/other/tool:1', services: ['web'], layout: otherImage.layout },
    ], { name: 'images', version: '2.0.0', epoch: '2026-11-26T00:00:00.000Z' });
    // imported newest first: the tag follows the epoch, not the order of imports
    for (const b of [rel2, rel1]) {
      const r = await ferry(['import', b, '--keyring', team.public, '--store', store]);
      expect(r.code, r.stderr).toBe(0);
    }
    server = await startServer(store);
    host = server.url.replace(/^http:\/\//, '');
  });
  afterAll(async () => {
    await server?.close(0);
    await rm(dir, { recursive: true, force: true });
  });

  const get = (path: string, init: RequestInit = {}) => fetch(`${server.url}${path}`, init);

  it('answers /v2/ with the API version header, and lists repositories and tags', async () => {
    for (const method of ['GET', 'HEAD']) {
      const r = await get('/v2/', { method });
      expect(r.status).toBe(200);
      expect(r.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    }
    expect(await (await get('/v2/_catalog')).json()).toEqual({ repositories: ['other/tool', 'team/app', 'team/multi'] });
    expect(await (await get('/v2/team/app/tags/list')).json()).toEqual({ name: 'team/app', tags: ['1.4'] });
    const inspected = await skopeo(['list-tags', '--tls-verify=false', `docker://${host}/team/multi`]);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(JSON.parse(inspected.stdout).Tags).toEqual(['2.0']);
  });

  it('pages the catalog with n and last, and a Link to the next page', async () => {
    const first = await get('/v2/_catalog?n=2');
    expect(await first.json()).toEqual({ repositories: ['other/tool', 'team/app'] });
    expect(first.headers.get('link')).toBe('</v2/_catalog?n=2&last=team%2Fapp>; rel="next"');
    const second = await get('/v2/_catalog?n=2&last=team%2Fapp');
    expect(await second.json()).toEqual({ repositories: ['team/multi'] });
    expect(second.headers.get('link')).toBeNull();
    expect(await (await get('/v2/team/app/tags/list?n=1&last=1.4')).json()).toEqual({ name: 'team/app', tags: [] });
    expect((await get('/v2/_catalog?n=x')).status).toBe(400);
  });

  it('serves a manifest by tag and by digest with its media type, Docker-Content-Digest and the digest as ETag; HEAD too', async () => {
    for (const ref of ['1.4', newer.digest]) {
      const r = await get(`/v2/team/app/manifests/${ref}`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('application/vnd.oci.image.manifest.v1+json');
      expect(r.headers.get('docker-content-digest')).toBe(newer.digest);
      expect(r.headers.get('etag')).toBe(`"${newer.digest.slice(7)}"`);
      const body = Buffer.from(await r.arrayBuffer());
      expect(body.length).toBe(newer.size);
      const head = await get(`/v2/team/app/manifests/${ref}`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe(String(newer.size));
      expect(head.headers.get('docker-content-digest')).toBe(newer.digest);
    }
    const index = await get(`/v2/team/multi/manifests/2.0`);
    expect(index.headers.get('content-type')).toBe('application/vnd.oci.image.index.v1+json');
    expect(index.headers.get('docker-content-digest')).toBe(multi.digest);
  });

  it('gives a tag carried by two releases to the newest epoch, and keeps the older image reachable by digest', async () => {
    expect(newer.digest).not.toBe(app.digest);
    const byTag = await get('/v2/team/app/manifests/1.4', { method: 'HEAD' });
    expect(byTag.headers.get('docker-content-digest')).toBe(newer.digest);
    const older = await get(`/v2/team/app/manifests/${app.digest}`, { method: 'HEAD' });
    expect(older.status).toBe(200);
    expect(server.warnings.join('\n')).toMatch(/team\/app:1\.4 is carried by images 1\.0\.0 and images 2\.0\.0 at different digests/);
  });

  it('answers skopeo inspect exactly as the upstream layout, and skopeo copy gets exactly the pinned digests', async () => {
    const served = await skopeo(['inspect', '--tls-verify=false', `docker://${host}/team/app@${app.digest}`]);
    expect(served.code, served.stderr).toBe(0);
    const upstream = await skopeo(['inspect', `oci:${app.upstream}:upstream`]);
    expect(upstream.code, upstream.stderr).toBe(0);
    const strip = (s: string) => {
      const { Name: _n, RepoTags: _t, ...rest } = JSON.parse(s);
      return rest;
    };
    expect(strip(served.stdout)).toEqual(strip(upstream.stdout));
    expect(JSON.parse(served.stdout).Digest).toBe(app.digest);
    // the raw manifest is byte for byte the upstream's
    const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${host}/team/app@${app.digest}`]);
    expect(raw.stdout).toBe(await readFile(join(app.upstream, 'blobs', 'sha256', app.digest.slice(7)), 'utf8'));

    const out = join(dir, 'copied');
    const copy = await skopeo(['copy', '--src-tls-verify=false', `docker://${host}/team/app:1.4`, `oci:${out}:got`]);
    expect(copy.code, copy.stderr).toBe(0);
    const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8'));
    expect(index.manifests[0].digest).toBe(newer.digest);

    // every platform of a multi-platform image, the index unchanged
    const all = join(dir, 'copied-all');
    const copyAll = await skopeo(['copy', '--all', '--src-tls-verify=false', `docker://${host}/team/multi:2.0`, `oci:${all}:got`]);
    expect(copyAll.code, copyAll.stderr).toBe(0);
    expect(JSON.parse(await readFile(join(all, 'index.json'), 'utf8')).manifests[0].digest).toBe(multi.digest);
    // one platform of it: the child manifest the index names
    const one = join(dir, 'copied-arm64');
    const arm = await skopeo(['copy', '--override-arch', 'arm64', '--src-tls-verify=false', `docker://${host}/team/multi:2.0`, `oci:${one}:got`]);
    expect(arm.code, arm.stderr).toBe(0);
    expect(JSON.parse(await readFile(join(one, 'index.json'), 'utf8')).manifests[0].digest).toBe(multiChildren[1]);
  });

  it('serves blobs with Range and HEAD, only to a repository whose images use them', async () => {
    const manifest = JSON.parse(await (await get(`/v2/team/app/manifests/${app.digest}`)).text());
    const layer = manifest.layers[0].digest as string;
    const whole = Buffer.from(await (await get(`/v2/team/app/blobs/${layer}`)).arrayBuffer());
    const part = await get(`/v2/team/app/blobs/${layer}`, { headers: { Range: 'bytes=10-19' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 10-19/${whole.length}`);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(whole.subarray(10, 20));
    const head = await get(`/v2/team/app/blobs/${layer}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('docker-content-digest')).toBe(layer);
    expect(head.headers.get('content-length')).toBe(String(whole.length));

    // the same blob through another repository, which does not use it: unknown there
    const elsewhere = await get(`/v2/other/tool/blobs/${layer}`);
    expect(elsewhere.status).toBe(404);
    expect(await elsewhere.json()).toEqual({ errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry' }] });
    // nor a manifest of another repository
    const foreign = await get(`/v2/other/tool/manifests/${app.digest}`);
    expect(foreign.status).toBe(404);
    expect((await foreign.json()).errors[0].code).toBe('MANIFEST_UNKNOWN');
  });

  it('answers unknown names, tags and digests with the spec JSON errors and 404, and malformed ones with 400', async () => {
    const cases: Array<[string, number, string]> = [
      ['/v2/team/nope/tags/list', 404, 'NAME_UNKNOWN'],
      ['/v2/team/nope/manifests/1.4', 404, 'NAME_UNKNOWN'],
      ['/v2/team/app/manifests/9.9', 404, 'MANIFEST_UNKNOWN'],
      [`/v2/team/app/manifests/sha256:${'0'.repeat(64)}`, 404, 'MANIFEST_UNKNOWN'],
      [`/v2/team/app/blobs/sha256:${'0'.repeat(64)}`, 404, 'BLOB_UNKNOWN'],
      ['/v2/Team/App/tags/list', 404, 'NAME_UNKNOWN'],
      ['/v2/team/app/manifests/sha512:abc', 400, 'DIGEST_INVALID'],
      ['/v2/team/app/blobs/latest', 400, 'DIGEST_INVALID'],
      ['/v2/team/app/manifests/-bad', 400, 'TAG_INVALID'],
    ];
    for (const [path, status, code] of cases) {
      const r = await get(path);
      expect([path, r.status]).toEqual([path, status]);
      expect(r.headers.get('content-type')).toBe('application/json');
      expect((await r.json()).errors[0].code).toBe(code);
    }
  });

  it('refuses pushes and deletes with 405, and changes nothing', async () => {
    const before = await (await get('/v2/team/app/manifests/1.4')).text();
    const attempts: Array<[string, string]> = [
      ['PUT', '/v2/team/app/manifests/1.4'],
      ['DELETE', `/v2/team/app/manifests/${app.digest}`],
      ['POST', '/v2/team/app/blobs/uploads/'],
      ['PATCH', '/v2/team/app/blobs/uploads/x'],
      ['DELETE', `/v2/team/app/blobs/${app.digest}`],
    ];
    for (const [method, path] of attempts) {
      const r = await get(path, { method, body: method === 'DELETE' ? undefined : '{}' });
      expect([method, path, r.status]).toEqual([method, path, 405]);
      expect((await r.json()).errors[0].code).toBe('UNSUPPORTED');
    }
    expect(await (await get('/v2/team/app/manifests/1.4')).text()).toBe(before);
  });

  // a path refused before the registry's own parsing (encoded slash, dot segment, too long) answered the plain
  // text refusal, which registry clients cannot read; the referrers API answered NAME_UNKNOWN for a repository
  // that exists, which tells a client the repository is not there rather than that the API is not served
  it('answers refused registry paths and the referrers API with the spec\'s JSON errors', async () => {
    const { rawRequest } = await import('../serve/rawRequest.js');
    const port = Number(new URL(server.url).port);
    const cases: Array<[string, number, string]> = [
      ['/v2/team%2Fapp/tags/list', 400, 'NAME_INVALID'],
      ['/v2/team/%2e%2e/team/app/tags/list', 400, 'NAME_INVALID'],
      ['/v2/../refs/images/1.0.0', 400, 'NAME_INVALID'],
      [`/v2/${'a/'.repeat(3000)}app/tags/list`, 414, 'NAME_INVALID'],
    ];
    for (const [target, status, code] of cases) {
      const r = await rawRequest(port, `GET ${target} HTTP/1.1`);
      expect([target.slice(0, 40), r.status, /content-type: application\/json/i.test(r.head), JSON.parse(r.body.toString()).errors[0].code]).toEqual([target.slice(0, 40), status, true, code]);
    }
    const manifest = await get('/v2/team/app/manifests/1.4', { headers: { Accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json' } });
    const digest = manifest.headers.get('docker-content-digest')!;
    // a registry without the referrers API answers 404, and the client falls back to the referrers tag schema
    const referrers = await get(`/v2/team/app/referrers/${digest}`);
    expect([referrers.status, referrers.headers.get('content-type'), (await referrers.json()).errors[0].code]).toEqual([404, 'application/json', 'UNSUPPORTED']);
    const unknown = await get(`/v2/team/nosuch/referrers/${digest}`);
    expect([unknown.status, (await unknown.json()).errors[0].code]).toEqual([404, 'NAME_UNKNOWN']);
    const malformed = await get('/v2/team/app/referrers/sha256:abc');
    expect([malformed.status, (await malformed.json()).errors[0].code]).toEqual([400, 'DIGEST_INVALID']);
  });

  it('never leads a hostile name out of the registry: traversal is refused, other store files are not blobs of an image', async () => {
    const { rawRequest } = await import('../serve/rawRequest.js');
    const port = Number(new URL(server.url).port);
    for (const target of ['/v2/../refs/images/1.0.0', '/v2/team/%2e%2e/%2e%2e/refs/images/1.0.0', '/v2/team//app/tags/list', '/v2/team/app%2f..%2f../tags/list', '/v2/team/app/blobs/sha256:..%2f..%2fmanifest.json']) {
      const r = await rawRequest(port, `GET ${target} HTTP/1.1`);
      expect([target, r.status === 400 || r.status === 404]).toEqual([target, true]);
    }
    // every file of a bundle is a blob of the store, but only an image's own blobs are served under its name
    const { readdir } = await import('node:fs/promises');
    const { sha256File } = await import('../../src/util/sha256.js');
    for (const bundle of await readdir(join(store, 'bundles'))) {
      for (const path of ['oci/index.json', 'oci/oci-layout', 'manifest.json']) {
        const { sha256 } = await sha256File(join(store, 'bundles', bundle, path));
        const r = await get(`/v2/team/app/blobs/sha256:${sha256}`);
        expect([path, r.status]).toEqual([path, 404]);
      }
    }
  });

  it('a blob changed in the store is refused: a small one by the server (checked as it is read), a large one by the client', async () => {
    const manifest = JSON.parse(await (await get(`/v2/other/tool/manifests/${other.digest}`)).text());
    const damage = async (hex: string) => {
      const file = join(store, 'blobs', 'sha256', hex);
      const data = await readFile(file);
      data[data.length - 1] ^= 0xff; // same size: only the digest tells
      await chmod(file, 0o644);
      await writeFile(file, data);
      return data.length;
    };
    // the layer (200 kB, streamed from disk as it is read): skopeo checks the digest and refuses it
    const largest = [...manifest.layers].sort((a: { size: number }, b: { size: number }) => b.size - a.size)[0];
    const layer = (largest.digest as string).slice(7);
    expect(await damage(layer)).toBeGreaterThan(64 * 1024);
    const layerOnly = await run('sh', ['-c', `curl -fsS http://${host}/v2/other/tool/blobs/sha256:${layer} | sha256sum`]);
    expect(layerOnly.stdout.slice(0, 64)).not.toBe(layer);
    const copy = await skopeo(['copy', '--src-tls-verify=false', `docker://${host}/other/tool:1`, `oci:${join(dir, 'damaged')}:got`]);
    expect(copy.code).not.toBe(0);
    expect(copy.stderr).toMatch(/digest/i);
    // the config (a few hundred bytes): ferry serve checks small files against their sha256 before it sends them
    const config = (manifest.config.digest as string).slice(7);
    await damage(config);
    const refused = await get(`/v2/other/tool/blobs/sha256:${config}`);
    expect(refused.status).toBe(500);
    expect(server.warnings.join('\n')).toContain(`${config} has sha256`);
  });
});
