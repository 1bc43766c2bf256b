import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdir, mkdtemp, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { curl } from './curl.js';
import { addEvilBundle, hostileRequestLine, hostileRequests, LEAK_MARKERS } from './hostilePaths.js';
import { ferry } from '../helpers/cli.js';
import { makeStore, sampleBundleFiles, type StoredBundle, type TestStore } from './makeStore.js';
import { rawRequest } from './rawRequest.js';
import { freePort, runNginx, type RunningNginx } from './runNginx.js';
import { startServer, type TestServer } from './startServer.js';
import { makeCertificate } from './makeCertificate.js';


describe('ferry serve --nginx-config: Debian nginx serves the same store with the same URLs', () => {
  let t: TestStore;
  let bundle: StoredBundle;
  let evil: string;
  let nginx: RunningNginx;
  let ferryServer: TestServer;
  let config: string;

  beforeAll(async () => {
    t = await makeStore();
    bundle = await t.addBundle('openstack', '2026.11.0', sampleBundleFiles());
    evil = await addEvilBundle(t);
    const port = await freePort();
    const { stdout, stderr } = await ferry(['serve', '--nginx-config', '--store', t.store, '--listen', `127.0.0.1:${port}`]);
    config = stdout;
    expect(stderr).toContain('2 created');
    nginx = await runNginx(config, port);
    ferryServer = await startServer(t.store);
  });
  afterAll(async () => {
    await nginx?.stop();
    await ferryServer?.close(1000);
    await t.cleanup();
  });

  it('keeps STORE/releases/NAME/VERSION symlinks pointing at the bundles', async () => {
    expect(await readlink(join(t.store, 'releases', 'openstack', '2026.11.0'))).toBe(`../../bundles/${bundle.digest}`);
  });

  it('serves every file by digest and by name with the same bytes and content type as ferry', async () => {
    for (const f of bundle.files.values()) {
      for (const prefix of [`/bundles/${bundle.digest}`, '/releases/openstack/2026.11.0']) {
        const [fromNginx, fromFerry] = await Promise.all([curl(`${nginx.url}${prefix}/${f.path}`), curl(`${ferryServer.url}${prefix}/${f.path}`)]);
        expect([f.path, fromNginx.status]).toEqual([f.path, 200]);
        expect(fromNginx.body.equals(f.content)).toBe(true);
        expect([f.path, fromNginx.headers['content-type']]).toEqual([f.path, fromFerry.headers['content-type']]);
        expect(fromNginx.headers['cache-control']).toBe(fromFerry.headers['cache-control']);
      }
    }
  });

  it('answers HEAD, ranges and conditional requests', async () => {
    const f = bundle.files.get('apt/pool/main/h/hello/hello_2.10-3_amd64.deb')!;
    const url = `${nginx.url}/releases/openstack/2026.11.0/${f.path}`;
    expect((await curl('-I', url)).headers['content-length']).toBe(String(f.content.length));
    const part = await curl('-r', '100-199', url);
    expect(part.status).toBe(206);
    expect(part.body.equals(f.content.subarray(100, 200))).toBe(true);
    const etag = (await curl('-I', url)).headers.etag!;
    expect((await curl('-H', `If-None-Match: ${etag}`, url)).status).toBe(304);
  });

  it('serves PEP 503 folders, /releases/ and /healthz like ferry', async () => {
    const project = await curl(`${nginx.url}/releases/openstack/2026.11.0/python/simple/demo/`);
    expect(project.body.equals(bundle.files.get('python/simple/demo/index.html')!.content)).toBe(true);
    const bare = await curl(`${nginx.url}/releases/openstack/2026.11.0/python/simple/demo`);
    expect(bare.status).toBe(301);
    expect(bare.headers.location).toBe('/releases/openstack/2026.11.0/python/simple/demo/');
    const [a, b] = await Promise.all([curl(`${nginx.url}/releases/`), curl(`${ferryServer.url}/releases/`)]);
    expect(a.headers['content-type']).toBe('application/json');
    expect(JSON.parse(a.body.toString())).toEqual(JSON.parse(b.body.toString()));
    expect(JSON.parse((await curl(`${nginx.url}/healthz`)).body.toString())).toEqual({ status: 'ok' });
    // other methods: 405 from both, as on every other path
    expect([(await curl('-X', 'POST', `${nginx.url}/healthz`)).status, (await curl('-X', 'POST', `${ferryServer.url}/healthz`)).status]).toEqual([405, 405]);
  });

  it('follows a re-pointed release after --sync-links, without a reload', async () => {
    const path = 'files/web/app.conf.j2';
    const next = await t.addBundle('openstack', '2026.11.0', sampleBundleFiles({ [path]: 'listen 443\n' }));
    const { stderr } = await ferry(['serve', '--sync-links', '--store', t.store]);
    expect(stderr).toContain('1 updated');
    expect((await curl(`${nginx.url}/releases/openstack/2026.11.0/${path}`)).body.toString()).toBe('listen 443\n');
    await t.setRef('openstack', '2026.11.0', bundle.digest);
    await ferry(['serve', '--sync-links', '--store', t.store]);
    expect(next.digest).not.toBe(bundle.digest);
  });

  it.each(hostileRequests())('refuses %s and leaks nothing', async (label, template) => {
    const r = await rawRequest(nginx.port, hostileRequestLine(template, bundle.digest, evil));
    expect(label.startsWith('overlong') ? [400, 404, 414] : [400, 404]).toContain(r.status);
    const body = r.body.toString('latin1');
    for (const marker of LEAK_MARKERS) expect(body).not.toContain(marker);
  });

  it('follows a link of STORE/releases or STORE/mirrors only into a bundle: one planted there that leads out is not there, as for ferry', async () => {
    // a folder outside the store, with files named as the nested locations (text files, keys) pick them
    const outside = await mkdtemp(join(tmpdir(), 'ferry-outside-'));
    try {
      // readable by nginx's workers, as much of the file system is
      await chmod(outside, 0o755);
      await mkdir(join(outside, 'keys'));
      for (const f of ['secret', 'Release', 'keys/k.asc']) await writeFile(join(outside, f), 'root: outside the store\n');
      await mkdir(join(t.store, 'releases', 'planted'), { recursive: true });
      await mkdir(join(t.store, 'mirrors'), { recursive: true });
      await symlink(outside, join(t.store, 'releases', 'planted', '1'));
      await symlink(outside, join(t.store, 'mirrors', 'planted'));
      for (const path of ['/releases/planted/1/secret', '/releases/planted/1/Release', '/releases/planted/1/keys/k.asc', '/mirrors/planted/secret', '/mirrors/planted/Release', '/mirrors/planted/keys/k.asc']) {
        const [fromNginx, fromFerry] = await Promise.all([curl(`${nginx.url}${path}`), curl(`${ferryServer.url}${path}`)]);
        expect([path, fromNginx.status, fromFerry.status]).toEqual([path, 404, 404]);
        expect(fromNginx.body.toString()).not.toContain('root:');
      }
      // the links ferry writes still lead where they should, files and folders
      expect((await curl(`${nginx.url}/releases/openstack/2026.11.0/apt/dists/bookworm/Release`)).status).toBe(200);
      expect((await curl(`${nginx.url}/releases/openstack/2026.11.0/keys/bundle.asc`)).status).toBe(200);
      expect((await curl(`${nginx.url}/releases/openstack/2026.11.0/python/simple/`)).status).toBe(200);
      expect((await curl(`${nginx.url}/releases/openstack/2026.11.0/no/such/file`)).status).toBe(404);
    } finally {
      await rm(join(t.store, 'releases', 'planted'), { recursive: true, force: true });
      await rm(join(t.store, 'mirrors', 'planted'), { force: true });
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('serves HTTPS on IPv4 and IPv6 with the TLS block', async () => {
    const cert = await makeCertificate();
    const port = await freePort();
    const { stdout } = await ferry(['serve', '--nginx-config', '--store', t.store, '--listen', `127.0.0.1:${port}`, '--listen', `[::1]:${port}`, '--tls-cert', cert.certFile, '--tls-key', cert.keyFile]);
    expect(stdout).toContain(`listen [::1]:${port} ssl;`);
    const tls = await runNginx(stdout, port);
    try {
      const f = bundle.files.get('keys/bundle.asc')!;
      for (const host of ['127.0.0.1', '[::1]']) {
        const r = await curl('--cacert', cert.certFile, '-g', `https://${host}:${port}/releases/openstack/2026.11.0/${f.path}`);
        expect(r.status).toBe(200);
        expect(r.body.equals(f.content)).toBe(true);
      }
    } finally {
      await tls.stop();
    }
  });

  it('listens on every interface of both families for ":PORT"', async () => {
    const { stdout } = await ferry(['serve', '--nginx-config', '--store', t.store, '--listen', ':8080']);
    expect(stdout).toContain('listen 8080;');
    expect(stdout).toContain('listen [::]:8080 ipv6only=on;');
  });
});
