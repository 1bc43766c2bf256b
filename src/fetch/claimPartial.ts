import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { isMissing } from '../util/isMissing.js';
import { identityPid, isIdentityAlive, ownIdentity } from '../util/processIdentity.js';

/** A partial download's folder, owned by this process until it is set aside or removed. */
export interface ClaimedPartial {
  /** the bytes received so far */
  data: string;
  /** JSON: the URL and validators (ETag, Last-Modified) the bytes came from */
  meta: string;
  /**
   * true while the folder does not exist: nothing was at rest to claim, and `ensure` has not made it yet
   * (a download received into memory never writes to disk, so it costs no folder at all)
   */
  readonly fresh: boolean;
  /** make the folder before the first write (a no-op for a claimed folder, or once made) */
  ensure(): Promise<void>;
  /** leave the bytes for the next attempt, as CACHE/partial/KEY */
  setAside(): Promise<void>;
  remove(): Promise<void>;
}

/**
 * Take ownership of the partial download named KEY, so that two processes sharing a cache (two
 * builds at once) never write into the same file: interleaved writes would splice two downloads into
 * one, which the digest check catches when the sha256 is known, and nothing catches when it is not.
 *
 * A partial at rest is the folder CACHE/partial/KEY; a process claims it by renaming it to a name of
 * its own (KEY~HOST~IDENTITY~RANDOM, IDENTITY as in util/processIdentity.ts), which only one process can win; without one, it starts an empty
 * folder under that name, made when the first byte is to be written. Renaming moves the bytes and their
 * metadata together. A process that was killed leaves its folder under its own name: a later process on
 * the same host adopts it once that process is gone.
 */
export async function claimPartial(cacheDir: string, key: string): Promise<ClaimedPartial> {
  const root = join(cacheDir, 'partial');
  const host = hostname();
  const mine = join(root, `${key}~${host}~${ownIdentity()}~${randomBytes(4).toString('hex')}`);
  // what is at rest: one blocking listing (the folder holds the downloads in progress and interrupted, a handful),
  // so that a download with nothing to resume tries no rename at all
  const candidates: string[] = [];
  for (const name of listPartials(root)) {
    const [k, h, pid] = name.split('~');
    if (name === key) candidates.unshift(name);
    else if (k === key && h === host && pid !== undefined && identityPid(pid) !== process.pid && !isIdentityAlive(pid)) candidates.push(name);
  }
  let claimed = false;
  for (const name of candidates) {
    claimed = await rename(join(root, name), mine).then(
      () => true,
      () => false, // gone already: another process claimed it first
    );
    if (claimed) break;
  }
  let made: Promise<void> | undefined = claimed ? Promise.resolve() : undefined;

  const remove = async () => {
    if (made) await rm(mine, { recursive: true, force: true });
  };
  return {
    data: join(mine, 'data'),
    meta: join(mine, 'meta.json'),
    get fresh() {
      return made === undefined;
    },
    ensure: () => (made ??= mkdir(mine, { recursive: true }).then(() => undefined)),
    remove,
    async setAside() {
      if (!made) return;
      // if another attempt set its own bytes aside meanwhile, keep those and drop these
      await rename(mine, join(root, key)).catch(remove);
    },
  };
}

/** no folder yet (a new cache): nothing at rest; `ensure` makes it when a byte is to be written */
function listPartials(root: string): string[] {
  try {
    return readdirSync(root);
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
}
