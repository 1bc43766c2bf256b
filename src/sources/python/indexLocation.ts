import { isAbsolute, resolve } from 'node:path';

/**
 * A Python index as a lock records it and the fetcher reads it: a URL or an absolute path as the spec
 * gives it, another path (`wheels/simple`, a static PEP 503 tree next to the spec) made absolute against
 * the spec's folder, whatever folder ferry runs in. The same rule for upstreams.python.index and for
 * mirrors.python.*.index.
 */
export function indexLocation(index: string, baseDir: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(index) || isAbsolute(index) ? index : resolve(baseDir, index);
}
