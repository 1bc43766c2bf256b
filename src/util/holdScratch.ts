import { rmSync } from 'node:fs';

/** Scratch files and folders this process is writing, to remove if it exits before they get their names. */
const held = new Set<string>();

/**
 * Mark `path` (a file or a folder, not yet made or already made) as scratch of this process: if the
 * process exits before `release` is called (Ctrl-C or SIGTERM through cli/stopOnInterrupt.ts, an
 * error that ends the process), it is removed, recursively and without following links, at exit.
 * Call `release` once the path has its final name or was removed. A SIGKILL runs nothing: what it
 * leaves each writer's next run removes or ignores.
 */
export function holdScratch(path: string): () => void {
  if (held.size === 0 && !hooked) {
    hooked = true;
    process.on('exit', removeHeld);
  }
  held.add(path);
  return () => {
    held.delete(path);
  };
}

let hooked = false;

/**
 * At exit, synchronously. A program ferry started may still be writing into a folder (a tar that was
 * not part of the signal's process group): its new entries make the removal retry.
 */
function removeHeld(): void {
  for (const path of held) {
    try {
      rmSync(path, { recursive: true, force: true, maxRetries: 5 });
    } catch {
      /* the process is ending; the next run of the command removes or ignores what is left */
    }
  }
  held.clear();
}
