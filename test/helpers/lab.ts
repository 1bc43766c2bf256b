import { fileURLToPath } from 'node:url';
import { run } from './cli.js';

export const LAB_SCRIPT = fileURLToPath(new URL('../../scripts/lab/lab.sh', import.meta.url));

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
}

/** A lab of its own for one test file (own name, subnet and link prefix), so test files can run in parallel. */
export function labFor(name: string, netOctet: number, count: number): Lab {
  const env = { LAB_NAME: `ferry-lab-${name}`, LAB_NET: `10.${netOctet}`, LAB_IFPREFIX: `fl${name.slice(0, 4)}` };
  const dir = `/var/tmp/${env.LAB_NAME}`;
  return {
    name: env.LAB_NAME,
    net: env.LAB_NET,
    dir,
    sshConfig: `${dir}/ssh_config`,
    count,
    hostIp: (i) => `10.${netOctet}.${i}.2`,
    runnerIp: (i) => `10.${netOctet}.${i}.1`,
    env,
    sh: (args) => run('bash', [LAB_SCRIPT, ...args], { env }),
  };
}
