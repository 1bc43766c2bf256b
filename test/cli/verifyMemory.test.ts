import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemoBundle } from '../helpers/demoBundle.js';
import { FERRY_BIN, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { modulesLoadedBy, packagesIn } from '../helpers/loadedModules.js';

/**
 * issue 20: `ferry verify` peaks at <= 64 MiB (README benchmark row, 1 GiB bundle); most of that is start-up,
 * which a small bundle shows alone. Before: 67 MiB for the demo bundle (node-tar loaded, V8's optimizing
 * compiler and zod's generated validators running for a command whose work is native sha256); 64.14 MiB in
 * one CI run at 61.5 MiB here; 56.6 MiB since zod is bundled without its locales (src/util/zod.ts),
 * openpgp.js is its minified build (src/pgp/openpgp.ts) and yaml is not loaded.
 */
describe('ferry verify memory', () => {
  let dir: string;
  let bundle: string;
  let keyring: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-verify-mem-'));
    const key = await writeKey(dir, 'team');
    keyring = key.public;
    bundle = await buildDemoBundle(dir, key.secret);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('loads no node-tar: the reader decodes its own headers', async () => {
    const loaded = await modulesLoadedBy(['verify', bundle, '--keyring', keyring]);
    expect(packagesIn(loaded)).not.toContain('tar');
  });

  it("verifies the demo bundle within 64 MiB of peak RSS, the issue's goal (GNU time)", async () => {
    const stats = join(dir, 'time.txt');
    const r = await run('/usr/bin/time', ['-f', '%M', '-o', stats, process.execPath, FERRY_BIN, 'verify', bundle, '--keyring', keyring]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^OK demo 1\.0\.0 /);
    const peakKiB = Number((await readFile(stats, 'utf8')).trim().split('\n').pop());
    expect(peakKiB / 1024).toBeLessThanOrEqual(64);
  });
});
