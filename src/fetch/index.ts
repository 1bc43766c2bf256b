// PLACEHOLDER until the fetch branch lands; take its version when merging.
export { fetchToCache, fetchBytes, fetchMany, createFetchStats, type FetchRequest, type FetchResult, type FetchStats } from './fetchToCache.js';
