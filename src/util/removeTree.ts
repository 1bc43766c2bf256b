import { chmod, lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Remove a folder and everything in it, also when it holds folders its owner may not write (a rootfs
 * unpacked without root keeps its modes: a 0555 folder with files in it). `rm -r` alone fails there with
 * EACCES, and a tree that cannot be removed is left behind, to fail every later run that sweeps it too.
 * On that failure the folders are made writable (chmod 0700; never through a link: lstat) and removed again.
 */
export async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM') throw err;
  }
  const folders = [path];
  for (let dir = folders.pop(); dir !== undefined; dir = folders.pop()) {
    const st = await lstat(dir).catch(() => undefined);
    if (!st?.isDirectory()) continue;
    await chmod(dir, 0o700);
    for (const e of await readdir(dir, { withFileTypes: true })) if (e.isDirectory()) folders.push(join(dir, e.name));
  }
  await rm(path, { recursive: true, force: true });
}
