import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type * as openpgp from 'openpgp';
import { UsageError } from '../errors.js';
import type { Policy } from '../pgp/loadPolicy.js';
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
  return (await signingKeyReader(opts))();
}

/**
 * Check what needs no openpgp now (a --key given, the passphrase and every key file readable) and return
 * the function that reads the keys, loading openpgp then: `ferry build` calls it while its downloads run.
 */
export async function signingKeyReader(opts: { key?: string[]; passphraseFile?: string }): Promise<() => Promise<openpgp.PrivateKey[]>> {
  const files = opts.key ?? [];
  if (files.length === 0) throw new UsageError('a signing key is required: --key SECRET.asc (make one with: ferry key generate)');
  const passphrase = await passphraseFrom(opts);
  await Promise.all(
    files.map((k) =>
      access(k, constants.R_OK).catch((err: unknown) => {
        throw new UsageError(`cannot read secret key ${k}: ${(err as Error).message}`);
      }),
    ),
  );
  return async () => {
    const { readSecretKey } = await import('../pgp/keyring.js');
    return Promise.all(files.map((k) => readSecretKey(k, passphrase)));
  };
}

export async function trustedKeysFrom(opts: { keyring?: string[] }, policy?: Policy): Promise<openpgp.PublicKey[]> {
  const files = opts.keyring && opts.keyring.length > 0 ? opts.keyring : process.env.FERRY_KEYRING ? process.env.FERRY_KEYRING.split(':') : [];
  const fromPolicy = policy?.keys.flatMap((k) => (k.key ? [k.key] : [])) ?? [];
  if (files.length === 0 && fromPolicy.length === 0) throw new UsageError('no trusted keys: pass --keyring PUBLIC.asc (repeatable) or set FERRY_KEYRING, or --policy FILE');
  const { readKeyring } = await import('../pgp/keyring.js');
  return [...fromPolicy, ...(await readKeyring(files))];
}

/** The signing policy of --policy FILE or FERRY_POLICY, if any. */
export async function policyFrom(opts: { policy?: string }): Promise<Policy | undefined> {
  const file = opts.policy ?? (process.env.FERRY_POLICY || undefined);
  if (!file) return undefined;
  const { loadPolicy } = await import('../pgp/loadPolicy.js');
  return loadPolicy(file);
}

/** The --policy option verify, import and inspect share. */
export const POLICY_OPTION = ['--policy <file>', 'signing policy: which keys, for which bundle names, how many distinct signers (FERRY_POLICY; README "Signing policy")'] as const;

export function loggerFrom(opts: { json?: boolean; quiet?: boolean }): Logger {
  return consoleLogger({ json: opts.json, quiet: opts.quiet });
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
