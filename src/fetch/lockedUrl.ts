import { pathToFileURL } from 'node:url';

/**
 * A lock is hostile input, and the URLs it pins are judged as the downloader, the server and
 * fileURLToPath will read them, not as text: `http://h/debian/%2e%2e/x.deb` starts with `http://h/debian/`
 * but URL parsing (and the server) read `/x.deb`. Why `url` could be read as another path than it spells,
 * or undefined: a backslash (a `/` to URL parsing and to some servers), an encoded `/` or `\` (`%2f`,
 * `%5c`: one segment to URL parsing, two to a server or a file system that decodes first), a `.` or `..`
 * segment that is percent-encoded (`%2e%2e`, `.%2E`, also before `;` parameters or encoded twice), or a
 * literal `..` segment (a server that merges `//` first resolves `/debian//../x` past /debian/).
 * No lock ferry writes has any of them.
 */
export function ambiguousUrl(url: string): string | undefined {
  if (url.includes('\\')) return 'it has a backslash';
  if (/%(?:25)*(?:2f|5c)/i.test(url)) return 'it has an encoded "/" or "\\"';
  const path = url.split(/[?#]/)[0]!;
  for (const segment of path.split('/')) {
    const bare = segment.split(';')[0]!;
    const decoded = bare.replace(/%(?:25)*2e/gi, '.');
    if (decoded !== bare && (decoded === '.' || decoded === '..')) return `it has a percent-encoded "${decoded}" segment`;
    if (decoded === '..') return 'it has a ".." segment';
  }
  return undefined;
}

/**
 * A URL or absolute path as the downloader reads it: parsed (dot segments resolved, host and scheme
 * lowercased, a default port dropped), an absolute path as the file: URL of that path. Undefined when it
 * does not parse.
 */
export function parseLocation(location: string): URL | undefined {
  try {
    return location.startsWith('/') ? pathToFileURL(location) : new URL(location);
  } catch {
    return undefined;
  }
}

/**
 * Whether `url` names a file below `base` (each an http(s):// or file:// URL or an absolute path, the
 * forms an upstream takes), compared once both are parsed: the same scheme, login, host and port, no query
 * or fragment, and a path inside the base's path. Call {@link ambiguousUrl} first: this compares what
 * URL parsing reads, and a server may read some spellings otherwise.
 */
export function urlUnder(url: string, base: string): boolean {
  const u = parseLocation(url);
  const b = parseLocation(base);
  if (!u || !b || !['http:', 'https:', 'file:'].includes(u.protocol)) return false;
  if (u.protocol !== b.protocol || u.username !== b.username || u.password !== b.password || u.host !== b.host) return false;
  if (u.search !== '' || u.hash !== '' || url.includes('?') || url.includes('#')) return false;
  // ferry lock writes URI/FILENAME with the URI's trailing slashes dropped
  const prefix = `${b.pathname.replace(/\/+$/, '')}/`;
  return u.pathname.length > prefix.length && u.pathname.startsWith(prefix);
}
