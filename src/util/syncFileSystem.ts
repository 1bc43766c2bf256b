import { StoreError, ToolError } from '../errors.js';
import { runTool } from './runTool.js';

/**
 * Make everything written so far on the file system(s) that hold `dirs` durable, with one syncfs(2) each
 * (coreutils `sync -f DIR`; Node has no syncfs). One call flushes every file's data and every folder
 * entry of a whole tree in a single journal commit: fsync per file costs one commit each, which made
 * importing 100,000 small files take minutes. It also flushes other programs' pending writes on that
 * file system, as `tar -x && sync` would (sync flushes all of them).
 */
export async function syncFileSystem(dirs: string | readonly string[], advice: string): Promise<void> {
  const list = typeof dirs === 'string' ? [dirs] : dirs;
  try {
    await runTool('sync', ['--file-system', '--', ...list], { debianPackage: 'coreutils' });
  } catch (err) {
    const why = err instanceof ToolError && err.missing ? 'the sync program (coreutils) is not installed' : (err instanceof ToolError && err.stderr?.trim()) || (err as Error).message;
    throw new StoreError(`cannot flush ${list.join(', ')} to disk: ${why}; ${advice}`, { cause: err });
  }
}
