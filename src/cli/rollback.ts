import type { Command } from 'commander';
import { deployRelease, type RunOpts } from './deploy.js';
import { hostOptions, loadHosts, releaseOptions, runOptions } from './deployOptions.js';

interface RollbackOpts extends RunOpts {
  to?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('rollback')
    .description('Deploy the release of NAME imported before the one the hosts run now (still in the store)')
    .argument('<name>', 'release name')
    .option('--to <version>', 'go back to this version (or digest) instead of the previous one');
  releaseOptions(hostOptions(runOptions(cmd))).action(async (name: string, o: RollbackOpts) => {
    const { collectStatus } = await import('../deploy/collectStatus.js');
    const { findPreviousRelease } = await import('../deploy/findPreviousRelease.js');
    const { loadRelease } = await import('../store/loadRelease.js');
    const { inventory, hosts } = await loadHosts(o);
    const status = await collectStatus({ inventory, hosts, factsDir: o.factsDir, forks: o.forks, ssh: { configFile: o.sshConfig } });
    const running = status.rows.filter((r) => r.release?.startsWith(`${name} `) && r.digest).map((r) => r.digest!);
    const target = await findPreviousRelease(o.store, name, running, o.to);
    process.stderr.write(`rolling back ${name} to ${target.version} (${target.digest.slice(0, 12)})\n`);
    await deployRelease(await loadRelease(o.store, target.digest), o);
  });
}
