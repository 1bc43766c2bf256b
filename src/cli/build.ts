import { refuseUnwritable, type OutputPath } from '../util/refuseUnwritable.js';
import type { Command } from 'commander';
import { stopOnInterrupt } from './stopOnInterrupt.js';
import { rm } from 'node:fs/promises';
import { formatBytes } from '../ui/log.js';
import { parseSize } from '../util/parseSize.js';
import { collect, defaultCacheDir, loggerFrom, printJson, signingKeyReader } from './options.js';
import { printSplit } from './printSplit.js';
import { numberOption } from './numberOption.js';

export function register(program: Command): void {
  program
    .command('build')
    .description('fetch every artifact of a spec and write a signed, deterministic bundle NAME-VERSION.ferry')
    .argument('<spec>', 'spec file (YAML)')
    .option('--key <file>', 'armored secret key that signs the manifest and the apt repository (repeatable)', collect)
    .option('--passphrase-file <file>', 'passphrase of the key (or FERRY_PASSPHRASE)')
    .requiredOption('--out <dir>', 'output folder')
    .option('--locked', 'fetch exactly SPEC.lock.json (written by ferry lock) instead of resolving again')
    .option('--cache <dir>', 'download cache (FERRY_CACHE)', defaultCacheDir())
    .option('-j, --jobs <n>', 'parallel downloads', numberOption('--jobs', { whole: true, min: 1 }), 8)
    .option('--since <base>', 'differential bundle: leave out the artifacts this earlier release has (OLD.ferry, its split index, OLD manifest.json, or a release of --store)')
    .option('--store <dir>', 'store in which --since names a release (DIGEST, NAME/VERSION)')
    .option('--split <size>', 'write numbered volumes of at most SIZE (e.g. 4GB, 700M) and an index instead of one file')
    .option('--json', 'JSON output')
    .addHelpText(
      'after',
      '\nExamples:\n  ferry build bundles/demo/demo.yaml --key team.secret.asc --out dist/\n  ferry build app.yaml --key team.secret.asc --out dist/ --since dist/app-1.0.0.ferry --split 4GB\n\nSame lock and key => same bytes (SOURCE_DATE_EPOCH overrides the spec\'s epoch).\n',
    )
    .action(async (spec: string, opts: { key?: string[]; passphraseFile?: string; out: string; locked?: boolean; cache: string; jobs: number; since?: string; store?: string; split?: string; json?: boolean }) => {
      stopOnInterrupt('build');
      // only what this build uses loads: the store and bundle readers are for --since and --split
      const { buildBundle } = await import('../build/buildBundle.js');
      const log = loggerFrom(opts);
      // the keys are read while the downloads run (buildBundle calls this), so openpgp does not delay the first request
      const signingKeys = await signingKeyReader(opts);
      const splitSize = opts.split === undefined ? undefined : parseSize(opts.split, '--split');
      const since = opts.since === undefined ? undefined : await (await import('../store/loadManifest.js')).loadManifest(opts.since, opts.store);
      // a folder that cannot be written (read-only, a pseudo file system, a file on the way) is one line naming it
      const outputs: OutputPath[] = [{ option: '--out', path: opts.out, folder: true }, { option: '--cache', path: opts.cache, folder: true }];
      const { r, split } = await refuseUnwritable(outputs, async () => {
        const r = await buildBundle({ specFile: spec, signingKeys, outDir: opts.out, cacheDir: opts.cache, locked: opts.locked, jobs: opts.jobs, log, since });
        const split = splitSize === undefined ? undefined : await (await import('../bundle/splitBundle.js')).splitBundle(r.bundlePath, { size: splitSize });
        return { r, split };
      }, { alsoWrites: 'the work folder in $TMPDIR' });
      // the volumes and their index replace the single file
      if (split) await rm(r.bundlePath);
      const { parent: _p, ...fetched } = r.fetched;
      const base = r.manifest.base;
      if (opts.json) {
        return printJson({
          bundle: split ? undefined : r.bundlePath,
          digest: r.digest,
          name: r.manifest.name,
          version: r.manifest.version,
          size: r.size,
          fetched,
          base,
          omitted: r.manifest.omitted?.length,
          split: split && { index: split.indexPath, volumes: split.index.volumes },
        });
      }
      const out = process.stdout;
      if (!split) out.write(`${r.bundlePath}\n`);
      out.write(`  digest  ${r.digest}\n  size    ${formatBytes(r.size)} (${r.manifest.entries.length - (r.manifest.omitted?.length ?? 0)} of ${r.manifest.entries.length} artifacts)\n`);
      out.write(`  fetched ${formatBytes(fetched.fetchedBytes)} from upstreams, ${formatBytes(fetched.cachedBytes)} from the cache\n`);
      if (base) out.write(`  differential over ${base.name} ${base.version} (${base.digest}): ${r.differential!.omitted.length} artifacts, ${formatBytes(r.differential!.omittedBytes)} left out\n`);
      if (split) printSplit(split);
    });
}
