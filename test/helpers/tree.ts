import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';

/**
 * A listing of every path under dir with its type and content hash: compare before/after to prove "nothing changed".
 * A store's audit log (STORE/audit.log and its lock) is left out: a refused import is meant to append its
 * refusal there (issue 19; test/audit/auditLog.test.ts checks that line and the chain).
 */
export async function snapshotTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(d: string, rel: string) {
    let names: string[];
    try {
      names = (await readdir(d)).sort();
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      const r = rel ? `${rel}/${n}` : n;
      if (r === 'audit.log' || r === 'audit.log.lock') continue;
      const st = await lstat(p);
      if (st.isDirectory()) {
        out[r + '/'] = 'dir';
        await walk(p, r);
      } else if (st.isSymbolicLink()) out[r] = `-> ${await readlink(p)}`;
      else out[r] = createHash('sha256').update(await readFile(p)).digest('hex');
    }
  }
  await walk(dir, '');
  return out;
}
