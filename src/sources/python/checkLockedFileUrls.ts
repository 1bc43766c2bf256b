import { SpecError } from '../../errors.js';
import { localSourcePath } from '../../fetch/localSourcePath.js';
import { ambiguousUrl, parseLocation } from '../../fetch/lockedUrl.js';
import { quoteInput } from '../../util/oneLine.js';
import { linkSchemes } from './indexFile.js';
import { firstOutsideTree, indexBase } from './readProjectPage.js';

/**
 * A lock's Python files are fetched only from where a page of the spec's index could have linked them,
 * by the rule ferry lock reads links with (readProjectPage, checkLinkScheme): an index's pages may link
 * files on any host of the network (PyPI's live on files.pythonhosted.org), so an http(s) URL passes
 * whatever its host; a file: URL only from an index on disk, and only inside its tree (the folder that
 * holds the index folder, links resolved). Each URL must also be as ferry lock writes it (parsed:
 * absolute, normalised, dot segments resolved) and have no spelling a server or fileURLToPath could read
 * otherwise (ambiguousUrl). Throws one line naming the first file that breaks the rule.
 */
export async function checkLockedFileUrls(where: string, files: ReadonlyArray<{ filename: string; url: string }>, index: string): Promise<void> {
  const schemes = linkSchemes(indexBase(index));
  const refuse = (f: { filename: string; url: string }, why: string) =>
    new SpecError(`${where}: ${f.filename} is fetched from ${quoteInput(f.url, 200)}, ${why}; run ferry lock again and review the diff`);
  for (const f of files) {
    const parsed = parseLocation(f.url);
    if (parsed?.href !== f.url) throw refuse(f, 'which is not a URL as ferry lock writes them (absolute, normalised)');
    const ambiguous = ambiguousUrl(f.url);
    if (ambiguous !== undefined) throw refuse(f, ambiguous);
    if (!schemes.includes(parsed.protocol)) throw refuse(f, `a ${parsed.protocol} URL, which a page of the index ${index} may not link to`);
    if (parsed.protocol === 'file:' && parsed.host !== '') throw refuse(f, 'a file: URL of another host');
  }
  const local = localSourcePath(index);
  if (local === undefined) return;
  const outside = await firstOutsideTree(files.map((f) => f.url), local);
  if (outside) throw refuse(files.find((f) => f.url === outside.url)!, `outside the tree of the index ${index} (${outside.tree})`);
}
