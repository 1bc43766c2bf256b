import { rmSync } from 'node:fs';

/** Scratch files and folders this process is writing, to remove if it exits before they get their names. */
const held = new Set<string>();
/** What to keep of the scratch before any of it is removed (keepAtExit). */
const keepers = new Set<() => void>();

/**
 * Mark `path` (a file or a folder, not yet made or already made) as scratch of this process: if the
 * process exits before `release` is called (Ctrl-C or SIGTERM through cli/stopOnInterrupt.ts, an
 * error that ends the process), it is removed, recursively and without following links, at exit.
 * Call `release` once the path has its final name or was removed. `keep`, when given, is registered with
 * keepAtExit for as long as the path is held. A SIGKILL runs nothing: what it leaves each writer's next run
 * removes or ignores.
 */
export function holdScratch(path: string, keep?: () => void): () => void {
  hookExit();
  held.add(path);
  const unkeep = keep ? keepAtExit(keep) : undefined;
  return () => {
    held.delete(path);
    unkeep?.();
  };
}

/**
 * Run `keep` (blocking calls only: no promise settles at exit) if the process exits before the returned
 * function is called, after the programs it started are stopped and before any held scratch is removed:
 * what of the scratch is worth keeping elsewhere (a stopped build's downloaded layers, kept in the cache from
 * its partial bundle: fetch/cachePacks.ts; the bytes a layer cut off part-way got, copied from the partial
 * bundle into its partial download: fetch/createDownloadFile.ts). Every keeper runs before the first removal.
 */
export function keepAtExit(keep: () => void): () => void {
  hookExit();
  keepers.add(keep);
  return () => void keepers.delete(keep);
}

function hookExit(): void {
  if (!hooked) {
    hooked = true;
    process.on('exit', removeHeld);
  }
}

let hooked = false;

/** What holdChild needs of a started program (a node:child_process ChildProcess; util/runTool.ts is what spawns). */
interface HeldChild {
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  kill(signal: NodeJS.Signals): boolean;
  once(event: 'close', listener: () => void): unknown;
}

/** Programs this process started that may be writing into held scratch (util/runTool.ts registers each). */
const children = new Set<HeldChild>();

/**
 * Mark a started program as one that may write into held scratch: if this process exits while the
 * program runs, the program is killed before the scratch is removed (a tar that a SIGTERM to ferry
 * alone did not reach kept unpacking into the folder being removed, and the folder stayed).
 */
export function holdChild(child: HeldChild): void {
  children.add(child);
  child.once('close', () => children.delete(child));
}

/**
 * At exit, synchronously. The programs ferry started are killed first (a tar that was not part of the
 * signal's process group would go on writing into a folder being removed), then every keeper runs, then the
 * scratch is removed; an entry one of the programs wrote as it died makes the removal retry.
 */
function removeHeld(): void {
  for (const child of children) {
    try {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    } catch {
      /* gone already */
    }
  }
  for (const keep of keepers) {
    try {
      keep();
    } catch {
      /* kept what could be */
    }
  }
  keepers.clear();
  for (const path of held) {
    try {
      rmSync(path, { recursive: true, force: true, maxRetries: 10, retryDelay: 20 });
    } catch {
      /* the process is ending; the next run of the command removes or ignores what is left */
    }
  }
  held.clear();
}
