import type { Command } from 'commander';
import { stopOnInterrupt } from './stopOnInterrupt.js';
import { formatBytes } from '../ui/log.js';
import { collect, defaultStoreDir, loggerFrom, printJson } from './options.js';
import { loadHosts, oneInventory, type HostOpts } from './deployOptions.js';
import { numberOption } from './numberOption.js';
import { formatTable } from '../ui/formatTable.js';

export function register(program: Command): void {
  program
    .command('gc')
    .description('remove releases beyond the newest N per name, then the blobs no remaining release uses, and stale scratch')
    .requiredOption('--keep <n>', 'releases to keep per name, newest by epoch', numberOption('--keep', { whole: true, min: 1, unit: 'releases' }))
    .option('--store <dir>', 'store folder (FERRY_STORE)', defaultStoreDir())
    .option('--protect <release>', 'never remove this release: DIGEST (or a unique prefix) or NAME/VERSION, e.g. what a host runs (repeatable)', collect)
    .option('-i, --inventory <file>', 'also keep every release a host of this inventory reports in its facts (ferry status); gc refuses when a host cannot be asked', oneInventory)
    .option('--limit <pattern>', 'with --inventory: only these hosts (as for ferry status)', collect)
    .option('--facts-dir <dir>', 'with --inventory: where facts live on every host (default: vars.ferry_facts_dir, else /var/lib/ferry/facts)')
    .option('-F, --ssh-config <file>', 'with --inventory: ssh_config file for ssh -F')
    .option('--forks <n>', 'with --inventory: hosts asked at once', numberOption('--forks', { whole: true, min: 1 }), 10)
    .option('--allow-local', 'with --inventory: allow hosts with the local transport (this machine), as for ferry status')
    .option('--dry-run', 'show what would be removed; change nothing')
    .option('--json', 'JSON output')
    .addHelpText('after', '\nExample:\n  ferry gc --store /srv/ferry --keep 3 --protect 3f2a9c1e --dry-run\n')
    .action(async (opts: GcOpts) => {
      stopOnInterrupt('gc');
      const { collectGarbage } = await import('../store/collectGarbage.js');
      await (await import('../store/checkStorePath.js')).requireStoreFolder(opts.store);
      const running = opts.inventory ? await hostsRun({ ...opts, inventory: opts.inventory }) : [];
      const r = await collectGarbage({ storeDir: opts.store, keep: opts.keep, dryRun: opts.dryRun, protect: [...running, ...(opts.protect ?? [])], log: loggerFrom({ ...opts, quiet: true }) });
      if (opts.json) return printJson(r);
      const verb = r.dryRun ? 'would remove' : 'removed';
      const rows = [
        ...r.removed.map((x) => [verb, x.name, x.version, x.digest.slice(0, 16), x.epoch.slice(0, 10)]),
        ...r.kept.map((x) => [`kept (${x.reason})`, x.name, x.version, x.digest.slice(0, 16), x.epoch.slice(0, 10)]),
      ];
      if (rows.length) process.stdout.write(formatTable([['', 'NAME', 'VERSION', 'DIGEST', 'EPOCH'], ...rows]));
      process.stdout.write(
        `${r.dryRun ? 'dry run: ' : ''}${verb} ${r.removed.length} release(s), ${r.orphans.length} unreferenced tree(s), ${r.blobs} blob(s) (${formatBytes(r.bytes)})${r.scratch ? `, ${r.scratch} stale scratch folder(s)` : ''}\n`,
      );
    });
}

interface GcOpts extends Partial<HostOpts> {
  keep: number;
  store: string;
  protect?: string[];
  dryRun?: boolean;
  json?: boolean;
}

/** With --inventory: the digests the hosts run (the hosts as --limit selects them). */
async function hostsRun(o: GcOpts & { inventory: string }): Promise<string[]> {
  const { digestsHostsRun } = await import('../deploy/digestsHostsRun.js');
  const { inventory, hosts } = await loadHosts({ inventory: o.inventory, limit: o.limit, factsDir: o.factsDir, sshConfig: o.sshConfig, forks: o.forks ?? 10, allowLocal: o.allowLocal });
  return digestsHostsRun({ inventory, hosts, factsDir: o.factsDir, forks: o.forks, ssh: { configFile: o.sshConfig } });
}
