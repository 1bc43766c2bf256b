import type { Command } from 'commander';
import type { PolicyVerdict } from '../pgp/evaluatePolicy.js';
import { formatBytes } from '../ui/log.js';
import type { Seen } from './recordAudit.js';
import { POLICY_OPTION, collect, loggerFrom, policyFrom, printJson, trustedKeysFrom } from './options.js';

export function register(program: Command): void {
  program
    .command('verify')
    .description('check a bundle completely (signature and signing policy, every entry\'s size and sha256, nothing unlisted or missing); writes nothing but the audit log line with --store')
    .argument('<bundle>', 'NAME-VERSION.ferry, a split index NAME-VERSION.ferry.index.json or its first volume NAME-VERSION.ferry.001, or - for standard input')
    .addHelpText('after', '\nExamples:\n  ferry verify demo-1.0.0.ferry --keyring team.asc\n  ferry verify /media/usb/demo-1.0.0.ferry.index.json --keyring team.asc --store /srv/ferry\n')
    .option('--keyring <file>', 'trusted public key(s), armored or binary (repeatable; FERRY_KEYRING)', collect)
    .option(...POLICY_OPTION)
    .option('--store <dir>', 'record the outcome in this store\'s audit.log')
    .option('--json', 'JSON output')
    .action(async (bundle: string, opts: { keyring?: string[]; policy?: string; store?: string; json?: boolean }) => {
      // verify's work is reading and sha256, both native: compiling JavaScript to machine code (V8's
      // optimizing tiers, zod's generated validators) would only cost memory, about 15 MiB of the peak
      (await import('node:v8')).setFlagsFromString('--max-opt=0');
      (await import('../util/zod.js')).config({ jitless: true });
      const { openBundleSource } = await import('../bundle/openBundleSource.js');
      const { acceptHead, describeVerdict } = await import('./acceptHead.js');
      const { recordAudit } = await import('./recordAudit.js');
      const seen: Seen & { verdict?: PolicyVerdict } = {};
      const { r, src } = await recordAudit(opts.store, 'verify', bundle, async () => {
        const policy = await policyFrom(opts);
        const keys = await trustedKeysFrom(opts, policy);
        const src = await openBundleSource(bundle);
        const log = loggerFrom({ ...opts, quiet: true });
        const r = await src.read({ keys, log, onHead: acceptHead(policy, keys, seen, bundle) });
        await src.finalCheck(r.digest);
        return { value: { r, src }, result: 'verified' };
      }, seen);
      const m = r.manifest;
      const omitted = new Set(m.omitted ?? []);
      const carried = m.entries.filter((e) => !omitted.has(e.path));
      const bytes = carried.reduce((n, e) => n + e.size, 0);
      if (opts.json) {
        return printJson({ ok: true, digest: r.digest, name: m.name, version: m.version, signers: r.signers, ignored: r.ignored, ...(seen.verdict ? { policy: seen.verdict } : {}), entries: m.entries.length, bytes, volumes: src.volumes, base: m.base, omitted: omitted.size });
      }
      const out = process.stdout;
      out.write(`OK ${m.name} ${m.version} ${r.digest}\n  signed by ${r.signers.map((s) => `${s.fingerprint} ${s.userIDs.join(', ')}`).join('; ')}\n`);
      if (seen.verdict) out.write(describeVerdict(seen.verdict));
      out.write(`  ${carried.length} entries, ${formatBytes(bytes)}, all match${src.volumes ? `; ${src.volumes} volumes and the whole bundle match the index` : ''}\n`);
      if (m.base) out.write(`  differential over ${m.base.name} ${m.base.version} (${m.base.digest}): ${omitted.size} entries come from it on import\n`);
    });
}
