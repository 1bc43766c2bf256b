import type { Command } from 'commander';
import { DeployError } from '../errors.js';
import { checkRelease } from './checkRelease.js';
import { checkForceStages, hostOptions, loadHosts, parseStages, releaseOptions, retryOptions, retryPolicy, stageOptions, type HostOpts, type RetryOpts } from './deployOptions.js';
import { formatTable } from '../ui/formatTable.js';
import { numberOption } from './numberOption.js';
import { escapeText } from '../util/escapeText.js';

interface PlanOpts extends HostOpts, RetryOpts {
  store: string;
  services?: string[];
  stages?: string[];
  force?: string[];
  takeOver?: string[];
  check?: boolean;
  timeout?: number;
}

export function register(program: Command): void {
  const cmd = program
    .command('plan')
    .description('Show, per host and service, which stages a deploy would run or skip, and why (reads facts, changes nothing)')
    .argument('<release>', 'NAME, NAME@VERSION or a bundle digest')
    .addHelpText('after', '\nExample:\n  ferry plan openstack@2026.11.0 -i inventory.yaml --limit compute\n')
    .option('--check', 'read and compare every step on the hosts, whatever the facts say, and show what differs (exit 2 when something does); changes nothing')
    .option('--timeout <seconds>', 'longest a single remote command may run: reading a host\'s facts (default 120; a host that does not answer in time is reported unreachable), or with --check a step\'s read and compare (default 1800)', numberOption('--timeout', { whole: true, min: 1, unit: 'seconds' }));
  retryOptions(releaseOptions(hostOptions(stageOptions(cmd))), "reading a host's facts (with --check, of each read and compare)", 2).action(async (ref: string, o: PlanOpts) => {
    checkForceStages(o);
    const { loadRelease } = await import('../store/loadRelease.js');
    const { planDeploy } = await import('../deploy/planDeploy.js');
    const release = await loadRelease(o.store, ref);
    if (o.check) return checkRelease(release, o);
    const { inventory, hosts } = await loadHosts(o);
    const plan = await planDeploy({ release, inventory, hosts, services: o.services, stages: parseStages(o.stages), force: o.force, takeOver: o.takeOver, factsDir: o.factsDir, forks: o.forks, ssh: { configFile: o.sshConfig }, retry: retryPolicy(o), timeoutMs: o.timeout === undefined ? undefined : o.timeout * 1000 });
    if (o.json) process.stdout.write(JSON.stringify({ release: { name: release.manifest.name, version: release.manifest.version, digest: release.digest }, ...plan }) + '\n');
    else {
      const rows = [['HOST', 'SERVICE', 'STAGE', 'ACTION', 'WHY'], ...plan.rows.map((r) => [r.host, r.service, r.stage, r.run ? 'run' : r.held !== undefined ? 'held' : r.refused ? 'refuse' : 'skip', r.reason])];
      const runs = plan.rows.filter((r) => r.run).length;
      const refused = plan.rows.filter((r) => r.refused).length;
      const held = new Set(plan.rows.filter((r) => r.held !== undefined).map((r) => r.host)).size;
      process.stdout.write(formatTable(rows) + `\n${runs} of ${plan.rows.length} stages would run${refused ? `, ${refused} would be refused` : ''}${held ? `, ${held} host(s) held by a running deploy` : ''} (${release.manifest.name} ${release.manifest.version}, ${release.digest.slice(0, 12)})\n`);
      for (const u of plan.unreachable) process.stdout.write(`${u.host}: unreachable: ${escapeText(u.error)}\n`);
    }
    if (plan.unreachable.length) throw new DeployError(`${plan.unreachable.length} host(s) could not be asked for their facts: ${plan.unreachable.map((u) => u.host).join(', ')}`);
  });
}
