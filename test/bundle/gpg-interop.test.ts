import { describe, expect, it, beforeAll } from 'vitest';
import { mkdtemp, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ferry, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { buildDemoBundle } from '../helpers/demoBundle.js';


/** Signatures cross between ferry and the real GnuPG both ways: hardware-token users sign with gpg. */
describe('OpenPGP interop with GnuPG', () => {
  let dir: string;
  let gnupg: string;
  let team: Awaited<ReturnType<typeof writeKey>>;
  let bundle: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-gpg-'));
    gnupg = join(dir, 'gnupg');
    await run('mkdir', ['-m', '700', gnupg]);
    team = await writeKey(dir, 'team');
    bundle = await buildDemoBundle(dir, team.secret);
  });

  const gpg = (args: string[]) => run('gpg', ['--homedir', gnupg, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...args]);

  it('the real gpgv accepts the signature ferry makes', async () => {
    await run('tar', ['-xf', bundle, '-C', dir, 'manifest.json', 'manifest.json.asc']);
    const dearmor = await gpg(['--yes', '-o', join(dir, 'team.gpg'), '--dearmor', team.public]);
    expect(dearmor.code, dearmor.stderr).toBe(0);
    const v = await run('gpgv', ['--keyring', join(dir, 'team.gpg'), join(dir, 'manifest.json.asc'), join(dir, 'manifest.json')]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stderr).toContain(`Good signature from "team"`);
    // and refuses it when the manifest changed
    await writeFile(join(dir, 'manifest.json'), (await readFile(join(dir, 'manifest.json'), 'utf8')).replace('demo', 'dem0'));
    const bad = await run('gpgv', ['--keyring', join(dir, 'team.gpg'), join(dir, 'manifest.json.asc'), join(dir, 'manifest.json')]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('BAD signature');
  });

  it('ferry verify accepts a detached signature made by real gpg with a key gpg generated, added with ferry sign', async () => {
    const gen = await gpg(['--quick-gen-key', 'Token User <token@example.org>', 'ed25519', 'sign', 'never']);
    expect(gen.code, gen.stderr).toBe(0);
    const exp = await gpg(['--armor', '--export', '-o', join(dir, 'token.asc'), 'token@example.org']);
    expect(exp.code, exp.stderr).toBe(0);

    const m = await ferry(['inspect', bundle, '--manifest']);
    await writeFile(join(dir, 'to-sign.json'), m.stdout);
    const sig = await gpg(['--armor', '--detach-sign', '-o', join(dir, 'to-sign.json.asc'), join(dir, 'to-sign.json')]);
    expect(sig.code, sig.stderr).toBe(0);

    // before: the token key alone does not verify the bundle
    const before = await ferry(['verify', bundle, '--keyring', join(dir, 'token.asc')]);
    expect(before.code).toBe(66);
    expect(before.stderr).toContain('not in the keyring');

    const signed = join(dir, 'signed.ferry');
    const add = await ferry(['sign', bundle, '--signature', join(dir, 'to-sign.json.asc'), '--keyring', join(dir, 'token.asc'), '--out', signed]);
    expect(add.code, add.stderr).toBe(0);

    // either key alone now verifies: the bundle carries both signatures, the digest is unchanged
    const byToken = await ferry(['verify', signed, '--keyring', join(dir, 'token.asc'), '--json']);
    expect(byToken.code, byToken.stderr).toBe(0);
    expect(JSON.parse(byToken.stdout).signers[0].userIDs).toEqual(['Token User <token@example.org>']);
    const byTeam = await ferry(['verify', signed, '--keyring', team.public, '--json']);
    expect(byTeam.code, byTeam.stderr).toBe(0);
    const original = await ferry(['verify', bundle, '--keyring', team.public, '--json']);
    expect(JSON.parse(byTeam.stdout).digest).toBe(JSON.parse(original.stdout).digest);
    const both = await ferry(['verify', signed, '--keyring', team.public, '--keyring', join(dir, 'token.asc'), '--json']);
    expect(JSON.parse(both.stdout).signers).toHaveLength(2);

    // and a binary keyring exported by gpg works the same as an armored one
    await gpg(['--export', '-o', join(dir, 'token.gpg'), 'token@example.org']);
    const binary = await ferry(['verify', signed, '--keyring', join(dir, 'token.gpg')]);
    expect(binary.code, binary.stderr).toBe(0);
  });

  it('ferry sign refuses a gpg signature that is not over this manifest', async () => {
    await writeFile(join(dir, 'other.json'), '{"not":"the manifest"}\n');
    await gpg(['--yes', '--armor', '--detach-sign', '-o', join(dir, 'other.json.asc'), join(dir, 'other.json')]);
    const r = await ferry(['sign', bundle, '--signature', join(dir, 'other.json.asc'), '--keyring', join(dir, 'token.asc'), '--out', join(dir, 'nope.ferry')]);
    expect(r.code).toBe(66);
    expect(r.stderr).toContain('signature does not match the signed data');
  });
});
