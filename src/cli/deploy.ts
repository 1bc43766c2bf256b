import type { Command } from 'commander';
import { hostOptions, releaseOptions, runOptions, runOutput, runSettings, type RunOpts } from './deployOptions.js';

export function register(program: Command): void {
  const cmd = program
    .command('deploy')
    .description('Deploy a release from the store: stage artifacts, install, configure; skips what the hosts\' facts show done')
    .argument('<release>', 'NAME, NAME@VERSION or a bundle digest');
  releaseOptions(hostOptions(runOptions(cmd))).action(async (ref: string, o: RunOpts) => {
    const { loadRelease } = await import('../store/loadRelease.js');
    const { runDeploy } = await import('../deploy/runDeploy.js');
    const { deployTable } = await import('../deploy/deployTable.js');
    const { deployFailure } = await import('../deploy/deployReport.js');
    const release = await loadRelease(o.store, ref);
    const log = await runOutput(o);
    const report = await runDeploy({ ...(await runSettings(o)), release, log });
    log.done();
    process.stdout.write(o.json ? JSON.stringify(report) + '\n' : deployTable(report, { verbose: o.verbose }));
    if (!report.ok) throw deployFailure(report);
  });
}
