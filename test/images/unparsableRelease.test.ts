import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../helpers/cli.js';
import { serveOneImageRelease, type ServedImageRelease } from '../helpers/oneImageRelease.js';

const haveTools = (await run('sh', ['-c', 'command -v skopeo && command -v umoci'])).code === 0;

/**
 * A stored release whose manifest.json hashes to its folder name but does not parse as this ferry's format
 * (a bundle an earlier ferry accepted, whose rules were looser) is one release whose images cannot be read.
 * The registry answered every /v2/ request but the base with 500 (the catalog of every release failed
 * with it), so no host could pull any image; it now leaves that release's images out with a warning and
 * serves the others, as it does for a release whose bundle is missing or damaged.
 */
describe.skipIf(!haveTools)('ferry serve with a stored release whose manifest does not parse', () => {
  let t: ServedImageRelease;
  beforeAll(async () => {
    t = await serveOneImageRelease('ferry-unparsable-release', { name: 'images', version: '1.0.0', ref: 'registry.example/team/app:1.4', files: { 'etc/app.conf': 'app 1.4\n' } }, async (store) => {
      // canonical JSON, named by its own sha256, referenced by a ref: only its format is not this ferry's
      const old = Buffer.from('{"format":"ferry-bundle/0","name":"old","version":"1.0.0"}\n');
      const digest = createHash('sha256').update(old).digest('hex');
      await mkdir(join(store, 'bundles', digest));
      await writeFile(join(store, 'bundles', digest, 'manifest.json'), old);
      await mkdir(join(store, 'refs', 'old'));
      await writeFile(join(store, 'refs', 'old', '1.0.0'), `${digest}\n`);
    });
  });
  afterAll(() => t?.stop());

  it('serves the other releases images to skopeo, and warns about that release', async () => {
    const { serve, image: app } = t;
    const catalog = await fetch(`${serve.url}/v2/_catalog`);
    expect(catalog.status).toBe(200);
    expect(await catalog.json()).toEqual({ repositories: ['team/app'] });
    const host = serve.url.replace(/^http:\/\//, '');
    const inspected = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${host}/team/app:1.4`]);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(createHash('sha256').update(inspected.stdout).digest('hex')).toBe(app.digest.slice('sha256:'.length));
    const unknown = await fetch(`${serve.url}/v2/team/none/tags/list`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }] });
    expect(serve.stderr()).toMatch(/warning: release old 1\.0\.0: its images are not served: .*manifest\.json does not match format/);
  });
});
