import { lstat, readdir, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { FetchError } from '../../errors.js';
import { downloadLimits } from '../../fetch/downloadLimits.js';
import { BUNDLE_OBJECTS, startGit } from './runGit.js';

/** how often the repository's size and its file system's free space are looked at while git fetches */
const WATCH_EVERY_MS = 100;

/**
 * `git fetch` (args after `-C repo`) from an upstream into the scratch repository `repo`, under the download
 * bounds (fetch/downloadLimits.ts): git has no bound on what it receives, and an upstream sending a pack
 * without end would fill the scratch disk. While git runs, the repository's size is measured and its file
 * system's free space looked at; past FERRY_MAX_DOWNLOAD bytes, or with less than FERRY_CACHE_RESERVE free,
 * git (with its remote helper and index-pack: its process group) is killed and the fetch refused, a
 * FetchError (exit 69); the caller removes the repository. A failing git is runGit's ToolError.
 */
export async function boundedGitFetch(repo: string, url: string, args: string[]): Promise<void> {
  const limits = downloadLimits();
  // and no single allocation over 1 GiB, as for a bundle's objects: an upstream can send the same delta of a few
  // hundred bytes that states gigabytes, which index-pack would allocate and fill whole (the bytes received stay few)
  const git = startGit(['-C', repo, 'fetch', ...args], { userConfig: true, processGroup: true, ...BUNDLE_OBJECTS });
  git.stdout.resume();
  let refusal: FetchError | undefined;
  let checking = false;
  const check = async () => {
    const size = await treeSize(repo);
    if (size > limits.maxUnknown) {
      return new FetchError(
        `${url}: git fetch received more than ${limits.maxUnknown} bytes (FERRY_MAX_DOWNLOAD); ferry stopped it and kept nothing. Check the URL, pin a shallower depth, or raise FERRY_MAX_DOWNLOAD`,
        { url },
      );
    }
    const st = await statfs(repo).catch(() => undefined);
    if (st !== undefined && st.bavail * st.bsize < limits.reserve) {
      return new FetchError(
        `${url}: git fetch left ${st.bavail * st.bsize} bytes free on the scratch file system (${repo}), less than the ${limits.reserve}-byte reserve; ferry stopped it and kept nothing. Free space there or lower FERRY_CACHE_RESERVE`,
        { url },
      );
    }
    return undefined;
  };
  const timer = setInterval(() => {
    if (checking || refusal) return;
    checking = true;
    void check()
      .then((r) => {
        if (r && !refusal) {
          refusal = r;
          git.kill();
        }
      })
      .finally(() => (checking = false));
  }, WATCH_EVERY_MS);
  try {
    await git.exited.catch((err: unknown) => {
      if (!refusal) throw err;
    });
  } finally {
    clearInterval(timer);
  }
  // a fetch faster than one look is measured once it ended
  refusal ??= await check();
  if (refusal) throw refusal;
}

/** the bytes of the files under `dir` (a file removed while it is measured counts nothing) */
async function treeSize(dir: string): Promise<number> {
  let total = 0;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += await treeSize(p);
    else total += (await lstat(p).catch(() => undefined))?.size ?? 0;
  }
  return total;
}
