/**
 * A network for many lab hosts (the fleet benchmark): one network namespace per host, each joined by a
 * veth pair to one bridge of the runner, all on a claimed private /16 (claimLabNet.mjs), so 200 hosts
 * cost 200 links, not 200 subnets. The runner has 10.N.0.1 on the bridge (a server listening there is
 * reachable from every host and from nothing outside the machine); host i has 10.N.x.y inside its
 * namespace, and no route but the /16. Names derive from N, so two runs never collide. Needs root.
 */
import { execFile, execFileSync } from 'node:child_process';
import { claimLabNet } from './claimLabNet.mjs';

const ip = (args, input) => execFileSync('ip', args, { input, stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
/** `ip -batch -` in the background, so several namespaces are set up at once */
const ipBatch = (args, input) =>
  new Promise((resolve, reject) => {
    const child = execFile('ip', [...args, '-batch', '-'], (err) => (err ? reject(err) : resolve()));
    child.stdin.end(input);
  });
/** a Linux bridge takes at most 1024 ports (BR_MAX_PORTS) */
export const MAX_FLEET_HOSTS = 1000;

/**
 * @param {number} count hosts (at most MAX_FLEET_HOSTS: the ports of one bridge)
 * @returns {Promise<{ net: string, runner: string, hosts: Array<{ netns: string, address: string }>, remove(): Promise<void> }>}
 */
export async function createFleetNet(count) {
  if (!Number.isInteger(count) || count < 1 || count > MAX_FLEET_HOSTS) throw new Error(`a fleet lab has 1 to ${MAX_FLEET_HOSTS} hosts (one bridge takes at most 1024 ports), not ${count}`);
  const claim = await claimLabNet();
  const o = claim.octet;
  const bridge = `fb${o}br`;
  const hosts = Array.from({ length: count }, (_, i) => ({ netns: `ferry-fleet${o}-${i + 1}`, address: `${claim.net}.${1 + Math.floor(i / 250)}.${(i % 250) + 2}`, link: `fb${o}h${i + 1}` }));
  const remove = async () => {
    // -force: one batch goes on past the namespaces that were never created
    try { ip(['-force', '-batch', '-'], hosts.map((h) => `netns del ${h.netns}\n`).join('')); } catch { /* some not created */ }
    try { ip(['link', 'del', bridge]); } catch { /* not created */ }
    await claim.release();
  };
  try {
    // a run that was killed may have left its links behind; the claim says nobody else uses them now
    await removeLeftovers(bridge, hosts);
    // one ip process for the namespaces, the bridge and every link; then each namespace's own side, several at once
    const root = [`link add ${bridge} type bridge`, `addr add ${claim.net}.0.1/16 dev ${bridge}`, `link set ${bridge} up`];
    for (const h of hosts) root.push(`netns add ${h.netns}`, `link add ${h.link} type veth peer name eth0 netns ${h.netns}`, `link set ${h.link} master ${bridge}`, `link set ${h.link} up`);
    ip(['-batch', '-'], root.join('\n') + '\n');
    let next = 0;
    const inside = async () => {
      for (let h = hosts[next++]; h; h = hosts[next++]) await ipBatch(['-n', h.netns], `addr add ${h.address}/16 dev eth0\nlink set eth0 up\nlink set lo up\n`);
    };
    await Promise.all(Array.from({ length: 8 }, inside));
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
