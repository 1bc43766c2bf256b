import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { IntegrityError } from '../../errors.js';
import { isRelativeGitPath } from './isRelativeGitPath.js';
import { BUNDLE_REF } from './makeGitBundle.js';
import { BUNDLE_OBJECTS, runGit, startGit } from './runGit.js';
import { checkRoom, type Listing } from '../checkRoom.js';

/** `.git/info/attributes` of an extracted clone: no attribute that changes a file's bytes on checkout (text/crlf and eol, ident, filter, working-tree-encoding). */
const RAW_BLOBS = '* -text -crlf -eol -ident -filter -working-tree-encoding';

/**
 * Clone a ferry git bundle into the empty folder `dir`, checked out (detached) at exactly `commit`.
 * A shallow bundle's boundary commits are marked shallow first, as `git clone --depth` would have,
 * so git accepts a history whose oldest parents are absent. `origin` points at the upstream URL
 * (unless the spec gave a relative path), for people who later have network access; nothing is
 * fetched from it. Files hold the commit's blobs byte for byte (RAW_BLOBS).
 */
export async function cloneGitBundle(opts: { file: string; commit: string; shallow: string[]; url: string; dir: string }): Promise<void> {
  const { dir } = opts;
  await runGit(['init', '--quiet', dir]);
  // the commit's blobs byte for byte, as checkRoom measured them: the tree's own .gitattributes could ask
  // for conversions that write far more (ident turns 4 bytes into 47, eol=crlf and working-tree-encoding=UTF-32
  // multiply by 8), and info/attributes overrides every .gitattributes
  await mkdir(join(dir, '.git', 'info'), { recursive: true });
  await writeFile(join(dir, '.git', 'info', 'attributes'), `${RAW_BLOBS}\n`);
  if (opts.shallow.length) await writeFile(join(dir, '.git', 'shallow'), opts.shallow.join('\n') + '\n');
  await runGit(['-C', dir, 'fetch', '--quiet', '--no-tags', opts.file, `${BUNDLE_REF}:refs/heads/ferry`], BUNDLE_OBJECTS);
  // a small pack can name one large blob at thousands of paths: the checkout's size is known before it is written
  await checkRoom(dirname(dir), `git ${opts.file}`, checkoutListing(dir, opts.commit));
  await runGit(['-C', dir, '-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', opts.commit], BUNDLE_OBJECTS);
  await runGit(['-C', dir, 'branch', '--quiet', '-D', 'ferry']);
  // a path relative to the spec that was built means nothing here; after --, a signed manifest's URL that
  // starts with - (--mirror=fetch:x) is a URL, never an option of git remote add
  if (!isRelativeGitPath(opts.url)) await runGit(['-C', dir, 'remote', 'add', 'origin', '--', opts.url]);
  const head = (await runGit(['-C', dir, 'rev-parse', 'HEAD'])).trim();
  if (head !== opts.commit) throw new IntegrityError(`${opts.file}: checked out ${head}, but the manifest pins ${opts.commit}; the bundle is not the one that was built`);
}

/**
 * `git ls-tree -r -t -l -z` of `commit`: MODE TYPE OBJECT SIZE<TAB>PATH, folders (trees, size -) listed
 * too, once per path that reaches them: a pack holds a tree object once, however many paths name it, so
 * 100 paths into one chain of 60 folders are 6,000 folders for a listing of 100 files. A folder, like a
 * submodule's commit (checked out as an empty folder), counts as one inode and one block.
 */
function checkoutListing(dir: string, commit: string): Listing {
  return {
    start: () => startGit(['-C', dir, 'ls-tree', '-r', '-t', '-l', '-z', '--full-tree', commit], BUNDLE_OBJECTS),
    separator: '\0',
    size(entry) {
      const size = /^\S+ \S+ \S+ +(\d+|-)\t/.exec(entry)?.[1];
      return size === undefined ? undefined : size === '-' ? 0 : Number(size);
    },
  };
}
