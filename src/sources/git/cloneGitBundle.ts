import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IntegrityError } from '../../errors.js';
import { isRelativeGitPath } from './isRelativeGitPath.js';
import { BUNDLE_REF } from './makeGitBundle.js';
import { runGit } from './runGit.js';

/**
 * Clone a ferry git bundle into the empty folder `dir`, checked out (detached) at exactly `commit`.
 * A shallow bundle's boundary commits are marked shallow first, as `git clone --depth` would have,
 * so git accepts a history whose oldest parents are absent. `origin` points at the upstream URL
 * (unless the spec gave a relative path), for people who later have network access; nothing is
 * fetched from it.
 */
export async function cloneGitBundle(opts: { file: string; commit: string; shallow: string[]; url: string; dir: string }): Promise<void> {
  const { dir } = opts;
  await runGit(['init', '--quiet', dir]);
  if (opts.shallow.length) await writeFile(join(dir, '.git', 'shallow'), opts.shallow.join('\n') + '\n');
  await runGit(['-C', dir, 'fetch', '--quiet', '--no-tags', opts.file, `${BUNDLE_REF}:refs/heads/ferry`]);
  await runGit(['-C', dir, '-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', opts.commit]);
  await runGit(['-C', dir, 'branch', '--quiet', '-D', 'ferry']);
  // a path relative to the spec that was built means nothing here; after --, a signed manifest's URL that
  // starts with - (--mirror=fetch:x) is a URL, never an option of git remote add
  if (!isRelativeGitPath(opts.url)) await runGit(['-C', dir, 'remote', 'add', 'origin', '--', opts.url]);
  const head = (await runGit(['-C', dir, 'rev-parse', 'HEAD'])).trim();
  if (head !== opts.commit) throw new IntegrityError(`${opts.file}: checked out ${head}, but the manifest pins ${opts.commit}; the bundle is not the one that was built`);
}
