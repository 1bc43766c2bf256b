import { execFileSync } from 'node:child_process';
import { claimLabNet } from '../helpers/lab.js';

export interface Netns {
  name: string;
  /** the runner's end of the veth pair */
  runner: string;
  /** the address inside the namespace */
  inside: string;
  remove(): Promise<void>;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

/** Whether this test run may create network namespaces (root, with iproute2). */
export function canUseNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    const probe = `fyprobe${process.pid % 100000}`;
    ip('netns', 'add', probe);
    ip('netns', 'del', probe);
    return true;
  } catch {
    return false;
  }
}

/**
 * A host with no route but to the runner: a network namespace joined to the runner by a veth pair on
 * a private /30 and nothing else (no default route, no other interface but lo). Its subnet is claimed
 * for this process (claimLabNet), and its names derive from it, so two test runs never collide.
 */
export async function createNetns(): Promise<Netns> {
  const claim = await claimLabNet();
  const name = `ferrytest${claim.octet}`;
  const a = `fy${claim.octet}a`;
  const b = `fy${claim.octet}b`;
  const runner = `${claim.net}.1.1`;
  const inside = `${claim.net}.1.2`;
  // a run that was killed may have left its namespace behind; the claim says nobody else uses it now
  try { ip('netns', 'del', name); } catch { /* none */ }
  try { ip('link', 'del', a); } catch { /* none */ }
  try {
    ip('netns', 'add', name);
    try {
      ip('link', 'add', a, 'type', 'veth', 'peer', 'name', b);
      ip('link', 'set', b, 'netns', name);
      ip('addr', 'add', `${runner}/30`, 'dev', a);
      ip('link', 'set', a, 'up');
      ip('netns', 'exec', name, 'ip', 'addr', 'add', `${inside}/30`, 'dev', b);
      ip('netns', 'exec', name, 'ip', 'link', 'set', b, 'up');
      ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
    } catch (err) {
      try { ip('link', 'del', a); } catch { /* not created */ }
      ip('netns', 'del', name);
      throw err;
    }
  } catch (err) {
    await claim.release();
    throw err;
  }
  return {
    name,
    runner,
    inside,
    async remove() {
      try { ip('link', 'del', a); } catch { /* gone with the namespace */ }
      ip('netns', 'del', name);
      await claim.release();
    },
  };
}
