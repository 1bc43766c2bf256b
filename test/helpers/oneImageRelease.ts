import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { expect } from 'vitest';
import { ferry } from './cli.js';
import { writeKey } from './keys.js';
import { umociImage, writeImageBundle, type FixtureImage } from './ociImages.js';
import { spawnServe, type ServeProcess } from '../serve/spawnServe.js';

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

export interface ServedImageRelease extends Awaited<ReturnType<typeof importOneImageRelease>> {
  dir: string;
  serve: ServeProcess;
  /** stop ferry serve and remove the folder */
  stop(): Promise<void>;
}

/**
 * importOneImageRelease into a new temporary folder, then the built `ferry serve` (one worker) on a free
 * loopback port; `beforeServe` may change the store first.
 */
export async function serveOneImageRelease(prefix: string, release: Parameters<typeof importOneImageRelease>[1], beforeServe?: (store: string) => Promise<void>): Promise<ServedImageRelease> {
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-${process.pid}-`));
  const imported = await importOneImageRelease(dir, release);
  await beforeServe?.(imported.store);
  const serve = await spawnServe(['--store', imported.store, '--listen', '127.0.0.1:0', '--workers', '1']);
  const stop = async () => {
    serve.child.kill('SIGTERM');
    await serve.exited;
    await rm(dir, { recursive: true, force: true });
  };
  return { ...imported, dir, serve, stop };
}
