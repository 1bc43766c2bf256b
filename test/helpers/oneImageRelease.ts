import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { expect } from 'vitest';
import { ferry } from './cli.js';
import { writeKey } from './keys.js';
import { umociImage, writeImageBundle, type FixtureImage } from './ociImages.js';

/**
 * One release carrying one umoci image (`files` in its layer), signed by a new key, written to
 * dir/NAME.ferry and imported into dir/store with the real ferry.
 */
export async function importOneImageRelease(dir: string, release: { name: string; version: string; ref: string; files: Record<string, string> }): Promise<{ store: string; bundle: string; keyring: string; digest: string; image: FixtureImage }> {
  const store = join(dir, 'store');
  const team = await writeKey(dir, 'team');
  const key = await openpgp.readPrivateKey({ armoredKey: team.secretArmored });
  const layout = await umociImage(join(dir, 'image'), 'amd64', release.files);
  const bundle = join(dir, `${release.name}.ferry`);
  const [image] = await writeImageBundle(bundle, key, [{ ref: release.ref, services: ['web'], layout: layout.layout }], { name: release.name, version: release.version, epoch: '2026-11-25T00:00:00.000Z' });
  const imported = await ferry(['import', bundle, '--keyring', team.public, '--store', store, '--json']);
  expect(imported.code, imported.stderr).toBe(0);
  return { store, bundle, keyring: team.public, digest: (JSON.parse(imported.stdout) as { digest: string }).digest, image: image! };
}
