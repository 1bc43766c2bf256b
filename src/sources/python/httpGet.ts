import { request, type Dispatcher } from 'undici';
import { FetchError } from '../../errors.js';
import { defaultDispatcher } from '../../fetch/createDispatcher.js';
import { countFetch, type FetchStats } from '../../fetch/createFetchStats.js';
import { toFetchError } from '../../fetch/toFetchError.js';
import { VERSION } from '../../version.js';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * GET (or HEAD) a project page of a package index into memory with an Accept header (PEP 691 content
 * negotiation, which the shared fetchBytes does not do), through the shared client (proxy, retries,
 * redirects), refusing bodies over `maxBytes`. Any status is returned; network failures become FetchError.
 * Wheels and .metadata files go through src/fetch/, never through here.
 */
export async function httpGet(url: string, opts: { accept?: string; maxBytes: number; method?: 'GET' | 'HEAD'; dispatcher?: Dispatcher; stats?: FetchStats }): Promise<HttpAnswer> {
  let res: Dispatcher.ResponseData;
  try {
    res = await request(url, { method: opts.method ?? 'GET', headers: { 'user-agent': `ferry/${VERSION}`, ...(opts.accept ? { accept: opts.accept } : {}) }, dispatcher: opts.dispatcher ?? defaultDispatcher() });
  } catch (err) {
    throw toFetchError(url, err);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += (chunk as Buffer).length;
    if (size > opts.maxBytes) {
      res.body.destroy();
      throw new FetchError(`${url}: the answer is larger than ${opts.maxBytes} bytes; refusing it`);
    }
    chunks.push(chunk as Buffer);
  }
  countFetch(opts.stats, { fetchedBytes: size, fetchedFiles: 1 });
  return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) };
}
