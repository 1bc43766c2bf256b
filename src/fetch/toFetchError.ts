import { FerryError, FetchError } from '../errors.js';
import { TRANSIENT_ERROR_CODES, TRANSIENT_STATUS_CODES } from './transientFailures.js';

const REASONS: Record<string, string> = {
  ECONNRESET: 'the connection was reset',
  ECONNREFUSED: 'the connection was refused',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name could not be resolved (DNS timeout)',
  ETIMEDOUT: 'the connection timed out',
  EPIPE: 'the connection was closed while sending',
  UND_ERR_SOCKET: 'the server closed the connection',
  UND_ERR_CONNECT_TIMEOUT: 'connecting timed out',
  UND_ERR_HEADERS_TIMEOUT: 'the server sent no response in time',
  UND_ERR_BODY_TIMEOUT: 'the server stopped sending data',
};

/**
 * Turn whatever a download threw (undici's errors, fs errors, aborts) into a FetchError that says
 * what happened, whether trying again may help, and what to do. FerryErrors pass through unchanged.
 */
export function toFetchError(url: string, err: unknown, extra = ''): FerryError {
  if (err instanceof FerryError) return err;
  const e = err as { code?: string; statusCode?: number; name?: string; message?: string; data?: { count?: number } };
  const tail = extra ? ` ${extra}` : '';
  if (e?.name === 'AbortError' || e?.code === 'UND_ERR_ABORTED' || e?.code === 'ABORT_ERR') {
    return new FetchError(`download of ${url} was cancelled.${tail}`, { cause: err, url });
  }
  if (typeof e?.statusCode === 'number' && e.statusCode < 300) {
    // undici's retry handler could not continue a body that broke off (no Range support, ETag changed)
    return new FetchError(
      `GET ${url}: the download broke off and the server did not continue it (${e.message}). Run the command again.${tail}`,
      { cause: err, url, transient: true },
    );
  }
  if (typeof e?.statusCode === 'number') {
    // undici's retry handler gave up on a transient status after its retries
    const attempts = e.data?.count ? ` after ${e.data.count} attempts` : '';
    return new FetchError(
      `GET ${url}: HTTP ${e.statusCode}${attempts}. The server is overloaded or failing; try again later or use another mirror.${tail}`,
      { cause: err, url, status: e.statusCode, transient: TRANSIENT_STATUS_CODES.includes(e.statusCode) },
    );
  }
  if (e?.code === 'ENOENT') {
    // a missing local file is what a 404 is over HTTP: callers fall back the same way
    return new FetchError(`${url}: no such file. Check the local mirror path in the spec or lock.`, { cause: err, url, status: 404 });
  }
  const code = e?.code ?? 'unknown';
  const reason = REASONS[code] ?? e?.message ?? String(err);
  const transient = TRANSIENT_ERROR_CODES.includes(code);
  const advice = transient
    ? 'Check the network or proxy (HTTP_PROXY/HTTPS_PROXY/NO_PROXY) and run the command again.'
    : 'Check the URL and the network settings.';
  return new FetchError(`GET ${url}: ${reason} (${code}). ${advice}${tail}`, { cause: err, url, transient });
}

/** The error for a final HTTP status that is not a success. */
export function httpStatusError(url: string, status: number): FetchError {
  const advice =
    status === 404 || status === 410
      ? 'The upstream does not have this file: check the URL, or re-run `ferry lock` if the upstream index has moved on.'
      : status === 401 || status === 403
        ? 'The upstream refuses access: check credentials or proxy rules.'
        : TRANSIENT_STATUS_CODES.includes(status)
          ? 'Try again later or use another mirror.'
          : 'Check the URL and the upstream server.';
  return new FetchError(`GET ${url}: HTTP ${status}. ${advice}`, {
    url,
    status,
    transient: TRANSIENT_STATUS_CODES.includes(status),
  });
}
