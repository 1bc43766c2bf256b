import { FetchError } from '../../errors.js';

/** One file a simple index lists for a project (PEP 503 HTML or PEP 691 JSON). */
export interface IndexFile {
  filename: string;
  /** absolute, without the #hash fragment */
  url: string;
  sha256?: string;
  /** PEP 345 specifier, unescaped (">=3.8") */
  requiresPython?: string;
  /** PEP 592: set when yanked, to the reason ("" when none given) */
  yanked?: string;
  /** PEP 658/714: the index serves the wheel's METADATA at url + ".metadata" (with its sha256 when given) */
  metadata?: { sha256?: string };
  size?: number;
}

/** Longest Requires-Python an index page (readProjectPage) or a lock may give a file: real ones are a few clauses. */
export const MAX_REQUIRES_PYTHON = 1024;

/** "sha256=HEX" / true / {sha256: HEX} (the forms PEP 658, 691 and 714 use) into our shape. */
export function metadataAvailability(value: unknown): IndexFile['metadata'] {
  if (value === undefined || value === null || value === false || value === 'false') return undefined;
  if (typeof value === 'string') {
    const m = /^sha256=([0-9a-fA-F]{64})$/.exec(value);
    return m ? { sha256: m[1]!.toLowerCase() } : {};
  }
  if (typeof value === 'object' && typeof (value as { sha256?: unknown }).sha256 === 'string') return { sha256: (value as { sha256: string }).sha256.toLowerCase() };
  return {};
}

/**
 * The file name a link points at, as pip 23.2 names it: the last path segment (of the path without its
 * trailing "/"), percent-decoded twice (its
 * Link.path unquotes the path and Link.filename the name again, so `%252B` is `+`); an escape that is not
 * one (`%zz`) stays as written. A name that decodes to one with a `/` is refused later, as any unsafe name.
 */
export function filenameFromUrl(url: URL): string {
  // Link.filename strips the path's trailing "/" first
  return unquote(unquote(url.pathname.replace(/\/+$/, '').split('/').pop() ?? ''));
}

/** urllib.parse.unquote: every run of %XX escapes decoded as UTF-8, anything else left as it is */
function unquote(s: string): string {
  return s.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}

/**
 * A link of a project page may lead to another host (PyPI's files live on files.pythonhosted.org), but
 * only to what the page itself is: an index on the network links to http(s) files, never to file: or
 * anything else, which would read a file of the build machine into the lock and the bundle. A local
 * mirror (a file: page) may link to its own files or the network.
 */
export function checkLinkScheme(url: URL, pageUrl: string): void {
  if (!linkSchemes(pageUrl).includes(url.protocol)) {
    throw new FetchError(`${pageUrl}: the index links to ${JSON.stringify(url.href.slice(0, 120))}, a ${url.protocol} URL an index on the network may not name; refusing this index`, { url: pageUrl });
  }
}

/** The schemes the links of a page at `pageUrl` may have (checkLinkScheme): http(s), and file: on a file: page. */
export function linkSchemes(pageUrl: string): string[] {
  return new URL(pageUrl).protocol === 'file:' ? ['file:', 'http:', 'https:'] : ['http:', 'https:'];
}
