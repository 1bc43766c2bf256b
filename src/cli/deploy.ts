import type { Command } from 'commander';
import { checkRelease } from './checkRelease.js';
import { stopOnInterrupt } from './stopOnInterrupt.js';
import { checkDriftOptions, checkForceStages, driftOptions, hostOptions, releaseOptions, runOptions, runOutput, runSettings, type RunOpts } from './deployOptions.js';

export function register(program: Command): void {
  const cmd = program
    .command('deploy')
    .description('Deploy a release from the store: stage artifacts, install, configure; skips what the hosts\' facts show done')
    .argument('<release>', 'NAME, NAME@VERSION or a bundle digest')
    .addHelpText('after', '\nExamples:\n  ferry deploy openstack@2026.11.0 -i inventory.yaml --server http://10.0.0.5:8080\n  ferry deploy openstack -i inventory.yaml --limit compute --serial 1,5,25% --max-fail-percent 0\n  ferry deploy openstack -i inventory.yaml --check\n');
  releaseOptions(hostOptions(runOptions(driftOptions(cmd)), { events: true })).action(async (ref: string, o: RunOpts) => {
    checkDriftOptions(o);
    checkForceStages(o);
    const { loadRelease } = await import('../store/loadRelease.js');
    const release = await loadRelease(o.store, ref);
    if (o.check) return checkRelease(release, o);
    const { runDeploy } = await import('../deploy/runDeploy.js');
    const { deployTable } = await import('../deploy/deployTable.js');
    const { deployFailure } = await import('../deploy/deployReport.js');
    stopOnInterrupt('deploy');
    const log = await runOutput(o);
    const report = await runDeploy({ ...(await runSettings(o)), release, log });
    log.done();
    process.stdout.write(o.json ? JSON.stringify(report) + '\n' : deployTable(report, { verbose: o.verbose }));
    if (!report.ok) throw deployFailure(report);
  });
}
