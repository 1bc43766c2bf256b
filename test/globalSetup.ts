import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * One temporary folder per run of the tests, under the machine's: every test file's process and every
 * program the tests start inherit it as TMPDIR, so what a test leaves there (a fixture folder its file
 * forgot, a lab a crash left) goes with the run instead of piling up in /tmp run after run, and two runs
 * at once never share a folder. Removed when the run ends; `rm --one-file-system` does not descend into
 * a file system a lab may have left mounted inside.
 */
export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-t-'));
  // open as /tmp is: programs the tests start as other users (nginx's workers) read what tests put there
  chmodSync(dir, 0o1777);
  process.env.TMPDIR = dir;
  return () => {
    spawnSync('rm', ['-rf', '--one-file-system', dir], { stdio: 'ignore' });
  };
}
