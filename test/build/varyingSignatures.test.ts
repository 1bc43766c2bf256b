import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { beforeAll, describe, expect, it } from 'vitest';
import { ferry, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';

/**
 * "The same lock and key give the same bytes" holds for the Ed25519 keys ferry makes. An ECDSA key draws a
 * random number for each signature: its builds differ in the signature only, and the build says so.
 */
describe('a build signed with a key whose signatures vary', () => {
  let dir: string;
  let spec: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-varying-sig-'));
    await writeFile(join(dir, 'payload.txt'), 'payload\n');
    spec = join(dir, 'sig.yaml');
    await writeFile(spec, 'name: sig\nversion: 1.0.0\nepoch: 2026-01-01T00:00:00Z\nservices:\n  app:\n    version: "1"\n    groups: [app]\n    artifacts:\n      files: [{ src: payload.txt }]\n');
  });

  const buildTwice = async (secret: string, label: string) => {
    const runs = [];
    for (const n of [1, 2]) {
      const r = await ferry(['build', spec, '--key', secret, '--out', join(dir, `${label}-${n}`), '--cache', join(dir, 'cache')]);
      expect(r.code, r.stderr).toBe(0);
      runs.push({ stderr: r.stderr, bytes: await readFile(join(dir, `${label}-${n}/sig-1.0.0.ferry`)) });
    }
    return runs;
  };

  it('warns, in one line, that an ECDSA key gives the same manifest but not the same bytes', async () => {
    const { privateKey } = await openpgp.generateKey({ type: 'ecc', curve: 'nistP256', userIDs: [{ name: 'ecdsa' }], format: 'armored' });
    const secret = join(dir, 'ecdsa.secret.asc');
    await writeFile(secret, privateKey);
    const [a, b] = await buildTwice(secret, 'ecdsa');
    for (const r of [a!, b!]) {
      expect(r.stderr.split('\n').filter((l) => /ECDSA/.test(l))).toEqual([expect.stringMatching(/^warning: key [0-9A-F]{40} signs with ECDSA, which draws a random number for each signature: two builds of the same lock give the same manifest and digest, not the same bytes/)]);
    }
    const manifest = async (n: number) => (await run('tar', ['-xOf', join(dir, `ecdsa-${n}/sig-1.0.0.ferry`), 'manifest.json'])).stdout;
    expect(await manifest(1)).toBe(await manifest(2));
  });

  it('says nothing of the kind for an Ed25519 key, whose builds are byte-identical', async () => {
    const key = await writeKey(dir, 'ed25519');
    const [a, b] = await buildTwice(key.secret, 'ed25519');
    expect(a!.bytes.equals(b!.bytes)).toBe(true);
    expect(a!.stderr + b!.stderr).not.toMatch(/random|salt/);
  });
});
