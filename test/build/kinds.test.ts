import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BuildContext } from '../../src/sources/kind.js';
import { KINDS } from '../../src/sources/kinds.js';
import { rootfsKind, type RootfsLock } from '../../src/sources/rootfs/rootfsKind.js';
import { silentLogger } from '../../src/ui/log.js';

describe('what one artifact kind takes from another', () => {
  it('runs every kind after the kinds it uses, and rootfs uses apt', () => {
    const names = KINDS.map((k) => k.name);
    for (const kind of KINDS) {
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
      const ctx = { baseDir: workDir, workDir, cacheDir: workDir, epoch: new Date(0), signingKeys: [], jobs: 1, log: silentLogger, previous: new Map([['apt', { entries: [] }]]) } as unknown as BuildContext;
      await expect(rootfsKind.collect(lock, ctx, {})).rejects.toThrow("rootfs base: mmdebstrap installs from the bundle's apt repository, but this build has none");
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  });
});
