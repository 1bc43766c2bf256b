import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { request } from 'undici';
import { ferry, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { multiPlatformImage, umociImage, writeImageBundle, type FixtureImage } from '../helpers/ociImages.js';
import { startServer, type TestServer } from '../serve/startServer.js';
import { startRegistry, type Registry } from '../image/registry.js';

const haveTools = (await run('sh', ['-c', 'command -v skopeo && command -v umoci && command -v docker-registry'])).code === 0;
const ACCEPT = 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json';

/**
 * ferry serve and Debian's docker-registry (the distribution registry) serving the same images (pushed by
 * skopeo with their digests kept): the same read requests get the same status, error code and registry
 * headers from both, where the distribution spec says what they must be.
 */
describe.skipIf(!haveTools)('ferry serve answers as docker-registry does for the same images', () => {
  let dir: string;
  let server: TestServer;
  let registry: Registry;
  let app: FixtureImage;
  let layer: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-registry-parity-'));
    const team = await writeKey(dir, 'team');
    const key = await openpgp.readPrivateKey({ armoredKey: team.secretArmored });
    const single = await umociImage(join(dir, 'app'), 'amd64', { 'etc/app.conf': 'app 1.4\n', 'srv/data': 'x'.repeat(3000) });
    const multi = await multiPlatformImage(join(dir, 'multi'), { 'etc/multi.conf': 'multi\n' });
    const images = [
      { repository: 'team/app', tag: '1.4', layout: single.layout },
      { repository: 'team/multi', tag: '2.0', layout: multi.layout },
    ];
    [app] = await writeImageBundle(join(dir, 'rel.ferry'), key, images.map((i) => ({ ref: `registry.example/${i.repository}:${i.tag}`, services: ['web'], layout: i.layout })), { name: 'images', version: '1.0.0', epoch: '2026-11-25T00:00:00.000Z' });
    const store = join(dir, 'store');
    const imported = await ferry(['import', join(dir, 'rel.ferry'), '--keyring', team.public, '--store', store]);
    expect(imported.code, imported.stderr).toBe(0);
    server = await startServer(store);
    registry = await startRegistry(join(dir, 'registry'));
    for (const i of images) {
      const pushed = await run('skopeo', ['copy', '--all', '--preserve-digests', '--dest-tls-verify=false', `oci:${i.layout}:upstream`, `docker://${registry.host}/${i.repository}:${i.tag}`]);
      expect(pushed.code, pushed.stderr).toBe(0);
    }
    const manifest = JSON.parse(await (await request(`${server.url}/v2/team/app/manifests/${app.digest}`)).body.text()) as { layers: Array<{ digest: string }> };
    layer = manifest.layers[0]!.digest;
  });
  afterAll(async () => {
    await server?.close(0);
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** status, the spec's error code (if any) and the headers the spec names, as each server answers */
  async function answer(base: string, method: 'GET' | 'HEAD', path: string, headers: Record<string, string>) {
    const res = await request(`${base}${path}`, { method, headers: { accept: ACCEPT, ...headers } });
    const body = await res.body.text();
    const code = method === 'GET' && res.statusCode >= 400 ? (JSON.parse(body) as { errors: Array<{ code: string }> }).errors[0]!.code : undefined;
    const pick = (name: string) => (res.headers[name] === undefined ? undefined : String(res.headers[name]));
    return {
      status: res.statusCode,
      code,
      ...(res.statusCode < 300 && { digest: pick('docker-content-digest'), length: pick('content-length'), type: pick('content-type')?.split(';')[0], range: pick('content-range') }),
    };
  }

  it('gives the same status, error code and Docker-Content-Digest / Content-Type / Content-Length for the same requests', async () => {
    const zeros = (n: number) => '0'.repeat(n);
    const cases: Array<[string, 'GET' | 'HEAD', string, Record<string, string>?]> = [
      ['a manifest by tag', 'GET', '/v2/team/app/manifests/1.4'],
      ['a manifest by tag, HEAD', 'HEAD', '/v2/team/app/manifests/1.4'],
      ['a manifest by digest', 'GET', `/v2/team/app/manifests/${app.digest}`],
      ['a manifest by digest, HEAD', 'HEAD', `/v2/team/app/manifests/${app.digest}`],
      ['an index by tag', 'GET', '/v2/team/multi/manifests/2.0'],
      ['a layer', 'GET', `/v2/team/app/blobs/${layer}`],
      ['a layer, HEAD', 'HEAD', `/v2/team/app/blobs/${layer}`],
      ['a part of a layer', 'GET', `/v2/team/app/blobs/${layer}`, { range: 'bytes=0-9' }],
      ['an unknown tag', 'GET', '/v2/team/app/manifests/9.9'],
      ['an unknown sha256 manifest', 'GET', `/v2/team/app/manifests/sha256:${zeros(64)}`],
      ['an unknown sha256 blob', 'GET', `/v2/team/app/blobs/sha256:${zeros(64)}`],
      ['an unknown sha256 blob, HEAD', 'HEAD', `/v2/team/app/blobs/sha256:${zeros(64)}`],
      // well-formed digests of other algorithms: not held, so 404 (the spec's MUST), never 400
      ['a sha512 manifest', 'GET', `/v2/team/app/manifests/sha512:${zeros(128)}`],
      ['a sha512 manifest, HEAD', 'HEAD', `/v2/team/app/manifests/sha512:${zeros(128)}`],
      ['a sha384 manifest', 'GET', `/v2/team/app/manifests/sha384:${zeros(96)}`],
      ['a sha512 blob', 'GET', `/v2/team/app/blobs/sha512:${zeros(128)}`],
      ['a sha512 blob, HEAD', 'HEAD', `/v2/team/app/blobs/sha512:${zeros(128)}`],
      ['a malformed blob digest', 'GET', '/v2/team/app/blobs/sha256:abc'],
      ['the catalog', 'GET', '/v2/_catalog'],
      ['too large a page', 'GET', '/v2/_catalog?n=100000'],
      ['a tag list', 'GET', '/v2/team/app/tags/list'],
      ['the tags of an unknown repository', 'GET', '/v2/team/none/tags/list'],
    ];
    for (const [what, method, path, headers] of cases) {
      const [ours, theirs] = await Promise.all([answer(server.url, method, path, headers ?? {}), answer(registry.url, method, path, headers ?? {})]);
      expect({ what, ...ours }).toEqual({ what, ...theirs });
    }
  });

  it('answers a digest of another algorithm in a repository it does not serve with NAME_UNKNOWN, in one it serves with MANIFEST_UNKNOWN / BLOB_UNKNOWN', async () => {
    const sha512 = `sha512:${'a'.repeat(128)}`;
    for (const [path, code] of [
      [`/v2/team/none/manifests/${sha512}`, 'NAME_UNKNOWN'],
      [`/v2/team/none/blobs/${sha512}`, 'NAME_UNKNOWN'],
      [`/v2/team/app/manifests/${sha512}`, 'MANIFEST_UNKNOWN'],
      [`/v2/team/app/blobs/${sha512}`, 'BLOB_UNKNOWN'],
      [`/v2/team/app/manifests/sha512:${'A'.repeat(128)}`, 'DIGEST_INVALID'],
      [`/v2/team/app/manifests/sha512:${'a'.repeat(64)}`, 'DIGEST_INVALID'],
    ] as const) {
      const res = await request(`${server.url}${path}`);
      const body = JSON.parse(await res.body.text()) as { errors: Array<{ code: string }> };
      expect([path, res.statusCode, body.errors[0]!.code]).toEqual([path, code === 'DIGEST_INVALID' ? 400 : 404, code]);
    }
    // and skopeo, asked for an image by such a digest, is told it is not there
    const host = server.url.replace(/^http:\/\//, '');
    const inspected = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${host}/team/app@${sha512}`]);
    expect(inspected.code).not.toBe(0);
    expect(inspected.stderr).toMatch(/manifest unknown/);
  });
});
