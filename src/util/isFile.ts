import { stat } from 'node:fs/promises';

/** Whether path names a regular file (false for folders and for paths that do not exist). */
export async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
