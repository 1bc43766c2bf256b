import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRelease } from '../../src/store/loadRelease.js';
import { runDeploy } from '../../src/deploy/runDeploy.js';
import { labInventory, recordingLogger, resetHost } from './fixtures.js';
import { startSshLab, type SshLab } from './sshLab.js';
import { writeRelease } from './storeFixture.js';

const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@ferry.invalid', ...args], { cwd, encoding: 'utf8' }).trim();

describe('rootfs and git steps over ssh', () => {
  let dir: string;
  let lab: SshLab;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-artifacts-'));
    lab = await startSshLab(dir, ['r1']);
  });
  afterAll(async () => {
    await lab?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('unpacks the rootfs and checks out the pinned commit, then finds both in place', async () => {
    for (const h of lab.hosts) resetHost(h);
    const tree = join(dir, 'tree');
    mkdirSync(join(tree, 'etc'), { recursive: true });
    writeFileSync(join(tree, 'etc/os-release'), 'ID=ferrytest\n');
    const tarball = join(dir, 'base.tar.gz');
    execFileSync('tar', ['-czf', tarball, '-C', tree, '.']);

    const repo = join(dir, 'repo');
    mkdirSync(repo);
    git(repo, 'init', '-q', '-b', 'main');
    writeFileSync(join(repo, 'README'), 'one\n');
    git(repo, 'add', '.');
    git(repo, 'commit', '-qm', 'one');
    const first = git(repo, 'rev-parse', 'HEAD');
    writeFileSync(join(repo, 'README'), 'two\n');
    git(repo, 'commit', '-qam', 'two');
    git(repo, 'branch', 'ferry', first);
    const bundle = join(dir, 'app.bundle');
    git(repo, 'bundle', 'create', bundle, 'ferry');

    const store = join(dir, 'store');
    writeRelease(store, {
      name: 'arts',
      version: '1',
      services: { web: { version: '1', groups: ['web'], install: [{ rootfs: { name: 'base', dest: '{{ root }}/srv/base' } }, { git: { name: 'app', dest: '{{ root }}/srv/app' } }] } },
      extra: [
        { path: 'rootfs/base.tar.gz', content: readFileSync(tarball), kind: 'rootfs', services: ['web'] },
        { path: 'git/app.bundle', content: readFileSync(bundle), kind: 'git', services: ['web'] },
      ],
      artifacts: { rootfs: { base: { path: 'rootfs/base.tar.gz' } }, git: { app: { path: 'git/app.bundle', commit: first, shallow: [] } } },
    });
    const { inventory } = labInventory(lab.hosts, {});
    const release = await loadRelease(store, 'arts@1');
    const opts = { release, inventory, hosts: inventory.hosts, source: { push: true as const }, ssh: { configFile: lab.sshConfig } };
    const report = await runDeploy({ ...opts, log: recordingLogger() });
    expect(report.hosts[0]!.error).toBeUndefined();
    expect(report.hosts[0]!.services.web!.install).toMatchObject({ status: 'ran', changed: 2 });
    const root = lab.hosts[0]!.root;
    expect(readFileSync(join(root, 'srv/base/etc/os-release'), 'utf8')).toBe('ID=ferrytest\n');
    expect(git(join(root, 'srv/app'), 'rev-parse', 'HEAD')).toBe(first);
    expect(readFileSync(join(root, 'srv/app/README'), 'utf8')).toBe('one\n');

    const forced = await runDeploy({ ...opts, force: ['install'], log: recordingLogger() });
    expect(forced.hosts[0]!.services.web!.install).toMatchObject({ status: 'ran', changed: 0 });
  });
});
