import type { Command } from 'commander';
import type { PolicyVerdict } from '../pgp/evaluatePolicy.js';
import { UsageError } from '../errors.js';
import { formatBytes } from '../ui/log.js';
import { isFile } from '../util/isFile.js';
import { escapeText } from '../util/escapeText.js';
import type { Seen } from './recordAudit.js';
import { POLICY_OPTION, collect, loggerFrom, policyFrom, printJson, trustedKeysFrom } from './options.js';

export function register(program: Command): void {
  program
    .command('verify')
    .description('check a bundle completely (signature and signing policy, every entry\'s size and sha256, nothing unlisted or missing); writes nothing but the audit log line with --store. With --store and a release (or --all) instead of a bundle: re-hash the stored release\'s files against its manifest, without the bundle; exit 67 naming a damaged file')
    .argument('[bundle|release]', 'NAME-VERSION.ferry, a split index NAME-VERSION.ferry.index.json or its first volume NAME-VERSION.ferry.001, or - for standard input; or with --store a release of the store: NAME@VERSION, NAME/VERSION, NAME (its newest) or a digest')
    .addHelpText(
      'after',
      '\nExamples:\n  ferry verify demo-1.0.0.ferry --keyring team.asc\n  ferry verify /media/usb/demo-1.0.0.ferry.index.json --keyring team.asc --store /srv/ferry\n  ferry verify --store /srv/ferry demo@1.0.0\n  ferry verify --store /srv/ferry --all\n',
    )
    .option('--keyring <file>', 'trusted public key(s), armored or binary (repeatable; FERRY_KEYRING)', collect)
    .option(...POLICY_OPTION)
    .option('--store <dir>', 'record the outcome in this store\'s audit.log; or the store whose release (or --all) is checked')
    .option('--all', 'with --store: check every release of the store')
    .option('--json', 'JSON output')
    .action(async (bundle: string | undefined, opts: { keyring?: string[]; policy?: string; store?: string; all?: boolean; json?: boolean }) => {
      if (opts.all || bundle === undefined || (opts.store !== undefined && bundle !== '-' && !(await isFile(bundle)))) return verifyStored(bundle, opts);
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
      out.write(`OK ${m.name} ${m.version} ${r.digest}\n  signed by ${r.signers.map((s) => `${s.fingerprint} ${escapeText(s.userIDs.join(', '))}`).join('; ')}\n`);
      if (seen.verdict) out.write(describeVerdict(seen.verdict));
      out.write(`  ${carried.length} entries, ${formatBytes(bytes)}, all match${src.volumes ? `; ${src.volumes} volumes and the whole bundle match the index` : ''}\n`);
      if (m.base) out.write(`  differential over ${m.base.name} ${m.base.version} (${m.base.digest}): ${omitted.size} entries come from it on import\n`);
    });
}

/** `ferry verify --store DIR RELEASE|--all`: the stored files re-hashed against their manifests (store/verifyStoredReleases.ts). */
async function verifyStored(release: string | undefined, opts: { store?: string; all?: boolean; json?: boolean; keyring?: string[]; policy?: string }): Promise<void> {
  if (opts.all && release !== undefined) throw new UsageError(`--all checks every release of the store: give no release (${release}) with it`);
  // as commander said it when the bundle was a required argument
  if (!opts.store && release === undefined && !opts.all) throw new UsageError("missing required argument 'bundle' (--help lists the options)");
  if (!opts.store) throw new UsageError(opts.all ? '--all checks the releases of a store: give --store DIR' : `${release} is not a file: give a bundle file, or a release with --store DIR`);
  if (release === undefined && !opts.all) throw new UsageError(`give a release of ${opts.store} to check (NAME@VERSION, NAME or a digest), or --all`);
  if (opts.keyring?.length || opts.policy) {
    throw new UsageError(`${release === undefined ? '--all' : `${release} is not a bundle file`}: --keyring and --policy check a bundle file; a stored release is checked against its stored manifest without them`);
  }
  const { verifyStoredReleases, storeCheckError } = await import('../store/verifyStoredReleases.js');
  const check = await verifyStoredReleases(opts.store, opts.all ? { all: true } : { release: release! }, loggerFrom(opts));
  const failure = storeCheckError(check);
  if (opts.json) {
    printJson({ ok: failure === undefined, releases: check.releases, unreadable: check.unreadable.map((d) => d.message) });
  } else {
    for (const r of check.releases) {
      const head = `${r.name} ${r.version} ${r.digest}\n  ${r.entries} entries, ${formatBytes(r.bytes)}`;
      process.stdout.write(r.damaged.length === 0 ? `OK ${head}, all match the stored manifest\n` : `DAMAGED ${head}, ${r.damaged.length} do not match: ${r.damaged.slice(0, 5).map((d) => d.path).join(', ')}${r.damaged.length > 5 ? ', ...' : ''}\n`);
    }
    if (opts.all && check.releases.length === 0 && check.unreadable.length === 0) process.stdout.write(`no releases in ${opts.store}\n`);
  }
  if (failure) throw failure;
}
