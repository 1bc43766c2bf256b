import { readFile } from 'node:fs/promises';
import { readRegularFile } from '../util/readRegularFile.js';
import type * as openpgp from 'openpgp';
import { pgp } from './openpgp.js';
import { SignatureError, UsageError } from '../errors.js';

/**
 * Read public keys from files: armored (.asc) or binary keyrings (.gpg, as in
 * /usr/share/keyrings). Several files and several keys per file are allowed.
 */
export async function readKeyring(paths: string[]): Promise<openpgp.PublicKey[]> {
  const keys: openpgp.PublicKey[] = [];
  for (const path of paths) {
    keys.push(...(await parsePublicKeys(await readKeyringFile(path), path)));
  }
  return keys;
}

/**
 * Bounds of what a keyring may hold (README "Keyrings"). Every verify checks each trusted key's self-signatures:
 * a 4.4 MB key of 20,000 user IDs made each verify take 16 s, so a larger file, or a key with more user IDs,
 * subkeys or signatures than any real one has, is refused (exit 64) instead of slowing every check down.
 */
export const KEYRING_MAX_BYTES = 8 * 1024 * 1024;
export const KEY_MAX_USER_IDS = 100;
export const KEY_MAX_SUBKEYS = 100;
export const KEY_MAX_SIGNATURES = 2000;

/** A keyring file's bytes (util/readRegularFile: a regular file only), refused unread when it is larger than KEYRING_MAX_BYTES. */
async function readKeyringFile(path: string): Promise<Buffer> {
  const read = await readRegularFile(path, KEYRING_MAX_BYTES).catch((err: Error) => {
    throw new UsageError(`cannot read keyring ${path}: ${err.message}`);
  });
  if (read.refused === undefined) return read.bytes;
  if (read.tooLarge !== undefined) {
    throw new UsageError(`${path}: a keyring of ${read.tooLarge} bytes, more than the ${KEYRING_MAX_BYTES} bytes ferry reads; nothing was checked: pass only the keys you trust (gpg --export-options export-minimal --export KEYID)`);
  }
  throw new UsageError(`cannot read keyring ${path}: it ${read.refused}`);
}

/** Refuse a key with more user IDs, subkeys or signatures than the bounds above. */
function checkKeyBounds(key: openpgp.Key, label: string): void {
  const users = key.users.length;
  const subkeys = key.subkeys.length;
  const signatures =
    key.revocationSignatures.length +
    ((key as unknown as { directSignatures?: unknown[] }).directSignatures?.length ?? 0) +
    key.users.reduce((n, u) => n + u.selfCertifications.length + u.otherCertifications.length + u.revocationSignatures.length, 0) +
    key.subkeys.reduce((n, k) => n + k.bindingSignatures.length + k.revocationSignatures.length, 0);
  const over =
    users > KEY_MAX_USER_IDS ? `${users} user IDs, more than ${KEY_MAX_USER_IDS}`
    : subkeys > KEY_MAX_SUBKEYS ? `${subkeys} subkeys, more than ${KEY_MAX_SUBKEYS}`
    : signatures > KEY_MAX_SIGNATURES ? `${signatures} signatures, more than ${KEY_MAX_SIGNATURES}`
    : undefined;
  if (over) {
    throw new UsageError(`${label}: key ${fingerprintOf(key)} has ${over}; nothing was checked: pass the key without them (gpg --export-options export-minimal --export ${fingerprintOf(key)})`);
  }
}

const ARMORED_KEY = /-----BEGIN PGP (PUBLIC|PRIVATE) KEY BLOCK-----[\s\S]*?-----END PGP \1 KEY BLOCK-----/g;

export async function parsePublicKeys(data: Uint8Array, label: string): Promise<openpgp.PublicKey[]> {
  const text = Buffer.from(data).toString('latin1');
  const armored = text.includes('-----BEGIN PGP');
  // A file may hold several armored blocks; openpgp.readKeys reads one armor at a time.
  const blocks = armored ? (text.match(ARMORED_KEY) ?? []) : [];
  // a key file is text; binary data around a key block is some other file that carries a key, such as a
  // .ferry bundle (it holds its own signer's key): trusting that would trust whoever made the file
  if (armored && /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(text.replace(ARMORED_KEY, ''))) {
    throw new SignatureError(`${label}: not a key file: it holds binary data around its armored key block (a .ferry bundle carries its own signer's key); pass the public key file of the key you trust`);
  }
  let keys: openpgp.Key[];
  try {
    if (armored) {
      keys = [];
      for (const block of blocks) keys.push(...(await pgp.readKeys({ armoredKeys: block })));
      if (keys.length === 0) throw new Error('no key block found');
    } else {
      keys = await pgp.readKeys({ binaryKeys: data });
    }
  } catch (err) {
    throw new SignatureError(`${label}: not an OpenPGP public key or keyring (${(err as Error).message})`);
  }
  // a trusted keyring is copied to every verifying machine; a secret key there is a leak waiting to happen
  const secret = keys.find((k) => k.isPrivate());
  if (secret) {
    throw new UsageError(
      `${label} holds the secret key ${fingerprintOf(secret)}: pass its public key instead (ferry key generate wrote it as PREFIX.asc; or gpg --armor --export ${fingerprintOf(secret)})`,
    );
  }
  for (const key of keys) checkKeyBounds(key, label);
  return keys as openpgp.PublicKey[];
}

/** Read and, when needed, unlock a secret key (armored). */
export async function readSecretKey(path: string, passphrase?: string): Promise<openpgp.PrivateKey> {
  let armored: string;
  try {
    armored = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read secret key ${path}: ${(err as Error).message}`);
  }
  let key: openpgp.PrivateKey;
  try {
    key = await pgp.readPrivateKey({ armoredKey: armored });
  } catch (err) {
    throw new UsageError(`${path}: not an armored OpenPGP secret key (${(err as Error).message})`);
  }
  if (key.isDecrypted()) return key;
  if (!passphrase) {
    throw new UsageError(`${path} is protected by a passphrase: pass --passphrase-file FILE or set FERRY_PASSPHRASE`);
  }
  try {
    return await pgp.decryptKey({ privateKey: key, passphrase });
  } catch (err) {
    throw new UsageError(`${path}: wrong passphrase (${(err as Error).message})`);
  }
}

export function fingerprintOf(key: openpgp.Key): string {
  return key.getFingerprint().toUpperCase();
}
