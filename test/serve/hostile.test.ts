import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addEvilBundle, hostileRequestLine, hostileRequests, LEAK_MARKERS } from './hostilePaths.js';
import { makeStore, sampleBundleFiles, type TestStore } from './makeStore.js';
import { rawRequest } from './rawRequest.js';
import { startServer, type TestServer } from './startServer.js';
import { until } from '../helpers/until.js';

describe('ferry serve refuses every path that tries to leave the served tree', () => {
  let t: TestStore;
  let server: TestServer;
  let port: number;
  let digest: string;
  let evil: string;
  let releaseSha256: string;

  beforeAll(async () => {
    t = await makeStore();
    const bundle = await t.addBundle('openstack', '2026.11.0', sampleBundleFiles());
    digest = bundle.digest;
    releaseSha256 = bundle.files.get('apt/dists/bookworm/Release')!.sha256;
    evil = await addEvilBundle(t);
    server = await startServer(t.store);
    port = Number(new URL(server.url).port);
  });
  afterAll(async () => {
    await server.close(1000);
    await t.cleanup();
  });

  it('serves the control request (so a refusal below is not a dead server)', async () => {
    const r = await rawRequest(port, `GET /bundles/${digest}/apt/dists/bookworm/Release HTTP/1.1`);
    expect(r.status).toBe(200);
  });

  const table = hostileRequests();
  expect(table.length).toBeGreaterThanOrEqual(20);
  it.each(table)('%s: answered 400/404 and leaks nothing', async (label, template) => {
    const r = await rawRequest(port, hostileRequestLine(template, digest, evil));
    const allowed = label.startsWith('overlong') ? [414] : [400, 404];
    expect(allowed).toContain(r.status);
    const body = r.body.toString('latin1');
    for (const marker of LEAK_MARKERS) expect(body).not.toContain(marker);
    expect(body.length).toBeLessThan(64);
    expect(r.head.toLowerCase()).not.toMatch(/^(etag|location|x-ferry-bundle):/m);
  });

  it('logs why each refusal happened, without telling the client', () => {
    const refused = server.accessLog.filter((e) => e.status >= 400);
    expect(refused.length).toBeGreaterThanOrEqual(table.length - 2);
    expect(refused.find((e) => e.target.includes('files/evil/passwd'))?.reason).toMatch(/outside/);
    expect(refused.find((e) => e.target.includes('%252e'))?.reason).toBe('double percent-encoding');
  });

  it('answers CONNECT (a proxy tunnel) 405 with one access-log line, as every other method it does not serve', async () => {
    const r = await rawRequest(port, 'CONNECT 127.0.0.1:22 HTTP/1.1');
    expect(r.status).toBe(405);
    expect(r.head).toMatch(/^allow: GET, HEAD$/im);
    const line = server.accessLog.find((e) => e.method === 'CONNECT');
    expect(line).toMatchObject({ target: '127.0.0.1:22', status: 405 });
  });

  it('answers a request with an Expect other than 100-continue as any other, with its access-log line (as nginx does)', async () => {
    const target = `/bundles/${digest}/apt/dists/bookworm/Release?expect`;
    const r = await rawRequest(port, `GET ${target} HTTP/1.1`, 'Host: localhost\r\nConnection: close\r\nExpect: something-else\r\n');
    expect(r.status).toBe(200);
    expect(r.head).toMatch(/^x-content-type-options: nosniff$/im);
    await until('its access-log line', () => server.accessLog.some((e) => e.target === target && e.status === 200));
  });

  it('answers an HTTP/1.1 request without Host 400 as its other refusals, with its access-log line, a prepared answer or not (HTTP/1.0 needs none)', async () => {
    const target = `/blobs/sha256/${releaseSha256}`;
    // answered with Host, its answer is prepared (for a second), which a request without Host must not get
    expect((await rawRequest(port, `GET ${target} HTTP/1.1`)).status).toBe(200);
    const r = await rawRequest(port, `GET ${target} HTTP/1.1`, 'Connection: close\r\n');
    expect(r.status).toBe(400);
    expect(r.head).toMatch(/^x-content-type-options: nosniff$/im);
    expect(r.body.toString()).toBe('bad request\n');
    await until('its access-log line', () => server.accessLog.some((e) => e.target === target && e.status === 400 && e.reason === 'no Host header'));
    expect((await rawRequest(port, `GET ${target} HTTP/1.0`, '')).status).toBe(200);
  });
});
