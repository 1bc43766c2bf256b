import { SpecError } from '../errors.js';
import { nameSome } from '../util/oneLine.js';
import type { HostTarget } from './prepareTargets.js';

/**
 * Two names of the inventory that reach one host the same way (transport, address and port as written) and
 * keep ferry's files in the same place there (data dir: the run's lock; or facts dir): a deploy held the
 * host under the first name and found it "locked by" itself under the second, and a run under either name
 * overwrote the other's facts, so that each read the other's as another host's. Refused before any host is
 * touched, in one line naming the first pairs. Names that reach one host only through DNS or an ssh_config
 * are not seen here; the lock names them (hostGuard).
 */
export function refuseSameHost(targets: HostTarget[], inventoryFile: string): void {
  const byDestination = new Map<string, HostTarget[]>();
  for (const t of targets) {
    const h = t.host;
    // host names are not case-sensitive (DNS, ssh_config's Host patterns): API1 and api1 are one host
    const key = h.transport === 'local' ? 'local' : `ssh ${h.address.toLowerCase()} ${h.port ?? ''}`;
    byDestination.set(key, [...(byDestination.get(key) ?? []), t]);
  }
  const pairs: string[] = [];
  for (const group of byDestination.values()) {
    for (let i = 0; i < group.length; i++) {
      const a = group[i]!;
      const b = group.slice(0, i).find((o) => o.settings.dataDir === a.settings.dataDir || o.settings.factsDir === a.settings.factsDir);
      if (!b) continue;
      const where = a.host.transport === 'local' ? 'this machine' : `${a.host.address}${a.host.port ? ` port ${a.host.port}` : ''}`;
      const dir = b.settings.dataDir === a.settings.dataDir ? `data dir ${a.settings.dataDir}` : `facts dir ${a.settings.factsDir}`;
      pairs.push(`${b.host.name} and ${a.host.name} (${where}, ${dir})`);
    }
  }
  if (pairs.length) {
    throw new SpecError(
      `${inventoryFile}: ${nameSome(pairs)} name one host twice: a run would lock it under one name and find it locked under the other, and each name's facts overwrite the other's; keep one name per host (put it in both groups), or --limit to one of them`,
    );
  }
}
