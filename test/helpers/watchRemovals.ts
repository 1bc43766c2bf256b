import { spawn } from 'node:child_process';

/**
 * Watch FOLDER with the real inotifywait for entries deleted or moved away, from before the returned
 * promise resolves until stop(): every event the kernel queued is reported, however fast, so a test
 * can tell a tree removed under its name (DELETE) from one renamed aside (MOVED_FROM).
 */
export async function watchRemovals(folder: string): Promise<{ stop(): Promise<string[]> }> {
  const child = spawn('inotifywait', ['-m', '-e', 'delete', '-e', 'moved_from', '--format', '%e %f', folder], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  // the watch is in place once it says so (or it failed: then the test fails here)
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('Watches established')) resolve();
    });
    child.once('close', (code) => reject(new Error(`inotifywait ${folder} exited ${code}: ${err}`)));
  });
  return {
    async stop() {
      child.kill('SIGTERM');
      await closed;
      return out.split('\n').filter(Boolean);
    },
  };
}
