import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync, chmodSync } from 'node:fs';
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
