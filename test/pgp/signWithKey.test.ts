import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { describe, expect, it, type TestContext } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { craftBundle, manifestFor } from '../helpers/craft.js';
import { writeKey } from '../helpers/keys.js';

const DAY = 86400_000;

/**
 * `ferry sign --key` dates its signature at the bundle's epoch (deterministic signatures). The epoch comes
 * with the bundle, from the other team: one in the future must not make a signature that verify refuses
 * until then, and a key that cannot sign at all is refused in one line, the bundle left as it was.
 */
describe('ferry sign --key', () => {
  async function bundleWithEpoch(ctx: TestContext, epoch: string) {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-sign-key-'));
    ctx.onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const builder = await writeKey(dir, 'builder');
    const files = [{ path: 'files/s/a.txt', data: Buffer.from('artifact a\n') }];
    const bundle = join(dir, 'crafted-1.0.0.ferry');
    const key = await openpgp.readPrivateKey({ armoredKey: builder.secretArmored });
    await writeFile(bundle, await craftBundle(manifestFor(files, { epoch }), key, files));
    return { dir, bundle };
  }

  it('adds a signature that verifies now to a bundle whose epoch is in the future', async (ctx) => {
    const { dir, bundle } = await bundleWithEpoch(ctx, '2090-01-01T00:00:00.000Z');
    const team = await writeKey(dir, 'team');
    const s = await ferry(['sign', bundle, '--key', team.secret]);
    expect(s.code, s.stderr).toBe(0);
    const v = await ferry(['verify', bundle, '--keyring', team.public, '--json']);
    expect(v.code, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout).signers.map((x: { fingerprint: string }) => x.fingerprint)).toEqual([team.fingerprint]);
  });

  it('refuses a key that has expired with one line (64), and leaves the bundle as it was', async (ctx) => {
    const { dir, bundle } = await bundleWithEpoch(ctx, new Date(Date.now() - DAY).toISOString());
    const expired = await writeKey(dir, 'expired', { name: 'expired', date: new Date(Date.now() - 3 * DAY), expiresIn: 86400 });
    const before = await readFile(bundle);
    const s = await ferry(['sign', bundle, '--key', expired.secret]);
    expect([s.code, s.stderr.trim().split('\n')]).toEqual([64, [expect.stringMatching(new RegExp(`^ferry: cannot sign with key ${expired.fingerprint}: .*expired.*; sign with a key that is valid now$`))]]);
    expect(await readFile(bundle)).toEqual(before);
  });
});
