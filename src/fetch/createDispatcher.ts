import type { Dispatcher } from 'undici';
import { finishBodiesUnpaused } from './finishBodiesUnpaused.js';
import { TRANSIENT_ERROR_CODES, TRANSIENT_STATUS_CODES } from './transientFailures.js';
import { EnvHttpProxyAgent, interceptors } from './undiciParts.js';

/** How hard to try before a download fails; the defaults suit a build on a flaky uplink. */
export interface RetryPolicy {
  /** retries after the first attempt (default 5) */
  maxRetries?: number;
  /** first back-off in ms, doubled each retry (default 500) */
  minTimeout?: number;
  /** longest back-off in ms, also the cap on Retry-After (default 30 s) */
  maxTimeout?: number;
  /** no response headers, or no body bytes, for this long counts as a transient failure (default 60 s) */
  idleTimeout?: number;
  /** simultaneous connections per origin (default 16); fetchMany's concurrency is the usual bound */
  connections?: number;
}

/**
 * The HTTP client every download goes through: undici's pooled agent (honouring HTTP_PROXY,
 * HTTPS_PROXY and NO_PROXY, since connected build machines often sit behind a proxy), undici's retry
 * handler for transient failures with exponential back-off and Retry-After (it also resumes a body
 * cut mid-way with a Range request inside one call), and redirects (mirror redirectors and CDNs).
 * Retries sit inside redirects so each hop is retried on its own URL; innermost, bodies are never
 * paused on their last bytes (finishBodiesUnpaused.ts: undici 7 crashes the process otherwise).
 */
export function createDispatcher(policy: RetryPolicy = {}): Dispatcher {
  const idle = policy.idleTimeout ?? 60_000;
  const agent = new EnvHttpProxyAgent({
    connections: policy.connections ?? 16,
    headersTimeout: idle,
    bodyTimeout: idle,
    connect: { timeout: Math.min(idle, 30_000) },
  });
  return agent.compose(
    finishBodiesUnpaused(),
    interceptors.retry({
      maxRetries: policy.maxRetries ?? 5,
      minTimeout: policy.minTimeout ?? 500,
      maxTimeout: policy.maxTimeout ?? 30_000,
      timeoutFactor: 2,
      methods: ['GET', 'HEAD'],
      statusCodes: TRANSIENT_STATUS_CODES,
      errorCodes: TRANSIENT_ERROR_CODES,
    }),
    interceptors.redirect({ maxRedirections: 5 }),
  );
}

let shared: Dispatcher | undefined;

/** One process-wide client so connections are pooled across kinds. */
export function defaultDispatcher(): Dispatcher {
  shared ??= createDispatcher();
  return shared;
}
