import { FetchError } from '../../errors.js';

/** One file a simple index lists for a project (PEP 503 HTML or PEP 691 JSON). */
export interface IndexFile {
  filename: string;
  /** absolute, without the #hash fragment */
  url: string;
  /** the page's sha256 of the file, when it gives one of 64 hex digits (lower-cased): what its bytes must hash to */
  sha256?: string;
  /**
   * the page's hashes as pip 23.2's Link holds them, values as written: a JSON file's `hashes` with the
   * URL fragment's (`#ALG=VALUE`) over them. pip ranks and filters files by these (a file with some hash,
   * none of them pinned as written, is left out when another's is pinned), whatever their algorithm or case.
   */
  pageHashes?: Record<string, string>;
  /** PEP 345 specifier, unescaped (">=3.8") */
  requiresPython?: string;
  /** PEP 592: set when yanked, to the reason ("" when none given) */
  yanked?: string;
  /** PEP 658/714: the index serves the wheel's METADATA at url + ".metadata" (with its sha256 when given) */
  metadata?: { sha256?: string };
  size?: number;
  /** PEP 700 `upload-time` (JSON pages only), in ms since the epoch: what build --locked dates the lock's view of a page by */
  uploadTime?: number;
}

/** Longest Requires-Python an index page (readProjectPage) or a lock may give a file: real ones are a few clauses. */
export const MAX_REQUIRES_PYTHON = 1024;

/**
 * Whether a file has a PEP 658 metadata file (with its sha256 when given), as pip 23.2's Link reads the
 * announcement. HTML (`data-core-metadata`, else `data-dist-info-metadata`): any value announces one
 * ("true", "sha256=HEX", even "" or "false"); an absent attribute none. JSON (`core-metadata`, else when
 * that is absent or null `dist-info-metadata`): an object (its sha256 if a string) or any value Python holds
 * true (`true`, "false") announces one, any it holds false (`false`, "", 0) none.
 */
export function metadataAvailability(value: unknown, format: 'html' | 'json' = 'json'): IndexFile['metadata'] {
  if (format === 'html') {
    if (typeof value !== 'string') return undefined;
    const m = /^sha256=([0-9a-fA-F]{64})$/.exec(value);
    return m ? { sha256: m[1]!.toLowerCase() } : {};
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const sha256 = (value as { sha256?: unknown }).sha256;
    return typeof sha256 === 'string' && /^[0-9a-fA-F]{64}$/.test(sha256) ? { sha256: sha256.toLowerCase() } : {};
  }
  return pythonTruthy(value) ? {} : undefined;
}

/** Whether Python's bool() holds a JSON value true: not null, false, 0, "", [] or {}. */
export function pythonTruthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object' && value !== null) return Object.keys(value).length > 0;
  return Boolean(value);
}

/**
 * The sha256 a link's fragment gives, as pip's Link reads it: the first `#ALG=` or `&ALG=` of the hash
 * names it knows; undefined unless that one is a sha256 of 64 hex digits.
 */
export function fragmentSha256(fragment: string): string | undefined {
  const h = fragmentHash(fragment);
  return h?.[0] === 'sha256' && /^[0-9a-fA-F]{64}$/.test(h[1]) ? h[1].toLowerCase() : undefined;
}

/** A file's hashes as pip's Link holds them: the page's as written, else (a file ferry described itself) its sha256. */
export function linkHashes(file: IndexFile): Record<string, string> | undefined {
  return file.pageHashes ?? (file.sha256 ? { sha256: file.sha256 } : undefined);
}

/** The hash a link's fragment gives, as pip's LinkHash reads it: the first `#ALG=` or `&ALG=` of the names it knows, its value as written. */
export function fragmentHash(fragment: string): [string, string] | undefined {
  const m = /[#&](sha512|sha384|sha256|sha224|sha1|md5)=([^&]*)/.exec(fragment);
  return m ? [m[1]!, m[2]!] : undefined;
}

/**
 * Whether pip 23.2 counts a file's page hash as pinned (Link.is_hash_allowed): some hash of the page
 * equals, as written, a pinned digest of its algorithm. A digest is compared as a string, so a page's
 * upper-case sha256 does not match the pin's lower-case one.
 */
export function pageHashPinned(file: IndexFile, pinned: { hashes: string[]; otherHashes?: Array<[string, string]> }): boolean {
  return Object.entries(linkHashes(file) ?? {}).some(([alg, value]) => (alg === 'sha256' && pinned.hashes.includes(value)) || (pinned.otherHashes ?? []).some(([a, d]) => a === alg && d === value));
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
