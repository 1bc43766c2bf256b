import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { checkRelease } from './checkRelease.js';
import { stopOnInterrupt } from './stopOnInterrupt.js';
import { hostOptions, releaseOptions, runOptions, runOutput, runSettings, type RunOpts } from './deployOptions.js';

export function register(program: Command): void {
  const cmd = program
    .command('deploy')
    .description('Deploy a release from the store: stage artifacts, install, configure; skips what the hosts\' facts show done')
    .argument('<release>', 'NAME, NAME@VERSION or a bundle digest')
    .addHelpText('after', '\nExamples:\n  ferry deploy openstack@2026.11.0 -i inventory.yaml --server http://10.0.0.5:8080\n  ferry deploy openstack -i inventory.yaml --limit compute --serial 1,5,25% --max-fail-percent 0\n  ferry deploy openstack -i inventory.yaml --check\n')
    .option('--check', 'change nothing: read and compare every step on the hosts, whatever the facts say, and show what differs (exit 2 when something does)')
    .option('--repair', 'also run, where the facts say done, the steps whose read and compare finds the host changed');
  releaseOptions(hostOptions(runOptions(cmd), { events: true })).action(async (ref: string, o: RunOpts & { check?: boolean; repair?: boolean }) => {
    if (o.check && o.repair) throw new UsageError('--check changes nothing and --repair changes what differs: give one of them');
    const { loadRelease } = await import('../store/loadRelease.js');
    const release = await loadRelease(o.store, ref);
    if (o.check) return checkRelease(release, o);
    const { runDeploy } = await import('../deploy/runDeploy.js');
    const { deployTable } = await import('../deploy/deployTable.js');
    const { deployFailure } = await import('../deploy/deployReport.js');
    stopOnInterrupt('deploy');
    const log = await runOutput(o);
    const report = await runDeploy({ ...(await runSettings(o)), release, log, repair: o.repair });
    log.done();
    process.stdout.write(o.json ? JSON.stringify(report) + '\n' : deployTable(report, { verbose: o.verbose }));
    if (!report.ok) throw deployFailure(report);
  });
}
