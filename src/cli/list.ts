import type { Command } from 'commander';
import { formatTable } from '../ui/formatTable.js';
import { formatBytes } from '../ui/log.js';
import { defaultStoreDir, printJson } from './options.js';

export function register(program: Command): void {
  program
    .command('list')
    .description('list the releases in the store')
    .option('--store <dir>', 'store folder (FERRY_STORE)', defaultStoreDir())
    .option('--json', 'JSON output')
    .action(async (opts: { store: string; json?: boolean }) => {
      const { listReleases } = await import('../store/listReleases.js');
      const releases = await listReleases(opts.store);
      if (opts.json) return printJson(releases);
      if (releases.length === 0) return void process.stdout.write(`no releases in ${opts.store}\n`);
      const rows = releases.map((r) => [r.name, r.version, r.digest.slice(0, 16), r.epoch.slice(0, 10), String(r.entries), formatBytes(r.bytes), r.services.join(',')]);
      process.stdout.write(formatTable([['NAME', 'VERSION', 'DIGEST', 'EPOCH', 'ENTRIES', 'SIZE', 'SERVICES'], ...rows]));
    });
}
