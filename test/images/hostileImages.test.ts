import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { writeKey } from '../helpers/keys.js';
import { importAndServe, writeImageBundle } from '../helpers/ociImages.js';
import { sha256Hex } from '../../src/util/sha256.js';
import type { TestServer } from '../serve/startServer.js';
import { rawRequest } from '../serve/rawRequest.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

/** An OCI layout written by hand: blobs by content, index.json naming `top` first. */
async function layout(dir: string, blobs: Buffer[], top: { mediaType: string; data: Buffer }): Promise<string> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const b of [...blobs, top.data]) await writeFile(join(dir, 'blobs', 'sha256', sha256Hex(b)), b);
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: top.mediaType, digest: `sha256:${sha256Hex(top.data)}`, size: top.data.length }] }));
  return dir;
}

const desc = (mediaType: string, data: Buffer) => ({ mediaType, digest: `sha256:${sha256Hex(data)}`, size: data.length });

/**
 * A signed bundle whose image documents name media types that are not OCI or Docker ones: ferry serve
 * answers manifests with the media type the bundle records, so one of `text/html` would have browsers
 * render the manifest's bytes as a page of the serve origin, and one holding a line break would be a
 * header ferry cannot send.
 */
describe('ferry serve and image media types from a signed bundle', () => {
  let dir: string;
  let store: string;
  let server: TestServer;
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const layer = Buffer.from('not really a tar');
  let htmlChild: Buffer;
  let crlfChild: Buffer;
  let oddNames: string[] = [];
  let dual: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-hostile-images-'));
    store = join(dir, 'store');
    const team = await writeKey(dir, 'team');
    const key = await openpgp.readPrivateKey({ armoredKey: team.secretArmored });
    htmlChild = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: desc('application/vnd.oci.image.config.v1+json', config), layers: [desc('application/vnd.oci.image.layer.v1.tar', layer)], annotations: { x: '<script>alert(1)</script>' } }));
    crlfChild = Buffer.from(JSON.stringify({ schemaVersion: 2, config: desc('application/vnd.oci.image.config.v1+json', config), layers: [] }));
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [desc('text/html', htmlChild), desc('application/json\r\nSet-Cookie: a=b', crlfChild)] }));
    const manifestWith = (layers: unknown[]) => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: desc('application/vnd.oci.image.config.v1+json', config), layers }));
    const layerDesc = desc('application/vnd.oci.image.layer.v1.tar', layer);
    const odd = {
      sha512: manifestWith([{ ...layerDesc, digest: `sha512:${'ab'.repeat(64)}` }]),
      upper: manifestWith([{ ...layerDesc, digest: layerDesc.digest.toUpperCase().replace('SHA256', 'sha256') }]),
      traversal: manifestWith([{ ...layerDesc, digest: 'sha256:../../../../etc/passwd' }]),
      short: manifestWith([{ ...layerDesc, digest: 'sha256:abc' }]),
      missing: manifestWith([desc('application/vnd.oci.image.layer.v1.tar', Buffer.from('a layer the bundle does not carry'))]),
    };
    // indexes nested six deep: more than ferry walks
    let nested = manifestWith([layerDesc]);
    const chain: Buffer[] = [nested];
    for (let i = 0; i < 6; i++) {
      nested = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [desc(i === 0 ? OCI_MANIFEST : OCI_INDEX, nested)] }));
      chain.push(nested);
    }
    // a manifest (by its media type, as ferry lock reads it) that also holds a list of manifests
    dual = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: desc('application/vnd.oci.image.config.v1+json', config), layers: [layerDesc], manifests: [desc(OCI_MANIFEST, crlfChild)] }));
    oddNames = Object.keys(odd);
    const bundle = join(dir, 'hostile.ferry');
    await writeImageBundle(
      bundle,
      key,
      [
        { ref: 'registry.example/team/index:1', services: ['web'], layout: await layout(join(dir, 'index'), [config, layer, htmlChild, crlfChild], { mediaType: OCI_INDEX, data: index }) },
        { ref: 'registry.example/team/good:1', services: ['web'], layout: await layout(join(dir, 'good'), [config, layer], { mediaType: OCI_MANIFEST, data: htmlChild }) },
        ...(await Promise.all(
          Object.entries(odd).map(async ([name, data]) => ({ ref: `registry.example/odd/${name}:1`, services: ['web'], layout: await layout(join(dir, name), [config, layer], { mediaType: OCI_MANIFEST, data }) })),
        )),
        { ref: 'registry.example/team/dual:1', services: ['web'], layout: await layout(join(dir, 'dual'), [config, layer, crlfChild], { mediaType: OCI_MANIFEST, data: dual }) },
        { ref: 'registry.example/team/nested:1', services: ['web'], layout: await layout(join(dir, 'nested'), [config, layer, ...chain.slice(0, -1)], { mediaType: OCI_INDEX, data: nested }) },
      ],
      { name: 'hostile', version: '1.0.0' },
    );
    server = await importAndServe(bundle, team.public, store);
  });
  afterAll(async () => {
    await server?.close(0);
    await rm(dir, { recursive: true, force: true });
  });

  const get = (path: string) => fetch(`${server.url}${path}`);

  it('never answers a manifest with a media type that is not an OCI or Docker image one', async () => {
    const byDigest = await get(`/v2/team/index/manifests/sha256:${sha256Hex(htmlChild)}`);
    expect(byDigest.headers.get('content-type') ?? '').not.toMatch(/html/);
    expect(byDigest.status).toBe(404);
    const crlf = await get(`/v2/team/index/manifests/sha256:${sha256Hex(crlfChild)}`);
    expect(crlf.headers.get('set-cookie')).toBeNull();
    expect(crlf.status).toBe(404);
    expect(server.warnings.filter((w) => w.includes('not an OCI or Docker image manifest type'))).toHaveLength(2);
    expect(server.warnings.join('\n')).not.toMatch(/\r/);
    // the server is still up and serves the image whose types are right
    const good = await get('/v2/team/good/manifests/1');
    expect(good.status).toBe(200);
    expect(good.headers.get('content-type')).toBe(OCI_MANIFEST);
    expect(Buffer.from(await good.arrayBuffer()).equals(htmlChild)).toBe(true);
  });

  it('does not serve an image whose manifest names a layer by another algorithm, in upper case, by a path, too short, or not carried', async () => {
    for (const name of oddNames) {
      const r = await get(`/v2/odd/${name}/manifests/1`);
      expect(r.status, name).toBe(404);
      expect(server.warnings.some((w) => w.includes(`registry.example/odd/${name}:1 is not served`)), name).toBe(true);
    }
    // nothing of the store outside its blobs is reachable by such a name
    expect((await get('/v2/odd/traversal/blobs/sha256:../../../../etc/passwd')).status).toBeGreaterThanOrEqual(400);
  });

  it('serves a manifest as the manifest its media type says, also when it holds a "manifests" list: its config and layers, not the list', async () => {
    const m = await get('/v2/team/dual/manifests/1');
    expect(m.status).toBe(200);
    expect(m.headers.get('content-type')).toBe(OCI_MANIFEST);
    expect(Buffer.from(await m.arrayBuffer()).equals(dual)).toBe(true);
    for (const blob of [config, layer]) {
      const b = await get(`/v2/team/dual/blobs/sha256:${sha256Hex(blob)}`);
      expect(b.status).toBe(200);
      expect(Buffer.from(await b.arrayBuffer()).equals(blob)).toBe(true);
    }
    // what the list names is no part of this image
    expect((await get(`/v2/team/dual/manifests/sha256:${sha256Hex(crlfChild)}`)).status).toBe(404);
  });

  it('does not serve indexes nested deeper than it walks, and stays up', async () => {
    expect((await get('/v2/team/nested/manifests/1')).status).toBe(404);
    expect(server.warnings.some((w) => w.includes('registry.example/team/nested:1 is not served: manifests nested more than'))).toBe(true);
    expect((await get('/v2/team/good/manifests/1')).status).toBe(200);
  });

  it('answers registry names with an encoded slash, a dot segment or too many bytes with a refusal, never the image', async () => {
    expect((await get('/v2/team/good/manifests/1')).status).toBe(200);
    expect((await get('/v2/team%2Fgood/manifests/1')).status).toBe(400);
    expect((await get('/v2/team%2fgood/tags/list')).status).toBe(400);
    // sent as is (fetch would resolve the dot segment itself)
    const port = Number(new URL(server.url).port);
    expect((await rawRequest(port, 'GET /v2/team/%2e%2e/team/good/manifests/1 HTTP/1.1')).status).toBe(400);
    expect((await rawRequest(port, 'GET /v2/../team/good/manifests/1 HTTP/1.1')).status).toBe(400);
    expect((await get(`/v2/${'a/'.repeat(3000)}good/manifests/1`)).status).toBe(414);
    expect((await get(`/v2/${'a'.repeat(300)}/manifests/1`)).status).toBe(404);
    // a query may hold one: the catalog's paging names repositories that way
    expect((await get('/v2/_catalog?n=1&last=team%2Findex')).status).toBe(200);
  });
});
