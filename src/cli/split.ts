import { refuseUnwritable, type OutputPath } from '../util/refuseUnwritable.js';
import type { Command } from 'commander';
import { dirname } from 'node:path';
import { stopOnInterrupt } from './stopOnInterrupt.js';
import { parseSize } from '../util/parseSize.js';
import { printJson } from './options.js';
import { printSplit } from './printSplit.js';

export function register(program: Command): void {
  program
    .command('split')
    .description('cut a bundle into numbered volumes for removable media, plus an index with every volume\'s sha256 and the whole bundle\'s')
    .argument('<bundle>', 'NAME-VERSION.ferry')
    .requiredOption('--size <size>', 'largest volume: bytes, or K/M/G/T (binary) or KB/MB/GB/TB (decimal), e.g. 4GB')
    .option('--out <dir>', 'folder for the volumes and the index (default: next to the bundle)')
    .option('--json', 'JSON output')
    .addHelpText('after', '\nExample:\n  ferry split app-2.0.0.ferry --size 4GB --out /media/usb\n  ferry import /media/usb/app-2.0.0.ferry.index.json --keyring team.asc --store /srv/ferry\n')
    .action(async (bundle: string, opts: { size: string; out?: string; json?: boolean }) => {
      stopOnInterrupt('split');
      const { splitBundle } = await import('../bundle/splitBundle.js');
      // without --out the volumes go next to the bundle; only names of the bundle's own (BUNDLE.NNN…) count there
      const outputs: OutputPath[] =
        opts.out === undefined ? [{ option: '--out', path: bundle, folder: false, shown: `${dirname(bundle)} (the bundle's folder)`, advice: 'give --out a folder this user can write' }] : [{ option: '--out', path: opts.out, folder: true }];
      const r = await refuseUnwritable(outputs, () => splitBundle(bundle, { size: parseSize(opts.size, '--size'), outDir: opts.out }));
      if (opts.json) return printJson({ index: r.indexPath, ...r.index });
      printSplit(r);
    });
}
