import { BUNDLE_OBJECTS, startGit } from './runGit.js';

/**
 * A path component git refuses to check out (its verify_path): `.git` in any case, with the trailing
 * dots and spaces NTFS ignores, or its 8.3 short name `git~1`. A tree that holds one (`.git/hooks/…`,
 * `.GIT/config`) is a repository crafted to write into the clone's own git folder: a hook there would run.
 */
const GIT_DIR_COMPONENT = /^(?:\.git[. ]*|git~1)$/i;

/** The longest path checked out (Linux's PATH_MAX): a longer one no checkout can write, and is not read whole. */
export const MAX_GIT_PATH = 4096;

/** Why findRefusedGitPath refused `path`, for the caller's message. */
export function whyRefused(path: string): string {
  return Buffer.byteLength(path) > MAX_GIT_PATH
    ? `a path longer than ${MAX_GIT_PATH} bytes, which no checkout can write`
    : "a path into the clone's own .git folder that git refuses to check out (a hook there would run)";
}

/**
 * The first path in `commit`'s tree (of the repository `repo`) with a component git refuses, or longer than
 * MAX_GIT_PATH (then its start), or undefined. Read with ls-tree, so nothing is checked out; every path is
 * looked at, however many: the listing is read as it comes (a bundle's tree can name more paths than memory
 * holds), keeping only the path being read.
 */
export async function findRefusedGitPath(repo: string, commit: string): Promise<string | undefined> {
  const git = startGit(['-C', repo, 'ls-tree', '-r', '-z', '--full-tree', '--name-only', commit], BUNDLE_OBJECTS);
  let rest = Buffer.alloc(0);
  let found: string | undefined;
  const refused = (path: string) => path !== '' && path.split('/').some((c) => GIT_DIR_COMPONENT.test(c));
  for await (const chunk of git.stdout) {
    let buf = rest.length ? Buffer.concat([rest, chunk as Buffer]) : (chunk as Buffer);
    let nul: number;
    while (found === undefined && (nul = buf.indexOf(0)) !== -1) {
      const path = buf.subarray(0, nul).toString('utf8');
      buf = buf.subarray(nul + 1);
      if (nul > MAX_GIT_PATH || refused(path)) found = path;
    }
    if (found === undefined && buf.length > MAX_GIT_PATH) found = buf.toString('utf8');
    if (found !== undefined) break;
    rest = Buffer.from(buf);
  }
  if (found !== undefined) {
    // leaving the loop destroyed the output, so git's end is reported once it is killed
    git.kill();
    await git.exited.catch(() => {});
    return found;
  }
  await git.exited;
  const last = rest.toString('utf8');
  return refused(last) ? last : undefined;
}
