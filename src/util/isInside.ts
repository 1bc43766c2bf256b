import { isAbsolute, relative, sep } from 'node:path';

/** Whether the path `p` is the folder `root` or inside it (both absolute, compared as written: resolve links first). */
export function isInside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}
