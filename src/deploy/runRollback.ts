import { nameSome } from '../util/oneLine.js';
import { DeployError } from '../errors.js';
import type { Release as StoredRelease } from '../store/listReleases.js';
import { loadRelease } from '../store/loadRelease.js';
import { resolveVersionOf } from '../store/resolveRelease.js';
import { collectStatus } from './collectStatus.js';
import type { Manifest } from '../bundle/manifest.js';
import { readStoredManifest } from '../store/readStoredManifest.js';
import { findPreviousRelease, hostsRun, releasesNamed } from './findPreviousRelease.js';
import type { InventoryHost } from './loadInventory.js';
import { servicesOfHost } from './retire.js';
import { type DeployOptions, type DeployReport, runDeploy } from './runDeploy.js';

export interface RollbackOptions extends Omit<DeployOptions, 'release'> {
  store: string;
  /** the release name */
  name: string;
  /** a version of NAME (or a unique digest prefix of 8+ hex digits) to go back to instead of the previous one */
  to?: string;
}

/** What finding the release to go back to needs: the store, the name, and the hosts whose facts say what runs. */
export type RollbackTargetOptions = Pick<RollbackOptions, 'store' | 'name' | 'to' | 'inventory' | 'hosts' | 'factsDir' | 'forks' | 'ssh' | 'timeoutMs'>;

/**
 * The release a rollback of NAME goes to: the one imported before the release the hosts run now, or `to`
 * (a version of NAME, or a unique digest prefix of 8+ hex digits), which is found without asking any host.
 */
export async function rollbackTarget(opts: RollbackTargetOptions): Promise<StoredRelease & { from?: RollbackFrom }> {
  const { store, name, to } = opts;
  if (to !== undefined) return resolveVersionOf(store, name, to, '--to');
  // the store first: a store without the release fails before any host is asked
  const releases = await releasesNamed(store, name);
  const status = await collectStatus({ inventory: opts.inventory, hosts: opts.hosts, factsDir: opts.factsDir, forks: opts.forks, ssh: opts.ssh, timeoutMs: opts.timeoutMs });
  // the release to go back from is the newest the hosts' facts name: hosts that could not say (a partition,
  // hosts the release broke) may be the ones that run the newer release, and the rest would then pick the
  // release before the one they run, and take them back two releases
  // ... but a host no release of NAME gives a service (another team's, another release's) runs none of it, and
  // a fact of a service no release of NAME has is another release's: neither can tell, nor hold up a rollback
  const unknownHosts = new Set([...status.unreachable.map((u) => u.host), ...status.rows.filter((r) => r.problem).map((r) => r.host)]);
  const ofName = unknownHosts.size ? await Promise.all(releases.map(async (r) => (await readStoredManifest(store, r.digest)).manifest.services)) : [];
  const groups = new Set(ofName.flatMap((of) => Object.values(of).flatMap((svc) => svc.groups)));
  const serviceNames = new Set(ofName.flatMap((of) => Object.keys(of)));
  const mayRun = (name: string) => opts.hosts.find((h) => h.name === name)?.groups.some((g) => groups.has(g)) ?? true;
  const unknown = [
    ...status.unreachable.filter((u) => mayRun(u.host)).map((u) => `${u.host} (unreachable: ${u.error.split('\n')[0]})`),
    ...status.rows.filter((r) => r.problem && mayRun(r.host) && serviceNames.has(r.service)).map((r) => `${r.host}/${r.service} (${r.problem})`),
  ];
  if (unknown.length) {
    throw new DeployError(`rollback of ${name} changes nothing: cannot tell which release ${nameSome(unknown)} runs, so not which one the hosts run now; name the release to go back to with --to VERSION, or leave those hosts out with --limit`);
  }
  // what each release the facts name gives which host, from its manifest in the store
  const services = new Map<string, Manifest['services']>();
  for (const digest of new Set(status.rows.map((r) => r.digest))) {
    if (digest && releases.some((r) => r.digest === digest)) services.set(digest, (await readStoredManifest(store, digest)).manifest.services);
  }
  const givenBy = (digest: string, host: InventoryHost) => {
    const of = services.get(digest);
    return of && servicesOfHost(of, host);
  };
  const target = await findPreviousRelease(store, name, hostsRun(name, status.rows, opts.hosts, givenBy), releases);
  // the release it goes back from, and the hosts whose facts name it: one host's facts can choose it (a canary,
  // or a host that claims a release it never got), so the operator sees which
  const current = releases[releases.findIndex((r) => r.digest === target.digest) + 1]!;
  const runs = opts.hosts.map((h) => ({ host: h.name, digests: hostsRun(name, status.rows, [h], givenBy) })).filter((r) => r.digests.length);
  return { ...target, from: { release: current, hosts: runs.filter((r) => r.digests.includes(current.digest)).map((r) => r.host), of: runs.length } };
}

/** The release a rollback goes back from (the newest the facts name) and the hosts whose facts name it. */
export interface RollbackFrom {
  release: StoredRelease;
  hosts: string[];
  /** hosts whose facts name a release of NAME */
  of: number;
}

/** The log line that says what a rollback goes back from, and which hosts' facts chose it. */
export function rollbackFromLine(name: string, from: RollbackFrom): string {
  return `going back from ${name} ${from.release.version} (${from.release.digest.slice(0, 12)}), the newest release of ${name} the facts name: on ${from.hosts.length} of the ${from.of} host${from.of === 1 ? '' : 's'} that run ${name} (${nameSome(from.hosts)})`;
}

/**
 * Roll NAME back: read the hosts' facts for the release they run now, take the one imported before
 * it (or `to`) from the store, say which on the log, and deploy it like any other release.
 */
export async function runRollback(opts: RollbackOptions): Promise<DeployReport> {
  const { store, name, to, ...deploy } = opts;
  const target = await rollbackTarget(opts);
  opts.log.info(`rolling back ${name} to ${target.version} (${target.digest.slice(0, 12)})`);
  if (target.from) opts.log.info(rollbackFromLine(name, target.from));
  return runDeploy({ ...deploy, release: await loadRelease(store, target.digest) });
}
