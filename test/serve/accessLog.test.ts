import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { createAccessLog, type AccessLogEntry } from '../../src/serve/accessLog.js';

const entry: AccessLogEntry = {
  time: '2026-11-25T14:00:00.000Z',
  remote: '10.0.1.11',
  method: 'GET',
  target: '/releases/openstack/2026.11.0/apt/dists/bookworm/InRelease',
  status: 206,
  bytes: 100,
  ms: 0.42,
  range: 'bytes=0-99',
  bundle: 'ab'.repeat(32),
  ua: 'Debian APT-HTTP/1.3 (2.6.1)',
};

async function written(json: boolean, entries: AccessLogEntry[]): Promise<string> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d) => (text += d));
  const log = createAccessLog(out, { json });
  for (const e of entries) log(e);
  await new Promise((r) => setImmediate(r));
  return text;
}

describe('access log', () => {
  it('writes one plain line per request', async () => {
    expect(await written(false, [entry])).toBe(
      '2026-11-25T14:00:00.000Z 10.0.1.11 GET "/releases/openstack/2026.11.0/apt/dists/bookworm/InRelease" 206 100 0.4ms range="bytes=0-99" bundle=abababababab ua="Debian APT-HTTP/1.3 (2.6.1)"\n',
    );
  });

  it('writes one JSON object per line with --json', async () => {
    const lines = (await written(true, [entry, { ...entry, status: 404, reason: 'no such release' }])).trim().split('\n');
    expect(lines.map((l) => JSON.parse(l))).toEqual([entry, { ...entry, status: 404, reason: 'no such release' }]);
  });

  it('keeps a hostile target or user agent on its own line', async () => {
    const text = await written(false, [{ ...entry, target: '/x\n2026-11-25T00:00:00Z 1.2.3.4 GET "/forged" 200', ua: 'a\r\nb' }]);
    expect(text.split('\n')).toHaveLength(2);
    expect(text).toContain('"/x\\n2026-11-25T00:00:00Z 1.2.3.4 GET \\"/forged\\" 200"');
  });
});
