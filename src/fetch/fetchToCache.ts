// Placeholder so the files kind type-checks until the downloader lands from the fetch branch.
import { FetchError } from '../errors.js';
import type { Logger } from '../ui/log.js';

export async function fetchToCache(
  req: { url: string; sha256?: string; size?: number; label?: string },
  _opts: { cacheDir: string; log?: Logger },
): Promise<{ path: string; sha256: string; size: number; fromCache: boolean }> {
  throw new FetchError(`cannot fetch ${req.url}: the downloader is not built yet`);
}
