import { refuseUnwritable } from '../util/refuseUnwritable.js';
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { access } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import { passphraseFrom, printJson } from './options.js';
import { numberOption } from './numberOption.js';
import { stopOnInterrupt } from './stopOnInterrupt.js';

/** An e-mail address as openpgp.js accepts one in a user ID (its util.isEmailAddress). */
/** the first time an OpenPGP timestamp (seconds since 1970, 32 bits) cannot hold, in ms */
const LAST_OPENPGP_TIME = 2 ** 32 * 1000;

const EMAIL = /^[^\p{C}\p{Z}@<>\\]+@[^\p{C}\p{Z}@<>\\]+[^\p{C}\p{Z}\p{P}]$/u;

export function register(program: Command): void {
  const key = program
    .command('key')
    .description('manage OpenPGP signing keys')
    .addHelpText('after', '\nExample:\n  ferry key generate --name "Security team" --email sec@example.org --out keys/team\n');
  key
    .command('generate')
    .description('generate an Ed25519 (v4 EdDSA) signing key that ferry, gpgv and apt accept')
    .requiredOption('--name <name>', 'user ID name, e.g. "Security team"')
    .option('--email <email>', 'user ID e-mail')
    .option('--out <prefix>', 'write PREFIX.secret.asc and PREFIX.asc', 'bundle-key')
    .option('--passphrase-file <file>', 'protect the secret key with the passphrase in FILE (or set FERRY_PASSPHRASE)')
    .option('--expires-days <n>', 'key expires after N days (default: never)', numberOption('--expires-days', { whole: true, min: 1 }))
    .option('--force', 'overwrite existing key files')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExample:\n  ferry key generate --name "Security team" --email sec@example.org --out keys/team\n')
    .action(async (opts: { name: string; email?: string; out: string; passphraseFile?: string; expiresDays?: number; force?: boolean; json?: boolean }) => {
      stopOnInterrupt('key generation');
      // the rules openpgp applies to a user ID, checked here so a wrong value is a usage error, not a crash
      if (opts.name.trim() === '' || /\p{C}/u.test(opts.name)) throw new UsageError('--name must be non-empty text without control characters');
      if (opts.email !== undefined && !EMAIL.test(opts.email)) throw new UsageError(`--email ${JSON.stringify(opts.email)} is not an e-mail address: give NAME@HOST.DOMAIN`);
      // OpenPGP times are 32-bit seconds: later than 2106-02-07 the expiry wraps (openpgp.js writes what is
      // left over, a key that expires within days) or overflows gpg's creation + expiry (expired at once)
      if (opts.expiresDays !== undefined && Date.now() + opts.expiresDays * 86_400_000 >= LAST_OPENPGP_TIME) {
        throw new UsageError(`--expires-days ${opts.expiresDays}: the key would expire after ${new Date(LAST_OPENPGP_TIME).toISOString()}, later than OpenPGP's 32-bit times go (gpg and apt would take it as expired); give fewer days, or none for a key that does not expire`);
      }
      const { generateKey } = await import('../pgp/generateKey.js');
      const { writeFilesAtomic } = await import('../util/writeFileAtomic.js');
      const secretPath = resolve(`${opts.out}.secret.asc`);
      const publicPath = resolve(`${opts.out}.asc`);
      if (!opts.force) {
        for (const p of [secretPath, publicPath]) {
          if (await access(p).then(() => true, () => false)) throw new UsageError(`${p} exists; pass --force to overwrite`);
        }
      }
      const k = await generateKey({
        name: opts.name,
        email: opts.email,
        passphrase: await passphraseFrom(opts),
        expiresIn: opts.expiresDays ? Math.round(opts.expiresDays * 86400) : 0,
      });
      // together: a key generation stopped part-way must not leave a new secret key beside an old public
      // key, nor an old revocation certificate (which revokes the old key) beside a new pair
      await refuseUnwritable([{ option: '--out', path: resolve(opts.out), folder: false }], () =>
        writeFilesAtomic([
          { path: secretPath, data: k.secretArmored, mode: 0o600 },
          { path: publicPath, data: k.publicArmored, mode: 0o644 },
          { path: `${secretPath.replace(/\.secret\.asc$/, '')}.revocation.asc`, data: k.revocationCertificate, mode: 0o600 },
        ]),
      );
      if (opts.json) printJson({ fingerprint: k.fingerprint, secret: secretPath, public: publicPath });
      else process.stdout.write(`fingerprint ${k.fingerprint}\nsecret key  ${secretPath} (keep it off the secure side)\npublic key  ${publicPath} (give it to importers: --keyring)\n`);
    });
}
