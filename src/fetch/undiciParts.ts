import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as undici from 'undici';

/**
 * The parts of undici ferry's HTTP client uses (createDispatcher.ts): the proxy-aware pooled agent, the
 * retry and redirect interceptors, and the request/stream API on every dispatcher. undici's index loads
 * all of undici (fetch, WebSocket, cookies, caches, mocks, and through them Node's own bundled copy): about
 * 0.1 s of CPU more at every fetching command's start. The files are internal to the package, so its
 * version is exact in package.json, not a range (a minor release may move them);
 * `Object.assign(Dispatcher.prototype, api)` is what undici's index does, so loading the index as well
 * (tests do) changes nothing.
 */
const require = createRequire(import.meta.url);
const root = dirname(require.resolve('undici/package.json'));
const part = <T>(path: string): T => require(join(root, 'lib', path)) as T;

const Dispatcher = part<{ prototype: object }>('dispatcher/dispatcher.js');
Object.assign(Dispatcher.prototype, part<object>('api/index.js'));

export const EnvHttpProxyAgent = part<typeof undici.EnvHttpProxyAgent>('dispatcher/env-http-proxy-agent.js');
export const interceptors = {
  retry: part<typeof undici.interceptors.retry>('interceptor/retry.js'),
  redirect: part<typeof undici.interceptors.redirect>('interceptor/redirect.js'),
};
