import { nameSome } from '../util/oneLine.js';
import type { Manifest } from '../bundle/manifest.js';
import type { Decision } from './decideStage.js';
import type { Fact } from './fact.js';
import type { InventoryHost } from './loadInventory.js';
import type { FactRead } from './readFacts.js';
import { NAME_RE } from '../util/names.js';

/**
 * The services a release gives a host (those of whose groups the host is in), whatever --services
 * chose: a fact of the release's name for any other service is left over from an older release.
 */
export function servicesOfHost(services: Manifest['services'], host: Pick<InventoryHost, 'groups'>): string[] {
  return Object.keys(services).filter((name) => services[name]!.groups.some((g) => host.groups.includes(g)));
}

/**
 * A retired service that a release brings back: every stage runs again, whatever its fact says (what
 * it installed may have been removed since it was retired; each step changes only what differs).
 */
export function comeBack(read: FactRead): Decision | undefined {
  const r = read.fact?.retired;
  return r ? { run: true, reason: `retired ${r.time} (not in ${r.release.name} ${r.release.version}), deployed again` } : undefined;
}

/**
 * The facts on a host that `release` leaves over once the host runs it: of the same release name, for a
 * service the release does not give the host, written for this host and service, not retired yet.
 */
export function leftovers(facts: Map<string, FactRead>, host: string, releaseName: string, given: readonly string[]): Fact[] {
  return [...facts]
    .map(([service, read]) => (read.fact && read.fact.service === service ? read.fact : undefined))
    .filter((f): f is Fact => f !== undefined && NAME_RE.test(f.service) && f.host === host && f.release.name === releaseName && !given.includes(f.service) && !f.retired);
}

/**
 * One line per service a deploy retired: `side is not in rp 3.0.0: retired on h1, h2 (what it installed stays
 * there)`; a service the release has, whose groups the hosts are no longer in (the inventory moved them), was
 * said to be "not in" the release as well: `web of site 2 is not given to m1 (it runs on group web): retired
 * there (what it installed stays there)`.
 */
export function retiredLines(retired: Array<{ host: string; services: string[] }>, release: Pick<Manifest, 'name' | 'version' | 'services'>): string[] {
  const hosts = new Map<string, string[]>();
  for (const r of retired) for (const s of r.services) hosts.set(s, [...(hosts.get(s) ?? []), r.host]);
  return [...hosts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([service, on]) => {
    const has = Object.hasOwn(release.services, service) ? release.services[service] : undefined;
    if (has) return `${service} of ${release.name} ${release.version} is not given to ${nameSome(on)} (it runs on group${has.groups.length === 1 ? '' : 's'} ${has.groups.join(', ') || 'none'}): retired there (what it installed stays there)`;
    return `${service} is not in ${release.name} ${release.version}: retired on ${nameSome(on)} (what it installed stays there)`;
  });
}
