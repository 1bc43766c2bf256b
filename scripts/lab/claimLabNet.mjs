/**
 * Claim a private /16 (10.N.0.0/16) for one lab (network namespaces, veth links) for as long as this
 * process holds it, so that two test runs, a demo and a benchmark on one machine never build labs on
 * the same subnet, namespace names or link names (each is derived from N).
 *
 * The claim is a listening Unix socket in the abstract namespace, named after the subnet: binding it is
 * atomic (a second claimant gets EADDRINUSE), and the kernel drops it the moment its process exits, even
 * after SIGKILL, so a crashed run leaves no lock behind to reclaim and there is no pid to mistake. A
 * subnet that any interface or route of this machine already uses is passed over, so labs built by hand
 * (scripts/lab/lab.sh) or foreign networks are never shadowed.
 *
 * The pool is 10.200–10.249, or FERRY_LAB_NETS ("226-240") when set.
 */
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';

export function labNetPool(spec = process.env.FERRY_LAB_NETS ?? '200-249') {
  const m = /^(\d{1,3})-(\d{1,3})$/.exec(spec.trim());
  const from = Number(m?.[1]);
  const to = Number(m?.[2]);
  if (!m || from < 1 || to > 254 || from > to) throw new Error(`FERRY_LAB_NETS=${spec}: give a range of second octets like 226-240 (1 to 254)`);
  return Array.from({ length: to - from + 1 }, (_, k) => from + k);
}

/** Second octets of 10.N.x.x that an address or route of this machine's network namespace uses. */
function octetsInUse() {
  const used = new Set();
  for (const args of [['-o', '-4', 'addr', 'show'], ['-4', 'route', 'show', 'table', 'all']]) {
    let out = '';
    try {
      out = execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      continue; // no iproute2: nothing can be in use by a lab either
    }
    for (const m of out.matchAll(/\b10\.(\d{1,3})\.\d{1,3}\.\d{1,3}/g)) used.add(Number(m[1]));
  }
  return used;
}

function bind(name) {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(`\0${name}`, () => {
      server.off('error', reject);
      // the claim must not keep the process alive by itself
      server.unref();
      resolve(server);
    });
  });
}

/**
 * @param {{ pool?: number[], namespace?: string }} [opts] namespace names the set of claims (tests of the
 *   claim itself use one of their own, so they never compete with real labs)
 * @returns {Promise<{ octet: number, net: string, release(): Promise<void> }>} net is "10.N"
 */
export async function claimLabNet({ pool = labNetPool(), namespace = 'ferry-lab-net' } = {}) {
  const used = octetsInUse();
  for (const octet of pool) {
    if (used.has(octet)) continue;
    let server;
    try {
      server = await bind(`${namespace}-10.${octet}`);
    } catch (err) {
      if (err.code === 'EADDRINUSE') continue;
      throw err;
    }
    // claimed; a lab that went up between the scan and the claim shows now
    if (octetsInUse().has(octet)) {
      server.close();
      continue;
    }
    return { octet, net: `10.${octet}`, release: () => new Promise((r) => server.close(() => r())) };
  }
  throw new Error(`no free lab subnet in 10.${pool[0]}–10.${pool.at(-1)}: every one is claimed by a running lab or used by this machine; wait for other labs to finish or set FERRY_LAB_NETS to another range`);
}
