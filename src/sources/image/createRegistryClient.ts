import { createHash } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { FetchError, IntegrityError } from '../../errors.js';
import { defaultDispatcher } from '../../fetch/createDispatcher.js';
import type { FetchStats } from '../../fetch/createFetchStats.js';
import { fetchBytes } from '../../fetch/fetchBytes.js';
import { httpStatusError } from '../../fetch/toFetchError.js';
import type { Logger } from '../../ui/log.js';
import { ACCEPT_MANIFESTS, MANIFEST_MAX_BYTES } from './imageDocument.js';
import { quoteInput } from '../../util/oneLine.js';
import { readRegistryCredentials, registryAuthFile, type RegistryCredentials } from './readRegistryCredentials.js';

export interface FetchedManifest {
  bytes: Buffer;
  /** sha256:HEX of the bytes */
  digest: string;
  contentType?: string;
}

/** An OCI Distribution registry, read-only, as one repository's puller sees it. */
export interface RegistryClient {
  /** scheme, host and port, e.g. https://registry.example */
  base: string;
  /** a manifest or index by tag or digest, exactly as served; a digest the server announces must match the bytes */
  getManifest(repository: string, reference: string): Promise<FetchedManifest>;
  /** the client blob and manifest downloads go through: it sends the Accept list and this repository's authorization (never to another origin) */
  dispatcherFor(repository: string): Promise<Dispatcher>;
}

/**
 * A client for one registry at `base`, with the distribution spec's authentication: anonymous, Basic,
 * or a Bearer token fetched from the realm the registry's challenge names (with the login from
 * ~/.docker/config.json or $REGISTRY_AUTH_FILE when there is one). One authorization per repository,
 * asked for once.
 */
export function createRegistryClient(opts: { base: string; registry: string; env: NodeJS.ProcessEnv; log: Logger; stats?: FetchStats }): RegistryClient {
  const base = opts.base.replace(/\/+$/, '');
  const auth = new Map<string, Promise<string | undefined>>();
  // each repository's own login (a namespace of the registry may have its own), read once
  const credentials = new Map<string, Promise<RegistryCredentials | undefined>>();
  const login = (repository: string) => {
    let c = credentials.get(repository);
    if (!c) credentials.set(repository, (c = readRegistryCredentials(opts.registry, opts.env, opts.log, repository)));
    return c;
  };

  const authorization = (repository: string) => {
    let a = auth.get(repository);
    if (!a) {
      a = authorize(repository);
      auth.set(repository, a);
    }
    return a;
  };

  async function authorize(repository: string): Promise<string | undefined> {
    const url = `${base}/v2/`;
    const res = await get(url, {}, 64 << 10);
    if (res.status === 200) return undefined;
    if (res.status !== 401) throw httpStatusError(url, res.status);
    const challengeText = header(res.headers, 'www-authenticate');
    const challenge = parseChallenge(challengeText);
    const creds = await login(repository);
    const basic = creds && `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    if (challenge?.scheme === 'basic') {
      if (!basic) throw needsLogin();
      return basic;
    }
    if (challenge?.scheme !== 'bearer' || !challenge.params.realm) throw new FetchError(`${url}: the registry asks for authentication ferry does not know (${challengeText === undefined ? 'no WWW-Authenticate' : quoteInput(challengeText)})`, { url, status: 401 });
    let realm: URL;
    try {
      realm = new URL(challenge.params.realm);
      if (realm.protocol !== 'https:' && realm.protocol !== 'http:') throw new Error('not http(s)');
    } catch {
      throw new FetchError(`${url}: the registry names a token realm that is not an http(s) URL`, { url, status: 401 });
    }
    // the login went to the registry over TLS; a realm over plain http would put it on the network in clear.
    // Over plain http it goes only to the registry's own host (a token service on another port beside it),
    // never across the network in clear to a host the spec does not name
    const registryUrl = new URL(base);
    if (basic && realm.protocol === 'http:' && registryUrl.protocol === 'https:') {
      throw new FetchError(`${url}: the registry names a plain http token realm (${realm.origin}); ferry sends the registry login only over https to a registry reached over https`, { url, status: 401 });
    }
    if (basic && realm.protocol === 'http:' && sameHostName(realm.hostname) !== sameHostName(registryUrl.hostname)) {
      throw new FetchError(`${url}: the registry names a plain http token realm on another host (${realm.origin}); ferry sends the registry login over plain http only to the registry's own host (${registryUrl.hostname})`, { url, status: 401 });
    }
    if (challenge.params.service) realm.searchParams.set('service', challenge.params.service);
    realm.searchParams.set('scope', `repository:${repository}:pull`);
    const token = await get(realm.toString(), basic ? { authorization: basic } : {}, 1 << 20);
    if (token.status === 401 || token.status === 403) throw needsLogin(token.status);
    if (token.status !== 200) throw httpStatusError(realm.origin + realm.pathname, token.status);
    let body: { token?: unknown; access_token?: unknown };
    try {
      body = JSON.parse(token.body.toString('utf8'));
    } catch {
      throw new FetchError(`${realm.origin}${realm.pathname}: the token answer is not JSON`, { url: realm.origin + realm.pathname });
    }
    // any JSON may come back (null, a list): only an object's token fields count
    const fields = typeof body === 'object' && body !== null ? body : {};
    const value = typeof fields.token === 'string' ? fields.token : fields.access_token;
    if (typeof value !== 'string' || !/^[\x21-\x7e]+$/.test(value)) throw new FetchError(`${realm.origin}${realm.pathname}: the token answer holds no token`, { url: realm.origin + realm.pathname });
    return `Bearer ${value}`;
  }

  function needsLogin(status = 401): FetchError {
    return new FetchError(
      `${opts.registry}: the registry at ${base} refuses anonymous pulls${status === 403 ? ' and the login it was given' : ''}; log in (podman login --authfile ${registryAuthFile(opts.env)} ${opts.registry}) or set $REGISTRY_AUTH_FILE`,
      { url: base, status },
    );
  }

  const get = (url: string, headers: Record<string, string>, maxBytes: number) =>
    fetchBytes(url, { headers, maxBytes, anyStatus: true, stats: opts.stats });

  return {
    base,
    async getManifest(repository, reference) {
      const url = `${base}/v2/${repository}/manifests/${reference}`;
      const a = await authorization(repository);
      const res = await get(url, { accept: ACCEPT_MANIFESTS, ...(a && { authorization: a }) }, MANIFEST_MAX_BYTES);
      if (res.status !== 200) throw httpStatusError(url, res.status);
      const digest = `sha256:${createHash('sha256').update(res.body).digest('hex')}`;
      if (reference.startsWith('sha256:') && reference !== digest) {
        throw new IntegrityError(`${url}: the registry sent a manifest whose sha256 is ${digest}, not ${reference}; nothing was used`);
      }
      // the digest the registry announces, by its own algorithm (a registry may announce sha512): it must be
      // the bytes'; ferry pins their sha256 all the same. An algorithm ferry does not know vouches for nothing
      const announced = header(res.headers, 'docker-content-digest');
      const alg = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):[a-zA-Z0-9=_-]+$/.exec(announced ?? '')?.[1];
      const known = alg === 'sha512' ? 'sha512' : alg === undefined || alg === 'sha256' ? 'sha256' : undefined;
      const computed = known === 'sha512' ? `sha512:${createHash('sha512').update(res.body).digest('hex')}` : digest;
      if (announced !== undefined && known !== undefined && announced !== computed) {
        throw new IntegrityError(`${url}: the registry sent a manifest whose ${known} is ${computed}, not ${alg !== undefined ? announced : quoteInput(announced, 150)}; nothing was used`);
      }
      return { bytes: res.body, digest, contentType: header(res.headers, 'content-type') };
    },
    async dispatcherFor(repository) {
      const a = await authorization(repository);
      const origin = new URL(base).origin;
      return defaultDispatcher().compose((dispatch) => (options, handler) => {
        // only to the registry itself: a blob redirected to storage elsewhere goes without the login
        // (undici's redirect handler also drops Authorization across origins). The Accept list: a
        // registry answers 404 for a manifest by digest in a format the client does not say it takes.
        if (new URL(String(options.origin)).origin !== origin) return dispatch(options, handler);
        return dispatch({ ...options, headers: { ...(options.headers as Record<string, string>), accept: ACCEPT_MANIFESTS, ...(a && { authorization: a }) } }, handler);
      });
    },
  };
}

function header(headers: Dispatcher.ResponseData['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** `Bearer realm="…",service="…"` or `Basic realm="…"`. */
export function parseChallenge(value: string | undefined): { scheme: string; params: Record<string, string> } | undefined {
  const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(value ?? '');
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  return { scheme: m[1]!.toLowerCase(), params };
}

/**
 * A host name as the realm rule compares it: `localhost` and `[::1]` are the loopback address 127.0.0.1
 * by another name (a registry at localhost with its token service at 127.0.0.1 sends nothing across the
 * network); any other name or address is itself.
 */
function sameHostName(host: string): string {
  return host === 'localhost' || host === '[::1]' ? '127.0.0.1' : host;
}
