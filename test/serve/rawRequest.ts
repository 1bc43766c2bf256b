import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  head: string;
  body: Buffer;
}

/**
 * Send one request line exactly as given over a plain socket (no client library normalizes "..",
 * percent-encoding or backslashes on the way) and read the answer until the server closes.
 */
export function rawRequest(port: number, requestLine: string, headers = 'Host: localhost\r\nConnection: close\r\n'): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect(port, '127.0.0.1', () => s.write(Buffer.from(`${requestLine}\r\n${headers}\r\n`, 'latin1')));
    s.setTimeout(10_000, () => s.destroy(new Error(`no answer to ${requestLine.slice(0, 80)}`)));
    s.on('data', (c) => chunks.push(c));
    s.on('error', reject);
    s.on('close', () => {
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      const head = all.subarray(0, end === -1 ? all.length : end).toString('latin1');
      resolve({ status: Number(head.split(' ')[1]), head, body: end === -1 ? Buffer.alloc(0) : all.subarray(end + 4) });
    });
  });
}
