import type { Command } from 'commander';
import { formatTable } from '../ui/formatTable.js';
import { formatBytes } from '../ui/log.js';
import { StoreError } from '../errors.js';
import { defaultStoreDir, loggerFrom, printJson } from './options.js';

export function register(program: Command): void {
  program
    .command('list')
    .description('list the releases in the store')
    .addHelpText('after', '\nExample:\n  ferry list --store /srv/ferry --json\n')
    .option('--store <dir>', 'store folder (FERRY_STORE)', defaultStoreDir())
    .option('--json', 'JSON output')
    .action(async (opts: { store: string; json?: boolean }) => {
      const { listReleases } = await import('../store/listReleases.js');
      await (await import('../store/checkStorePath.js')).requireStoreFolder(opts.store);
      // a damaged release is named on stderr and left out; the others are listed, and the exit status says the store needs care
      const log = loggerFrom({ json: opts.json });
      let damaged = 0;
      const releases = await listReleases(opts.store, (d) => {
        damaged++;
        log.warn(`skipped a damaged release: ${d.message}`);
      });
      if (opts.json) printJson(releases);
      else if (releases.length === 0) process.stdout.write(`no ${damaged ? 'readable ' : ''}releases in ${opts.store}\n`);
      else {
        const rows = releases.map((r) => [r.name, r.version, r.digest.slice(0, 16), r.epoch.slice(0, 10), String(r.entries), formatBytes(r.bytes), r.services.join(',')]);
        process.stdout.write(formatTable([['NAME', 'VERSION', 'DIGEST', 'EPOCH', 'ENTRIES', 'SIZE', 'SERVICES'], ...rows]));
      }
      if (damaged) throw new StoreError(`store ${opts.store}: ${damaged} damaged release(s) skipped (named above); re-import or remove them`);
    });
}
