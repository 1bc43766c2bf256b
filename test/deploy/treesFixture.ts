import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { makeGitBundle } from '../../src/sources/git/makeGitBundle.js';
import { run } from '../helpers/cli.js';
import { makeUpstream } from '../git/helpers.js';

/**
 * A release's git and rootfs artifacts, made in `dir`: a git bundle `app` of the upstream's fourth
 * commit with its whole history, as `ferry build` writes it, and a small rootfs `base` (etc/motd, a
 * program usr/bin/tool). `extra` and `artifacts` are writeRelease's, for a service `app`.
 */
export async function treeArtifacts(dir: string) {
  const { commits } = await makeUpstream(join(dir, 'upstream'));
  const bundle = join(dir, 'app.bundle');
  const { shallow } = await makeGitBundle({ url: join(dir, 'upstream'), ref: 'stable', commit: commits[3]!, depth: 0, dest: bundle, scratch: join(dir, 'scratch') });
  const root = join(dir, 'rootfs');
  mkdirSync(join(root, 'etc'), { recursive: true });
  mkdirSync(join(root, 'usr/bin'), { recursive: true });
  writeFileSync(join(root, 'etc/motd'), 'welcome to the base tree\n');
  writeFileSync(join(root, 'usr/bin/tool'), '#!/bin/sh\necho tool\n');
  chmodSync(join(root, 'usr/bin/tool'), 0o755);
  const tar = await run('tar', ['--sort=name', '--numeric-owner', '--owner=0', '--group=0', '--mtime=@1700000000', '-czf', join(dir, 'base.tar.gz'), '-C', root, '.']);
  expect(tar.code, tar.stderr).toBe(0);
  const tarball = readFileSync(join(dir, 'base.tar.gz'));
  return {
    commits,
    tarSha: createHash('sha256').update(tarball).digest('hex'),
    extra: [
      { path: 'git/app.bundle', content: readFileSync(bundle), kind: 'git' as const, services: ['app'] },
      { path: 'rootfs/base.tar.gz', content: tarball, kind: 'rootfs' as const, services: ['app'] },
    ],
    artifacts: { git: { app: { path: 'git/app.bundle', commit: commits[3], shallow } }, rootfs: { base: { path: 'rootfs/base.tar.gz' } } },
  };
}
