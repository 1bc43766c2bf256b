import type { Command } from 'commander';
import { stopOnInterrupt } from './stopOnInterrupt.js';
import { checkDriftOptions, checkForceStages, driftOptions, hostOptions, loadHosts, releaseOptions, retryPolicy, runOptions, runOutput, runSettings, type RunOpts } from './deployOptions.js';

interface RollbackOpts extends RunOpts {
  to?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('rollback')
    .description('Deploy the release of NAME imported before the one the hosts run now (still in the store)')
    .argument('<name>', 'release name')
    .addHelpText('after', '\nExamples:\n  ferry rollback openstack -i inventory.yaml\n  ferry rollback openstack --to 2026.10.2 -i inventory.yaml --serial 25%\n  ferry rollback openstack -i inventory.yaml --check    # what the rollback would change, changing nothing\n')
    .option('--to <version>', 'go back to this version of NAME (or the release whose digest starts with these 8+ hex digits) instead of the previous one');
  // the options of deploy, defined once for both
  releaseOptions(hostOptions(runOptions(driftOptions(cmd)), { events: true })).action(async (name: string, o: RollbackOpts) => {
    checkDriftOptions(o);
    checkForceStages(o);
    if (o.check) {
      const { rollbackLines, rollbackScope, rollbackTarget } = await import('../deploy/runRollback.js');
      const { loadRelease } = await import('../store/loadRelease.js');
      const { consoleLogger } = await import('../ui/log.js');
      const { checkRelease } = await import('./checkRelease.js');
      const { inventory, hosts } = await loadHosts(o);
      const target = await rollbackTarget({ store: o.store, name, to: o.to, inventory, hosts, services: o.services, factsDir: o.factsDir, forks: o.forks, ssh: { configFile: o.sshConfig }, retry: retryPolicy(o), timeoutMs: o.timeout * 1000 });
      const log = consoleLogger({ json: o.json });
      if (target.takeBack) for (const line of rollbackLines(name, target, 'checking the hosts against what a rollback goes to (changing nothing): rolling back')) log.info(line);
      else {
        log.info(`checking the hosts against ${name} ${target.version} (${target.digest.slice(0, 12)}), the release a rollback goes to; changing nothing`);
        for (const line of rollbackLines(name, target, '').slice(1)) log.info(line);
      }
      // a release taken over goes back only where it was taken from; hosts running an older release stay
      const only = rollbackScope(name, target, { hosts }).hosts;
      const scope = only ? { ...o, limit: [only.map((h) => h.name).join(',')] } : o;
      return checkRelease(await loadRelease(o.store, target.digest), scope, { whenDrift: `the rollback to ${target.name} ${target.version} (the same command without --check) changes them` });
    }
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
