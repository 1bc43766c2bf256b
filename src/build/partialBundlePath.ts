import { basename, dirname } from 'node:path';
import { IDENTITY_PATTERN, ownIdentity } from '../util/processIdentity.js';
import { sweepDeadScratch } from '../util/sweepDeadScratch.js';

/**
 * The name a build writes its bundle under until it is complete: `NAME-VERSION.ferry.IDENTITY.partial`
 * beside the bundle, IDENTITY this process's (util/processIdentity.ts). A name of its own per build, so two
 * builds of the same release into one folder each write a whole bundle and rename it into place (from the
 * same lock, the same bytes), where one shared `.partial` name let the second truncate what the first was
 * writing and the first then renamed a file that was gone, or another build's. The partial bundles of
 * killed builds of this release (their process gone) are removed first: a SIGKILL runs no clean-up.
 */
export async function partialBundlePath(bundlePath: string): Promise<string> {
  const prefix = `${basename(bundlePath)}.`;
  await sweepDeadScratch(
    dirname(bundlePath),
    (name) => (name.startsWith(prefix) && name.endsWith(SUFFIX) ? IDENTITY_RE.exec(name.slice(prefix.length, -SUFFIX.length))?.[1] : undefined),
    'file',
  );
  return `${bundlePath}.${ownIdentity()}${SUFFIX}`;
}

const SUFFIX = '.partial';
const IDENTITY_RE = new RegExp(`^${IDENTITY_PATTERN}$`);
