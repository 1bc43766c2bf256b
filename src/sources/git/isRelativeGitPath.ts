import { isAbsolute } from 'node:path';

/**
 * Whether git reads this URL as a relative local path: not scheme://..., not scp-like HOST:PATH
 * (git's rule: a colon before the first slash), not absolute. Such a URL is relative to the spec.
 */
export function isRelativeGitPath(url: string): boolean {
  return !/^[^/]*:/.test(url) && !isAbsolute(url);
}
