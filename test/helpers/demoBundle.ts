import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ferry } from './cli.js';

export const DEMO_SPEC_DIR = new URL('../../bundles/demo/', import.meta.url).pathname;

/** Build the demo spec (copied into dir) with the real ferry; returns the bundle's path. */
export async function buildDemoBundle(dir: string, secretKey: string): Promise<string> {
  await cp(DEMO_SPEC_DIR, join(dir, 'demo'), { recursive: true });
  const built = await ferry(['build', join(dir, 'demo/demo.yaml'), '--key', secretKey, '--out', dir, '--cache', join(dir, 'cache')]);
  expect(built.code, built.stderr).toBe(0);
  return join(dir, 'demo-1.0.0.ferry');
}

/** Build the demo bundle and import it into dir/store; returns the store and the bundle digest. */
export async function importDemoBundle(dir: string, key: { secret: string; public: string }): Promise<{ bundle: string; store: string; digest: string }> {
  const bundle = await buildDemoBundle(dir, key.secret);
  const store = join(dir, 'store');
  const imported = await ferry(['import', bundle, '--keyring', key.public, '--store', store, '--json']);
  expect(imported.code, imported.stderr).toBe(0);
  return { bundle, store, digest: (JSON.parse(imported.stdout) as { digest: string }).digest };
}
