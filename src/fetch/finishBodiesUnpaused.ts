import type { Dispatcher } from 'undici';

/**
 * An undici interceptor that keeps the HTTP/1 parser from pausing on the last bytes of a body.
 *
 * Why: undici 7's parser pauses when the body stream's buffer is full (the reader is slower than the
 * socket). If it pauses on the chunk that ends the body, and the server closes the connection after
 * the response (HTTP/1.0 servers such as a plain `python3 -m http.server`), the socket's 'end' arrives
 * while the parser is paused and undici throws an uncatchable `AssertionError: assert(!this.paused)`
 * from the socket's event handler: the process dies (undici issue 5360, fixed only in undici 8, which
 * needs Node 22). Reading every body does not prevent it: a big index read in one socket read (11 MiB
 * over loopback) fills the buffer at once. Refusing the pause only for the final chunk costs no
 * memory (that chunk is already in memory) and keeps back-pressure for everything before it. A body
 * without a length that ends when the connection closes has no known final chunk, so it is never
 * paused (such bodies are small dynamic pages in practice; files are served with Content-Length).
 *
 * It sits innermost, between the connection pool and the retry handler, so it sees the bytes as the
 * socket delivers them.
 */
export function finishBodiesUnpaused(): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) => dispatch(opts, new FinishUnpausedHandler(handler as Dispatcher.DispatchHandler));
}

class FinishUnpausedHandler implements Dispatcher.DispatchHandler {
  readonly #inner: Dispatcher.DispatchHandler;
  #target: Dispatcher.DispatchController | undefined;
  /** body bytes still to come: a number with Content-Length, Infinity when chunked, undefined when the close ends it */
  #remaining: number | undefined;
  /** true while the inner handler takes a chunk after which the body may end */
  #final = false;
  readonly #controller: Dispatcher.DispatchController;

  constructor(inner: Dispatcher.DispatchHandler) {
    this.#inner = inner;
    const self = this;
    this.#controller = {
      pause() {
        if (!self.#final) self.#target?.pause();
      },
      resume() {
        self.#target?.resume();
      },
      abort(reason: Error) {
        self.#target?.abort(reason);
      },
      get aborted() {
        return self.#target?.aborted ?? false;
      },
      get reason() {
        return self.#target?.reason ?? null;
      },
      get paused() {
        return self.#target?.paused ?? false;
      },
    };
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.#target = controller;
    this.#inner.onRequestStart?.(this.#controller, context);
  }

  onRequestUpgrade(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>, socket: import('node:stream').Duplex): void {
    this.#inner.onRequestUpgrade?.(this.#controller, statusCode, headers, socket);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>, statusMessage?: string): void {
    const length = headerValue(headers['content-length']);
    const chunked = /chunked/i.test(headerValue(headers['transfer-encoding']) ?? '');
    this.#remaining = length !== undefined && /^\d+$/.test(length) ? Number(length) : chunked ? Infinity : undefined;
    this.#inner.onResponseStart?.(this.#controller, statusCode, headers, statusMessage);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#remaining !== undefined) this.#remaining -= chunk.length;
    this.#final = this.#remaining === undefined || this.#remaining <= 0;
    try {
      this.#inner.onResponseData?.(this.#controller, chunk);
    } finally {
      this.#final = false;
    }
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: Record<string, string | string[] | undefined>): void {
    this.#inner.onResponseEnd?.(this.#controller, trailers);
  }

  onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    this.#inner.onResponseError?.(this.#controller, error);
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
