// PLACEHOLDER until the downloader lands from the fetch branch (same API); take the fetch branch's
// version of every file in src/fetch/ when merging.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { FetchError, IntegrityError } from '../errors.js';
import type { Logger } from '../ui/log.js';

export interface FetchStats {
  fetchedBytes: number;
  fetchedFiles: number;
  cachedBytes: number;
  cachedFiles: number;
}
export interface FetchRequest {
  url: string;
  sha256?: string;
  size?: number;
  label?: string;
}
export interface FetchResult {
  path: string;
  sha256: string;
  size: number;
  fromCache: boolean;
  fetchedBytes: number;
}

export async function fetchBytes(url: string, opts: { stats?: FetchStats } = {}): Promise<Buffer> {
  const res = await request(url).catch((err: Error) => {
    throw new FetchError(`${url}: ${err.message}`, { cause: err, transient: true });
  });
  if (res.statusCode !== 200) {
    await res.body.dump();
    const e = new FetchError(`${url}: HTTP ${res.statusCode}`);
    (e as unknown as { status: number }).status = res.statusCode;
    throw e;
  }
  const data = Buffer.from(await res.body.arrayBuffer());
  if (opts.stats) {
    opts.stats.fetchedBytes += data.length;
    opts.stats.fetchedFiles++;
  }
  return data;
}

export async function fetchToCache(
  req: FetchRequest,
  opts: { cacheDir: string; log?: Logger; stats?: FetchStats },
): Promise<FetchResult> {
  const final = req.sha256 ? join(opts.cacheDir, 'sha256', req.sha256) : undefined;
  if (final && existsSync(final)) {
    if (opts.stats) {
      opts.stats.cachedBytes += req.size ?? 0;
      opts.stats.cachedFiles++;
    }
    return { path: final, sha256: req.sha256!, size: req.size ?? 0, fromCache: true, fetchedBytes: 0 };
  }
  const data = await fetchBytes(req.url, opts);
  const sha256 = createHash('sha256').update(data).digest('hex');
  if ((req.sha256 && sha256 !== req.sha256) || (req.size !== undefined && data.length !== req.size)) {
    throw new IntegrityError(`${req.label ?? req.url}: expected sha256 ${req.sha256} (${req.size} bytes), got ${sha256} (${data.length} bytes)`);
  }
  const path = join(opts.cacheDir, 'sha256', sha256);
  await mkdir(join(opts.cacheDir, 'sha256'), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path).catch(async (e) => {
    await rm(tmp, { force: true });
    throw e;
  });
  return { path, sha256, size: data.length, fromCache: false, fetchedBytes: data.length };
}

export async function fetchMany(
  reqs: readonly FetchRequest[],
  opts: { cacheDir: string; log?: Logger; stats?: FetchStats; concurrency: number },
): Promise<FetchResult[]> {
  const out: FetchResult[] = [];
  for (const r of reqs) out.push(await fetchToCache(r, opts));
  return out;
}

export function createFetchStats(): FetchStats {
  return { fetchedBytes: 0, fetchedFiles: 0, cachedBytes: 0, cachedFiles: 0 };
}
