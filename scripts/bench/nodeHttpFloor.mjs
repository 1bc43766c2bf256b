// The floor of node:http for serve.mjs: the least a Node.js server built on node:http can do per request.
// Every worker answers every request with one file's bytes and precomputed headers (the same ones ferry
// serve's prepared answers carry), reading nothing, checking nothing, routing nothing: what is left is
// node:http itself (llhttp, IncomingMessage, ServerResponse, the socket writes). Its CPU per request
// against nginx's is the bound on what ferry serve can reach while it is built on node:http.
// Usage (serve.mjs starts it): node scripts/bench/nodeHttpFloor.mjs PORT FILE WORKERS
import cluster from 'node:cluster';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const [port, file, workers] = process.argv.slice(2);
if (cluster.isPrimary) {
  for (let i = 0; i < Number(workers); i++) cluster.fork();
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
    process.exit(0);
  });
} else {
  const data = readFileSync(file);
  const etag = `"${createHash('sha256').update(data).digest('hex')}"`;
  const headers = ['X-Content-Type-Options', 'nosniff', 'ETag', etag, 'Last-Modified', new Date(0).toUTCString(), 'Cache-Control', 'public, max-age=31536000, immutable', 'Accept-Ranges', 'bytes', 'Content-Type', 'application/octet-stream', 'Content-Length', String(data.length)];
  const server = createServer((req, res) => {
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : data);
  });
  server.keepAliveTimeout = 75_000;
  server.listen(Number(port), '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
}
