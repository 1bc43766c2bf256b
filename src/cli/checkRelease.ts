import { DeployError, DriftError, UsageError } from '../errors.js';
import type { Release } from '../store/loadRelease.js';
import { consoleLogger } from '../ui/log.js';
import { loadHosts, parseStages, retryPolicy, type HostOpts, type RetryOpts } from './deployOptions.js';

export interface CheckOpts extends HostOpts, RetryOpts {
  services?: string[];
  stages?: string[];
  force?: string[];
  /** deploy's --timeout, seconds */
  timeout?: number;
}

/** What the drift line advises (default: deploy --repair, for plan and deploy). */
export interface CheckAdvice {
  whenDrift?: string;
}

/**
 * `ferry plan --check` and `ferry deploy --check`: what differs on the hosts, step by step, changing
 * nothing. Exit 0 without drift, 2 (DriftError) with drift, 72 when a host could not be checked.
 */
export async function checkRelease(release: Release, o: CheckOpts, advice: CheckAdvice = {}): Promise<void> {
  if (o.force?.length) throw new UsageError('--check reads every step whatever the facts say: --force has no meaning with it');
  const { checkDrift } = await import('../deploy/checkDrift.js');
  const { driftReport } = await import('../deploy/driftReport.js');
  const { inventory, hosts } = await loadHosts(o);
  const result = await checkDrift({
    release,
    inventory,
    hosts,
    services: o.services,
    stages: parseStages(o.stages),
    factsDir: o.factsDir,
    forks: o.forks,
    ssh: { configFile: o.sshConfig },
    retry: retryPolicy(o),
    timeoutMs: o.timeout === undefined ? undefined : o.timeout * 1000,
    log: consoleLogger({ json: o.json }),
  });
  process.stdout.write(o.json ? JSON.stringify(result) + '\n' : driftReport(result));
  if (result.failed.length) throw new DeployError(`${result.failed.length} host${result.failed.length > 1 ? 's' : ''} could not be checked (${result.failed.map((f) => f.host).join(', ')}); fix the cause and check again`);
  if (result.drift.length) {
    const hosts = [...new Set(result.drift.map((d) => d.host))];
    throw new DriftError(`drift: ${result.drift.length} step${result.drift.length > 1 ? 's differ' : ' differs'} on ${hosts.join(', ')}; ${advice.whenDrift ?? 'ferry deploy --repair with the same release and options puts them back'}`);
  }
}
