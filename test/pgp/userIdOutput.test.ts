import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { craftBundle, manifestFor } from '../helpers/craft.js';

/**
 * A key's user IDs come from a key file handed over by the signers: verify prints them escaped, as every
 * string from a bundle or a key (README "What ferry prints"), so a user ID cannot recolour the terminal or
 * forge a line of output.
 */
describe('verify prints a signer key user ID escaped', () => {
  let dir: string;
  let bundle: string;
  let keyring: string;
  let generated: { publicKey: openpgp.PublicKey };
  const uid = 'team\x1b[32m OK\x1b[0m\nferry: forged line\u202eevil';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-uid-output-'));
    const { privateKey, publicKey } = (generated = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: uid }], format: 'object' }));
    keyring = join(dir, 'team.asc');
    await writeFile(keyring, publicKey.armor());
    const files = [{ path: 'files/s/a.txt', data: Buffer.from('artifact a\n') }];
    bundle = join(dir, 'crafted-1.0.0.ferry');
    await writeFile(bundle, await craftBundle(manifestFor(files), privateKey, files));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('control and formatting characters are shown as escapes, on the one "signed by" line', async () => {
    const r = await ferry(['verify', bundle, '--keyring', keyring]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/[\x1b\u202e]/);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toContain('team\\x1b[32m OK\\x1b[0m\\nferry: forged line\\u{202e}evil');
  });

  it('names only the user IDs the key itself binds, not one appended to a copy of it in another keyring file', async () => {
    const packets = generated.publicKey.toPacketList();
    packets.push(openpgp.UserIDPacket.fromObject({ name: 'Security team', email: 'security@corp.example' }));
    const copy = join(dir, 'team-copy.asc');
    await writeFile(copy, new openpgp.PublicKey(packets).armor());
    const r = await ferry(['verify', bundle, '--keyring', keyring, '--keyring', copy]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('Security team');
    const j = await ferry(['verify', bundle, '--keyring', copy, '--json']);
    expect(j.code, j.stderr).toBe(0);
    expect(JSON.parse(j.stdout).signers.map((s: { userIDs: string[] }) => s.userIDs)).toEqual([[uid]]);
  });
});
