import type { Command } from 'commander';
import { formatBytes } from '../ui/log.js';
import { collect, defaultStoreDir, loggerFrom, printJson, trustedKeysFrom } from './options.js';

export function register(program: Command): void {
  program
    .command('import')
    .description('verify a bundle and add it to the store in one streaming pass; nothing becomes visible unless all of it verified')
    .argument('<bundle>', 'NAME-VERSION.ferry, a split index NAME-VERSION.ferry.index.json or its first volume NAME-VERSION.ferry.001, or - to read the bundle from standard input (a data diode, a pipe)')
    .option('--keyring <file>', 'trusted public key(s) (repeatable; FERRY_KEYRING)', collect)
    .option('--store <dir>', 'store folder (FERRY_STORE)', defaultStoreDir())
    .option('--json', 'JSON output')
    .addHelpText('after', '\nExamples:\n  ferry import openstack-2026.11.0.ferry --keyring team.asc --store /srv/ferry\n  ferry import /media/usb/openstack-2026.11.0.ferry.index.json --keyring team.asc --store /srv/ferry\n')
    .action(async (bundle: string, opts: { keyring?: string[]; store: string; json?: boolean }) => {
      const { importBundle } = await import('../store/importBundle.js');
      const { syncReleaseLinks } = await import('../store/syncReleaseLinks.js');
      const keys = await trustedKeysFrom(opts);
      const log = loggerFrom(opts);
      const r = await importBundle(bundle, { storeDir: opts.store, keys, log });
      // the STORE/releases/NAME/VERSION symlinks a plain web server follows (docs/serve.md)
      await syncReleaseLinks(opts.store, (file, why) => log.warn(`ignoring ${file}: ${why}`));
      if (opts.json) printJson(r);
      else if (r.already) process.stdout.write(`${r.name} ${r.version} (${r.digest}) is already in ${opts.store}: nothing to do\n`);
      else process.stdout.write(`imported ${r.name} ${r.version}\n  digest ${r.digest}\n  ${r.entries} entries, ${formatBytes(r.newBytes)} new to the store\n`);
    });
}
