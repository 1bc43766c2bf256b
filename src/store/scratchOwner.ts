import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { holdScratch } from '../util/holdScratch.js';
import { IDENTITY_PATTERN, identityPid, isIdentityAlive, ownIdentity } from '../util/processIdentity.js';

/** a scratch folder is created a moment before its pid file: that young, it belongs to someone */
const GRACE_MS = 60_000;

/** PREFIX-IDENTITY-XXXXXX, as makeScratch names a scratch folder */
const SCRATCH_NAME_RE = new RegExp(`^[a-z]+-${IDENTITY_PATTERN}-[A-Za-z0-9]{6}$`);

/**
 * Make this process's scratch folder STORE/.tmp/PREFIX-IDENTITY-XXXXXX (held: a Ctrl-C removes it at
 * exit). Its name tells its owner, and so does its pid file (what older ferry reads), written when the
 * file system has room for it: on a full one gc must still run and hold off imports, as it is what
 * frees space.
 */
export async function makeScratch(tmpDir: string, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpDir, `${prefix}-${ownIdentity()}-`));
  holdScratch(dir);
  await writeFile(join(dir, 'pid'), `${ownIdentity()}\n`).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOSPC' && err.code !== 'EDQUOT') throw err;
  });
  return dir;
}

/**
 * The live process that owns a scratch folder of STORE/.tmp (its pid file, else its name), this process
 * included; undefined when the owner is gone and the folder is stale.
 */
export async function scratchOwner(dir: string): Promise<number | undefined> {
  const owner = (await readFile(`${dir}/pid`, 'utf8').catch(() => '')) || (SCRATCH_NAME_RE.exec(basename(dir))?.[1] ?? '');
  const pid = identityPid(owner);
  if (pid !== undefined) return pid === process.pid || isIdentityAlive(owner) ? pid : undefined;
  const st = await stat(dir).catch(() => undefined);
  return st && Date.now() - st.mtimeMs < GRACE_MS ? 0 : undefined;
}
