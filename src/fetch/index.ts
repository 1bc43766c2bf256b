/** The connected side's downloader: see docs/fetch.md. */
export { fetchToCache, type FetchRequest, type FetchOptions, type FetchResult } from './fetchToCache.js';
export { fetchMany, freshDigests, type FetchManyOptions } from './fetchMany.js';
export { fetchBytes, type FetchBytesOptions, type FetchedBytes } from './fetchBytes.js';
export { createFetchStats, type FetchStats } from './createFetchStats.js';
// createDispatcher.ts (undici) is imported where a client is made: importing this index must not load undici (httpRequest.ts)
