import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BuildContext } from '../../src/sources/kind.js';
import { KINDS } from '../../src/sources/kinds.js';
import { parseSpecText } from '../../src/specfile/loadSpec.js';
import { DEMO_SPEC_DIR } from '../helpers/demoBundle.js';
import { writeKey } from '../helpers/keys.js';
import { modulesLoadedBy, packagesIn } from '../helpers/loadedModules.js';
import { rootfsKind, type RootfsLock } from '../../src/sources/rootfs/rootfsKind.js';
import { silentLogger } from '../../src/ui/log.js';

describe('what one artifact kind takes from another', () => {
  it('runs every kind after the kinds it uses, and rootfs uses apt', async () => {
    const names = KINDS.map((k) => k.name);
    const kinds = await Promise.all(KINDS.map((k) => k.load()));
    expect(kinds.map((k) => k.name)).toEqual(names);
    for (const kind of kinds) {
      for (const used of kind.uses ?? []) {
        expect(names, `${kind.name} uses ${used}`).toContain(used);
        expect(names.indexOf(used), `${kind.name} uses ${used}`).toBeLessThan(names.indexOf(kind.name));
      }
    }
    expect(rootfsKind.uses).toEqual(['apt']);
  });

  it('builds an mmdebstrap rootfs only from the apt results the build hands it, never from the context', async () => {
    const workDir = await mkdtemp(join(tmpdir(), 'ferry-kinds-'));
    try {
      const lock: RootfsLock = [{ name: 'base', services: ['web'], type: 'mmdebstrap', suite: 'stable', architecture: 'amd64', variant: 'minbase', packages: [], compress: 'gzip' }];
      // a context that still carries an earlier kind's results the old way must not be read
      // the spec the lock was made from (collect refuses a lock the spec does not give)
      const spec = parseSpecText(
        'name: t\nversion: 1.0.0\nepoch: 2026-01-01T00:00:00Z\ntargets: { debian: { suite: stable, architectures: [amd64] } }\nrootfs:\n  base: { mmdebstrap: { variant: minbase } }\nservices:\n  web: { version: 1.0.0, groups: [web], artifacts: { rootfs: [base] } }\n',
        'test.yaml',
      );
      const ctx = { spec, baseDir: workDir, workDir, cacheDir: workDir, epoch: new Date(0), signingKeys: async () => [], jobs: 1, log: silentLogger, previous: new Map([['apt', { entries: [] }]]) } as unknown as BuildContext;
      await expect(rootfsKind.collect(lock, ctx, {})).rejects.toThrow("rootfs base: mmdebstrap installs from the bundle's apt repository, but this build has none");
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  });

  /** A spec whose one service carries ARTIFACTS (YAML flow mapping), with TOP added at the top level. */
  const specWith = (artifacts: string, top = '') =>
    parseSpecText(`name: t\nversion: 1.0.0\nepoch: 2026-01-01T00:00:00Z\n${top}services:\n  web:\n    version: 1.0.0\n    groups: [web]\n    artifacts: ${artifacts}\n`, 'test.yaml');
  const CASES: Array<[string, ReturnType<typeof specWith>, string[]]> = [
    ['nothing', specWith('{}'), []],
    ['files', specWith('{ files: [{ src: a.txt }] }'), ['files']],
    ['apt', specWith('{ apt: [curl] }'), ['apt']],
    ['python', specWith('{ python: { requirements: r.txt } }'), ['python']],
    ['git', specWith('{ git: [{ url: /nonexistent/x.git, ref: main }] }'), ['git']],
    ['a rootfs the spec does not define (lock refuses it)', specWith('{ rootfs: [base] }'), ['rootfs']],
    ['an mmdebstrap rootfs', specWith('{}', 'rootfs:\n  base: { mmdebstrap: {} }\n'), ['apt', 'rootfs']],
    ['images', specWith('{ images: [{ ref: "localhost/x@sha256:' + '0'.repeat(64) + '" }] }'), ['image']],
    ['an apt mirror', specWith('{}', 'mirrors:\n  apt:\n    deb: { uri: system, suites: [stable] }\n'), ['mirror']],
    ['a Python mirror', specWith('{}', 'mirrors:\n  python:\n    pypi: { index: ./simple, projects: [alpha], targets: [{ version: "3.11", platforms: [manylinux_2_17_x86_64] }] }\n'), ['mirror']],
  ];

  it.each(CASES)('a spec with %s uses exactly its kinds; every other kind, not loaded, would have locked nothing', async (_, spec, expected) => {
    expect(KINDS.filter((k) => k.inSpec(spec)).map((k) => k.name)).toEqual(expected);
    const workDir = await mkdtemp(join(tmpdir(), 'ferry-kinds-'));
    try {
      const ctx: BuildContext = { spec, baseDir: workDir, workDir, cacheDir: workDir, epoch: new Date(0), signingKeys: async () => [], jobs: 1, log: silentLogger };
      for (const entry of KINDS.filter((k) => !k.inSpec(spec))) expect(await (await entry.load()).lock(ctx), entry.name).toBeUndefined();
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  });

  it("ferry build of a spec of files loads the files kind's modules and no other kind's", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-kinds-build-'));
    try {
      await cp(DEMO_SPEC_DIR, join(dir, 'demo'), { recursive: true });
      const key = await writeKey(dir, 'kinds');
      const loaded = await modulesLoadedBy(['build', join(dir, 'demo/demo.yaml'), '--key', key.secret, '--out', dir, '--cache', join(dir, 'cache')]);
      const kindFolders = [...new Set(loaded.flatMap((u) => /\/dist\/sources\/([^/]+)\//.exec(u)?.[1] ?? []))];
      expect(kindFolders).toEqual(['files']);
      expect(loaded.filter((u) => u.endsWith('/dist/sources/mirrorKind.js'))).toEqual([]);
      for (const pkg of ['@renovatebot/pep440', 'yauzl', 'xz-decompress']) expect(packagesIn(loaded)).not.toContain(pkg);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
