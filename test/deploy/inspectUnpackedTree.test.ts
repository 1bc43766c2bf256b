import { chmodSync, chownSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rootfsStep } from '../../src/deploy/steps/rootfsStep.js';
import type { StepContext } from '../../src/deploy/steps/types.js';
import { LocalTransport } from '../../src/deploy/transport/localTransport.js';
import { loadRelease } from '../../src/store/loadRelease.js';
import { run } from '../helpers/cli.js';
import { watchRemovals } from '../helpers/watchRemovals.js';
import { writeRelease } from './storeFixture.js';

// owners in the tarball and chown by hand need root, as the rootfs step itself does on a host
describe.skipIf(process.getuid?.() !== 0)('drift of an unpacked rootfs tree, compared with its tarball by tar --compare', () => {
  let dir: string;
  let ctx: StepContext;
  const params = () => ({ name: 'base', dest: join(dir, 'live') });

  beforeAll(async () => {
    dir = mkdtempSync('/var/tmp/ferry-tree-drift-');
    const root = join(dir, 'rootfs');
    for (const d of ['etc', 'usr/bin', 'var/lib/app']) mkdirSync(join(root, d), { recursive: true });
    writeFileSync(join(root, 'etc/motd'), 'hello\n');
    writeFileSync(join(root, 'etc/owned'), 'owned by 1\n');
    chownSync(join(root, 'etc/owned'), 1, 1);
    writeFileSync(join(root, 'usr/bin/tool'), '#!/bin/sh\n');
    chmodSync(join(root, 'usr/bin/tool'), 0o755);
    linkSync(join(root, 'usr/bin/tool'), join(root, 'usr/bin/tool-alias'));
    symlinkSync('motd', join(root, 'etc/issue'));
    writeFileSync(join(root, 'var/lib/app/state'), 'a file\n');
    const tar = await run('tar', ['--sort=name', '--numeric-owner', '--mtime=@1700000000', '-czf', join(dir, 'base.tar.gz'), '-C', root, '.']);
    expect(tar.code, tar.stderr).toBe(0);
    const store = join(dir, 'store');
    writeRelease(store, {
      name: 'tree',
      version: '1',
      services: { app: { version: '1', groups: ['app'], install: [{ rootfs: params() }] } },
      extra: [{ path: 'rootfs/base.tar.gz', content: readFileSync(join(dir, 'base.tar.gz')), kind: 'rootfs', services: ['app'] }],
      artifacts: { rootfs: { base: { path: 'rootfs/base.tar.gz' } } },
    });
    const release = await loadRelease(store, 'tree@1');
    ctx = { host: 'local', service: 'app', stage: 'install', transport: new LocalTransport('local'), release, dataDir: dir, remoteBundle: release.dir, vars: {}, changedSoFar: false, timeoutMs: 600_000, push: true };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names a changed symlink, owner, file type and hard link; ignores times, the top folder mode and added files; --repair unpacks it again', async () => {
    expect((await rootfsStep.run(params(), ctx)).changed).toBe(true);
    const inspected = await rootfsStep.inspect(params(), ctx);
    expect(inspected.differences).toEqual([]);
    const tree = inspected.target;

    unlinkSync(join(tree, 'etc/issue'));
    symlinkSync('/etc/passwd', join(tree, 'etc/issue'));
    chownSync(join(tree, 'etc/owned'), 65534, 65534);
    rmSync(join(tree, 'var/lib/app/state'));
    mkdirSync(join(tree, 'var/lib/app/state'));
    // a copy instead of the hard link: same bytes, no longer the same file
    unlinkSync(join(tree, 'usr/bin/tool-alias'));
    writeFileSync(join(tree, 'usr/bin/tool-alias'), readFileSync(join(tree, 'usr/bin/tool')), { mode: 0o755 });
    // not drift: a time, the top folder's mode, a file the service added
    utimesSync(join(tree, 'etc/motd'), 1, 1);
    chmodSync(tree, 0o700);
    writeFileSync(join(tree, 'var/lib/app/log'), 'written by the service\n');

    const found = await rootfsStep.inspect(params(), ctx);
    expect(found.differences).toEqual([
      { what: 'tree', want: expect.stringMatching(/^unpacked from sha256 [0-9a-f]{12}$/), have: '4 files differ: etc/issue (link), etc/owned (owner, group), usr/bin/tool-alias (link), var/lib/app/state (type)' },
    ]);

    // the live tree is renamed aside and the new one renamed in: never removed under its name
    const id = tree.slice(tree.lastIndexOf('/') + 1);
    const watch = await watchRemovals(join(dir, 'live.d'));
    expect((await rootfsStep.run(params(), { ...ctx, repair: true })).changed).toBe(true);
    const removed = await watch.stop();
    expect(removed).toContain(`MOVED_FROM,ISDIR ${id}`);
    expect(removed.filter((e) => e.endsWith(` ${id}`) && e.startsWith('DELETE'))).toEqual([]);
    expect((await rootfsStep.inspect(params(), ctx)).differences).toEqual([]);
  });
});
