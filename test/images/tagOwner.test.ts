import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { ferry, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { umociImage, writeImageBundle } from '../helpers/ociImages.js';
import { startServer, type TestServer } from '../serve/startServer.js';

const haveTools = (await run('sh', ['-c', 'command -v skopeo && command -v umoci'])).code === 0;

/**
 * A signing policy trusts keys per release name; a repository tag is no release name. A release of
 * another name (its signer trusted for that name only) that tagged team/app:1.4 at its own image with a
 * newer epoch took the tag: every host pulling team/app:1.4 from ferry serve got that image. Releases of
 * different names that tag one repository at different digests now leave the tag unserved (a warning
 * names them); at one digest the tag is served; each image stays reachable by digest.
 */
describe.skipIf(!haveTools)('a tag that releases of two names carry', () => {
  let dir: string;
  let store: string;
  let server: TestServer;
  const digests: Record<string, string> = {};

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-tag-owner-${process.pid}-`));
    store = join(dir, 'store');
    const team = await writeKey(dir, 'team');
    const key = await openpgp.readPrivateKey({ armoredKey: team.secretArmored });
    const own = await umociImage(join(dir, 'own'), 'amd64', { 'etc/app.conf': 'the real app\n' });
    const evil = await umociImage(join(dir, 'evil'), 'amd64', { 'etc/app.conf': 'not the app\n' });
    const shared = await umociImage(join(dir, 'shared'), 'amd64', { 'etc/base.conf': 'base\n' });
    const bundles = [
      { name: 'app', version: '1.0.0', epoch: '2026-11-25T00:00:00.000Z', images: [{ ref: 'registry.example/team/app:1.4', layout: own.layout }, { ref: 'registry.example/team/base:1', layout: shared.layout }] },
      { name: 'intruder', version: '1.0.0', epoch: '2026-11-27T00:00:00.000Z', images: [{ ref: 'registry.example/team/app:1.4', layout: evil.layout }, { ref: 'registry.example/team/app:latest', layout: evil.layout }, { ref: 'registry.example/team/base:1', layout: shared.layout }, { ref: 'registry.example/team/tool:1', layout: evil.layout }] },
    ];
    for (const b of bundles) {
      const file = join(dir, `${b.name}.ferry`);
      const [img] = await writeImageBundle(file, key, b.images.map((i) => ({ ...i, services: ['web'] })), { name: b.name, version: b.version, epoch: b.epoch });
      digests[b.name] = img!.digest;
      const r = await ferry(['import', file, '--keyring', team.public, '--store', store]);
      expect(r.code, r.stderr).toBe(0);
    }
    server = await startServer(store);
  });
  afterAll(async () => {
    await server?.close(0);
    await rm(dir, { recursive: true, force: true });
  });

  it('does not serve the tag the names disagree on, by tag; each image stays reachable by digest', async () => {
    expect(digests.app).not.toBe(digests.intruder);
    const host = server.url.replace(/^http:\/\//, '');
    const byTag = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${host}/team/app:1.4`]);
    expect(byTag.code).not.toBe(0);
    expect((await fetch(`${server.url}/v2/team/app/manifests/1.4`, { method: 'HEAD' })).status).toBe(404);
    expect(await (await fetch(`${server.url}/v2/team/app/tags/list`)).json()).toEqual({ name: 'team/app', tags: [] });
    expect(server.warnings.join('\n')).toMatch(/image team\/app:1\.4 is not served by tag: releases of different names tag it at different digests \(app 1\.0\.0: sha256:[0-9a-f]{12}, intruder 1\.0\.0: sha256:[0-9a-f]{12}\); a tag is served when every release name that carries the repository tags it alike/);
    for (const d of [digests.app!, digests.intruder!]) {
      const r = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${host}/team/app@${d}`]);
      expect(r.code, r.stderr).toBe(0);
    }
  });

  it('does not serve a tag of its own that a release adds to a repository another name carries', async () => {
    expect((await fetch(`${server.url}/v2/team/app/manifests/latest`, { method: 'HEAD' })).status).toBe(404);
    expect(server.warnings.join('\n')).toMatch(/image team\/app:latest is not served by tag: releases named app carry team\/app without this tag \(intruder 1\.0\.0: sha256:[0-9a-f]{12}\)/);
    // a repository only one name carries is that name's
    const tool = await fetch(`${server.url}/v2/team/tool/manifests/1`, { method: 'HEAD' });
    expect(tool.status).toBe(200);
    expect(tool.headers.get('docker-content-digest')).toBe(digests.intruder);
  });

  it('serves a tag both names carry at one digest', async () => {
    const r = await fetch(`${server.url}/v2/team/base/manifests/1`, { method: 'HEAD' });
    expect(r.status).toBe(200);
    expect(await (await fetch(`${server.url}/v2/team/base/tags/list`)).json()).toEqual({ name: 'team/base', tags: ['1'] });
  });

  it('serves the tag again once only one name carries it', async () => {
    const refs = join(store, 'refs', 'intruder');
    await rm(refs, { recursive: true });
    const fresh = await startServer(store);
    try {
      const r = await fetch(`${fresh.url}/v2/team/app/manifests/1.4`, { method: 'HEAD' });
      expect(r.status).toBe(200);
      expect(r.headers.get('docker-content-digest')).toBe(digests.app);
    } finally {
      await fresh.close(0);
    }
  });
});
