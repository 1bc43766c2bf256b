import { type Command, Option } from 'commander';
import { UsageError } from '../errors.js';
import { loadInventory } from '../deploy/loadInventory.js';
import { selectHosts } from '../deploy/selectHosts.js';
import { STAGES, type StageName } from '../deploy/steps/types.js';
import { defaultStoreDir } from './options.js';

const collect = (v: string, prev: string[] = []) => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

/** Options every command that reaches hosts shares (deploy, plan, status, rollback). */
export function hostOptions(cmd: Command): Command {
  return cmd
    .requiredOption('-i, --inventory <file>', 'inventory YAML: hosts, groups, variables')
    .option('--limit <pattern>', 'only these hosts: names, group names, globs; !pattern excludes (repeatable, comma-separated)', collect)
    .option('--facts-dir <dir>', 'where facts live on every host (default: vars.ferry_facts_dir, else /var/lib/ferry/facts)')
    .option('-F, --ssh-config <file>', 'ssh_config file for ssh -F (default: ~/.ssh/config and /etc/ssh/ssh_config)')
    .option('--forks <n>', 'hosts worked on at once', (v) => positiveInt(v, '--forks'), 10)
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
    .option('--max-fail-percent <n>', 'stop the rollout when more than this percentage of hosts failed', (v) => percent(v))
    .option('--retries <n>', 'retries of a stage after a dropped connection or timeout', (v) => nonNegativeInt(v, '--retries'), 3)
    .option('--retry-delay <ms>', 'first wait before a retry; doubles each time', (v) => nonNegativeInt(v, '--retry-delay'), 500)
    .option('--timeout <seconds>', 'longest a single remote command may run', (v) => positiveInt(v, '--timeout'), 1800)
    .option('--wait-lock <seconds>', 'wait this long for another run that holds a host (default: fail at once, naming it)', (v) => nonNegativeInt(v, '--wait-lock'), 0);
}

export interface HostOpts {
  inventory: string;
  limit?: string[];
  factsDir?: string;
  sshConfig?: string;
  forks: number;
  json?: boolean;
}

export async function loadHosts(o: HostOpts) {
  const inventory = await loadInventory(o.inventory);
  const hosts = selectHosts(inventory, o.limit ?? []);
  return { inventory, hosts };
}

export function parseStages(names: string[] | undefined): StageName[] | undefined {
  if (!names) return undefined;
  for (const n of names) if (!STAGES.includes(n as StageName)) throw new UsageError(`--stages ${n}: not a stage; use ${STAGES.join(', ')}`);
  return names as StageName[];
}

function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} ${v}: expected a whole number of at least 1`);
  return n;
}

function nonNegativeInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} ${v}: expected a whole number, 0 or more`);
  return n;
}

function percent(v: string): number {
  const n = Number(v.replace(/%$/, ''));
  if (!Number.isFinite(n) || n < 0 || n > 100) throw new UsageError(`--max-fail-percent ${v}: expected a percentage from 0 to 100`);
  return n;
}
