import { realpath, stat } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { isIP, type Socket } from 'node:net';
import { StoreError, UsageError } from '../errors.js';
import type { Logger } from '../ui/log.js';
import type { AccessLog } from './accessLog.js';
import { createRequestHandler } from './createRequestHandler.js';
import { formatListenAddress, type ListenAddress } from './parseListenAddress.js';
import { checkStoreFolders } from '../store/checkStoreFolders.js';
import { storeLayout } from '../store/storeLayout.js';
import { timerMs } from '../util/timerMs.js';

export interface ServeOptions {
  store: string;
  listen: ListenAddress[];
  /** PEM certificate chain and key: serve HTTPS instead of HTTP */
  tls?: { cert: Buffer; key: Buffer };
  log: Logger;
  accessLog?: AccessLog;
  /** bytes of small verified files kept in memory (0: none); default 64 MiB */
  cacheBytes?: number;
  /** a connection on which nothing moves for this long while a request is read or answered is closed; default 60 s */
  idleTimeoutMs?: number;
  /** a request whose headers have not all arrived this long after it started is answered 408 and closed; default 80 s */
  headersTimeoutMs?: number;
  /** connections this process holds open at once, on all its listening addresses; more are closed as they arrive. Default 1024 */
  maxConnections?: number;
}

export interface RunningServer {
  /** base URLs actually bound (port 0 becomes the port the system chose) */
  urls: string[];
  /**
   * Graceful stop: stop accepting, let requests in flight finish (keep-alive connections are closed
   * after their current response), and cut whatever is still open after `graceMs`.
   */
  close(graceMs?: number): Promise<void>;
}

/** Serve the store read-only on every `listen` address (one socket each, one request handler). */
/** nginx's default keepalive_timeout is 75 s */
const KEEP_ALIVE_MS = 75_000;
/** nginx's default send_timeout and client_header_timeout are 60 s */
const IDLE_MS = 60_000;
/** nginx's default worker_connections */
export const DEFAULT_MAX_CONNECTIONS = 1024;
/** a whole request (headers and any body) must have arrived within this long; node's default, made explicit */
const REQUEST_MS = 300_000;
const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

export async function createServer(opts: ServeOptions): Promise<RunningServer> {
  let store: string;
  try {
    store = await realpath(opts.store);
    if (!(await stat(store)).isDirectory()) throw new Error('not a directory');
  } catch (err) {
    throw new StoreError(`store ${opts.store} cannot be served: ${(err as Error).message}; give --store the folder that ferry import writes to`, { cause: err });
  }
  // refs/, bundles/ or blobs/ as a link would serve (or read refs from) a folder outside the store
  await checkStoreFolders(storeLayout(store));
  if (opts.listen.length === 0) throw new UsageError('nothing to listen on: give --listen ADDRESS:PORT');
  const handler = createRequestHandler({ store, log: opts.log, accessLog: opts.accessLog, cacheBytes: opts.cacheBytes });
  const servers: Server[] = [];
  let closing = false;
  // answers not yet finished on each connection: a refusal of a malformed request written beside one would land inside its body
  const unfinished = new WeakMap<Socket, number>();
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    unfinished.set(socket, (unfinished.get(socket) ?? 0) + 1);
    res.once('close', () => unfinished.set(socket, (unfinished.get(socket) ?? 1) - 1));
    handler(req, res);
    // a keep-alive connection whose response finishes while closing is idle from then on: let it go now
    res.once('finish', () => {
      if (closing) setImmediate(() => servers.forEach((s) => s.closeIdleConnections()));
    });
  };

  // a client that trickles its headers (slowloris) keeps the socket from going idle: the headers as a whole have a
  // limit, looked at a few times within it (node looks every 30 s by default, which left a connection up to 110 s)
  const headersTimeout = opts.headersTimeoutMs ?? KEEP_ALIVE_MS + 5_000;
  // requireHostHeader: a request without Host is refused by the handler, with its access-log line
  const limits = { headersTimeout, requestTimeout: Math.max(REQUEST_MS, headersTimeout), connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.floor(headersTimeout / 4))), requireHostHeader: false };
  const maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  // connections open on every listening socket of this process
  let connections = 0;
  const urls: string[] = [];
  try {
    for (const addr of opts.listen) {
      const server: Server = opts.tls ? createTlsServer(opts.tls, limits, onRequest) : createHttpServer(limits, onRequest);
      // Node closes idle keep-alive connections after 5 s; a client on a busy network (hundreds of hosts
      // staging at once) then races that close and sees "socket hang up". Keep them like nginx does.
      server.keepAliveTimeout = KEEP_ALIVE_MS;
      // each connection costs memory (a trickling slowloris ~7 KB, a download up to a chunk: sendStoreFile), so a
      // worker holds at most maxConnections, on all its listening sockets together, as nginx's worker_connections
      // caps them: one beyond is closed as soon as it is accepted, before anything of it is read. Counted here, not
      // with server.maxConnections, which in a cluster worker hands the connection back to the primary, where it
      // waited, unread and without a timeout, until a worker had room (a flood of them held the primary's fds)
      server.prependListener('connection', (socket: Socket) => {
        if (connections >= maxConnections) {
          const remote = socket.remoteAddress ?? '';
          socket.destroy();
          opts.accessLog?.({ time: new Date().toISOString(), remote, method: '', target: '', status: 0, bytes: 0, ms: 0, aborted: true, reason: `${maxConnections} connections open: connection closed` });
          return;
        }
        connections++;
        socket.once('close', () => connections--);
      });
      // Node.js never times out a connection while it answers: a client that stops reading (or keeps its
      // window shut) would hold the file, a chunk of buffer and the socket for as long as it likes
      server.timeout = opts.idleTimeoutMs ?? IDLE_MS;
      server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
        // malformed requests (NUL or raw controls in the target, oversized headers): a bare status, nothing else
        if (!socket.writable || err.code === 'ECONNRESET') return socket.destroy();
        const remote = (socket as Socket).remoteAddress ?? '';
        // a malformed request pipelined behind one still being answered: a status line written now would land
        // inside that answer's body (the client would keep "HTTP/1.1 400 ..." as bytes of its file); cut instead
        if ((unfinished.get(socket as Socket) ?? 0) > 0) {
          socket.destroy();
          opts.accessLog?.({ time: new Date().toISOString(), remote, method: '', target: '', status: 0, bytes: 0, ms: 0, aborted: true, reason: `${err.code ?? err.message} while an answer was in flight: connection cut` });
          return;
        }
        // headers not all there in time: 408, as node's own handler answers (ferry's answered 400)
        const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
        socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        opts.accessLog?.({ time: new Date().toISOString(), remote, method: '', target: '', status, bytes: 0, ms: 0, reason: err.code ?? err.message });
      });
      // an Expect other than 100-continue: node:http answered 417 itself, without the handler's headers or a log
      // line; RFC 9110 lets a server ignore it, as nginx does, so the request is answered as any other
      server.on('checkExpectation', onRequest);
      // CONNECT (a proxy tunnel) is not a request node:http hands to the handler: without this, its socket was
      // closed without an answer and without a log line
      server.on('connect', (req: IncomingMessage, socket: Socket) => {
        socket.on('error', () => socket.destroy());
        socket.end('HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: 19\r\n\r\nmethod not allowed\n');
        opts.accessLog?.({ time: new Date().toISOString(), remote: socket.remoteAddress ?? '', method: 'CONNECT', target: (req.url ?? '').slice(0, 1024), status: 405, bytes: 19, ms: 0, ua: req.headers['user-agent'] });
      });
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        // IPv6 sockets take only IPv6, so "0.0.0.0:P" and "[::]:P" can be given together
        server.listen({ host: addr.host, port: addr.port, ipv6Only: addr.host !== undefined && isIP(addr.host) === 6 }, () => {
          server.off('error', reject);
          resolve();
        });
      }).catch((err: NodeJS.ErrnoException) => {
        throw new UsageError(`cannot listen on ${formatListenAddress(addr.host ?? '::', addr.port)}: ${err.code ?? err.message}; choose another --listen address or port`, { cause: err });
      });
      const bound = server.address();
      if (bound && typeof bound === 'object') urls.push(`${opts.tls ? 'https' : 'http'}://${formatListenAddress(bound.address, bound.port)}`);
    }
  } catch (err) {
    for (const s of servers) s.close();
    handler.close();
    throw err;
  }

  return {
    urls,
    async close(graceMs = 30_000) {
      if (closing) return;
      closing = true;
      handler.drain();
      const closed = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      for (const s of servers) s.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          for (const s of servers) s.closeAllConnections();
          resolve();
        }, timerMs(graceMs));
      });
      await Promise.race([closed, timedOut]);
      clearTimeout(timer);
      handler.close();
    },
  };
}

function createTlsServer(tls: { cert: Buffer; key: Buffer }, limits: { headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number; requireHostHeader: boolean }, onRequest: (req: IncomingMessage, res: ServerResponse) => void): Server {
  try {
    return createHttpsServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2', ...limits }, onRequest);
  } catch (err) {
    throw new UsageError(`--tls-cert/--tls-key cannot be used: ${(err as Error).message}; give a PEM certificate and its matching PEM private key`, { cause: err });
  }
}
