import type { Command } from 'commander';
import { formatTable } from '../ui/formatTable.js';
import { defaultStoreDir, printJson } from './options.js';

export function register(program: Command): void {
  const mirror = program
    .command('mirror')
    .description('the mirrors of the store: their snapshots, and which one /mirrors/NAME/ serves')
    .addHelpText('after', '\nExamples:\n  ferry mirror list --store /srv/ferry\n  ferry mirror switch debian 2026.11.28 --store /srv/ferry\n');
  mirror
    .command('list')
    .description('every mirror snapshot in the store; * marks the one /mirrors/NAME/ serves')
    .option('--store <dir>', 'store folder (FERRY_STORE)', defaultStoreDir())
    .option('--json', 'JSON output')
    .addHelpText('after', '\nExample:\n  ferry mirror list --store /srv/ferry\n')
    .action(async (opts: { store: string; json?: boolean }) => {
      const { listMirrorSnapshots } = await import('../store/syncMirrorLinks.js');
      const { resolveMirror } = await import('../store/resolveMirror.js');
      const snapshots = await listMirrorSnapshots(opts.store);
      const served = new Map<string, string | undefined>();
      for (const s of snapshots) if (!served.has(s.mirror)) served.set(s.mirror, (await resolveMirror(opts.store, s.mirror))?.version);
      const rows = snapshots.map((s) => ({ ...s, served: served.get(s.mirror) === s.version }));
      if (opts.json) return printJson(rows);
      if (rows.length === 0) return void process.stdout.write(`no mirrors in ${opts.store}\n`);
      process.stdout.write(formatTable([['', 'MIRROR', 'VERSION', 'DIGEST', 'EPOCH'], ...rows.map((r) => [r.served ? '*' : '', r.mirror, r.version, r.digest.slice(0, 16), r.epoch.slice(0, 10)])]));
    });
  mirror
    .command('switch')
    .description('serve snapshot VERSION at /mirrors/NAME/ (back or forward), atomically; the next import of NAME moves it to the newest again')
    .argument('<name>', 'mirror name (mirrors.apt.NAME or mirrors.python.NAME in the spec)')
    .argument('<version>', 'the version of an imported release that carries it')
    .option('--store <dir>', 'store folder (FERRY_STORE)', defaultStoreDir())
    .addHelpText('after', '\nExample:\n  ferry mirror switch debian 2026.11.1 --store /srv/ferry\n')
    .action(async (name: string, version: string, opts: { store: string }) => {
      const { switchMirror } = await import('../store/syncMirrorLinks.js');
      await switchMirror(opts.store, name, version);
      process.stdout.write(`/mirrors/${name}/ now serves ${name}@${version}\n`);
    });
}
