import type { Command } from 'commander';
import { stopOnInterrupt } from './stopOnInterrupt.js';
import { hostOptions, releaseOptions, runOptions, runOutput, runSettings, type RunOpts } from './deployOptions.js';

interface RollbackOpts extends RunOpts {
  to?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('rollback')
    .description('Deploy the release of NAME imported before the one the hosts run now (still in the store)')
    .argument('<name>', 'release name')
    .addHelpText('after', '\nExamples:\n  ferry rollback openstack -i inventory.yaml\n  ferry rollback openstack --to 2026.10.2 -i inventory.yaml --serial 25%\n')
    .option('--to <version>', 'go back to this version (or digest) instead of the previous one');
  releaseOptions(hostOptions(runOptions(cmd), { events: true })).action(async (name: string, o: RollbackOpts) => {
    const { runRollback } = await import('../deploy/runRollback.js');
    const { deployTable } = await import('../deploy/deployTable.js');
    const { deployFailure } = await import('../deploy/deployReport.js');
    stopOnInterrupt('rollback');
    const log = await runOutput(o);
    const report = await runRollback({ ...(await runSettings(o)), store: o.store, name, to: o.to, log });
    log.done();
    process.stdout.write(o.json ? JSON.stringify(report) + '\n' : deployTable(report, { verbose: o.verbose }));
    if (!report.ok) throw deployFailure(report);
  });
}
