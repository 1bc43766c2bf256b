import { StoreError } from '../errors.js';
import { listReleases, type Release as StoredRelease } from '../store/listReleases.js';
import type { StatusRow } from './collectStatus.js';
import type { InventoryHost } from './loadInventory.js';

/**
 * The releases of NAME in the store, oldest first (by epoch, then version). A damaged release of that name
 * is an error (it might be the one to go back to); one of another name is passed over.
 */
export async function releasesNamed(store: string, name: string): Promise<StoredRelease[]> {
  // a damaged release of another name does not matter here; one of this name might be the previous one
  const releases = (
    await listReleases(store, (d) => {
      if (d.name === undefined || d.name === name) throw new StoreError(d.message);
    })
  ).filter((r) => r.name === name);
  if (releases.length === 0) throw new StoreError(`the store ${store} holds no release named ${name}`);
  return releases;
}

/**
 * The release to roll back to: the one of the same name just before (by epoch) the newest release any host
 * runs. `running` holds what each host runs (see hostsRun). The newest, not the one most hosts run: after a
 * canary (3.0 on one host of ten, the rest at 2.0) a rollback undoes the canary and leaves the nine as they
 * are, where "before the most run" took all ten back to 1.0; after a rollback that stopped part-way it
 * finishes it instead of going back a second release. Digests the store does not hold cannot be ordered and
 * are passed over while the store holds one that runs. A damaged release of that name is an error (it might
 * be the one to go back to); one of another name is passed over.
 */
export async function findPreviousRelease(store: string, name: string, running: string[], releases?: StoredRelease[]): Promise<StoredRelease> {
  const ofName = releases ?? (await releasesNamed(store, name));
  const at = newestRun(store, name, running, ofName);
  if (at === 0) throw new StoreError(oldestLine(store, name, ofName[0]!));
  return ofName[at - 1]!;
}

/** Where in `ofName` (oldest first) the newest release `running` names is; refused when none is held. */
export function newestRun(store: string, name: string, running: string[], ofName: StoredRelease[]): number {
  if (running.length === 0) throw new StoreError(`no host's facts name a release of ${name}: there is nothing to roll back; deploy a release, or name one with --to`);
  const age = (d: string) => ofName.findIndex((r) => r.digest === d);
  const at = Math.max(...running.map(age));
  if (at < 0) throw new StoreError(`the hosts run ${name} bundle ${running[0]!.slice(0, 12)}, which the store ${store} no longer holds; name the release to go back to with --to VERSION`);
  return at;
}

/** The refusal of a rollback from the oldest release of NAME in the store. */
export function oldestLine(store: string, name: string, oldest: StoredRelease): string {
  return `${name} ${oldest.version} (${oldest.digest.slice(0, 12)}) is the oldest release in the store ${store}: there is no previous one to roll back to`;
}

/**
 * What the hosts run of NAME, one entry per host and bundle digest (a host part-way through a rollout,
 * or deployed with --services, names two). A host's facts count but for a service the release its other
 * facts moved on to does not give it: a retired one (marked by the deploy that left it), and one left
 * over where no deploy marked it (a ferry before retired facts, or a rollout that stopped): service X at
 * digest D when another service's fact on the host names C, C's release does not give X to the host and
 * D's gave it that other service. Nor does a fact of a service the fact's release does not give the host
 * (under the inventory as it is now): the rollback does not deploy it there. `givenBy(digest, host)` is the
 * services a release in the store gives a host, undefined for a digest the store does not hold. With
 * `services` (--services), only those services' facts count: the rollback deploys no other.
 */
export function hostsRun(name: string, rows: StatusRow[], hosts: InventoryHost[], givenBy: (digest: string, host: InventoryHost) => string[] | undefined, services?: readonly string[]): string[] {
  // with --services, what the services chosen run (the others' facts still tell what is left over)
  const chosen = (r: StatusRow) => !services || services.includes(r.service);
  const running: string[] = [];
  for (const host of hosts) {
    // a fact of a service its release does not give the host (by the inventory as it is now) does not count: the
    // rollback does not deploy that service there, and a host outside NAME's groups (another team's, compromised)
    // would otherwise choose, by naming the newest release of NAME, that the rollback goes back to what runs now
    const mine = rows.filter((r) => r.host === host.name && !r.retired && r.digest && r.release?.startsWith(`${name} `) && givenBy(r.digest, host)?.includes(r.service) !== false);
    const leftOver = (x: StatusRow) =>
      mine.some((y) => y.digest !== x.digest && givenBy(y.digest!, host)?.includes(x.service) === false && givenBy(x.digest!, host)?.includes(y.service) !== false);
    // a service not complete still runs what its configure last completed for (a rollout or rollback stopped
    // after install, or whose configure failed): going back from 3 to 2, stopped there, leaves every fact at 2;
    // the rerun took that for what the hosts run and went back to 1. So does such a service another release
    // was being deployed over (a rollback that puts back a release taken over, stopped half way)
    const midway = rows.filter((r) => r.host === host.name && !r.retired && !r.complete && r.configured && givenBy(r.configured, host)?.includes(r.service) === true && (mine.includes(r) || r.releaseName !== name));
    running.push(...new Set([...mine.filter((x) => !leftOver(x) && chosen(x)).map((r) => r.digest!), ...midway.filter(chosen).map((r) => r.configured!)]));
  }
  return running;
}
