import { BUNDLE_OBJECTS, runGit } from './runGit.js';

/**
 * A path component git refuses to check out (its verify_path): `.git` in any case, with the trailing
 * dots and spaces NTFS ignores, or its 8.3 short name `git~1`. A tree that holds one (`.git/hooks/…`,
 * `.GIT/config`) is a repository crafted to write into the clone's own git folder: a hook there would run.
 */
const GIT_DIR_COMPONENT = /^(?:\.git[. ]*|git~1)$/i;

/**
 * The first path in `commit`'s tree (of the repository `repo`) with a component git refuses, or undefined.
 * Read with ls-tree, so nothing is checked out; every path is looked at, however many.
 */
export async function findRefusedGitPath(repo: string, commit: string): Promise<string | undefined> {
  const out = await runGit(['-C', repo, 'ls-tree', '-r', '-z', '--full-tree', '--name-only', commit], BUNDLE_OBJECTS);
  for (const path of out.split('\0')) {
    if (path !== '' && path.split('/').some((c) => GIT_DIR_COMPONENT.test(c))) return path;
  }
  return undefined;
}
