import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { writeKey } from '../helpers/keys.js';
import { ferry } from '../helpers/cli.js';
import { handMadeLayout, writeImageBundle } from '../helpers/ociImages.js';
import { spawnServe, type ServeProcess } from '../serve/spawnServe.js';
import { ownIdentity } from '../../src/util/processIdentity.js';
import { importBundle } from '../../src/store/importBundle.js';

/** A hand-made one-image layout and the sha256 of its blobs. */
async function layout(dir: string, content: string): Promise<{ dir: string; blobs: string[] }> {
  await handMadeLayout(dir, content);
  return { dir, blobs: await readdir(join(dir, 'blobs', 'sha256')) };
}

/** Every name under `dir` with its inode and size: what a store holds, to the file (but the audit log, which records the refusal). */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(e.parentPath, e.name);
    if (path.startsWith(join(dir, 'audit.log'))) continue;
    const st = await lstat(path);
    out.push(`${path.slice(dir.length)} ${st.isDirectory() ? 'dir' : `${st.ino} ${st.size}`}`);
  }
  return out.sort();
}

/**
 * A signed bundle that import refuses late, after its new artifacts were linked into STORE/blobs (here its
 * oci/index.json leaves out an image the manifest pins: verifyImageIndex, exit 68), left those blobs in the
 * store until the next gc, and ferry serve served them by hash at /blobs/sha256/HEX. A refused import now
 * leaves the store as it was (but for its empty folders); the blobs it shares with a stored release stay
 * untouched. Only when another import runs at the same time (it may have found those blobs and be about to
 * link them) are they left, for gc, as before.
 */
describe('ferry import refused after it wrote blobs', () => {
  let dir: string;
  let team: Awaited<ReturnType<typeof writeKey>>;
  let key: openpgp.PrivateKey;
  let store: string;
  let serve: ServeProcess;
  let app: Awaited<ReturnType<typeof layout>>;
  const APP = 'registry.example/team/app:1';
  const OTHER = 'registry.example/team/other:1';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-refused-blobs-${process.pid}-`));
    team = await writeKey(dir, 'team');
    key = await openpgp.readPrivateKey({ armoredKey: team.secretArmored });
    app = await layout(join(dir, 'app'), 'the app');
    store = join(dir, 'store');
    // a release already stored: the hostile bundles share its blobs
    const good = join(dir, 'good.ferry');
    await writeImageBundle(good, key, [{ ref: APP, services: ['web'], layout: app.dir }], { name: 'good', version: '1.0.0' });
    const r = await ferry(['import', good, '--keyring', team.public, '--store', store]);
    expect(r.code, r.stderr).toBe(0);
    serve = await spawnServe(['--store', store, '--listen', '127.0.0.1:0', '--workers', '1']);
  });
  afterAll(async () => {
    serve?.child.kill();
    await serve?.exited;
    await rm(dir, { recursive: true, force: true });
  });

  /** A bundle of the stored app and a new image, whose index.json leaves the new image out. */
  async function hostile(name: string) {
    const other = await layout(join(dir, name), `the ${name} image`);
    const file = join(dir, `${name}.ferry`);
    await writeImageBundle(file, key, [{ ref: APP, services: ['web'], layout: app.dir }, { ref: OTHER, services: ['web'], layout: other.dir }], { name, version: '1.0.0' }, undefined, (d) => d.slice(0, 1));
    return { file, blobs: other.blobs };
  }

  it('takes back the blobs it added: the store is as it was, serve answers 404 for them', async () => {
    const before = await snapshot(store);
    const { file, blobs } = await hostile('late');
    const r = await ferry(['import', file, '--keyring', team.public, '--store', store]);
    expect(r.code, r.stderr).toBe(68);
    const lines = r.stderr.trim().split('\n').filter((l) => !/signature good/.test(l));
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^ferry: .*oci\/index\.json: names 1 image\(s\), the manifest pins 2/);
    expect(await snapshot(store)).toEqual(before);
    for (const hex of blobs) {
      const res = await fetch(`${serve.url}/blobs/sha256/${hex}`);
      expect([hex, res.status]).toEqual([hex, 404]);
    }
    // the stored release's blobs, which the refused bundle shared, are still served
    for (const hex of app.blobs) expect((await fetch(`${serve.url}/blobs/sha256/${hex}`)).status).toBe(200);
  }, 60_000);

  it('refused after its tree was published (the audit log could not name it): the tree goes too', async () => {
    const before = await snapshot(store);
    const other = await layout(join(dir, 'claim'), 'the claim image');
    const file = join(dir, 'claim.ferry');
    await writeImageBundle(file, key, [{ ref: APP, services: ['web'], layout: app.dir }, { ref: OTHER, services: ['web'], layout: other.dir }], { name: 'claim', version: '1.0.0' });
    const keys = [await openpgp.readKey({ armoredKey: await readFile(team.public, 'utf8') })];
    let published: string[] = [];
    const refusal = importBundle(file, {
      storeDir: store,
      keys,
      async beforeClaim({ digest }) {
        published = await readdir(join(store, 'bundles', digest));
        throw new Error('the audit log cannot be written');
      },
    });
    await expect(refusal).rejects.toThrow('the audit log cannot be written');
    expect(published).toContain('manifest.json');
    expect(await snapshot(store)).toEqual(before);
  }, 60_000);

  it('leaves them for gc while another import runs (it may be linking them)', async () => {
    const { file, blobs } = await hostile('beside');
    // another import in progress: its scratch folder, owned by a live process (this one)
    const other = join(store, '.tmp', `import-${ownIdentity()}-abcdef`);
    await mkdir(other);
    await writeFile(join(other, 'pid'), `${ownIdentity()}\n`);
    const r = await ferry(['import', file, '--keyring', team.public, '--store', store]);
    expect(r.code, r.stderr).toBe(68);
    for (const hex of blobs) expect((await lstat(join(store, 'blobs', 'sha256', hex))).nlink).toBe(1);
    await rm(other, { recursive: true });
    const gc = await ferry(['gc', '--keep', '1', '--store', store]);
    expect(gc.code, gc.stderr).toBe(0);
    for (const hex of blobs) await expect(lstat(join(store, 'blobs', 'sha256', hex))).rejects.toThrow(/ENOENT/);
  }, 60_000);
});
