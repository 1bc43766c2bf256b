import type { Command } from 'commander';
import { extractArtifact } from '../bundle/extractArtifact.js';
import { consoleLogger } from '../ui/log.js';

export function register(program: Command): void {
  program
    .command('extract')
    .description('Materialise a rootfs or git artifact of a stored release into a folder (idempotent)')
    .argument('<release>', 'NAME/VERSION as imported, or a bundle digest')
    .argument('<artifact>', 'rootfs/NAME, git/NAME, or NAME when only one kind has it')
    .requiredOption('--store <dir>', 'the store the bundle was imported into')
    .requiredOption('--to <dir>', 'folder to unpack or clone into (created; replaced only if ferry made it, or with --force)')
    .option('--force', 'replace the folder even if it already holds this artifact or was not made by ferry')
    .option('--json', 'print the result as JSON on stdout')
    .action(async (release: string, artifact: string, o: { store: string; to: string; force?: boolean; json?: boolean }) => {
      const log = consoleLogger({ json: o.json });
      const r = await extractArtifact({ store: o.store, release, artifact, to: o.to, force: o.force, log });
      if (o.json) process.stdout.write(JSON.stringify(r) + '\n');
    });
}
