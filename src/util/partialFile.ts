import { open, type FileHandle } from 'node:fs/promises';
import { uniqueName } from './uniqueName.js';

/**
 * The name a file is written under, beside `target`, until it is complete and renamed into place:
 * `TARGET.UNIQUE.partial`, UNIQUE a name no other call of this or another process returns (uniqueName.ts).
 * One shared `TARGET.partial` let two runs writing the same output (two `ferry sign` of one bundle) write
 * into one file, and a link planted under that name in an output folder was followed.
 */
export function partialPathFor(target: string): string {
  return `${target}.${uniqueName()}.partial`;
}

/** Create a partial file (partialPathFor) with O_EXCL: never through an existing name or a planted link. */
export function openPartial(path: string, mode = 0o644): Promise<FileHandle> {
  return open(path, 'wx', mode);
}
