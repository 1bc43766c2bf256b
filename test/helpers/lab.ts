import { fileURLToPath } from 'node:url';
import { run } from './cli.js';

export const LAB_SCRIPT = fileURLToPath(new URL('../../scripts/lab/lab.sh', import.meta.url));

// plain JS, shared with `npm run demo`
const { claimLabNet, labNetPool } = (await import('../../scripts/lab/claimLabNet.mjs')) as {
  claimLabNet(opts?: { pool?: number[]; namespace?: string }): Promise<{ octet: number; net: string; release(): Promise<void> }>;
  labNetPool(spec?: string): number[];
};
export { claimLabNet, labNetPool };

/** Whether this machine can run lab hosts: root, ip netns, overlayfs, sshd. */
export async function canRunLab(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  const r = await run('bash', ['-c', 'command -v ip && command -v unshare && test -x /usr/sbin/sshd && grep -qw overlay /proc/filesystems']);
  return r.code === 0;
}

export interface Lab {
  name: string;
  net: string;
  dir: string;
  sshConfig: string;
  count: number;
  hostIp(i: number): string;
  runnerIp(i: number): string;
  env: NodeJS.ProcessEnv;
  sh(args: string[]): ReturnType<typeof run>;
  /** take the lab down and give its subnet back */
  close(): Promise<void>;
}

/**
 * A lab of its own for one test file: a subnet claimed for this process (claimLabNet), and a name, folder
 * and link prefix derived from it, so test files, and two runs of the suite, can run side by side.
 */
export async function labFor(name: string, count: number): Promise<Lab> {
  const claim = await claimLabNet();
  const env = { LAB_NAME: `ferry-lab-${name}${claim.octet}`, LAB_NET: claim.net, LAB_IFPREFIX: `fl${claim.octet}h` };
  const dir = `/var/tmp/${env.LAB_NAME}`;
  const sh = (args: string[]) => run('bash', [LAB_SCRIPT, ...args], { env });
  return {
    name: env.LAB_NAME,
    net: env.LAB_NET,
    dir,
    sshConfig: `${dir}/ssh_config`,
    count,
    hostIp: (i) => `${claim.net}.${i}.2`,
    runnerIp: (i) => `${claim.net}.${i}.1`,
    env,
    sh,
    async close() {
      if (!process.env.FERRY_LAB_KEEP) await sh(['down']);
      await claim.release();
    },
  };
}
