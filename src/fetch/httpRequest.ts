import type * as undici from 'undici';

type RequestOptions = { dispatcher?: undici.Dispatcher } & Omit<undici.Dispatcher.RequestOptions<null>, 'origin' | 'path' | 'method'> &
  Partial<Pick<undici.Dispatcher.RequestOptions<null>, 'method'>>;

/**
 * A request through the given client, else the shared one (createDispatcher.ts). undici and the
 * client load at the first request, not with the downloader: a build whose files the cache already holds
 * (the refresh of an unchanged mirror) or that reads a local mirror never loads the HTTP client (the undici
 * parts of undiciParts.ts: about 0.06 s of CPU; docs/architecture.md, "What loads when").
 */
export async function httpRequest(url: string, opts: RequestOptions): Promise<undici.Dispatcher.ResponseData> {
  const dispatcher = await clientFor(opts.dispatcher);
  const u = new URL(url);
  const { dispatcher: _given, ...rest } = opts;
  return dispatcher.request<null>({ ...rest, origin: u.origin, path: `${u.pathname}${u.search}`, method: opts.method ?? 'GET' });
}

/** The given client, else the shared one, loaded (with undici) at this first use. */
export async function clientFor(given: undici.Dispatcher | undefined): Promise<undici.Dispatcher> {
  return given ?? (await import('./createDispatcher.js')).defaultDispatcher();
}
