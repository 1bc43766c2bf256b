import type { ServerResponse } from 'node:http';

/** Short fixed bodies: a refusal says what kind of refusal and nothing about the store behind it. */
const BODIES: Record<number, string> = {
  301: 'moved\n',
  400: 'bad request\n',
  404: 'not found\n',
  405: 'method not allowed\n',
  414: 'uri too long\n',
  500: 'internal error\n',
  503: 'unavailable\n',
};

/** Headers that describe a file; a refusal or error answered instead of the file must not carry them. */
const FILE_HEADERS = ['etag', 'last-modified', 'cache-control', 'accept-ranges', 'content-type', 'content-length', 'content-range', 'x-ferry-bundle', 'docker-content-digest'];

/** Answer `status` with a fixed text body (no body for HEAD); returns the body bytes sent. */
export function sendPlainStatus(req: { method?: string }, res: ServerResponse, status: number, headers: Record<string, string> = {}): number {
  for (const name of FILE_HEADERS) res.removeHeader(name);
  const body = BODIES[status] ?? `${status}\n`;
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...headers });
  if (req.method === 'HEAD') {
    res.end();
    return 0;
  }
  res.end(body);
  return body.length;
}
