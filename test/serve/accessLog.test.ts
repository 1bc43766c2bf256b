import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { connect } from 'node:net';
import { createAccessLog, type AccessLogEntry } from '../../src/serve/accessLog.js';
import { makeStore } from './makeStore.js';
import { spawnServe } from './spawnServe.js';

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

  // JSON.stringify escapes C0 controls but leaves C1 ones (U+009B is CSI, which starts a terminal escape
  // sequence) and U+2028/U+2029, which log viewers break lines at
  it('escapes C1 controls and Unicode line separators, in both formats', async () => {
    const hostile = { ...entry, ua: 'x\u009b31mred\u2028forged\u007f', target: '/a\u0085b' };
    for (const json of [false, true]) {
      const text = await written(json, [hostile]);
      expect(/[\u007f-\u009f\u2028\u2029]/.test(text)).toBe(false);
      expect(text).toContain('x\\u009b31mred\\u2028forged\\u007f');
      if (json) expect(JSON.parse(text).ua).toBe(hostile.ua);
    }
  });
});

describe('access log of ferry serve: what a client sends is cut and escaped', () => {
  it('cuts an 8 KB User-Agent and escapes its C1 controls on the line of its request', async () => {
    const t = await makeStore();
    const serve = await spawnServe(['--store', t.store, '--listen', '127.0.0.1:0', '--workers', '1']);
    try {
      const port = Number(new URL(serve.url).port);
      // the header's bytes as sent: 0x9b is U+009B once node has read it (latin1)
      const ua = Buffer.concat([Buffer.from('A'.repeat(8000)), Buffer.from([0x9b]), Buffer.from('31m')]);
      const head = Buffer.concat([Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nUser-Agent: '), ua, Buffer.from('\r\n\r\n')]);
      const status = await new Promise<number>((resolve, reject) => {
        let got = '';
        const s = connect(port, '127.0.0.1', () => s.write(head));
        s.on('data', (d) => (got += d.toString('latin1')));
        s.on('error', reject);
        s.on('close', () => resolve(Number(got.split(' ')[1])));
      });
      expect(status).toBe(200);
      const out = await serve.stdoutWhen((o) => o.includes('"/healthz"'));
      const line = out.split('\n').find((l) => l.includes('"/healthz"'))!;
      expect(line.length).toBeLessThan(1024);
      expect(line).toContain(`ua="${'A'.repeat(512)}…[`);
      // the C1 control is past the cut here; one inside it is escaped (above)
      expect(/[\u007f-\u009f]/.test(out)).toBe(false);
      const short = Buffer.concat([Buffer.from('GET /healthz?2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nUser-Agent: a'), Buffer.from([0x9b]), Buffer.from('31mb\r\n\r\n')]);
      await new Promise<void>((resolve, reject) => {
        const s = connect(port, '127.0.0.1', () => s.write(short));
        s.on('data', () => {});
        s.on('error', reject);
        s.on('close', () => resolve());
      });
      const out2 = await serve.stdoutWhen((o) => o.includes('"/healthz?2"'));
      expect(out2.split('\n').find((l) => l.includes('"/healthz?2"'))).toContain('ua="a\\u009b31mb"');
      expect(/[\u007f-\u009f]/.test(out2)).toBe(false);
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
      await t.cleanup();
    }
  }, 120_000);
});
