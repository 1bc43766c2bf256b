import pMap from 'p-map';
import { IntegrityError, ResolveError } from '../../errors.js';
import type { FetchStats } from '../../fetch/createFetchStats.js';
import { quoteInput } from '../../util/oneLine.js';
import type { LockedMirrorFile } from './lockPythonMirror.js';
import { readProjectPage, type ProjectPage } from './readProjectPage.js';

/** A locked file as the index must list it. */
export type ListedFile = Pick<LockedMirrorFile, 'project' | 'version' | 'filename' | 'url' | 'sha256' | 'size' | 'requires_python' | 'yanked'>;

/**
 * build --locked: each file is proven against the spec's index before it is fetched. Its project's page
 * (read once per build, `pages` keeps it; readProjectPage, as ferry lock reads it: links resolved against
 * the page that answered) must list a file of that name at exactly that URL, with the same sha256 and size
 * where the page gives them. A page that gives no sha256 for a file (a PEP 503 link without `#sha256=`)
 * proves its URL only: such files' URLs are returned, and the caller fetches them from there again, not
 * from the cache (which answers any sha256 it holds, whatever the URL), and compares the bytes with the
 * lock's sha256, as `ferry lock` took them. The lock's Requires-Python and yanked flag (with its reason)
 * must be the page's too: the mirror's own pages publish them to the hosts' pip, so a lock that drops a
 * Requires-Python (pip would install the file where it does not run), marks the fixed release yanked (pip
 * would pass it over for an older one) or unmarks a yanked file (pip would take it for a range) would
 * steer the hosts. A file yanked (or un-yanked) upstream since the lock is refused the same way: the
 * build cannot tell it from an edit, and `ferry lock` again leaves a yanked file out unless pinned
 * exactly. One the index no longer lists, or a project it no longer has, cannot be proven and is
 * refused. Throws one line (exit 67) naming the first file that fails.
 */
export async function checkListedByIndex(
  where: string,
  files: readonly ListedFile[],
  index: string,
  pages: Map<string, Promise<ProjectPage>>,
  opts: { stats?: FetchStats; concurrency: number },
): Promise<Set<string>> {
  const page = (project: string) => {
    let read = pages.get(project);
    if (!read) {
      read = readProjectPage(index, project, { stats: opts.stats });
      pages.set(project, read);
    }
    return read;
  };
  const refuse = (f: ListedFile, why: string) =>
    new IntegrityError(`${where}: ${f.filename} (${f.project} ${f.version}) from ${quoteInput(f.url, 200)}: ${why}; run ferry lock again and review the diff`);
  const read = await pMap(
    [...new Set(files.map((f) => f.project))],
    async (project) => {
      try {
        return [project, await page(project)] as const;
      } catch (err) {
        if (!(err instanceof ResolveError)) throw err;
        const f = files.find((x) => x.project === project)!;
        throw refuse(f, `the index ${index} no longer has the project ${project}, so nothing shows it ever listed this file`);
      }
    },
    { concurrency: Math.max(1, opts.concurrency) },
  );
  const byProject = new Map(read);
  const unhashed = new Set<string>();
  for (const f of files) {
    const p = byProject.get(f.project)!;
    const named = p.files.filter((x) => x.filename === f.filename);
    const listed = named.find((x) => x.url === f.url);
    if (!listed) {
      throw refuse(
        f,
        named.length
          ? `the index's page ${p.url} lists this file from ${quoteInput(named[0]!.url, 200)}, not from there`
          : `the index's page ${p.url} does not list this file (removed from the index, or never there)`,
      );
    }
    if (listed.sha256 === undefined) unhashed.add(f.url);
    else if (listed.sha256 !== f.sha256) throw refuse(f, `the index's page ${p.url} gives it sha256 ${listed.sha256}, the lock ${quoteInput(f.sha256, 80)}`);
    if (listed.size !== undefined && listed.size !== f.size) throw refuse(f, `the index's page ${p.url} gives it ${listed.size} bytes, the lock ${f.size}`);
    // as ferry lock writes them: an empty Requires-Python is none
    if ((listed.requiresPython || undefined) !== (f.requires_python || undefined)) {
      throw refuse(f, `the index's page ${p.url} gives it Requires-Python ${requiresPython(listed.requiresPython)}, the lock ${requiresPython(f.requires_python)}`);
    }
    if (listed.yanked !== f.yanked) throw refuse(f, `the index's page ${p.url} gives it as ${yanked(listed.yanked)}, the lock as ${yanked(f.yanked)}`);
  }
  return unhashed;
}

function requiresPython(value: string | undefined): string {
  return value ? quoteInput(value, 200) : 'none';
}

function yanked(reason: string | undefined): string {
  return reason === undefined ? 'not yanked' : `yanked${reason ? ` (${quoteInput(reason, 200)})` : ''}`;
}
