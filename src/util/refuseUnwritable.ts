import { basename, dirname, resolve } from 'node:path';
import { FerryError, StoreError, UsageError } from '../errors.js';
import { isInside } from './isInside.js';

/** A place the user told ferry to write into: `--out DIR`, `--store DIR`, `key generate --out PREFIX`… */
export interface OutputPath {
  /** the option as the user wrote it: `--out` */
  option: string;
  /** its value */
  path: string;
  /** a folder ferry writes into (its own names inside count as it); else a file or a file name prefix */
  folder: boolean;
  /** a store: its refusals are store problems (71), not wrong usage (64) */
  store?: boolean;
  /** a place ferry chose (no option given): how the line names it, and what the user can do instead */
  shown?: string;
  advice?: string;
}

/** what mkdir, open or rename say when a place cannot be written (read-only, not there, not a folder, not allowed) */
const UNWRITABLE = new Set(['ENOENT', 'EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EEXIST', 'EISDIR', 'ELOOP', 'ENAMETOOLONG', 'EINVAL', 'EXDEV']);
const FULL = new Set(['ENOSPC', 'EDQUOT']);

/**
 * Runs `work`; a file system error on one of `outputs` (its path, a folder on its way, a name inside a
 * folder output, or a sibling named after a file output: `OUT.partial`, `.OUT.….tmp`) becomes one line
 * naming the option and the path: 64 (71 for a store), or 1 for a full disk. Errors on other paths
 * (the spec, the bundle read, the work folder) and ferry's own errors pass unchanged.
 */
export async function refuseUnwritable<T>(outputs: readonly OutputPath[], work: () => Promise<T>, opts: { alsoWrites?: string } = {}): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw unwritableOutput(err, outputs, opts.alsoWrites);
  }
}

/**
 * write(2) says ENOSPC without a path: with one output and nothing else written (`alsoWrites`), it is that
 * output's; else the line names every place the work writes.
 */
export function unwritableOutput(err: unknown, outputs: readonly OutputPath[], alsoWrites?: string): unknown {
  if (err instanceof FerryError || !(err instanceof Error)) return err;
  const { code, path } = err as NodeJS.ErrnoException;
  if (code !== undefined && path === undefined && FULL.has(code) && outputs.length > 0) {
    const places = [...outputs.map(shown), ...(alsoWrites ? [alsoWrites] : [])];
    if (places.length === 1) return new (outputs[0]!.store ? StoreError : FerryError)(`${places[0]}: no space left (${code}); what was not finished is removed: free space there or ${outputs[0]!.advice ?? `choose another ${outputs[0]!.option}`}`, { cause: err });
    return new (outputs.some((o) => o.store) ? StoreError : FerryError)(`no space left (${code}) in ${places.slice(0, -1).join(', ')} or ${places.at(-1)}; what was not finished is removed: free space there`, { cause: err });
  }
  if (code === undefined || path === undefined || !(UNWRITABLE.has(code) || FULL.has(code))) return err;
  const at = resolve(path);
  // the innermost output that the path belongs to (a --cache inside --out is the cache's)
  const owner = outputs
    .filter((o) => belongsTo(at, o))
    .sort((a, b) => resolve(b.path).length - resolve(a.path).length)[0];
  if (!owner) return err;
  const where = at === resolve(owner.path) ? '' : ` at ${path}`;
  if (FULL.has(code)) {
    const Full = owner.store ? StoreError : FerryError;
    return new Full(`${shown(owner)}: no space left (${code}${where}); what was not finished is removed: free space there or ${owner.advice ?? `choose another ${owner.option}`}`, { cause: err });
  }
  const why = code === 'EEXIST' || code === 'ENOTDIR' ? `${code}: something that is not a folder is on the way` : code;
  const Refusal = owner.store ? StoreError : UsageError;
  return new Refusal(`${shown(owner)}: cannot write there (${why}${where}); nothing was written: ${owner.advice ?? (owner.store ? 'make the store writable for this user' : `give ${owner.option} a ${owner.folder ? 'folder' : 'path in a folder'} this user can write`)}`, { cause: err });
}

function shown(o: OutputPath): string {
  return o.shown ?? `${o.option} ${o.path}`;
}

function belongsTo(at: string, o: OutputPath): boolean {
  const out = resolve(o.path);
  if (isInside(at, out)) return true; // the output itself or a folder on its way
  if (o.folder && isInside(out, at)) return true;
  if (dirname(at) !== dirname(out)) return false;
  const name = basename(at);
  const base = basename(out);
  return name.startsWith(`${base}.`) || name.startsWith(`.${base}.`);
}
