import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the server does to the next requests of one path (each fault is used up once). */
export interface Faults {
  /** answer this status (with Retry-After: 0) to the next N requests */
  status?: { code: number; times: number };
  /** close the connection before answering, the next N requests */
  reset?: number;
  /** send the headers and only this many body bytes, then cut the connection (next request only) */
  dropAfter?: number;
  /** with dropAfter: cut only once this settles (the client has the bytes), else 20 ms after sending;
   * a promise that never settles makes the server stall mid-body instead */
  dropWhen?: Promise<unknown>;
  /** ignore Range and If-Range (always 200 with the whole file) */
  ignoreRange?: boolean;
  /** send the body chunked, without Content-Length */
  chunked?: boolean;
  /** send the body in 8 pieces this many ms apart (so downloads overlap) */
  trickleMs?: number;
  /** answer 302 with this Location */
  redirectTo?: string;
  /** wait this long before answering every request */
  delayMs?: number;
}

export interface SeenRequest {
  path: string;
  method?: string;
  accept?: string;
  range?: string;
  ifRange?: string;
  status: number;
}

/**
 * A small HTTP server on 127.0.0.1 that serves in-memory files with ETag, Last-Modified and Range
 * support, injects faults on demand, and counts what it did from its own side: requests, body bytes
 * written, and how many requests were in progress at once.
 */
export async function startFixtureServer() {
  const files = new Map<string, Buffer>();
  const faults = new Map<string, Faults>();
  const seen: SeenRequest[] = [];
  let bytesSent = 0;
  let active = 0;
  let maxActive = 0;

  const etagOf = (data: Buffer) => `"${createHash('sha256').update(data).digest('hex').slice(0, 16)}"`;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const fault = faults.get(path) ?? {};
    const record = (status: number) =>
      seen.push({ path, method: req.method, accept: req.headers.accept, status, range: req.headers.range, ifRange: req.headers['if-range'] as string | undefined });
    if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault.reset) {
      fault.reset--;
      record(0);
      req.socket.destroy();
      return;
    }
    if (fault.status && fault.status.times > 0) {
      fault.status.times--;
      record(fault.status.code);
      res.writeHead(fault.status.code, { 'retry-after': '0', 'content-length': '0' }).end();
      return;
    }
    if (fault.redirectTo) {
      record(302);
      res.writeHead(302, { location: fault.redirectTo, 'content-length': '0' }).end();
      return;
    }
    const data = files.get(path);
    if (!data) {
      record(404);
      res.writeHead(404, { 'content-length': '0' }).end();
      return;
    }
    const etag = etagOf(data);
    const ifMatch = req.headers['if-match'];
    if (ifMatch !== undefined && ifMatch !== etag) {
      record(412);
      res.writeHead(412, { 'content-length': '0' }).end();
      return;
    }
    let start = 0;
    let end = data.length - 1;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    const ranged = Boolean(range) && !fault.ignoreRange && (ifRange === undefined || ifRange === etag);
    if (ranged) {
      start = Number(range![1]);
      if (range![2]) end = Math.min(end, Number(range![2]));
    }
    if (start > data.length - 1 && ranged) {
      record(416);
      res.writeHead(416, { 'content-range': `bytes */${data.length}` }).end();
      return;
    }
    const body = data.subarray(start, end + 1);
    const status = ranged ? 206 : 200;
    record(status);
    res.writeHead(status, {
      ...(fault.chunked ? {} : { 'content-length': String(body.length) }),
      etag,
      'last-modified': 'Wed, 25 Nov 2026 00:00:00 GMT',
      'accept-ranges': 'bytes',
      ...(ranged ? { 'content-range': `bytes ${start}-${end}/${data.length}` } : {}),
    });
    if (fault.dropAfter !== undefined) {
      const n = fault.dropAfter;
      const when = fault.dropWhen ?? new Promise((r) => setTimeout(r, 20));
      fault.dropAfter = undefined;
      fault.dropWhen = undefined;
      res.write(body.subarray(0, n), () => {
        bytesSent += n;
        // let the bytes reach the client before the connection dies mid-body
        void when.then(() => req.socket.destroy());
      });
      return;
    }
    if (fault.trickleMs) {
      const piece = Math.ceil(body.length / 8);
      for (let at = 0; at < body.length; at += piece) {
        res.write(body.subarray(at, at + piece));
        bytesSent += Math.min(piece, body.length - at);
        await new Promise((r) => setTimeout(r, fault.trickleMs));
      }
      res.end();
      return;
    }
    res.end(body);
    bytesSent += body.length;
  };

  const server = createServer((req, res) => {
    active++;
    maxActive = Math.max(maxActive, active);
    res.on('close', () => active--);
    handle(req, res).catch((err) => {
      res.destroy(err as Error);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;

  return {
    url: (path: string) => base + path,
    /** publish a file; returns its sha256 */
    put(path: string, data: Buffer): string {
      files.set(path, data);
      return createHash('sha256').update(data).digest('hex');
    },
    fault(path: string, f: Faults) {
      faults.set(path, f);
    },
    seen,
    requestsFor: (path: string) => seen.filter((s) => s.path === path),
    get bytesSent() {
      return bytesSent;
    },
    get maxActive() {
      return maxActive;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export type FixtureServer = Awaited<ReturnType<typeof startFixtureServer>>;

/** Deterministic pseudo-random bytes, so failures are reproducible. */
export function bytes(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
