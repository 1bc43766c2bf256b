import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { Option } from '../util/commander.js';
import { UsageError } from '../errors.js';
import { STAGES, type StageName } from '../stages.js';
import type { DeployOptions } from '../deploy/runDeploy.js';
import type { RetryPolicy } from '../deploy/retryTransient.js';
import { defaultStoreDir } from './options.js';
import { numberOption } from './numberOption.js';

const names = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);

/**
 * A repeatable, comma-separated list that must name something: `--limit "$CANARY"` with the variable empty
 * chose every host (as no --limit does), and `--services ""` every service.
 */
const collect = (flag: string, every: string) => (v: string, prev: string[] = []) => {
  const got = names(v);
  if (got.length === 0) throw new UsageError(`${flag} ${JSON.stringify(v)} names nothing; leave ${flag} out for ${every}`);
  return [...prev, ...got];
};

/**
 * `-i` of a command that takes one inventory, given twice: commander kept the last, so `ferry deploy … -i
 * north.yaml -i south.yaml` (status reads both, so operators repeat it) deployed to south only, and `gc -i`
 * removed the releases north's hosts run. Refused with one line (exit 64) as the command line is read.
 */
export function oneInventory(v: string, prev: string | undefined): string {
  if (prev !== undefined) throw new UsageError(`-i ${prev} -i ${v}: this command takes one inventory (only ferry status reads several, one per region); run it once per inventory`);
  return v;
}

/** Options every command that reaches hosts shares (deploy, plan, status, rollback); status takes several inventories. */
export function hostOptions(cmd: Command, opts: { manyInventories?: boolean; events?: boolean } = {}): Command {
  const inventory = opts.manyInventories
    ? cmd.requiredOption('-i, --inventory <file>', 'inventory YAML: hosts, groups, variables; repeat it for several regions', (v: string, p: string[] = []) => [...p, v])
    : cmd.requiredOption('-i, --inventory <file>', 'inventory YAML: hosts, groups, variables', oneInventory);
  return inventory
    .option('--limit <pattern>', 'only these hosts: names, group names, globs; !pattern excludes (repeatable, comma-separated)', collect('--limit', 'every host'))
    .option('--facts-dir <dir>', 'where facts live on every host (default: vars.ferry_facts_dir, else /var/lib/ferry/facts)')
    .option('-F, --ssh-config <file>', 'ssh_config file for ssh -F (default: ~/.ssh/config and /etc/ssh/ssh_config)')
    .option('--forks <n>', 'hosts worked on at once', numberOption('--forks', { whole: true, min: 1 }), 10)
    .option('--allow-local', 'allow hosts with the local transport (transport: local, vars.ferry_transport): their commands, and the release\'s steps, run on this machine as the user running ferry; an inventory alone cannot ask for that')
    .option('--json', opts.events ? 'one JSON event per line on stderr, and the result as JSON on stdout' : 'the result as JSON on stdout');
}

export function releaseOptions(cmd: Command): Command {
  return cmd
    .option('--store <dir>', 'the store of imported bundles', defaultStoreDir())
    .option('--services <names>', 'only these services (comma-separated)', collect('--services', 'every service'))
    .option('--server <url>', 'ferry serve address hosts fetch artifacts from (vars.ferry_server wins for a host)')
    .option('--push', 'copy artifacts over ssh instead of letting hosts fetch them');
}

/** What --force takes: a stage, or all of them. */
export const FORCE_VALUES = [...STAGES, 'all'] as const;

/**
 * A comma-separated, repeatable list of stage names, each checked as the option is parsed: a misspelt one is
 * one usage line (exit 64) before the store is read or any host is asked, whichever command takes it.
 */
function stageList(flag: string, allowed: readonly string[], named: string) {
  return (v: string, prev: string[] = []) => {
    const stages = names(v);
    for (const n of stages) if (!allowed.includes(n)) throw new UsageError(`${flag} ${n}: not a stage; use ${named}`);
    if (stages.length === 0) throw new UsageError(`${flag} needs a stage: ${named}`);
    return [...prev, ...stages];
  };
}

/** --stages, --force and --take-over, one definition for every command that takes them (deploy, rollback, plan). */
export function stageOptions(cmd: Command): Command {
  return cmd
    .option('--take-over <release>', 'replace the services release RELEASE (a name or glob) runs on the hosts where this release has a service of the same name (repeatable, comma-separated); without it such a deploy is refused (exit 72) before any stage runs', collect('--take-over', 'no release'))
    .option('--stages <names>', `only these stages (${STAGES.join(', ')}; comma-separated)`, stageList('--stages', STAGES, STAGES.join(', ')))
    .addOption(new Option('--force <stage>', 'run this stage even where the facts say it is done: stage, install, configure or all (repeatable)').argParser(stageList('--force', FORCE_VALUES, `${STAGES.join(', ')} or all`)));
}

/**
 * --force of stages --stages leaves out forces nothing, and the run would skip every stage the facts show
 * done as if --force were not given: a usage error (64) before the store or any host is read. A --force
 * naming some stage that runs forces that one (`--force all --stages configure` forces configure).
 */
export function checkForceStages(o: { stages?: string[]; force?: string[] }): void {
  const { stages, force } = o;
  if (!force?.length || !stages?.length || force.includes('all') || force.some((f) => stages.includes(f))) return;
  const named = [...new Set(force)];
  throw new UsageError(`--force ${named.join(',')} forces nothing: --stages ${[...new Set(stages)].join(',')} does not run ${named.length === 1 ? 'it' : 'them'}; force a stage --stages names, or add ${named.length === 1 ? 'it' : 'them'} to --stages`);
}

/** --check and --repair, one definition for the commands that deploy a release (deploy, rollback). */
export function driftOptions(cmd: Command): Command {
  return cmd
    .option('--check', 'change nothing: read and compare every step on the hosts, whatever the facts say, and show what differs (exit 2 when something does)')
    .option('--repair', 'also run, where the facts say done, the steps whose read and compare finds the host changed');
}

/** --check changes nothing and --repair changes what differs: not both. */
export function checkDriftOptions(o: { check?: boolean; repair?: boolean }): void {
  if (o.check && o.repair) throw new UsageError('--check changes nothing and --repair changes what differs: give one of them');
}

/**
 * --retries and --retry-delay, one definition for every command that reaches hosts (deploy and rollback retry a
 * stage; plan and status the reading of a host's facts, 2 retries by default as before): operators copy an
 * option set from one command to the next, and plan and status refused them (exit 64).
 */
export function retryOptions(cmd: Command, what: string, retries: number): Command {
  return cmd
    .option('--retries <n>', `retries of ${what} after a dropped connection or timeout`, numberOption('--retries', { whole: true, min: 0 }), retries)
    .option('--retry-delay <ms>', 'first wait before a retry; doubles each time', numberOption('--retry-delay', { whole: true, min: 0, unit: 'milliseconds' }), 500);
}

/** What --retries and --retry-delay ask for. */
export function retryPolicy(o: RetryOpts): RetryPolicy {
  return { retries: o.retries, delayMs: o.retryDelay };
}

export interface RetryOpts {
  retries: number;
  retryDelay: number;
}

export function runOptions(cmd: Command): Command {
  return retryOptions(stageOptions(cmd), 'a stage', 3)
    .option('--serial <spec>', 'configure batch sizes: a count, a percentage or a ramp like 1,5,25%', '1')
    .option('--max-fail-percent <n>', 'stop the rollout when more than this percentage of the hosts the release deploys to failed (default: when every host of a batch failed)', numberOption('--max-fail-percent', { min: 0, max: 100, suffix: '%' }))
    .option('--timeout <seconds>', 'longest a single remote command may run', numberOption('--timeout', { whole: true, min: 1, unit: 'seconds' }), 1800)
    .option('--wait-lock <seconds>', 'wait this long for another run that holds a host (0: fail at once, naming the run that holds it)', numberOption('--wait-lock', { whole: true, min: 0, unit: 'seconds' }), 0)
    .option('-v, --verbose', 'a line per host, service and finished stage, and the host table in the final report at any size')
    .option('--progress-interval <seconds>', 'without a terminal: seconds between progress summary lines (default: FERRY_PROGRESS_INTERVAL, else 15)', numberOption('--progress-interval', { min: 0.01, unit: 'seconds' }));
}

export interface HostOpts {
  inventory: string;
  limit?: string[];
  factsDir?: string;
  sshConfig?: string;
  forks: number;
  json?: boolean;
  allowLocal?: boolean;
}

/** The options of the commands that run a release on hosts (deploy, rollback). */
export interface RunOpts extends HostOpts, RetryOpts {
  check?: boolean;
  repair?: boolean;
  store: string;
  services?: string[];
  server?: string;
  push?: boolean;
  stages?: string[];
  force?: string[];
  takeOver?: string[];
  serial: string;
  maxFailPercent?: number;
  timeout: number;
  waitLock: number;
  verbose?: boolean;
  progressInterval?: number;
}

/** The deploy output the options ask for: JSON events, or progress at --progress-interval / FERRY_PROGRESS_INTERVAL. */
export async function runOutput(o: RunOpts) {
  const { deployOutput } = await import('../deploy/output/deployOutput.js');
  const env = process.env.FERRY_PROGRESS_INTERVAL;
  const fromEnv = env ? numberOption('FERRY_PROGRESS_INTERVAL', { min: 0.01, unit: 'seconds' })(env) : undefined;
  return deployOutput({ json: o.json, verbose: o.verbose, intervalSeconds: o.progressInterval ?? fromEnv });
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
    takeOver: o.takeOver,
    repair: o.repair,
    forks: o.forks,
    serial: o.serial,
    maxFailPercent: o.maxFailPercent,
    source: o.push ? { push: true } : { push: false, server: o.server },
    factsDir: o.factsDir,
    ssh: { configFile: o.sshConfig },
    retry: retryPolicy(o),
    timeoutMs: o.timeout * 1000,
    waitLockSeconds: o.waitLock,
  };
}

export async function loadHosts(o: HostOpts) {
  const { loadInventory } = await import('../deploy/loadInventory.js');
  const { selectHosts } = await import('../deploy/selectHosts.js');
  const inventory = await loadInventory(o.inventory);
  const hosts = selectHosts(inventory, o.limit ?? []);
  const local = hosts.filter((h) => h.transport === 'local');
  // the runner itself as a host: whoever wrote the inventory would run the release's steps here
  if (local.length > 0 && !o.allowLocal) {
    const names = local.map((h) => h.name);
    throw new UsageError(
      `${inventory.file}: host${names.length === 1 ? '' : 's'} ${names.slice(0, 3).join(', ')}${names.length > 3 ? ` and ${names.length - 3} more` : ''} use${names.length === 1 ? 's' : ''} the local transport: ` +
        `${names.length === 1 ? 'its' : 'their'} commands and the release's steps would run on this machine as ${runnerUser()}; pass --allow-local if that is meant`,
    );
  }
  return { inventory, hosts };
}

function runnerUser(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}

/** Several inventories, one per region (`status -i north.yaml -i south.yaml`); --limit applies to each. */
export async function loadRegions(o: Omit<HostOpts, 'inventory'> & { inventory: string[] }) {
  const regions = await Promise.all(o.inventory.map((inventory) => loadHosts({ ...o, inventory })));
  const seen = new Map<string, string>();
  for (const { inventory } of regions) {
    const other = seen.get(inventory.region);
    if (other !== undefined) throw new UsageError(`inventories ${other} and ${inventory.file} are both region "${inventory.region}"; give one a region: key (or a different file name)`);
    seen.set(inventory.region, inventory.file);
  }
  return regions;
}

export function parseStages(names: string[] | undefined): StageName[] | undefined {
  if (!names) return undefined;
  for (const n of names) if (!STAGES.includes(n as StageName)) throw new UsageError(`--stages ${n}: not a stage; use ${STAGES.join(', ')}`);
  return names as StageName[];
}

