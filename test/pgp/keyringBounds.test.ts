import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { craftBundle, manifestFor } from '../helpers/craft.js';
import { writeKey } from '../helpers/keys.js';
import { buildDeb, readPrivate, serveDir, writeUpstream } from '../apt/fixtureUpstream.js';
import { aptMirrorSpec } from '../mirror/mirrorChecks.js';

/**
 * Every verify checks each trusted key's self-signatures: a keyring key with thousands of user IDs made
 * each check take seconds. A keyring file over 8 MiB, or a key with more than 100 user IDs (or subkeys,
 * or 2000 signatures), is refused in one line, exit 64, wherever keyrings are read (--keyring, a policy's keys).
 */
describe('keyring bounds', () => {
  let dir: string;
  let bundle: string;
  let team: Awaited<ReturnType<typeof writeKey>>;
  let many: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-keyring-bounds-${process.pid}-`));
    team = await writeKey(dir, 'team');
    const key = await openpgp.readPrivateKey({ armoredKey: team.secretArmored });
    const files = [{ path: 'files/s/a.txt', data: Buffer.from('artifact a\n') }];
    bundle = join(dir, 'app-1.0.0.ferry');
    await writeFile(bundle, await craftBundle(manifestFor(files, { name: 'app' }), key, files));
    // a real key (openpgp.js), each user ID self-certified
    const big = await openpgp.generateKey({ type: 'curve25519', userIDs: Array.from({ length: 101 }, (_, i) => ({ name: `user ${i}`, email: `u${i}@example.org` })), format: 'armored' });
    many = join(dir, 'many-uids.asc');
    await writeFile(many, big.publicKey);
  }, 120_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const oneLine = (stderr: string) => stderr.trim().split('\n');

  it('a key of 101 user IDs in --keyring: exit 64, one line naming the file and the bound', async () => {
    const r = await ferry(['verify', bundle, '--keyring', team.public, '--keyring', many]);
    expect(r.code, r.stderr).toBe(64);
    expect(oneLine(r.stderr)).toEqual([expect.stringMatching(/^ferry: \S+many-uids\.asc: key [0-9A-F]{40} has 101 user IDs, more than 100; nothing was checked: /)]);
  });

  it('the same key named by a policy: exit 64', async () => {
    const policy = join(dir, 'policy.yaml');
    await writeFile(policy, `keys:\n  team: ${team.public}\n  many: many-uids.asc\nrules:\n  - names: ["*"]\n    signers: [team, many]\n    require: 1\n`);
    const r = await ferry(['verify', bundle, '--policy', policy]);
    expect(r.code, r.stderr).toBe(64);
    expect(oneLine(r.stderr)).toEqual([expect.stringMatching(/has 101 user IDs, more than 100/)]);
  });

  it('a keyring file over 8 MiB is refused unread: exit 64, one line', async () => {
    const huge = join(dir, 'huge.gpg');
    await writeFile(huge, Buffer.alloc(8 * 1024 * 1024 + 1, 0x99));
    const r = await ferry(['verify', bundle, '--keyring', team.public, '--keyring', huge]);
    expect(r.code, r.stderr).toBe(64);
    expect(oneLine(r.stderr)).toEqual([expect.stringMatching(/^ferry: \S+huge\.gpg: a keyring of 8388609 bytes, more than the 8388608 bytes ferry reads; /)]);
  });

  it('the same key as an apt upstream\'s keyring: ferry lock exits 64, one line, no lock written', async (ctx) => {
    const root = join(dir, 'upstream');
    await writeUpstream(root, [await buildDeb(dir, { name: 'hello', version: '1.0' })], { suite: 'fixture', key: await readPrivate(team.secretArmored) });
    const served = await serveDir(root);
    ctx.onTestFinished(() => served.close());
    const specDir = join(dir, 'spec');
    await mkdir(specDir);
    await writeFile(join(specDir, 'mirror.yaml'), aptMirrorSpec('1.0.0', served.url, '{ packages: [hello] }'));
    await copyFile(many, join(specDir, 'upstream.asc'));
    const r = await ferry(['lock', join(specDir, 'mirror.yaml'), '--cache', join(dir, 'cache')]);
    expect(r.code, r.stderr).toBe(64);
    expect(oneLine(r.stderr)).toEqual([expect.stringMatching(/upstream\.asc: key [0-9A-F]{40} has 101 user IDs, more than 100; /)]);
    expect(await readdir(specDir)).toEqual(['mirror.yaml', 'upstream.asc']);
  });

  it('keys within the bounds still verify, Debian\'s archive keyring among them', async () => {
    const r = await ferry(['verify', bundle, '--keyring', team.public, '--keyring', '/usr/share/keyrings/debian-archive-keyring.gpg']);
    expect(r.code, r.stderr).toBe(0);
  });
});
