import { createServer, type RunningServer } from '../../src/serve/createServer.js';
import type { AccessLogEntry } from '../../src/serve/accessLog.js';
import type { ListenAddress } from '../../src/serve/parseListenAddress.js';
import type { Logger } from '../../src/ui/log.js';

export interface TestServer extends RunningServer {
  url: string;
  accessLog: AccessLogEntry[];
  warnings: string[];
}

/** ferry's server in this process on an ephemeral loopback port, recording its access log and warnings. */
export async function startServer(store: string, opts: { listen?: ListenAddress[]; tls?: { cert: Buffer; key: Buffer }; cacheBytes?: number; idleTimeoutMs?: number; headersTimeoutMs?: number } = {}): Promise<TestServer> {
  const accessLog: AccessLogEntry[] = [];
  const warnings: string[] = [];
  const log: Logger = { info() {}, progress() {}, event() {}, warn: (m) => void warnings.push(m) };
  const server = await createServer({
    store,
    listen: opts.listen ?? [{ host: '127.0.0.1', port: 0 }],
    tls: opts.tls,
    cacheBytes: opts.cacheBytes,
    idleTimeoutMs: opts.idleTimeoutMs,
    headersTimeoutMs: opts.headersTimeoutMs,
    log,
    accessLog: (e) => void accessLog.push(e),
  });
  return Object.assign(server, { url: server.urls[0]!, accessLog, warnings });
}
