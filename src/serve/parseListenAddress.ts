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
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]*))?:?(\d{1,5})$/.exec(value.trim());
  const host = m ? (m[1] ?? (m[2] || undefined)) : undefined;
  const port = m ? Number(m[3]) : NaN;
  const bad = (why: string) =>
    new UsageError(`--listen ${JSON.stringify(value)}: ${why}; write ADDRESS:PORT, e.g. 0.0.0.0:8080, [::]:8080, 127.0.0.1:8080 or :8080 for every interface`);
  if (!m || !Number.isInteger(port)) throw bad('not an address and port');
  if (port > 65535) throw bad(`port ${port} is above 65535`);
  if (m[1] !== undefined && isIP(m[1]) !== 6) throw bad(`${m[1]} is not an IPv6 address`);
  if (host !== undefined && m[2] !== undefined && !/^[A-Za-z0-9.-]+$/.test(host)) throw bad(`${host} is not a host name or IPv4 address`);
  return { host, port };
}

/** How an address is written in a URL ("[::1]:8080"). */
export function formatListenAddress(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
