import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { importDemoBundle } from '../helpers/demoBundle.js';
import { writeKey } from '../helpers/keys.js';

describe('every reader of a stored release re-hashes its manifest', () => {
  let dir: string;
  let store: string;
  let digest: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-stored-manifest-'));
    ({ store, digest } = await importDemoBundle(dir, await writeKey(dir, 'team')));
    // a manifest changed behind ferry's back that still parses: same length, another epoch
    const file = join(store, 'bundles', digest, 'manifest.json');
    const text = await readFile(file, 'utf8');
    expect(text).toContain('"epoch":"2026-11-25T00:00:00.000Z"');
    await writeFile(file, text.replace('"epoch":"2026-11-25T00:00:00.000Z"', '"epoch":"2026-11-26T00:00:00.000Z"'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['list', () => ['list', '--store', store]],
    ['gc', () => ['gc', '--keep', '1', '--store', store, '--dry-run']],
    ['diff', () => ['diff', 'demo/1.0.0', 'demo/1.0.0', '--store', store]],
    ['extract', () => ['extract', 'demo/1.0.0', 'rootfs/base', '--store', store, '--to', join(dir, 'to')]],
  ])('ferry %s refuses a stored manifest whose sha256 is not its digest (exit 71)', async (_verb, args) => {
    const r = await ferry(args());
    expect(r.stderr).toContain(`does not hash to its folder name ${digest} (its sha256 is `);
    expect(r.stderr).toContain('the store is damaged; re-import the bundle');
    expect(r.code).toBe(71);
  });
});
