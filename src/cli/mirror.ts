import type { Command } from 'commander';
import { stopOnInterrupt } from './stopOnInterrupt.js';
import { formatTable } from '../ui/formatTable.js';
import { StoreError } from '../errors.js';
import { defaultStoreDir, loggerFrom, printJson } from './options.js';

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
      await (await import('../store/checkStorePath.js')).requireStoreFolder(opts.store);
      // as ferry list: a damaged release is named on stderr and left out, the exit status says the store needs care
      const log = loggerFrom({ json: opts.json });
      let damaged = 0;
      const snapshots = await listMirrorSnapshots(opts.store, (file, why) => {
        damaged++;
        log.warn(`skipped a damaged release: ${file}: ${why}`);
      });
      const served = new Map<string, string | undefined>();
      for (const s of snapshots) if (!served.has(s.mirror)) served.set(s.mirror, (await resolveMirror(opts.store, s.mirror))?.digest);
      const rows = snapshots.map((s) => ({ ...s, served: served.get(s.mirror) === s.digest }));
      if (opts.json) printJson(rows);
      else if (rows.length === 0) process.stdout.write(`no mirrors in ${damaged ? 'the readable releases of ' : ''}${opts.store}\n`);
      else process.stdout.write(formatTable([['', 'MIRROR', 'VERSION', 'RELEASE', 'DIGEST', 'EPOCH'], ...rows.map((r) => [r.served ? '*' : '', r.mirror, r.version, r.release, r.digest.slice(0, 16), r.epoch.slice(0, 10)])]));
      if (damaged) throw new StoreError(`store ${opts.store}: ${damaged} damaged release(s) skipped (named above); re-import or remove them`);
    });
  mirror
    .command('switch')
    .description('serve snapshot VERSION at /mirrors/NAME/ (back or forward), atomically; the next import of NAME moves it to the newest again')
    .argument('<name>', 'mirror name (mirrors.apt.NAME or mirrors.python.NAME in the spec)')
    .argument('<version>', 'the version of an imported release that carries it')
    .option('--store <dir>', 'store folder (FERRY_STORE)', defaultStoreDir())
    .addHelpText('after', '\nExample:\n  ferry mirror switch debian 2026.11.1 --store /srv/ferry\n')
    .action(async (name: string, version: string, opts: { store: string }) => {
      stopOnInterrupt('mirror switch');
      const { switchMirror } = await import('../store/syncMirrorLinks.js');
      await (await import('../store/checkStorePath.js')).requireStoreFolder(opts.store);
      const { olderReleases } = await switchMirror(opts.store, name, version);
      process.stdout.write(`/mirrors/${name}/ now serves ${name}@${version}\n`);
      if (olderReleases.length) {
        const suites = olderReleases.map((r) => `${r.suite} ${r.to} < ${r.from}`).join(', ');
        loggerFrom({}).warn(
          `/mirrors/${name}/: the Release of ${suites} is dated before the one served until now: apt ignores an older Release, so hosts that already ran apt-get update keep the newer package lists (and fail to fetch their files); on each such host remove /var/lib/apt/lists/*_mirrors_${name}_* and run apt-get update`,
        );
      }
    });
}
