import { refuseUnwritable } from '../util/refuseUnwritable.js';
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { stopOnInterrupt } from './stopOnInterrupt.js';
import { defaultCacheDir, loggerFrom, printJson } from './options.js';
import { numberOption } from './numberOption.js';

export function register(program: Command): void {
  program
    .command('lock')
    .description('resolve a spec into SPEC.lock.json: every artifact\'s exact version, source, size and sha256 (review its diff)')
    .argument('<spec>', 'spec file, e.g. bundles/demo/demo.yaml')
    .addHelpText('after', '\nExample:\n  ferry lock bundles/demo/demo.yaml && git diff bundles/demo/demo.lock.json\n')
    .option('--cache <dir>', 'download cache (FERRY_CACHE)', defaultCacheDir())
    .option('-j, --jobs <n>', 'parallel downloads', numberOption('--jobs', { whole: true, min: 1 }), 8)
    .option('--json', 'JSON output')
    .action(async (spec: string, opts: { cache: string; jobs: number; json?: boolean }) => {
      stopOnInterrupt('lock');
      const { lockSpec } = await import('../build/buildBundle.js');
      const log = loggerFrom(opts);
      // the lock file is written next to the spec (SPEC.lock.json)
      const lockFile = (await import('../specfile/lockFile.js')).lockPathFor(resolve(spec));
      const outputs = [
        { option: '--cache', path: opts.cache, folder: true },
        { option: 'the lock file', path: lockFile, folder: false, shown: lockFile, advice: "make the spec's folder writable for this user, or lock a copy of the spec" },
      ];
      const { lockPath, lock } = await refuseUnwritable(outputs, () => lockSpec({ specFile: spec, cacheDir: opts.cache, jobs: opts.jobs, log }));
      if (opts.json) printJson({ lock: lockPath, kinds: Object.keys(lock.kinds) });
      else process.stdout.write(`wrote ${lockPath}\n`);
    });
}
