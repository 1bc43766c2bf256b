import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { writeRelease } from './storeFixture.js';

/**
 * The install steps that use staged files (rootfs, apt) read them again and check their sha256 even
 * when the stage stage is skipped: a file changed on the host after staging is refused, naming it.
 * Here on a local host (the runner's own machine, everything under a temporary folder); the apt step
 * is exercised the same way on an isolated lab host in lab-recheck.test.ts.
 */
describe('a staged file changed on the host after staging', () => {
  let dir: string;
  let store: string;
  let digest: string;
  let inventory: string;
  const host = () => join(dir, 'host');

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-staged-recheck-'));
    store = join(dir, 'store');
    mkdirSync(join(dir, 'tree'));
    writeFileSync(join(dir, 'tree', 'hello.txt'), 'hello from a rootfs\n');
    execFileSync('tar', ['-czf', join(dir, 'base.tar.gz'), '-C', join(dir, 'tree'), '.']);
    digest = writeRelease(store, {
      name: 'recheck',
      version: '1',
      services: { web: { version: '1.0.0', groups: ['web'], install: [{ rootfs: { name: 'base', dest: '{{ root }}/srv/base' } }] } },
      extra: [{ path: 'rootfs/base.tar.gz', content: readFileSync(join(dir, 'base.tar.gz')), kind: 'rootfs', services: ['web'] }],
      artifacts: { rootfs: { base: { path: 'rootfs/base.tar.gz' } } },
    });
    inventory = join(dir, 'inventory.yaml');
    writeFileSync(inventory, stringify({ groups: { web: { hosts: ['runner'] } }, hosts: { runner: { transport: 'local', vars: { root: host(), ferry_data_dir: '{{ root }}/var/lib/ferry' } } } }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is refused by the rootfs step on --force install, exit 72, naming the file', async () => {
    const first = await ferry(['deploy', 'recheck@1', '--allow-local', '-i', inventory, '--store', store, '--push']);
    expect(first.code, first.stderr + first.stdout).toBe(0);
    expect(readFileSync(join(host(), 'srv/base/hello.txt'), 'utf8')).toBe('hello from a rootfs\n');

    const staged = join(host(), 'var/lib/ferry/bundles', digest, 'rootfs/base.tar.gz');
    appendFileSync(staged, 'changed on the host\n');
    rmSync(join(host(), 'srv/base/hello.txt'));
    const forced = await ferry(['deploy', 'recheck@1', '--allow-local', '-i', inventory, '--store', store, '--push', '--force', 'install']);
    expect(forced.code, forced.stderr + forced.stdout).toBe(72);
    expect(forced.stdout + forced.stderr).toMatch(new RegExp(`staged file ${staged.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: sha256 [0-9a-f]{64}, the bundle says [0-9a-f]{64} \\(changed on this host since it was staged; run again with --force stage\\)`));
    // nothing was unpacked from the changed file
    expect(existsSync(join(host(), 'srv/base/hello.txt'))).toBe(false);

    // staging again puts back the signed bytes, and install goes through
    const again = await ferry(['deploy', 'recheck@1', '--allow-local', '-i', inventory, '--store', store, '--push', '--force', 'stage,install']);
    expect(again.code, again.stderr + again.stdout).toBe(0);
  });
});
