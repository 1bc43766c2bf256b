import { realpath } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Dispatcher } from 'undici';
import { FetchError, IntegrityError, ResolveError } from '../../errors.js';
import { quoteInput } from '../../util/oneLine.js';
import { isInside } from '../../util/isInside.js';
import type { FetchStats } from '../../fetch/createFetchStats.js';
import { fetchBytes } from '../../fetch/fetchBytes.js';
import { localSourcePath } from '../../fetch/localSourcePath.js';
import { MAX_REQUIRES_PYTHON, type IndexFile } from './indexFile.js';
import { parseSimpleHtml } from './parseSimpleHtml.js';
import { parseSimpleJson } from './parseSimpleJson.js';

/** PEP 691 content negotiation: JSON preferred, PEP 503 HTML accepted (static indexes only have HTML). */
const ACCEPT = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01';
/** The Content-Types pip 23.2 reads a project page in (its _ensure_api_header), each a prefix of the header. */
const PAGE_TYPES = ['text/html', 'application/vnd.pypi.simple.v1+html', 'application/vnd.pypi.simple.v1+json'];
/** A project page of a big project (every release of numpy) is a few MiB; far more is not an index. */
const MAX_PAGE_BYTES = 64 * 1024 * 1024;

export interface ProjectPage {
  /** the URL asked for: INDEX/NAME/ */
  url: string;
  files: IndexFile[];
  format: 'json' | 'html';
}

/**
 * Read one project's page of a simple index, in whichever API the index answers with (PEP 691 JSON or
 * PEP 503 HTML). `project` must be normalized. A 404 means the index does not have the project.
 * A local mirror (file:// URL or absolute path: a static PEP 503 tree on disk) is read as NAME/index.html.
 */
export async function readProjectPage(indexUrl: string, project: string, opts: { dispatcher?: Dispatcher; pinnedAt?: string; stats?: FetchStats } = {}): Promise<ProjectPage> {
  const local = localSourcePath(indexUrl);
  const url = new URL(`${encodeURIComponent(project)}/`, indexBase(indexUrl)).href;
  const missing = () =>
    new ResolveError(`${opts.pinnedAt ? `${opts.pinnedAt}: ` : ''}the index has no project "${project}" (${url} is missing); check the name or upstreams.python.index`);
  if (local !== undefined) {
    // read as an index page over HTTP is: a regular file only (a FIFO would be waited on forever, a
    // device read without end), up to the same cap
    const page = await fetchBytes(new URL('index.html', url).href, { maxBytes: MAX_PAGE_BYTES }).catch((err: unknown) => {
      if (err instanceof FetchError && err.status === 404) throw missing();
      throw err;
    });
    const html = page.body.toString('utf8');
    const files = parseSimpleHtml(html, url);
    const outside = await firstOutsideTree(files.map((f) => f.url), local);
    if (outside) throw new FetchError(`${url}: the index links to ${JSON.stringify(outside.url.slice(0, 120))}, outside its tree ${outside.tree}; refusing this index`, { url });
    return checkRequiresPython({ url, files, format: 'html' });
  }
  const res = await fetchBytes(url, { headers: { accept: ACCEPT }, anyStatus: true, maxBytes: MAX_PAGE_BYTES, dispatcher: opts.dispatcher, stats: opts.stats });
  if (res.status === 404) throw missing();
  if (res.status < 200 || res.status >= 300) throw new FetchError(`cannot read ${url}: HTTP ${res.status}`, { transient: res.status >= 500 || res.status === 429 });
  const text = res.body.toString('utf8');
  // pip 23.2 reads a page only when its Content-Type starts with one of these, and skips any other page
  // (text/plain, application/json, none at all) as if the index had no such project: so does ferry
  const type = String(res.headers['content-type'] ?? 'Unknown').toLowerCase();
  if (!PAGE_TYPES.some((t) => type.startsWith(t))) {
    throw new FetchError(`${url}: the index answered with Content-Type ${quoteInput(type, 100)}, which pip does not read as an index page (only ${PAGE_TYPES.join(', ')}); fix the index's server`, { url });
  }
  // links are relative to the page that answered, as pip takes them (its base is the response's URL): an index
  // that redirects INDEX/NAME/ elsewhere names the files beside where it sent the client, not beside INDEX/NAME/
  if (type.startsWith('application/vnd.pypi.simple.v1+json')) return checkRequiresPython({ url, files: parseSimpleJson(text, res.url), format: 'json' });
  return checkRequiresPython({ url, files: parseSimpleHtml(text, res.url), format: 'html' });
}

/**
 * A Requires-Python is a few clauses (`>=2.7, !=3.0.*, …, !=3.7.*` is 90 characters). Each is evaluated
 * for every target, again and again while the lock resolves, in time that grows with its length: a page
 * whose link carries megabytes of clauses would keep the lock busy for hours, so it is refused.
 */
function checkRequiresPython(page: ProjectPage): ProjectPage {
  const long = page.files.find((f) => (f.requiresPython?.length ?? 0) > MAX_REQUIRES_PYTHON);
  if (long) throw new IntegrityError(`${page.url}: lists ${quoteInput(long.filename, 100)} with a Requires-Python of ${long.requiresPython!.length} characters (at most ${MAX_REQUIRES_PYTHON}); refusing this index`);
  return page;
}

/** The URL an index's project pages are relative to: the index URL ending in `/`, a local index's file: URL. */
export function indexBase(indexUrl: string): string {
  const local = localSourcePath(indexUrl);
  return local !== undefined ? pathToFileURL(local.endsWith('/') ? local : `${local}/`).href : indexUrl.endsWith('/') ? indexUrl : `${indexUrl}/`;
}

/**
 * A local tree's pages may link its own files (bandersnatch writes `../../packages/…` beside `simple/`),
 * never another file of the build machine: a mirror pins a file the page gives no hash for by copying
 * it, so `file:///root/.ssh/id_rsa` (or a link in the tree that leads there) would have gone into the
 * lock's cache and the bundle. A file: link must stay, links resolved, inside the folder that holds the
 * index folder `index` (a path; the index folder itself when it is the file system's root). Returns the
 * first of `urls` that does not, with that folder; other schemes, and a file: URL that names no path (an
 * encoded "/": its file name is refused before anything is read), are not its business.
 */
export async function firstOutsideTree(urls: readonly string[], index: string): Promise<{ url: string; tree: string } | undefined> {
  const top = resolve(index);
  const tree = dirname(top) === top ? top : dirname(top);
  const treeReal = await realpath(tree).catch(() => tree);
  for (const url of urls) {
    if (!url.startsWith('file:')) continue;
    let path: string;
    try {
      path = fileURLToPath(url);
    } catch {
      continue;
    }
    // a file that is not there fails when it is read; one that is must lead inside the tree too
    const real = await realpath(path).catch(() => undefined);
    if (!isInside(tree, resolve(path)) || (real !== undefined && !isInside(treeReal, real))) return { url, tree };
  }
  return undefined;
}
