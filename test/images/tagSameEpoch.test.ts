import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ferry, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { umociImage } from '../helpers/ociImages.js';
import { startServer, type TestServer } from '../serve/startServer.js';
import { curl } from '../serve/curl.js';
import { findPreviousRelease } from '../../src/deploy/findPreviousRelease.js';

const haveTools = (await run('sh', ['-c', 'command -v skopeo && command -v umoci'])).code === 0;

/**
 * A spec pins its epoch (same bytes from the same lock), so two releases may share it. Between them the
 * newer version is the newest release: for ferry gc --keep, for /mirrors/NAME/, and for a tag that both
 * carry at different digests in ferry serve's registry (10.0.0 after 9.0.0, not by string order).
 */
describe.skipIf(!haveTools)('a tag carried by two releases of one epoch', () => {
  let dir: string;
  let store: string;
  let server: TestServer;
  const digests: Record<string, string> = {};

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-tag-epoch-'));
    store = join(dir, 'store');
    const team = await writeKey(dir, 'team');
    for (const version of ['9.0.0', '10.0.0']) {
      const img = await umociImage(join(dir, `img-${version}`), 'amd64', { 'etc/app.conf': `app ${version}\n` });
      digests[version] = img.digest;
      const spec = join(dir, `app-${version}.yaml`);
      await writeFile(
        spec,
        `name: app\nversion: ${version}\nepoch: 2026-11-25T00:00:00Z\ntargets:\n  debian: { suite: bookworm, architectures: [amd64] }\n` +
          `services:\n  app:\n    version: "${version}"\n    groups: [app]\n    artifacts:\n      images:\n        - { ref: "registry.example/team/app:stable", from: "oci:img-${version}/layout:upstream" }\n`,
      );
      const locked = await ferry(['lock', spec, '--cache', join(dir, 'cache')]);
      expect(locked.code, locked.stderr).toBe(0);
      const built = await ferry(['build', spec, '--locked', '--key', team.secret, '--out', join(dir, 'out'), '--cache', join(dir, 'cache'), '--json']);
      expect(built.code, built.stderr).toBe(0);
      const imported = await ferry(['import', JSON.parse(built.stdout).bundle, '--keyring', team.public, '--store', store]);
      expect(imported.code, imported.stderr).toBe(0);
    }
    server = await startServer(store);
  });
  afterAll(async () => {
    await server?.close(0);
    await rm(dir, { recursive: true, force: true });
  });

  it('lists 9.0.0 before 10.0.0, and rolls 10.0.0 back to 9.0.0 (not forward)', async () => {
    const list = await ferry(['list', '--store', store]);
    expect(list.stdout.split('\n').filter((l) => l.startsWith('app ')).map((l) => l.split(/ +/)[1])).toEqual(['9.0.0', '10.0.0']);
    const json = JSON.parse((await ferry(['list', '--store', store, '--json'])).stdout) as Array<{ version: string; digest: string }>;
    const digestOf = (v: string) => json.find((r) => r.version === v)!.digest;
    expect((await findPreviousRelease(store, 'app', [digestOf('10.0.0')])).version).toBe('9.0.0');
    await expect(findPreviousRelease(store, 'app', [digestOf('9.0.0')])).rejects.toThrow(/oldest release/);
  });

  // a tag moves as releases come and go, to an older image too (the newest release removed): its answer has no
  // modification date (Last-Modified was the image's file time, and If-Modified-Since alone was answered 304
  // with the image of before), so only the digest ETag revalidates it
  it('answers a manifest by tag without Last-Modified, and ignores If-Modified-Since for it', async () => {
    const url = `${server.url}/v2/team/app/manifests/stable`;
    const accept = ['-H', 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json'];
    const first = await curl(...accept, url);
    expect(first.status).toBe(200);
    expect(first.headers['last-modified']).toBeUndefined();
    expect(first.headers.etag).toBe(`"${digests['10.0.0']!.slice('sha256:'.length)}"`);
    const later = new Date(Date.now() + 86_400_000).toUTCString();
    const dated = await curl(...accept, '-H', `If-Modified-Since: ${later}`, url);
    expect([dated.status, dated.body.equals(first.body)]).toEqual([200, true]);
    expect((await curl(...accept, '-H', `If-None-Match: ${first.headers.etag}`, url)).status).toBe(304);
    // by digest the content never changes: its date stays
    const byDigest = await curl(...accept, `${server.url}/v2/team/app/manifests/${digests['10.0.0']}`);
    expect(byDigest.headers['last-modified']).toMatch(/GMT$/);
  });

  it('serves the tag from the newer version, the release gc keeps as newest', async () => {
    expect(digests['9.0.0']).not.toBe(digests['10.0.0']);
    const host = server.url.replace(/^http:\/\//, '');
    const inspected = await run('skopeo', ['inspect', '--tls-verify=false', `docker://${host}/team/app:stable`]);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(JSON.parse(inspected.stdout).Digest).toBe(digests['10.0.0']);
    expect(server.warnings.join('\n')).toMatch(/team\/app:stable is carried by app 9\.0\.0 and app 10\.0\.0 at different digests; the tag serves app 10\.0\.0's/);

    const gc = await ferry(['gc', '--store', store, '--keep', '1', '--dry-run', '--json']);
    expect(gc.code, gc.stderr).toBe(0);
    expect(gc.stdout).toContain('10.0.0');
    const list = await ferry(['gc', '--store', store, '--keep', '1']);
    expect(list.stdout).toMatch(/kept \(newest\) +app +10\.0\.0/);
  });
});
