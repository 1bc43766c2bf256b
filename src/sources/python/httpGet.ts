import { Agent, interceptors, request, type Dispatcher } from 'undici';
import { FetchError } from '../../errors.js';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

let shared: Dispatcher | undefined;
/** Index pages follow redirects (indexes redirect /simple/Name/ to /simple/name/) and retry transient failures. */
function defaultDispatcher(): Dispatcher {
  shared ??= new Agent().compose(interceptors.retry({ maxRetries: 3, minTimeout: 300 }), interceptors.redirect({ maxRedirections: 5 }));
  return shared;
}

/**
 * GET (or HEAD) a small document of a package index (a project page, a PEP 658 .metadata file) into
 * memory, refusing bodies over `maxBytes`. Any status is returned; network failures become FetchError.
 * Wheels themselves go through the shared downloader and its cache, never through here.
 */
export async function httpGet(url: string, opts: { accept?: string; maxBytes: number; method?: 'GET' | 'HEAD'; dispatcher?: Dispatcher }): Promise<HttpAnswer> {
  let res: Dispatcher.ResponseData;
  try {
    res = await request(url, { method: opts.method ?? 'GET', headers: opts.accept ? { accept: opts.accept } : {}, dispatcher: opts.dispatcher ?? defaultDispatcher() });
  } catch (err) {
    throw new FetchError(`cannot read ${url}: ${(err as Error).message}; is upstreams.python.index reachable?`, { cause: err, transient: true });
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
  return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) };
}
