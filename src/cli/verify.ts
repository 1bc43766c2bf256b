import type { Command } from 'commander';
import { formatBytes } from '../ui/log.js';
import { collect, loggerFrom, printJson, trustedKeysFrom } from './options.js';

export function register(program: Command): void {
  program
    .command('verify')
    .description('check a bundle completely (signature, every entry\'s size and sha256, nothing unlisted or missing); writes nothing')
    .argument('<bundle>', 'NAME-VERSION.ferry, a split index NAME-VERSION.ferry.index.json or its first volume NAME-VERSION.ferry.001, or - for standard input')
    .option('--keyring <file>', 'trusted public key(s), armored or binary (repeatable; FERRY_KEYRING)', collect)
    .option('--json', 'JSON output')
    .action(async (bundle: string, opts: { keyring?: string[]; json?: boolean }) => {
      const { openBundleSource } = await import('../bundle/openBundleSource.js');
      const keys = await trustedKeysFrom(opts);
      const src = await openBundleSource(bundle);
      const log = loggerFrom({ ...opts, quiet: true });
      const r = await src.read({ keys, log });
      await src.finalCheck(r.digest);
      const m = r.manifest;
      const omitted = new Set(m.omitted ?? []);
      const carried = m.entries.filter((e) => !omitted.has(e.path));
      const bytes = carried.reduce((n, e) => n + e.size, 0);
      if (opts.json) {
        return printJson({ ok: true, digest: r.digest, name: m.name, version: m.version, signers: r.signers, ignored: r.ignored, entries: m.entries.length, bytes, volumes: src.volumes, base: m.base, omitted: omitted.size });
      }
      const out = process.stdout;
      out.write(`OK ${m.name} ${m.version} ${r.digest}\n  signed by ${r.signers.map((s) => `${s.fingerprint} ${s.userIDs.join(', ')}`).join('; ')}\n`);
      out.write(`  ${carried.length} entries, ${formatBytes(bytes)}, all match${src.volumes ? `; ${src.volumes} volumes and the whole bundle match the index` : ''}\n`);
      if (m.base) out.write(`  differential over ${m.base.name} ${m.base.version} (${m.base.digest}): ${omitted.size} entries come from it on import\n`);
    });
}
