import type { Command } from 'commander';
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { readBundle } from '../bundle/readBundle.js';
import { UsageError } from '../errors.js';
import { formatBytes } from '../ui/log.js';
import { collect, loggerFrom, printJson, trustedKeysFrom } from './options.js';

export function register(program: Command): void {
  program
    .command('verify')
    .description('check a bundle completely (signature, every entry\'s size and sha256, nothing unlisted or missing); writes nothing')
    .argument('<bundle>', 'NAME-VERSION.ferry, or - for standard input')
    .option('--keyring <file>', 'trusted public key(s), armored or binary (repeatable; FERRY_KEYRING)', collect)
    .option('--json', 'JSON output')
    .action(async (bundle: string, opts: { keyring?: string[]; json?: boolean }) => {
      const keys = await trustedKeysFrom(opts);
      if (bundle !== '-') {
        await access(bundle).catch(() => {
          throw new UsageError(`cannot read bundle ${bundle}`);
        });
      }
      const log = loggerFrom({ ...opts, quiet: true });
      const r = await readBundle(bundle === '-' ? process.stdin : createReadStream(bundle, { highWaterMark: 4 << 20 }), { keys, label: bundle === '-' ? 'stdin' : bundle, log });
      const bytes = r.manifest.entries.reduce((n, e) => n + e.size, 0);
      if (opts.json) printJson({ ok: true, digest: r.digest, name: r.manifest.name, version: r.manifest.version, signers: r.signers, entries: r.manifest.entries.length, bytes });
      else process.stdout.write(`OK ${r.manifest.name} ${r.manifest.version} ${r.digest}\n  signed by ${r.signers.map((s) => `${s.fingerprint} ${s.userIDs.join(', ')}`).join('; ')}\n  ${r.manifest.entries.length} entries, ${formatBytes(bytes)}, all match\n`);
    });
}
