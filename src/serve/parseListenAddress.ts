import { isIP } from 'node:net';
import { UsageError } from '../errors.js';

export interface ListenAddress {
  /** undefined: every interface, IPv6 and IPv4 */
  host?: string;
  port: number;
}

/**
 * `--listen` values: "127.0.0.1:8080", "[::1]:8080", "[::]:8080", "localhost:8080", ":8080" or "8080"
 * (the last two: all interfaces of both families).
 */
export function parseListenAddress(value: string): ListenAddress {
  const v = value.trim();
  const bad = (why: string) =>
    new UsageError(`--listen ${JSON.stringify(value)}: ${why}; write ADDRESS:PORT, e.g. 0.0.0.0:8080, [::]:8080, 127.0.0.1:8080 or :8080 for every interface`);
  const m = /^\d+$/.test(v) ? ['', undefined, v] : (/^\[([^\]]*)\]:(\d+)$/.exec(v) ?? /^([^:[\]]*):(\d+)$/.exec(v));
  if (!m) throw bad('not an address and port');
  const host = m[1] || undefined;
  const port = Number(m[2]);
  if (port > 65535) throw bad(`port ${port} is above 65535`);
  if (host !== undefined) {
    if (v.startsWith('[') ? isIP(host) !== 6 : !/^[A-Za-z0-9.-]+$/.test(host)) throw bad(`${host} is not an IP address or host name`);
  }
  return { host, port };
}

/** How an address is written in a URL ("[::1]:8080"). */
export function formatListenAddress(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
