import { randomBytes } from 'node:crypto';
import { link, mkdir, open, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { StoreError } from '../errors.js';
import { fsyncDir } from '../util/fsyncDir.js';
import { checkStorePath } from './checkStorePath.js';
import { readRef } from './readRef.js';
import type { StoreLayout } from './storeLayout.js';

/**
 * Create STORE/refs/NAME/VERSION -> DIGEST exclusively: the ref is written to a temporary file, made
 * durable, and hard-linked into place with link(2), which fails when the name exists. Of two imports
 * of different bundles under one NAME/VERSION, exactly one link succeeds; the other sees the winner's
 * digest and gets `conflict`. A ref that already holds DIGEST is left as it is. The folder is fsynced,
 * so the ref is durable when this returns.
 */
export async function claimRef(layout: StoreLayout, name: string, version: string, digest: string): Promise<{ claimed: boolean; conflict?: string }> {
  const file = layout.ref(name, version);
  const existing = await readRef(layout, name, version);
  if (existing !== undefined) return existing === digest ? { claimed: false } : { claimed: false, conflict: existing };

  const dir = dirname(file);
  const made = await mkdir(dir).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
      return false;
    },
  );
  await checkStorePath(dir, 'folder');
  const tmp = join(dir, `.${version}.${randomBytes(6).toString('hex')}.claim`);
  const fh = await open(tmp, 'wx', 0o644);
  try {
    await fh.writeFile(`${digest}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new StoreError(`cannot write ${file}: ${(err as Error).message}`, { cause: err });
    const winner = await readRef(layout, name, version);
    return winner === digest ? { claimed: false } : { claimed: false, conflict: winner ?? 'another bundle' };
  } finally {
    await unlink(tmp).catch(() => {});
  }
  await fsyncDir(dir);
  if (made) await fsyncDir(layout.refs);
  return { claimed: true };
}
