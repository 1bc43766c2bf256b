import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpecError } from '../../src/errors.js';
import { aptKind, type AptLock } from '../../src/sources/apt/aptKind.js';
import { checkUpstreamUrls } from '../../src/sources/apt/aptLockSchema.js';
import { context, fixtureUpstream } from './aptSetup.js';
import { serveDir } from './fixtureUpstream.js';

const DEB = 'app_1.0-1_amd64.deb';

/**
 * A lock's .deb URL must name a file of an upstream the spec names, as the downloader reads it: the
 * fixture upstream is served at /upstream/ of a host that also serves /elsewhere/ (a copy of app's .deb,
 * so that a URL leading there would build), and is read again from disk as a file:// URL and a path.
 */
describe('apt lock URLs are compared with the upstreams once parsed', () => {
  let fx: Awaited<ReturnType<typeof fixtureUpstream>>;
  let host: Awaited<ReturnType<typeof serveDir>>;
  const spec = (uri: string) => ({
    targets: { debian: { suite: 'bookworm', architectures: ['amd64'] } },
    upstreams: { apt: [{ uri, suites: ['fixture'], keyring: fx.upstreamKey.public }] },
    services: { web: { version: '1', groups: ['web'], artifacts: { apt: ['app'] } } },
  });
  const forms = () => [
    ['http', `${host.url}/upstream`],
    ['file', `file://${fx.dir}/upstream`],
    ['path', `${fx.dir}/upstream`],
  ] as const;

  beforeAll(async () => {
    fx = await fixtureUpstream();
    host = await serveDir(fx.dir);
    await mkdir(join(fx.dir, 'elsewhere'));
    await copyFile(join(fx.upstreamRoot, 'pool/main', DEB), join(fx.dir, 'elsewhere', DEB));
  });
  afterAll(async () => {
    await fx?.server.close();
    await host?.close();
  });

  /** each way of spelling a path past the upstream's that a server, URL parsing or fileURLToPath resolves */
  const escapes = [
    `/%2e%2e/elsewhere/${DEB}`,
    `/%2E%2e/elsewhere/${DEB}`,
    `/pool/.%2e/.%2E/elsewhere/${DEB}`,
    `/pool/%2e./%2E%2E/elsewhere/${DEB}`,
    `/%2e%2e;x/elsewhere/${DEB}`,
    `/..;x/elsewhere/${DEB}`,
    `/pool\\..\\..\\elsewhere\\${DEB}`,
    `/pool/..%2f..%2felsewhere/${DEB}`,
    `/pool/..%2F..%2Felsewhere/${DEB}`,
    `/pool/..%5c..%5celsewhere/${DEB}`,
    `/%252e%252e/elsewhere/${DEB}`,
    `/pool/../../elsewhere/${DEB}`,
    `/pool//../../elsewhere/${DEB}`,
    `/pool/main/${DEB}?/../../elsewhere/${DEB}`,
    `/pool/main/${DEB}#/../../elsewhere`,
  ];

  it.each(['http', 'file', 'path'] as const)('builds from the lock ferry lock wrote for a %s upstream', async (form) => {
    const uri = forms().find(([f]) => f === form)![1];
    const ctx = await context(fx.dir, spec(uri), fx.bundleKey.secretArmored, join(fx.dir, `cache-ok-${form}`));
    const lock = (await aptKind.lock(ctx))!;
    expect(lock.packages.find((p) => p.name === 'app')!.url).toBe(`${uri}/pool/main/${DEB}`);
    const r = await aptKind.collect(lock, ctx);
    expect(r.entries.filter((e) => e.kind === 'apt')).toHaveLength(lock.packages.length);
  });

  it.each(['http', 'file', 'path'] as const)('refuses, for a %s upstream, every spelling of a .deb URL that leads past its path, before any download or write', async (form) => {
    const uri = forms().find(([f]) => f === form)![1];
    const ctx = await context(fx.dir, spec(uri), fx.bundleKey.secretArmored, join(fx.dir, `cache-bad-${form}`));
    const lock = (await aptKind.lock(ctx))!;
    for (const escape of escapes) {
      const edited: AptLock = { ...lock, packages: lock.packages.map((p) => (p.name === 'app' ? { ...p, url: `${uri}${escape}` } : p)) };
      const build = await context(fx.dir, spec(uri), fx.bundleKey.secretArmored, join(fx.dir, `cache-bad-${form}`));
      const before = host.requests.length;
      const err = await aptKind.collect(edited, build).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, escape).toBeInstanceOf(SpecError);
      expect((err as Error).message).toMatch(/^lock: apt: ".*" is not a file of an upstream the spec names \(.*\): .* \(package app 1\.0-1 amd64\); run ferry lock again and review the diff$/);
      expect((err as Error).message).not.toContain('\n');
      expect(host.requests.slice(before), escape).toEqual([]);
      expect(build.fetchStats!.fetchedBytes).toBe(0);
      expect(await readdir(build.workDir)).toEqual([]);
    }
  });

  it('refuses another scheme, login, host or port than the upstream has', () => {
    const port = new URL(host.url).port;
    const uris = [`http://127.0.0.1:${port}/upstream`, `file://${fx.dir}/mirror`];
    const path = `upstream/pool/main/${DEB}`;
    for (const url of [
      `https://127.0.0.1:${port}/${path}`,
      `http://user:secret@127.0.0.1:${port}/${path}`,
      `http://127.0.0.1@127.0.0.1:${port}/${path}`,
      `http://127.0.0.1:1/${path}`,
      `http://localhost:${port}/${path}`,
      `http://127.0.0.2:${port}/${path}`,
      `file://${fx.dir}/${path}`,
      `file://otherhost${fx.dir}/mirror/pool/main/${DEB}`,
      `${fx.dir}/${path}`,
      `http://127.0.0.1:${port}/upstreamer/${DEB}`,
      `http://127.0.0.1:${port}/upstream`,
      `http://127.0.0.1:${port}/upstream/`,
    ]) {
      expect(() => checkUpstreamUrls('lock: apt', [{ url, what: 'package app' }], uris), url).toThrow(SpecError);
    }
  });

  it('takes what the downloader reads as the same file of the upstream, however the spec spells the upstream', () => {
    const port = new URL(host.url).port;
    const ok = (url: string, uri: string) => expect(() => checkUpstreamUrls('lock: apt', [{ url, what: 'package app' }], [uri]), `${url} under ${uri}`).not.toThrow();
    ok(`http://127.0.0.1:${port}/upstream/pool/main/${DEB}`, `http://127.0.0.1:${port}/upstream/`);
    ok(`http://127.0.0.1:${port}/upstream/pool/main/${DEB}`, `http://127.0.0.1:${port}/upstream//`);
    ok(`http://127.0.0.1:80/debian/pool/main/${DEB}`, 'http://127.0.0.1/debian');
    ok(`HTTP://Mirror.Example/debian/pool/main/${DEB}`, 'http://mirror.example/debian');
    ok(`http://mirror.example/pool/main/${DEB}`, 'http://mirror.example');
    ok(`http://mirror.example/my%20debian/pool/main/${DEB}`, 'http://mirror.example/my%20debian');
    ok(`http://mirror.example/debian/pool/main/${DEB}`, 'http://mirror.example/debian/./');
    ok(`file://${fx.dir}/upstream/pool/main/${DEB}`, `${fx.dir}/upstream`);
    ok(`${fx.dir}/upstream/pool/main/${DEB}`, `file://${fx.dir}/upstream`);
    ok(`${fx.dir}/upstream/./pool/main/${DEB}`, `${fx.dir}/upstream`);
  });
});
