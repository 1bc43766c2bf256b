import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { sha256Hex } from '../../src/util/sha256.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { writeRelease } from './storeFixture.js';

/**
 * A template is rendered on the runner from the store's copy (STORE/bundles/DIGEST/files/SERVICE/NAME) and the
 * result written to the hosts; unlike a staged artifact, no host checks its source against the manifest. In a
 * store someone else can write, that file replaced by a link to a file of the runner (a key, /etc/shadow) had
 * deploy render that file and write it to every host, and a template edited in place was deployed as it was:
 * exit 0 both times. Each is now checked against the manifest's size and sha256 before it is used (exit 67 or 71, one line).
 */
describe('a template of the store changed after import', () => {
  let dir: string;
  let store: string;
  let template: string;
  const secret = 'the runner\'s secret key\n';
  const host = () => join(dir, 'host');
  const inventory = () => join(dir, 'inventory.yaml');

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-template-tampered-'));
    writeFileSync(inventory(), stringify({ groups: { web: { hosts: ['runner'] } }, hosts: { runner: { transport: 'local', vars: { root: host(), ferry_data_dir: '{{ root }}/var/lib/ferry', ferry_ansible_facts_dir: '' } } } }));
    writeFileSync(join(dir, 'secret.key'), secret);
    store = join(dir, 'store');
    const digest = writeRelease(store, {
      name: 'app',
      version: '1',
      services: { web: { version: '1.0.0', groups: ['web'], files: { 'app.conf.j2': 'port {{ 8000 + 80 }}\n' }, configure: [{ template: { src: 'app.conf.j2', dest: '{{ root }}/etc/app.conf' } }] } },
    });
    template = join(store, 'bundles', digest, 'files/web/app.conf.j2');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const deploy = () => ferry(['deploy', 'app@1', '--allow-local', '-i', inventory(), '--store', store, '--push', '--force', 'configure']);

  it('the control: the template as imported is rendered', async () => {
    const r = await deploy();
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(readFileSync(join(host(), 'etc/app.conf'), 'utf8')).toBe('port 8080\n');
    rmSync(join(host(), 'etc/app.conf'));
  });

  it('replaced by a link to a file of the runner: refused, the file never reaches the host', async () => {
    const saved = readFileSync(template);
    unlinkSync(template);
    symlinkSync(join(dir, 'secret.key'), template);
    try {
      const r = await deploy();
      expect(existsSync(join(host(), 'etc/app.conf')) ? readFileSync(join(host(), 'etc/app.conf'), 'utf8') : undefined).not.toBe(secret);
      expect(r.stdout + r.stderr).not.toContain('secret key');
      expect(r.code, r.stderr + r.stdout).toBe(71);
      expect(r.stderr).toMatch(/^ferry: .*files\/web\/app\.conf\.j2 is a symbolic link/m);
      expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry: '))).toHaveLength(1);
    } finally {
      unlinkSync(template);
      writeFileSync(template, saved);
      chmodSync(template, 0o444);
    }
  });

  it('edited in place: refused (67), not deployed', async () => {
    const saved = readFileSync(template);
    chmodSync(template, 0o644);
    writeFileSync(template, 'port {{ 6000 + 66 }}\n');
    try {
      const r = await deploy();
      expect(existsSync(join(host(), 'etc/app.conf')) ? readFileSync(join(host(), 'etc/app.conf'), 'utf8') : undefined).not.toBe('port 6066\n');
      expect(r.code, r.stderr + r.stdout).toBe(67);
      expect(r.stderr).toMatch(/app\.conf\.j2.*sha256/);
      expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry: '))).toHaveLength(1);
    } finally {
      writeFileSync(template, saved);
      chmodSync(template, 0o444);
    }
  });
});

/**
 * Artifacts pushed to a host (--push) are packed from the store's tree by their paths. The host checks each one's
 * sha256, but only once it has arrived: a folder of the tree replaced by a link to a folder of the runner sent
 * the runner's file of that name to the host first (its sha256 in the host's refusal). The paths are walked
 * without following a link before anything is sent (the host's stage fails, exit 72, naming the link).
 */
describe('a folder of a stored release replaced by a link, pushed to a host', () => {
  let dir: string;
  it('refused before anything is sent', async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-push-linked-'));
    try {
      const inventory = join(dir, 'inventory.yaml');
      writeFileSync(inventory, stringify({ groups: { web: { hosts: ['runner'] } }, hosts: { runner: { transport: 'local', vars: { root: join(dir, 'host'), ferry_data_dir: '{{ root }}/var/lib/ferry', ferry_ansible_facts_dir: '' } } } }));
      const store = join(dir, 'store');
      const digest = writeRelease(store, { name: 'app', version: '1', services: { web: { version: '1.0.0', groups: ['web'], files: { 'static.txt': 'static\n' }, configure: [{ file: { src: 'static.txt', dest: '{{ root }}/srv/static.txt' } }] } } });
      const secrets = join(dir, 'secrets');
      mkdirSync(secrets);
      const secret = 'the runner\'s static secret\n';
      writeFileSync(join(secrets, 'static.txt'), secret);
      const folder = join(store, 'bundles', digest, 'files/web');
      renameSync(folder, join(dir, 'moved'));
      symlinkSync(secrets, folder);
      const r = await ferry(['deploy', 'app@1', '--allow-local', '-i', inventory, '--store', store, '--push']);
      expect(r.stdout + r.stderr).not.toContain(sha256Hex(Buffer.from(secret)));
      expect(existsSync(join(dir, 'host/srv/static.txt'))).toBe(false);
      // the host's stage fails (exit 72), naming the link
      expect(r.code, r.stderr + r.stdout).toBe(72);
      expect(r.stdout + r.stderr).toMatch(/files\/web is a symbolic link/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
