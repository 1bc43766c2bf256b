import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type * as openpgp from 'openpgp';
import { UsageError } from '../errors.js';
import { consoleLogger, type Logger } from '../ui/log.js';

/** Shared option handling for commands: defaults, keys, output. */

export const collect = (value: string, previous: string[] = []) => [...previous, value];

export function defaultCacheDir(): string {
  return process.env.FERRY_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'ferry');
}

export function defaultStoreDir(): string {
  return process.env.FERRY_STORE ?? '/var/lib/ferry/store';
}

export async function passphraseFrom(opts: { passphraseFile?: string }): Promise<string | undefined> {
  if (opts.passphraseFile) return (await readFile(opts.passphraseFile, 'utf8')).replace(/\r?\n$/, '');
  return process.env.FERRY_PASSPHRASE || undefined;
}

export async function signingKeysFrom(opts: { key?: string[]; passphraseFile?: string }): Promise<openpgp.PrivateKey[]> {
  if (!opts.key || opts.key.length === 0) throw new UsageError('a signing key is required: --key SECRET.asc (make one with: ferry key generate)');
  const passphrase = await passphraseFrom(opts);
  const { readSecretKey } = await import('../pgp/keyring.js');
  return Promise.all(opts.key.map((k) => readSecretKey(k, passphrase)));
}

export async function trustedKeysFrom(opts: { keyring?: string[] }): Promise<openpgp.PublicKey[]> {
  const files = opts.keyring && opts.keyring.length > 0 ? opts.keyring : process.env.FERRY_KEYRING ? process.env.FERRY_KEYRING.split(':') : [];
  if (files.length === 0) throw new UsageError('no trusted keys: pass --keyring PUBLIC.asc (repeatable) or set FERRY_KEYRING');
  const { readKeyring } = await import('../pgp/keyring.js');
  return readKeyring(files);
}

export function loggerFrom(opts: { json?: boolean; quiet?: boolean }): Logger {
  return consoleLogger({ json: opts.json, quiet: opts.quiet });
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
