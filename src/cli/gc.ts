import type { Command } from 'commander';
import { collectGarbage } from '../store/collectGarbage.js';
import { resolveRelease } from '../store/resolveRelease.js';
import { formatBytes } from '../ui/log.js';
import { collect, defaultStoreDir, loggerFrom, printJson } from './options.js';
import { printTable } from './list.js';

export function register(program: Command): void {
  program
    .command('gc')
    .description('remove releases beyond the newest N per name, then the blobs no remaining release uses, and stale scratch')
    .requiredOption('--keep <n>', 'releases to keep per name, newest by epoch', (v) => Number(v))
    .option('--store <dir>', 'store folder (FERRY_STORE)', defaultStoreDir())
    .option('--protect <release>', 'never remove this release: DIGEST (or a unique prefix) or NAME/VERSION, e.g. what a host runs (repeatable)', collect)
    .option('--dry-run', 'show what would be removed; change nothing')
    .option('--json', 'JSON output')
    .addHelpText('after', '\nExample:\n  ferry gc --store /srv/ferry --keep 3 --protect 3f2a9c1e --dry-run\n')
    .action(async (opts: { keep: number; store: string; protect?: string[]; dryRun?: boolean; json?: boolean }) => {
      const protect: string[] = [];
      // a full digest a host reports may be of a release this store never had: nothing to protect then
      for (const p of opts.protect ?? []) protect.push(/^[0-9a-f]{64}$/.test(p) ? p : (await resolveRelease(opts.store, p)).digest);
      const r = await collectGarbage({ storeDir: opts.store, keep: opts.keep, dryRun: opts.dryRun, protect, log: loggerFrom({ ...opts, quiet: true }) });
      if (opts.json) return printJson(r);
      const verb = r.dryRun ? 'would remove' : 'removed';
      const rows = [
        ...r.removed.map((x) => [verb, x.name, x.version, x.digest.slice(0, 16), x.epoch.slice(0, 10)]),
        ...r.kept.map((x) => [`kept (${x.reason})`, x.name, x.version, x.digest.slice(0, 16), x.epoch.slice(0, 10)]),
      ];
      if (rows.length) printTable(['', 'NAME', 'VERSION', 'DIGEST', 'EPOCH'], rows);
      process.stdout.write(
        `${r.dryRun ? 'dry run: ' : ''}${verb} ${r.removed.length} release(s), ${r.orphans.length} unreferenced tree(s), ${r.blobs} blob(s) (${formatBytes(r.bytes)})${r.scratch ? `, ${r.scratch} stale scratch folder(s)` : ''}\n`,
      );
    });
}
