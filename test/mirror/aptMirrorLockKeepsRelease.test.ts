import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { buildDeb, readPrivate, serveDir, writeUpstream } from '../apt/fixtureUpstream.js';
import { aptMirrorSpec } from './mirrorChecks.js';

/**
 * `ferry lock` of an apt mirror keeps the signed Releases it read in its cache, as `ferry lock` of an apt
 * closure and every build do: a `build --locked` with that cache proves the lock by the Release it was made
 * from, even after the upstream moved on (a security suite replaces a version within hours).
 */
describe('apt mirror: ferry lock keeps the signed Releases it read, so the build after it proves the lock by them', () => {
  let dir: string;
  let spec: string;
  let served: Awaited<ReturnType<typeof serveDir>>;
  let bundleKey: Awaited<ReturnType<typeof writeKey>>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-mirror-lockrelease-${process.pid}-`));
    const upstream = await writeKey(dir, 'upstream');
    bundleKey = await writeKey(dir, 'bundle');
    const key = await readPrivate(upstream.secretArmored);
    const root = join(dir, 'upstream');
    await writeUpstream(root, [await buildDeb(join(dir, 'v1'), { name: 'hello', version: '1.0' })], { suite: 'fixture', key });
    served = await serveDir(root);
    spec = join(dir, 'mirror.yaml');
    await writeFile(join(dir, 'upstream.asc'), upstream.publicArmored);
    await writeFile(spec, aptMirrorSpec('1.0.0', served.url, '{ packages: [hello] }'));
    const l = await ferry(['lock', spec, '--cache', join(dir, 'cache')]);
    expect(l.code, l.stderr).toBe(0);
    // the upstream moves on: its suite now lists hello 2.0 only (1.0's file stays in the pool, as Debian's
    // pool keeps a replaced file for a while), under a Release signed again
    const next = join(dir, 'upstream-next');
    await writeUpstream(next, [await buildDeb(join(dir, 'v2'), { name: 'hello', version: '2.0' })], { suite: 'fixture', key });
    await rm(join(root, 'dists'), { recursive: true });
    await cp(join(next, 'dists'), join(root, 'dists'), { recursive: true });
    await cp(join(next, 'pool/main'), join(root, 'pool/main'), { recursive: true });
  });
  afterAll(async () => {
    await served?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const build = (out: string, cache: string) => ferry(['build', spec, '--locked', '--key', bundleKey.secret, '--out', out, '--cache', cache]);

  it('builds the lock with the cache ferry lock filled, though the upstream no longer lists the locked version', async () => {
    const out = join(dir, 'out-lock-cache');
    const b = await build(out, join(dir, 'cache'));
    expect(b.code, b.stderr).toBe(0);
    expect((await readdir(out)).filter((f) => f.endsWith('.ferry'))).toHaveLength(1);
    expect(served.requests.filter((p) => p.startsWith('/pool/'))).toEqual([expect.stringMatching(/\/hello_1\.0_amd64\.deb$/)]);
  });

  it('refuses it from an empty cache: the Release the upstream signs now does not list the locked file (exit 67, one line, nothing written)', async () => {
    const out = join(dir, 'out-empty-cache');
    const b = await build(out, await mkdtemp(join(dir, 'cache-empty-')));
    expect(b.code, b.stderr).toBe(67);
    expect(b.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'))).toEqual([expect.stringMatching(/hello.*1\.0.*run ferry lock again and review the diff$/)]);
    expect(await readdir(out).catch(() => [])).toEqual([]);
  });
});
