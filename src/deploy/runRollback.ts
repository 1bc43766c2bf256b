import { nameSome } from '../util/oneLine.js';
import { DeployError, StoreError, UsageError } from '../errors.js';
import { listReleases, type Release as StoredRelease } from '../store/listReleases.js';
import { loadRelease } from '../store/loadRelease.js';
import { resolveVersionOf } from '../store/resolveRelease.js';
import { collectStatus, type StatusRow } from './collectStatus.js';
import type { Manifest } from '../bundle/manifest.js';
import { readStoredManifest } from '../store/readStoredManifest.js';
import { hostsRun, newestRun, oldestLine, releasesNamed } from './findPreviousRelease.js';
import { shown } from './takeOver.js';
import type { Inventory, InventoryHost } from './loadInventory.js';
import { limitFor, shellLimit } from './selectHosts.js';
import { servicesOfHost } from './retire.js';
import { type DeployOptions, type DeployReport, runDeploy } from './runDeploy.js';

export interface RollbackOptions extends Omit<DeployOptions, 'release'> {
  store: string;
  /** the release name */
  name: string;
  /** a version of NAME (or a unique digest prefix of 8+ hex digits) to go back to instead of the previous one */
  to?: string;
}

/**
 * The release a rollback goes to; with the facts read, what it goes back from, and either the hosts a
 * release taken over goes back to (`takeBack`) or the hosts that run an older release than it (`behind`),
 * which it leaves as they are.
 */
export type RollbackTarget = StoredRelease & { from?: RollbackFrom; takeBack?: TakeBack; behind?: Array<{ host: string; version: string }>; runsNone?: string[]; runsNoneOf?: string };

/** What finding the release to go back to needs: the store, the name, and the hosts whose facts say what runs. */
export type RollbackTargetOptions = Pick<RollbackOptions, 'store' | 'name' | 'to' | 'inventory' | 'hosts' | 'services' | 'factsDir' | 'forks' | 'ssh' | 'retry' | 'timeoutMs'>;

/**
 * The release a rollback of NAME goes to: the one imported before the release the hosts run now, or `to`
 * (a version of NAME, or a unique digest prefix of 8+ hex digits), which is found without asking any host.
 */
export async function rollbackTarget(opts: RollbackTargetOptions): Promise<RollbackTarget> {
  const { store, name, to } = opts;
  if (to !== undefined) return resolveVersionOf(store, name, to, '--to');
  // the store first: a store without the release fails before any host is asked
  const releases = await releasesNamed(store, name);
  // a service no release of NAME has: said as deploy says it, before any host is asked
  if (opts.services) {
    const has = new Set((await Promise.all(releases.map(async (r) => Object.keys((await readStoredManifest(store, r.digest)).manifest.services)))).flat());
    for (const s of opts.services) if (!has.has(s)) throw new UsageError(`--services ${s}: no release of ${name} in the store has such a service; they have ${[...has].sort().join(', ')}`);
  }
  const status = await collectStatus({ inventory: opts.inventory, hosts: opts.hosts, factsDir: opts.factsDir, forks: opts.forks, ssh: opts.ssh, retry: opts.retry, timeoutMs: opts.timeoutMs });
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
  for (const digest of new Set(status.rows.flatMap((r) => [r.digest, r.configured]))) {
    if (digest && releases.some((r) => r.digest === digest)) services.set(digest, (await readStoredManifest(store, digest)).manifest.services);
  }
  const givenBy = (digest: string, host: InventoryHost) => {
    const of = services.get(digest);
    return of && servicesOfHost(of, host);
  };
  const running = hostsRun(name, status.rows, opts.hosts, givenBy, opts.services);
  if (running.length === 0) await refuseTakenFrom(store, name, releases, status.rows, opts.inventory, opts.hosts);
  if (running.length === 0 && opts.services) throw new StoreError(`no host's facts name a release of ${name} for --services ${opts.services.join(',')}: there is nothing to roll back; deploy a release, or name one with --to`);
  const at = newestRun(store, name, running, releases);
  // the release it goes back from, and the hosts whose facts name it: one host's facts can choose it (a canary,
  // or a host that claims a release it never got), so the operator sees which
  const current = releases[at]!;
  const runs = opts.hosts.map((h) => ({ host: h.name, digests: hostsRun(name, status.rows, [h], givenBy, opts.services) })).filter((r) => r.digests.length);
  const from: RollbackFrom = { release: current, hosts: runs.filter((r) => r.digests.includes(current.digest)).map((r) => r.host), of: runs.length };
  const takeBack = await takenBack(store, name, current, at > 0 ? releases[at - 1] : undefined, from.hosts, opts.services ? status.rows.filter((r) => opts.services!.includes(r.service)) : status.rows, opts.inventory, opts.hosts);
  if (takeBack) return { ...takeBack.release, from, takeBack: takeBack.takeBack };
  if (at === 0) throw new StoreError(oldestLine(store, name, current));
  // a host whose facts name only releases older than the one it goes to stays as it is: a rollback (of a canary
  // of 3 where one host, down when 2 went out, still runs 1) took it forward to 2
  const age = (d: string) => releases.findIndex((r) => r.digest === d);
  const behind = runs.filter((r) => r.digests.every((d) => age(d) >= 0 && age(d) < at - 1)).map((r) => ({ host: r.host, version: releases[Math.max(...r.digests.map(age))]!.version }));
  // nor does a host whose facts name no release of NAME (one added to its groups since, or whose services were
  // retired): a rollback undoes what ran, it does not install NAME where it did not run
  const target = releases[at - 1]!;
  const toServices = services.get(target.digest) ?? (await readStoredManifest(store, target.digest)).manifest.services;
  const runsNone = opts.hosts
    .filter((h) => !runs.some((r) => r.host === h.name) && servicesOfHost(toServices, h).some((s) => !opts.services || opts.services.includes(s)))
    .map((h) => h.name);
  return { ...target, from, ...(behind.length ? { behind } : {}), ...(runsNone.length ? { runsNone, ...(opts.services ? { runsNoneOf: opts.services.join(',') } : {}) } : {}) };
}

/**
 * Where the release a rollback of NAME goes back from took over another release's service (`deploy
 * --take-over`), going back means putting that release back, not deploying an older release of NAME that
 * never ran there: a rollback goes to one release, so it does so when the hosts it goes back on all took over
 * from the same release (the rest, when NAME has no older release, stay as they are), and otherwise refuses
 * with the commands that go back one set of hosts at a time.
 */
export interface TakeBack {
  /** the hosts the release taken over goes back to, with the services it had there */
  hosts: string[];
  services: string[];
  /** the hosts that run the release gone back from where it took over nothing, and NAME has no older release: left as they are */
  stay: string[];
}

async function takenBack(store: string, name: string, current: StoredRelease, previous: StoredRelease | undefined, hosts: string[], rows: StatusRow[], inventory: Inventory, chosen: InventoryHost[]): Promise<{ release: StoredRelease; takeBack: TakeBack } | undefined> {
  const taken = rows.filter((r) => hosts.includes(r.host) && r.releaseName === name && !r.retired && r.digest === current.digest && r.tookOver?.by === current.digest);
  // and where such a rollback stopped half way: the release taken over is being put back over CURRENT
  const resumed = rows.filter((r) => hosts.includes(r.host) && r.releaseName !== name && !r.retired && !r.complete && r.configured === current.digest && r.tookOver?.release.name === name && r.tookOver.digest === current.digest);
  if (!taken.length && !resumed.length) return undefined;
  const groups = new Map<string, StatusRow[]>();
  for (const [r, back] of [...taken.map((r) => [r, r.tookOver!.digest] as const), ...resumed.map((r) => [r, r.digest!] as const)]) groups.set(back, [...(groups.get(back) ?? []), r]);
  const releaseOf = (r: StatusRow) => (r.releaseName === name ? r.tookOver!.release : { name: r.releaseName!, version: r.release!.slice(r.releaseName!.length + 1) });
  const hostsOf = (of: StatusRow[]) => [...new Set(of.map((r) => r.host))];
  const others = hosts.filter((h) => ![...taken, ...resumed].some((r) => r.host === h));
  const labelOf = (of: StatusRow[]) => `${shown(releaseOf(of[0]!).name)} ${shown(releaseOf(of[0]!).version)}`;
  const what = (of: StatusRow[]) => `${[...new Set(of.map((r) => r.service))].join(',')} on ${nameSome(hostsOf(of))} from ${labelOf(of)}`;
  const here = `${name} ${current.version} (${current.digest.slice(0, 12)}) took over ${[...groups.values()].map(what).join('; ')} (--take-over)`;
  // (a command for a set of hosts: a group or name prefixes where they make one, so that the line stays short)
  const limit = (names: string[]) => shellLimit(limitFor(inventory, names));
  const stored = await listReleases(store, () => {});
  // the release taken over goes back where the inventory as it is now still gives the host that service: where
  // the host has left the service's groups since, deploying it there was refused as "gives no service" (exit 64,
  // "check --limit"), after the line that said the rollback would do it
  const lost: StatusRow[] = [];
  const runsOn: string[] = [];
  for (const [digest, of] of groups) {
    if (!stored.some((r) => r.digest === digest)) continue;
    const services = (await readStoredManifest(store, digest)).manifest.services;
    for (const r of of) {
      const host = chosen.find((h) => h.name === r.host);
      if (!host || servicesOfHost(services, host).includes(r.service)) continue;
      lost.push(r);
      runsOn.push(`${r.service} runs on group ${services[r.service]?.groups.join(', ') ?? 'none'}`);
    }
  }
  if (lost.length) {
    const gone = hostsOf(lost);
    const back = [...new Set(lost.map((r) => labelOf([r])))].join(', ');
    throw new DeployError(
      `rollback of ${name} changes nothing: ${here}, and the inventory no longer gives ${nameSome(gone)} ${[...new Set(lost.map((r) => r.service))].join(',')} of ${back} (${[...new Set(runsOn)].join('; ')}): ` +
        `to put ${back} back there, add ${gone.length === 1 ? 'the host' : 'those hosts'} to ${new Set(runsOn).size === 1 ? 'that group' : 'those groups'} again and roll back; to keep ${name} ${current.version} there, leave ${gone.length === 1 ? 'it' : 'them'} out with --limit ${shellLimit(limitFor(inventory, gone).split(',').map((p) => `!${p}`).join(','))}`,
    );
  }
  if (groups.size > 1 || (others.length && previous)) {
    const steps = [...groups.values()].map((of) => `ferry rollback ${name} --limit ${limit(hostsOf(of))} (${labelOf(of)} back)`);
    if (others.length && previous) steps.push(`ferry rollback ${name} --limit ${limit(others)} (${name} ${previous.version})`);
    throw new DeployError(`rollback of ${name} changes nothing: ${here}${others.length ? `, and runs on ${nameSome(others)} where it took over nothing` : ''}; a rollback goes to one release: go back one set of hosts at a time: ${steps.join(', then ')}`);
  }
  const [digest, of] = [...groups][0]!;
  const old = stored.find((r) => r.digest === digest);
  if (!old) {
    throw new StoreError(`${here}, whose bundle ${digest.slice(0, 12)} the store ${store} no longer holds: import it again and roll back, or deploy a release in its place with --take-over ${name} --limit ${limit(hostsOf(of))}`);
  }
  return { release: old, takeBack: { hosts: hostsOf(of), services: [...new Set(of.map((r) => r.service))], stay: others } };
}

/** No host runs NAME: where another release took NAME's services over, the one line says how to put them back. */
async function refuseTakenFrom(store: string, name: string, ofName: StoredRelease[], rows: StatusRow[], inventory: Inventory, chosen: InventoryHost[]): Promise<void> {
  const by = rows.filter((r) => !r.retired && r.tookOver?.release.name === name && r.tookOver.by === r.digest);
  if (!by.length) return;
  // a host the inventory has moved out of the group of NAME's service since: the rollback the line named was refused there
  const given = new Map<string, Manifest['services']>();
  for (const d of new Set(by.map((r) => r.tookOver!.digest))) if (ofName.some((r) => r.digest === d)) given.set(d, (await readStoredManifest(store, d)).manifest.services);
  const moved = (r: StatusRow) => {
    const services = given.get(r.tookOver!.digest);
    const host = chosen.find((h) => h.name === r.host);
    return services !== undefined && host !== undefined && !servicesOfHost(services, host).includes(r.service);
  };
  const releases = [...new Set(by.map((r) => r.releaseName!))];
  const where = releases.map((n) => {
    const of = by.filter((r) => r.releaseName === n);
    const hosts = [...new Set(of.map((r) => r.host))];
    const gone = [...new Set(of.filter(moved).map((r) => r.host))];
    const groupsOf = (r: StatusRow) => `${r.service} of ${name} runs on group ${given.get(r.tookOver!.digest)![r.service]?.groups.join(', ') ?? 'none'}`;
    const first = gone.length ? `, once ${nameSome(gone)} ${gone.length === 1 ? 'is' : 'are'} in its group again (${[...new Set(of.filter(moved).map(groupsOf))].join('; ')})` : '';
    return `${shown(n)} took over ${[...new Set(of.map((r) => r.service))].join(',')} on ${nameSome(hosts)} from ${name} ${shown(of[0]!.tookOver!.release.version)}: ferry rollback ${shown(n)} --limit ${shellLimit(limitFor(inventory, hosts))} puts it back${first}`;
  });
  throw new StoreError(`no host's facts name a release of ${name}: there is nothing to roll back; ${where.join('; ')}`);
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
  for (const line of rollbackLines(name, target, 'rolling back')) opts.log.info(line);
  return runDeploy({ ...deploy, ...rollbackScope(name, target, deploy), release: await loadRelease(store, target.digest) });
}

/** What a rollback says before it deploys (`verb`: `rolling back`, or what --check does): where it goes, and from what. */
export function rollbackLines(name: string, target: RollbackTarget, verb: string): string[] {
  const to = `${target.name} ${target.version} (${target.digest.slice(0, 12)})`;
  const t = target.takeBack;
  if (!t || !target.from) {
    const behind = (target.behind ?? []).map((b) => `${b.host} (${name} ${b.version})`);
    return [
      `${verb} ${name} to ${target.version} (${target.digest.slice(0, 12)})`,
      ...(target.from ? [rollbackFromLine(name, target.from)] : []),
      ...(behind.length ? [`left as they are: ${nameSome(behind)}, older than ${name} ${target.version}: a rollback takes no host forward (ferry deploy ${name}@${target.version} does)`] : []),
      ...(target.runsNone?.length ? [`left as they are: ${nameSome(target.runsNone)}, whose facts name no release of ${name}${target.runsNoneOf ? ` for --services ${target.runsNoneOf}` : ''}: a rollback installs nothing where ${name} did not run (ferry deploy ${name}@${target.version} does)`] : []),
    ];
  }
  const from = `${name} ${target.from.release.version}`;
  return [
    `${verb} ${name} on ${nameSome(t.hosts)} to ${to}, whose ${t.services.join(', ')} ${from} took over there (--take-over)`,
    rollbackFromLine(name, target.from),
    ...(t.stay.length ? [`${from} stays on ${nameSome(t.stay)}: it took over nothing there, and it is the oldest release of ${name} in the store`] : []),
  ];
}

/** The hosts a rollback deploys to: not those it leaves behind or that run no release of NAME; a release taken over only where it was taken from, replacing NAME's services there. */
export function rollbackScope(name: string, target: RollbackTarget, deploy: Pick<DeployOptions, 'hosts' | 'takeOver'>): Partial<Pick<DeployOptions, 'hosts' | 'takeOver'>> {
  const t = target.takeBack;
  const left = [...(target.behind?.map((b) => b.host) ?? []), ...(target.runsNone ?? [])];
  if (left.length) return { hosts: deploy.hosts.filter((h) => !left.includes(h.name)) };
  if (!t) return {};
  return { hosts: deploy.hosts.filter((h) => t.hosts.includes(h.name)), takeOver: [...(deploy.takeOver ?? []), name] };
}
