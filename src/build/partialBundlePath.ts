import { lstat, readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { IDENTITY_PATTERN, identityPid, isIdentityAlive, ownIdentity } from '../util/processIdentity.js';

/**
 * The name a build writes its bundle under until it is complete: `NAME-VERSION.ferry.IDENTITY.partial`
 * beside the bundle, IDENTITY this process's (util/processIdentity.ts). A name of its own per build, so two
 * builds of the same release into one folder each write a whole bundle and rename it into place (from the
 * same lock, the same bytes), where one shared `.partial` name let the second truncate what the first was
 * writing and the first then renamed a file that was gone, or another build's. The partial bundles of
 * killed builds of this release (their process gone) are removed first: a SIGKILL runs no clean-up.
 */
export async function partialBundlePath(bundlePath: string): Promise<string> {
  const dir = dirname(bundlePath);
  const prefix = `${basename(bundlePath)}.`;
  for (const name of await readdir(dir).catch(() => [])) {
    const owner = name.startsWith(prefix) && name.endsWith(SUFFIX) ? IDENTITY_RE.exec(name.slice(prefix.length, -SUFFIX.length))?.[1] : undefined;
    if (owner === undefined || identityPid(owner) === process.pid || isIdentityAlive(owner)) continue;
    const path = join(dir, name);
    const st = await lstat(path).catch(() => undefined);
    if (st?.isFile() && st.uid === process.getuid?.()) await rm(path, { force: true });
  }
  return `${bundlePath}.${ownIdentity()}${SUFFIX}`;
}

const SUFFIX = '.partial';
const IDENTITY_RE = new RegExp(`^${IDENTITY_PATTERN}$`);
