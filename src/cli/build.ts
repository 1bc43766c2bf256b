import type { Command } from 'commander';
import { buildBundle } from '../bundle/buildBundle.js';
import { formatBytes } from '../ui/log.js';
import { collect, defaultCacheDir, loggerFrom, printJson, signingKeysFrom } from './options.js';

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
    .option('-j, --jobs <n>', 'parallel downloads', (v) => Number(v), 8)
    .option('--json', 'JSON output')
    .addHelpText('after', '\nExample:\n  ferry build bundles/demo/demo.yaml --key team.secret.asc --out dist/\n\nSame lock and key => same bytes (SOURCE_DATE_EPOCH overrides the spec\'s epoch).\n')
    .action(async (spec: string, opts: { key?: string[]; passphraseFile?: string; out: string; locked?: boolean; cache: string; jobs: number; json?: boolean }) => {
      const log = loggerFrom(opts);
      const signingKeys = await signingKeysFrom(opts);
      const r = await buildBundle({ specFile: spec, signingKeys, outDir: opts.out, cacheDir: opts.cache, locked: opts.locked, jobs: opts.jobs, log });
      const { parent: _p, ...fetched } = r.fetched;
      if (opts.json) printJson({ bundle: r.bundlePath, digest: r.digest, name: r.manifest.name, version: r.manifest.version, size: r.size, fetched });
      else
        process.stdout.write(
          `${r.bundlePath}\n  digest  ${r.digest}\n  size    ${formatBytes(r.size)} (${r.manifest.entries.length} artifacts)\n  fetched ${formatBytes(fetched.fetchedBytes)} from upstreams, ${formatBytes(fetched.cachedBytes)} from the cache\n`,
        );
    });
}
