import { readFile, stat } from 'node:fs/promises';
import { identityPid, isIdentityAlive } from '../util/processIdentity.js';

/** a scratch folder is created a moment before its pid file: that young, it belongs to someone */
const GRACE_MS = 60_000;

/**
 * The live process that owns a scratch folder of STORE/.tmp (its pid file), this process included;
 * undefined when the owner is gone and the folder is stale.
 */
export async function scratchOwner(dir: string): Promise<number | undefined> {
  const owner = await readFile(`${dir}/pid`, 'utf8').catch(() => '');
  const pid = identityPid(owner);
  if (pid !== undefined) return pid === process.pid || isIdentityAlive(owner) ? pid : undefined;
  const st = await stat(dir).catch(() => undefined);
  return st && Date.now() - st.mtimeMs < GRACE_MS ? 0 : undefined;
}
