import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { makeStore, sampleBundleFiles, type StoredBundle, type TestStore } from './makeStore.js';
import { startServer, type TestServer } from './startServer.js';
import { until } from '../helpers/until.js';

describe('ferry serve lets go of a client that stops reading', () => {
  let t: TestStore;
  let bundle: StoredBundle;
  let server: TestServer;
  // more than the loopback's socket buffers hold: the answer cannot all be handed to the kernel
  const large = randomBytes(32 * 1024 * 1024);

  beforeAll(async () => {
    t = await makeStore();
    bundle = await t.addBundle('openstack', '2026.11.0', sampleBundleFiles({ 'rootfs/large.tar.gz': large }));
    // the idle limit made short, so that the test need not wait the default minute
    server = await startServer(t.store, { idleTimeoutMs: 300 });
  });
  afterAll(async () => {
    await server.close(1000);
    await t.cleanup();
  });

  // a client that reads nothing more (or a window that stays shut) would otherwise hold its file and
  // buffers, and the connection, for as long as it likes
  it('closes the connection once nothing has moved for the idle limit, and logs the download as aborted', async () => {
    const target = `/bundles/${bundle.digest}/rootfs/large.tar.gz`;
    const s = connect(Number(new URL(server.url).port), '127.0.0.1');
    s.on('error', () => {});
    let received = 0;
    await new Promise<void>((resolve) => {
      s.once('data', (c: Buffer) => {
        received += c.length;
        s.pause();
        resolve();
      });
      s.write(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
    });
    await until('the access-log line', () => server.accessLog.some((e) => e.target === target));
    const line = server.accessLog.find((e) => e.target === target)!;
    expect(line.status).toBe(200);
    expect(line.aborted).toBe(true);
    // the client, reading again, finds the connection closed before the end of the file
    s.on('data', (c: Buffer) => (received += c.length));
    await new Promise<void>((resolve) => {
      s.once('close', () => resolve());
      s.resume();
    });
    expect(received).toBeLessThan(large.length);
  }, 120_000);

  // slowloris: a header line now and then keeps the connection from ever being idle, and the request never starts
  it('answers 408 and closes a connection whose headers never end, though bytes keep coming', async () => {
    // a server of its own: the headers' limit short, the idle limit far longer than the trickle's 100 ms
    // steps, so that a busy machine's late step cannot end the connection as idle before the headers' limit
    const slow = await startServer(t.store, { idleTimeoutMs: 20_000, headersTimeoutMs: 1500 });
    try {
      await trickleHeaders(slow);
    } finally {
      await slow.close(1000);
    }
  }, 20_000);
});

/** A request line, then a header line every 100 ms and never the end of the headers: the answer must be 408. */
async function trickleHeaders(server: TestServer): Promise<void> {
  const s = connect(Number(new URL(server.url).port), '127.0.0.1');
  s.on('error', () => {});
  let answer = '';
  s.on('data', (c: Buffer) => (answer += c.toString('latin1')));
  s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
  const trickle = setInterval(() => s.write('X-Slow: 1\r\n'), 100);
  await new Promise<void>((resolve) => s.once('close', () => resolve()));
  clearInterval(trickle);
  expect(answer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
  expect(server.accessLog.some((e) => e.status === 408 && e.reason === 'ERR_HTTP_REQUEST_TIMEOUT')).toBe(true);
}
