import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseListenAddress } from '../../src/serve/parseListenAddress.js';
import { curl } from './curl.js';
import { makeCertificate, type TestCertificate } from './makeCertificate.js';
import { ferry } from '../helpers/cli.js';
import { makeStore, sampleBundleFiles, type StoredBundle, type TestStore } from './makeStore.js';
import { freePort } from './runNginx.js';
import { startServer } from './startServer.js';


describe('--listen addresses and TLS', () => {
  let t: TestStore;
  let bundle: StoredBundle;
  let cert: TestCertificate;

  beforeAll(async () => {
    t = await makeStore();
    bundle = await t.addBundle('openstack', '2026.11.0', sampleBundleFiles());
    cert = await makeCertificate();
  });
  afterAll(async () => {
    await t.cleanup();
  });

  it.each([
    ['127.0.0.1:8080', { host: '127.0.0.1', port: 8080 }],
    ['[::1]:8080', { host: '::1', port: 8080 }],
    ['[::]:80', { host: '::', port: 80 }],
    ['localhost:8080', { host: 'localhost', port: 8080 }],
    [':8080', { host: undefined, port: 8080 }],
    ['8080', { host: undefined, port: 8080 }],
  ])('reads %s', (value, expected) => {
    expect(parseListenAddress(value)).toEqual(expected);
  });

  it.each(['127.0.0.1', '[::1]', '::1:8080', '[nope]:80', '1.2.3.4:70000', 'a b:80', ''])('refuses %j with an example of the right form', (value) => {
    expect(() => parseListenAddress(value)).toThrow(/--listen .*ADDRESS:PORT/);
  });

  it('serves the same store on IPv4 and IPv6 loopback, on one port', async () => {
    const port = await freePort();
    const server = await startServer(t.store, { listen: [{ host: '127.0.0.1', port }, { host: '::1', port }] });
    try {
      expect(server.urls).toEqual([`http://127.0.0.1:${port}`, `http://[::1]:${port}`]);
      for (const url of server.urls) {
        const r = await curl('-g', `${url}/bundles/${bundle.digest}/manifest.json`);
        expect(r.status).toBe(200);
        expect(r.headers.etag).toBe(`"${bundle.digest}"`);
      }
      expect(server.accessLog.map((e) => e.remote)).toEqual(['127.0.0.1', '::1']);
    } finally {
      await server.close(1000);
    }
  });

  it('serves HTTPS with --tls-cert/--tls-key, ranges included', async () => {
    const server = await startServer(t.store, { tls: { cert: cert.cert, key: cert.key }, listen: [{ host: '127.0.0.1', port: 0 }, { host: '::1', port: 0 }] });
    try {
      const f = bundle.files.get('apt/pool/main/h/hello/hello_2.10-3_amd64.deb')!;
      for (const url of server.urls) {
        expect(url).toMatch(/^https:/);
        const r = await curl('--cacert', cert.certFile, '-g', '-r', '0-99', `${url}/releases/openstack/2026.11.0/${f.path}`);
        expect(r.status).toBe(206);
        expect(r.body.equals(f.content.subarray(0, 100))).toBe(true);
      }
      // a client that does not trust the certificate gets nothing
      await expect(curl(`${server.urls[0]}/healthz`)).rejects.toThrow(/certificate/);
    } finally {
      await server.close(1000);
    }
  });

  it('refuses --tls-cert without --tls-key (exit 64)', async () => {
    const r = await ferry(['serve', '--store', t.store, '--tls-cert', cert.certFile]);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('--tls-cert and --tls-key go together');
  });

  it('refuses a key that does not match the certificate (exit 64)', async () => {
    const other = await makeCertificate();
    const r = await ferry(['serve', '--store', t.store, '--listen', '127.0.0.1:0', '--tls-cert', cert.certFile, '--tls-key', other.keyFile]);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('--tls-cert/--tls-key cannot be used');
  });

  it('refuses a store that does not exist (exit 71), naming it', async () => {
    const r = await ferry(['serve', '--store', `${t.store}/nope`, '--listen', '127.0.0.1:0']);
    expect(r.code).toBe(71);
    expect(r.stderr).toContain(`store ${t.store}/nope cannot be served`);
  });

  it('refuses an address already in use (exit 64), naming it', async () => {
    const server = await startServer(t.store);
    try {
      const r = await ferry(['serve', '--store', t.store, '--listen', server.url.replace('http://', '')]);
      expect(r.code).toBe(64);
      expect(r.stderr).toMatch(/cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/);
    } finally {
      await server.close(1000);
    }
  });
});
