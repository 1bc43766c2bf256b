import { BUNDLE_OBJECTS, startGit } from './runGit.js';

/**
 * A path component that names the clone's own git folder, as git's verify_path reads it with
 * core.protectNTFS (on by default): `.git` in any case, or its 8.3 short name `git~1`, followed only by the
 * dots and spaces NTFS ignores, up to the end, a backslash or a colon (`.git:stream`, `.GIT. `). git looks for
 * it at the component's start and after each backslash (`a\.git`). A tree that holds one (`.git/hooks/…`) is a
 * repository crafted to write into the clone's own git folder: a hook there would run.
 */
const NTFS_DOTGIT = /^(?:\.git|git~1)[. ]*(?:$|[\\:])/i;

/** The longest path checked out (Linux's PATH_MAX): a longer one no checkout can write, and is not read whole. */
export const MAX_GIT_PATH = 4096;

/** The longest name of one file or folder Linux's file systems hold (NAME_MAX): a longer one no checkout can write. */
export const MAX_GIT_NAME = 255;

const dotOrEmpty = (component: string) => component === '' || component === '.' || component === '..';

/** Why findRefusedGitPath refused `path`, for the caller's message. */
export function whyRefused(path: string): string {
  if (Buffer.byteLength(path) > MAX_GIT_PATH) return `a path longer than ${MAX_GIT_PATH} bytes, which no checkout can write`;
  const components = path.split('/');
  if (components.some(namesGitDir)) return "a path into the clone's own .git folder that git refuses to check out (a hook there would run)";
  if (components.some(dotOrEmpty)) return 'a path git refuses to check out (an empty, . or .. component)';
  if (components.some((c) => Buffer.byteLength(c) > MAX_GIT_NAME)) return `a name longer than ${MAX_GIT_NAME} bytes, which no checkout can write`;
  if (starts(components[components.length - 1]!).some((c) => isNtfsDotName(c, 'gitmodules', 'gi7eba'))) return 'a symbolic link named .gitmodules, which git refuses to check out';
  return "a name its folder lists twice (or out of git's order), so a checkout writes another file than git shows for it";
}

/** the start of `component` and each place after a backslash in it: where git looks for .git */
function starts(component: string): string[] {
  return component.split('\\').map((_, i, parts) => parts.slice(i).join('\\'));
}

function namesGitDir(component: string): boolean {
  return starts(component).some((s) => NTFS_DOTGIT.test(s));
}

/**
 * git's is_ntfs_dot_generic: `.NAME`, its short name (the first six letters of NAME, `~` and 1 to 4) or a
 * fall-back short name (up to six letters of `shortPrefix`, `~`, digits), then only dots and spaces up to the
 * end or a colon.
 */
function isNtfsDotName(name: string, dotName: string, shortPrefix: string): boolean {
  const onlyDotsAndSpaces = (i: number): boolean => {
    for (; ; i++) {
      const c = name[i];
      if (c === undefined || c === ':') return true;
      if (c !== ' ' && c !== '.') return false;
    }
  };
  if (name[0] === '.' && name.slice(1, 1 + dotName.length).toLowerCase() === dotName) return onlyDotsAndSpaces(1 + dotName.length);
  if (name.slice(0, 6).toLowerCase() === dotName.slice(0, 6) && name[6] === '~' && name[7] !== undefined && name[7] >= '1' && name[7] <= '4') return onlyDotsAndSpaces(8);
  let sawTilde = false;
  let i = 0;
  for (; i < 8; i++) {
    const c = name[i];
    if (c === undefined) return false;
    if (sawTilde) {
      if (c < '0' || c > '9') return false;
    } else if (c === '~') {
      const d = name[++i];
      if (d === undefined || d < '1' || d > '9') return false;
      sawTilde = true;
    } else if (i >= 6 || c.charCodeAt(0) >= 0x80 || c.toLowerCase() !== shortPrefix[i]) return false;
  }
  return onlyDotsAndSpaces(i);
}

/**
 * Whether git refuses to check out `path` of mode `mode` (its verify_path, core.protectNTFS on, as it is by
 * default): a component that is empty, `.` or `..`, or names the git folder; or a symbolic link named
 * `.gitmodules` (or an NTFS spelling of it), which git would read as the tree's submodule list. Or whether
 * the checkout could not write it: a name longer than MAX_GIT_NAME. `path` is read byte for byte (latin1), as
 * git reads it: a name's length is its bytes, whatever their encoding, and a byte over 0x7f is no ASCII letter.
 */
function refused(path: string, mode: string): boolean {
  const components = path.split('/');
  if (components.some((c) => dotOrEmpty(c) || namesGitDir(c) || c.length > MAX_GIT_NAME)) return true;
  return mode === '120000' && starts(components[components.length - 1]!).some((s) => isNtfsDotName(s, 'gitmodules', 'gi7eba'));
}

/**
 * Each folder's names in git's tree order, each once, read from a listing in which every folder comes before
 * what it holds (ls-tree -r -t): git sorts a tree's entries by their bytes, a folder's with a '/' after it, and
 * never writes one twice. A tree written otherwise (a hostile upstream's: git mktree refuses it, fsck calls it
 * duplicateEntries) holds two entries of one name, of which `git show COMMIT:NAME` shows the first and a
 * checkout writes the last: a reviewer reads one file, the hosts run another. Per folder level only the last
 * name is kept, and the file names that a folder of the same name further on would duplicate (each a prefix
 * of the latest name: at most one per byte of it).
 */
function treeOrder(): (path: string, isTree: boolean) => boolean {
  const levels: Array<{ last: string; files: string[] }> = [];
  return (path, isTree) => {
    const slash = path.lastIndexOf('/');
    const depth = slash === -1 ? 0 : path.split('/').length - 1;
    const name = path.slice(slash + 1);
    levels.length = Math.min(levels.length, depth + 1);
    const level = (levels[depth] ??= { last: '', files: [] });
    // latin1: one character per byte, so < compares bytes as git does
    const key = isTree ? `${name}/` : name;
    if (level.last !== '' && key <= level.last) return false;
    if (isTree && level.files.includes(name)) return false;
    level.last = key;
    level.files = level.files.filter((f) => name.startsWith(f));
    if (!isTree) level.files.push(name);
    return true;
  };
}

/**
 * The first path in `commit`'s tree (of the repository `repo`) that git would refuse or fail to check out (refused),
 * or longer than MAX_GIT_PATH (then its start), or undefined. Read with ls-tree, so nothing is checked out;
 * every path is looked at, however many: the listing is read as it comes (a bundle's tree can name more paths
 * than memory holds), keeping only the entry being read (and treeOrder's names). Each entry is `MODE TYPE OBJECT<TAB>PATH`.
 */
export async function findRefusedGitPath(repo: string, commit: string): Promise<string | undefined> {
  const git = startGit(['-C', repo, 'ls-tree', '-r', '-t', '-z', '--full-tree', commit], BUNDLE_OBJECTS);
  let rest = Buffer.alloc(0);
  let found: string | undefined;
  const inOrder = treeOrder();
  const look = (entry: Buffer, whole: boolean): string | undefined => {
    const tab = entry.indexOf(9);
    if (tab === -1) return whole || entry.length > MAX_GIT_PATH ? entry.toString('utf8') : undefined;
    const path = entry.subarray(tab + 1);
    if (path.length > MAX_GIT_PATH) return path.toString('utf8');
    if (!whole) return undefined;
    const p = path.toString('latin1');
    const mode = entry.subarray(0, entry.indexOf(32)).toString('latin1');
    // a folder's own path is looked at through the paths of what it holds, as a checkout writes only those
    const isTree = mode === '040000';
    return (!isTree && refused(p, mode)) || !inOrder(p, isTree) ? path.toString('utf8') : undefined;
  };
  for await (const chunk of git.stdout) {
    let buf = rest.length ? Buffer.concat([rest, chunk as Buffer]) : (chunk as Buffer);
    let nul: number;
    while (found === undefined && (nul = buf.indexOf(0)) !== -1) {
      found = look(buf.subarray(0, nul), true);
      buf = buf.subarray(nul + 1);
    }
    // an entry without its end yet, longer than any path a checkout writes: refused without reading it whole
    found ??= look(buf, false);
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
  return rest.length ? look(rest, true) : undefined;
}
