import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { modulesLoadedBy, packagesIn } from '../helpers/loadedModules.js';
import { writeKey } from '../helpers/keys.js';
import { buildWheels, hostPython, requirementsFor, serveFixtureIndex, type FixtureIndex } from '../python/fixtures.js';
import { buildDeb, readPrivate, serveDir, writeUpstream } from '../apt/fixtureUpstream.js';
import { aptMirrorSpec } from '../mirror/mirrorChecks.js';

/**
 * What a build loads only after its downloads (issue 20: time before the first request). Each build here
 * is locked against a live upstream whose package files are then removed: the build's download of them
 * fails (404, exit 69), so whatever it loaded, it loaded before its downloads were done. The purl library
 * (SBOM package URLs, ~10 ms to load) must not be among them.
 */
describe('a build loads the purl library after its downloads', () => {
  let dir = '';
  let key: Awaited<ReturnType<typeof writeKey>>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-loads-after-fetch-'));
    key = await writeKey(dir, 'bundle');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('python and python mirror: none before its downloads are done', async () => {
    const files = join(dir, 'wheels');
    const [wheel] = buildWheels(files, [{ name: 'alpha', version: '1.0', files: { 'alpha/__init__.py': 'VALUE = 1\n' } }]);
    const gone: string[] = [];
    let index: FixtureIndex | undefined = await serveFixtureIndex(files, { gone });
    try {
      const py = hostPython();
      const specDir = join(dir, 'py');
      await mkdir(specDir);
      await writeFile(join(specDir, 'requirements.txt'), await requirementsFor(files, [{ name: 'alpha', version: '1.0' }]));
      const spec = join(specDir, 'app.yaml');
      await writeFile(
        spec,
        `name: app\nversion: 1.0.0\nepoch: 2026-11-25T00:00:00Z\ntargets:\n  python: { version: "${py.version}", platforms: [manylinux_2_36_${py.machine}] }\nupstreams:\n  python: { index: "${index.url}" }\nservices:\n  api:\n    version: "1"\n    groups: [api]\n    artifacts:\n      python: { requirements: requirements.txt }\n`,
      );
      const mirror = join(specDir, 'mirror.yaml');
      await writeFile(
        mirror,
        `name: pymirror\nversion: 1.0.0\nepoch: 2026-11-25T00:00:00Z\nmirrors:\n  python:\n    pypi:\n      index: "${index.url}"\n      projects: ["alpha>=1.0"]\n      targets:\n        - { version: "${py.version}", platforms: [manylinux_2_36_${py.machine}] }\n`,
      );
      for (const s of [spec, mirror]) {
        const lock = await ferry(['lock', s, '--cache', join(dir, 'py-lock-cache')]);
        expect(lock.code, lock.stderr).toBe(0);
      }
      // the index still lists the wheel (a mirror's build proves it there first), its file server no longer has it
      gone.push(wheel!);
      for (const [s, module] of [[spec, 'python/collectPython.js'], [mirror, 'python/publishPythonMirror.js']] as const) {
        const loaded = await modulesLoadedBy(['build', s, '--locked', '--key', key.secret, '--out', join(dir, 'py-out'), '--cache', join(dir, `py-build-cache-${module.replace(/\W/g, '')}`)], { code: 69 });
        expect(loaded.some((u) => u.endsWith(`/dist/sources/${module}`)), module).toBe(true);
        expect(packagesIn(loaded), module).not.toContain('packageurl-js');
        expect(loaded.filter((u) => u.endsWith('/dist/sbom/purl.js')), module).toEqual([]);
      }
    } finally {
      await index?.close();
      index = undefined;
    }
  });

  it('apt and apt mirror: none before its downloads are done', async () => {
    const deb = await buildDeb(dir, { name: 'app', version: '1.0-1' });
    const upstreamKey = await writeKey(dir, 'upstream');
    const root = join(dir, 'upstream');
    await writeUpstream(root, [deb], { suite: 'fixture', key: await readPrivate(upstreamKey.secretArmored) });
    const upstream = await serveDir(root);
    try {
      const specDir = join(dir, 'apt');
      await mkdir(specDir);
      await writeFile(join(specDir, 'upstream.asc'), upstreamKey.publicArmored);
      const mirror = join(specDir, 'mirror.yaml');
      await writeFile(mirror, aptMirrorSpec('1.0.0', upstream.url, '{ packages: [app] }'));
      const packages = join(specDir, 'app.yaml');
      await writeFile(
        packages,
        `name: app\nversion: 1.0.0\nepoch: 2026-11-25T00:00:00Z\ntargets: { debian: { suite: bookworm, architectures: [amd64] } }\nupstreams:\n  apt:\n    - { uri: "${upstream.url}", suites: [fixture], keyring: upstream.asc }\nservices:\n  web: { version: "1", groups: [web], artifacts: { apt: [app] } }\n`,
      );
      for (const spec of [mirror, packages]) {
        const lock = await ferry(['lock', spec, '--cache', join(dir, 'apt-lock-cache')]);
        expect(lock.code, lock.stderr).toBe(0);
      }
      await rm(join(root, 'pool/main', deb.split('/').pop()!));
      for (const [spec, module] of [[mirror, 'apt/publishAptMirror.js'], [packages, 'apt/aptKind.js']] as const) {
        const loaded = await modulesLoadedBy(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, 'apt-out'), '--cache', join(dir, `apt-build-cache-${module.replace(/\W/g, '')}`)], { code: 69 });
        expect(loaded.some((u) => u.endsWith(`/dist/sources/${module}`)), module).toBe(true);
        expect(packagesIn(loaded), module).not.toContain('packageurl-js');
        expect(loaded.filter((u) => u.endsWith('/dist/sbom/purl.js')), module).toEqual([]);
      }
    } finally {
      await upstream.close();
    }
  });
});
