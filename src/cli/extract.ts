import { refuseUnwritable } from '../util/refuseUnwritable.js';
import type { Command } from 'commander';
import { defaultStoreDir, loggerFrom, printJson } from './options.js';
import { stopOnInterrupt } from './stopOnInterrupt.js';

export function register(program: Command): void {
  program
    .command('extract')
    .description('materialise a rootfs or git artifact of a stored release into a folder: a rootfs unpacked as packed, a git repository at its pinned commit (idempotent)')
    .argument('<release>', 'NAME/VERSION as imported, NAME for the newest, or a bundle digest')
    .argument('<artifact>', 'rootfs/NAME, git/NAME, or NAME when only one kind has it')
    .requiredOption('--to <dir>', 'folder to unpack or clone into (created; replaced only if ferry made it, or with --force)')
    .option('--store <dir>', 'store folder (FERRY_STORE)', defaultStoreDir())
    .option('--force', 'replace the folder even if it already holds this artifact or was not made by ferry')
    .option('--json', 'JSON output')
    .addHelpText(
      'after',
      '\nExamples:\n  ferry extract --store /srv/ferry openstack/2026.11.0 rootfs/base --to /var/lib/machines/base\n  ferry extract --store /srv/ferry openstack/2026.11.0 git/cinder --to /opt/cinder/src\n',
    )
    .action(async (release: string, artifact: string, opts: { store: string; to: string; force?: boolean; json?: boolean }) => {
      stopOnInterrupt('extract');
      const { extractArtifact } = await import('../store/extractArtifact.js');
      const r = await refuseUnwritable([{ option: '--to', path: opts.to, folder: true }], () => extractArtifact({ store: opts.store, release, artifact, to: opts.to, force: opts.force, log: loggerFrom(opts) }));
      if (opts.json) printJson(r);
    });
}
