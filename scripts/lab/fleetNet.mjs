/**
 * A network for many lab hosts (the fleet benchmark): one network namespace per host, each joined by a
 * veth pair to one bridge of the runner, all on a claimed private /16 (claimLabNet.mjs), so 200 hosts
 * cost 200 links, not 200 subnets. The runner has 10.N.0.1 on the bridge (a server listening there is
 * reachable from every host and from nothing outside the machine); host i has 10.N.x.y inside its
 * namespace, and no route but the /16. Names derive from N, so two runs never collide. Needs root.
 */
import { execFileSync } from 'node:child_process';
import { claimLabNet } from './claimLabNet.mjs';

const ip = (args, input) => execFileSync('ip', args, { input, stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] });

/**
 * @param {number} count hosts (at most 60,000)
 * @returns {Promise<{ net: string, runner: string, hosts: Array<{ netns: string, address: string }>, remove(): Promise<void> }>}
 */
export async function createFleetNet(count) {
  const claim = await claimLabNet();
  const o = claim.octet;
  const bridge = `fb${o}br`;
  const hosts = Array.from({ length: count }, (_, i) => ({ netns: `ferry-fleet${o}-${i + 1}`, address: `${claim.net}.${1 + Math.floor(i / 250)}.${(i % 250) + 2}`, link: `fb${o}h${i + 1}` }));
  const remove = async () => {
    for (const h of hosts) {
      try { ip(['netns', 'del', h.netns]); } catch { /* not created */ }
    }
    try { ip(['link', 'del', bridge]); } catch { /* not created */ }
    await claim.release();
  };
  try {
    // a run that was killed may have left its links behind; the claim says nobody else uses them now
    await removeLeftovers(bridge, hosts);
    const root = [`link add ${bridge} type bridge`, `addr add ${claim.net}.0.1/16 dev ${bridge}`, `link set ${bridge} up`];
    for (const h of hosts) {
      ip(['netns', 'add', h.netns]);
      root.push(`link add ${h.link} type veth peer name eth0 netns ${h.netns}`, `link set ${h.link} master ${bridge}`, `link set ${h.link} up`);
    }
    ip(['-batch', '-'], root.join('\n') + '\n');
    for (const h of hosts) ip(['-n', h.netns, '-batch', '-'], `addr add ${h.address}/16 dev eth0\nlink set eth0 up\nlink set lo up\n`);
  } catch (err) {
    await remove();
    throw err;
  }
  return { net: claim.net, runner: `${claim.net}.0.1`, hosts: hosts.map(({ netns, address }) => ({ netns, address })), remove };
}

async function removeLeftovers(bridge, hosts) {
  const names = new Set(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]));
  for (const h of hosts) if (names.has(h.netns)) ip(['netns', 'del', h.netns]);
  try { ip(['link', 'del', bridge]); } catch { /* none */ }
}
