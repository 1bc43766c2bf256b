import { describe, expect, it } from 'vitest';
import * as openpgp from 'openpgp';
import { clearsign, signDetached } from '../../src/pgp/sign.js';
import { verifyCleartext } from '../../src/pgp/verify.js';
import { SignatureError } from '../../src/errors.js';

/** InRelease files: the signature that counts is the one after the signed text, never one quoted in it. */
describe('verifyCleartext', () => {
  const key = () => openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'Archive' }], date: new Date(Date.now() - 2 * 3600_000), format: 'object' });

  it('reads the real signature block, not a signature block quoted (dash-escaped) inside the signed text', async () => {
    const { privateKey, publicKey } = await key();
    const quoted = await signDetached(Buffer.from('something else\n'), [privateKey], new Date());
    const text = `Origin: test\nDescription: a field quoting a signature\n${quoted}Suite: x\n`;
    const signed = await clearsign(text, [privateKey], new Date());
    expect(signed).toContain('- -----BEGIN PGP SIGNATURE-----');
    const v = await verifyCleartext(signed, [publicKey], 'InRelease');
    expect(v.signers.map((s) => s.fingerprint)).toEqual([privateKey.getFingerprint().toUpperCase()]);
    expect(v.ignored).toEqual([]);
    expect(v.text).toContain(quoted.trim());
  });

  it('refuses a clearsigned text whose only signer is revoked now, whatever the signature date', async () => {
    const { privateKey } = await key();
    const signed = await clearsign('Suite: x\n', [privateKey], new Date(Date.now() - 3600_000));
    const { publicKey } = await openpgp.revokeKey({ key: privateKey, reasonForRevocation: { flag: openpgp.enums.reasonForRevocation.keyRetired }, format: 'object' });
    const err = await verifyCleartext(signed, [publicKey], 'InRelease').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SignatureError);
    expect((err as Error).message).toMatch(/^InRelease: no valid signature by a trusted key \(key [0-9A-F]{16}: key is revoked \(retired, on /);
  });
});
