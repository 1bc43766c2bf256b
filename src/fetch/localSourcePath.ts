import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FetchError } from '../errors.js';

/**
 * Upstreams may be local mirrors: a `file://` URL or a plain absolute path names a file on this
 * machine. Returns that path, undefined for http(s) URLs, and refuses anything else.
 */
export function localSourcePath(url: string): string | undefined {
  if (url.startsWith('file:')) {
    try {
      return fileURLToPath(url);
    } catch (err) {
      // another host (file://server/srv/debian) or an encoded "/" in the path: no file of this machine
      throw new FetchError(`unsupported source "${url}": ${(err as Error).message}; a file:// URL names a file of this machine (file:///PATH)`, { url, cause: err });
    }
  }
  if (isAbsolute(url)) return url;
  if (/^https?:\/\//i.test(url)) return undefined;
  throw new FetchError(
    `unsupported source "${url}": use an http(s):// or file:// URL, or an absolute path to a local mirror.`,
    { url },
  );
}
