import { execFile } from 'node:child_process';
import { StoreError } from '../errors.js';

/**
 * Make everything written so far on the file system that holds `dir` durable, with one syncfs(2)
 * (coreutils `sync -f DIR`; Node has no syncfs). One call flushes every file's data and every folder
 * entry of a whole tree in a single journal commit: fsync per file costs one commit each, which made
 * importing 100,000 small files take minutes. It also flushes other programs' pending writes on that
 * file system, as `tar -x && sync` would (sync flushes all of them).
 */
export function syncFileSystem(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('sync', ['--file-system', '--', dir], (err, _stdout, stderr) => {
      if (!err) return resolve();
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'the sync program (coreutils) is not installed' : String(stderr).trim() || err.message;
      reject(new StoreError(`cannot flush ${dir} to disk: ${why}; nothing was made visible, check the disk and import again`, { cause: err }));
    });
  });
}
