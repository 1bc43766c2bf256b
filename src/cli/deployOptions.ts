import { type Command, Option } from 'commander';
import { UsageError } from '../errors.js';
import { STAGES, type StageName } from '../specfile/stepOptions.js';
import type { DeployOptions } from '../deploy/runDeploy.js';
import { defaultStoreDir } from './options.js';
import { numberOption } from './numberOption.js';

const collect = (v: string, prev: string[] = []) => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

/** Options every command that reaches hosts shares (deploy, plan, status, rollback). */
export function hostOptions(cmd: Command): Command {
  return cmd
    .requiredOption('-i, --inventory <file>', 'inventory YAML: hosts, groups, variables')
    .option('--limit <pattern>', 'only these hosts: names, group names, globs; !pattern excludes (repeatable, comma-separated)', collect)
    .option('--facts-dir <dir>', 'where facts live on every host (default: vars.ferry_facts_dir, else /var/lib/ferry/facts)')
    .option('-F, --ssh-config <file>', 'ssh_config file for ssh -F (default: ~/.ssh/config and /etc/ssh/ssh_config)')
    .option('--forks <n>', 'hosts worked on at once', numberOption('--forks', { whole: true, min: 1 }), 10)
    .option('--json', 'one JSON event per line on stderr, and the result as JSON on stdout');
}

export function releaseOptions(cmd: Command): Command {
  return cmd
    .option('--store <dir>', 'the store of imported bundles', defaultStoreDir())
    .option('--services <names>', 'only these services (comma-separated)', collect)
    .option('--server <url>', 'ferry serve address hosts fetch artifacts from (vars.ferry_server wins for a host)')
    .option('--push', 'copy artifacts over ssh instead of letting hosts fetch them');
}

export function runOptions(cmd: Command): Command {
  return cmd
    .option('--stages <names>', `only these stages (${STAGES.join(', ')})`, collect)
    .addOption(new Option('--force <stage>', 'run this stage even where the facts say it is done: stage, install, configure or all (repeatable)').argParser(collect))
    .option('--serial <spec>', 'configure batch sizes: a count, a percentage or a ramp like 1,5,25%', '1')
    .option('--max-fail-percent <n>', 'stop the rollout when more than this percentage of hosts failed', numberOption('--max-fail-percent', { min: 0, max: 100, suffix: '%' }))
    .option('--retries <n>', 'retries of a stage after a dropped connection or timeout', numberOption('--retries', { whole: true, min: 0 }), 3)
    .option('--retry-delay <ms>', 'first wait before a retry; doubles each time', numberOption('--retry-delay', { whole: true, min: 0, unit: 'milliseconds' }), 500)
    .option('--timeout <seconds>', 'longest a single remote command may run', numberOption('--timeout', { whole: true, min: 1, unit: 'seconds' }), 1800)
    .option('--wait-lock <seconds>', 'wait this long for another run that holds a host (default: fail at once, naming it)', numberOption('--wait-lock', { whole: true, min: 0, unit: 'seconds' }), 0);
}

export interface HostOpts {
  inventory: string;
  limit?: string[];
  factsDir?: string;
  sshConfig?: string;
  forks: number;
  json?: boolean;
}

/** The options of the commands that run a release on hosts (deploy, rollback). */
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
}

/** What runDeploy (and runRollback) take from the command line: everything but the release and the log. */
export async function runSettings(o: RunOpts): Promise<Omit<DeployOptions, 'release' | 'log'>> {
  const { inventory, hosts } = await loadHosts(o);
  return {
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
  };
}

export async function loadHosts(o: HostOpts) {
  const { loadInventory } = await import('../deploy/loadInventory.js');
  const { selectHosts } = await import('../deploy/selectHosts.js');
  const inventory = await loadInventory(o.inventory);
  const hosts = selectHosts(inventory, o.limit ?? []);
  return { inventory, hosts };
}

export function parseStages(names: string[] | undefined): StageName[] | undefined {
  if (!names) return undefined;
  for (const n of names) if (!STAGES.includes(n as StageName)) throw new UsageError(`--stages ${n}: not a stage; use ${STAGES.join(', ')}`);
  return names as StageName[];
}

