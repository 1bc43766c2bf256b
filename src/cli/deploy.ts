import type { Command } from 'commander';
import { DeployError, UsageError } from '../errors.js';
import { checkRelease } from './checkRelease.js';
import type { DeployReport } from '../deploy/deployReport.js';
import type { Release } from '../store/loadRelease.js';
import { hostOptions, loadHosts, parseStages, releaseOptions, runOptions, type HostOpts } from './deployOptions.js';

export interface RunOpts extends HostOpts {
  store: string;
  services?: string[];
  server?: string;
  push?: boolean;
  stages?: string[];
  force?: string[];
  serial: string;
  maxFailPercent?: number;
  retries: number;
  retryDelay: number;
  timeout: number;
  waitLock: number;
  repair?: boolean;
}

/** Shared by deploy and rollback: run the release, print the table, exit non-zero on failure. */
export async function deployRelease(release: Release, o: RunOpts): Promise<DeployReport> {
  const { runDeploy } = await import('../deploy/runDeploy.js');
  const { deployOutput } = await import('../ui/deployOutput.js');
  const { deployTable } = await import('../deploy/deployTable.js');
  const { inventory, hosts } = await loadHosts(o);
  const log = deployOutput({ json: o.json });
  const report = await runDeploy({
    release,
    inventory,
    hosts,
    services: o.services,
    stages: parseStages(o.stages),
    force: o.force,
    forks: o.forks,
    serial: o.serial,
    maxFailPercent: o.maxFailPercent,
    source: o.push ? { push: true } : { push: false, server: o.server },
    factsDir: o.factsDir,
    ssh: { configFile: o.sshConfig },
    retry: { retries: o.retries, delayMs: o.retryDelay },
    timeoutMs: o.timeout * 1000,
    waitLockSeconds: o.waitLock,
    repair: o.repair,
    log,
  });
  log.done();
  process.stdout.write(o.json ? JSON.stringify(report) + '\n' : deployTable(report));
  if (!report.ok) {
    const failed = report.hosts.filter((h) => h.error).map((h) => h.host);
    throw new DeployError(
      `${failed.length ? `${failed.length} host${failed.length > 1 ? 's' : ''} failed (${failed.join(', ')})` : 'the rollout stopped'}${report.stopped ? `; ${report.stopped}` : ''}; fix the cause and run the same command again: completed stages are skipped`,
    );
  }
  return report;
}

export function register(program: Command): void {
  const cmd = program
    .command('deploy')
    .description('Deploy a release from the store: stage artifacts, install, configure; skips what the hosts\' facts show done')
    .argument('<release>', 'NAME, NAME@VERSION or a bundle digest');
  cmd
    .option('--check', 'change nothing: read and compare every step on the hosts, whatever the facts say, and show what differs (exit 2 when something does)')
    .option('--repair', 'also run, where the facts say done, the steps whose read and compare finds the host changed');
  releaseOptions(hostOptions(runOptions(cmd))).action(async (ref: string, o: RunOpts & { check?: boolean }) => {
    if (o.check && o.repair) throw new UsageError('--check changes nothing and --repair changes what differs: give one of them');
    const { loadRelease } = await import('../store/loadRelease.js');
    const release = await loadRelease(o.store, ref);
    if (o.check) return checkRelease(release, o);
    await deployRelease(release, o);
  });
}
