import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { curl } from './curl.js';
import { makeStore, sampleBundleFiles, type StoredBundle, type TestStore } from './makeStore.js';
import { startServer, type TestServer } from './startServer.js';

// Large bodies go out in 512 KiB chunks, read with a blocking call while a download is its worker's only one
// and on the thread pool while several run at once (src/serve/sendStoreFile.ts): both must send exact bytes.
describe('ferry serve sends large files byte for byte, alone and several at once, whole and by range', () => {
  const CHUNK = 512 * 1024;
  let t: TestStore;
  let bundle: StoredBundle;
  let server: TestServer;
  // more than the loopback's socket buffers hold (a download whose client stops reading stays in flight),
  // and not a whole number of chunks, so the last read is a short one
  const large = randomBytes(64 * CHUNK + 12_345);
  const url = () => `${server.url}/bundles/${bundle.digest}/rootfs/large.tar.gz`;

  beforeAll(async () => {
    t = await makeStore();
    bundle = await t.addBundle('openstack', '2026.11.0', sampleBundleFiles({ 'rootfs/large.tar.gz': large }));
    server = await startServer(t.store);
  });
  afterAll(async () => {
    await server.close(1000);
    await t.cleanup();
  });

  it('one download at a time: the whole file, and ranges that cross chunk boundaries or end at the last byte', async () => {
    const whole = await curl(url());
    expect(whole.status).toBe(200);
    expect(whole.body.equals(large)).toBe(true);
    for (const [from, to] of [
      [CHUNK - 10, 3 * CHUNK + 10],
      [65_537, 2 * CHUNK],
      [large.length - CHUNK - 3, large.length - 1],
    ] as const) {
      const part = await curl('-r', `${from}-${to}`, url());
      expect(part.status, `${from}-${to}`).toBe(206);
      expect(part.body.equals(large.subarray(from, to + 1)), `${from}-${to}`).toBe(true);
    }
  });

  it('while another download is in flight, six more at once, each of another part, each get exactly their bytes', async () => {
    // a client that reads the first bytes and then stops: its download stays in flight on the server
    const held = connect(Number(new URL(server.url).port), '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      held.once('error', reject);
      held.once('data', () => {
        held.pause();
        resolve();
      });
      held.write(`GET ${new URL(url()).pathname} HTTP/1.1\r\nHost: x\r\n\r\n`);
    });
    const ranges = Array.from({ length: 6 }, (_, i) => [i * 300_001, large.length - 1 - i * 211_111] as const);
    const got = await Promise.all([curl(url()), ...ranges.map(([from, to]) => curl('-r', `${from}-${to}`, url()))]);
    expect(got[0]!.body.equals(large)).toBe(true);
    ranges.forEach(([from, to], i) => {
      expect(got[i + 1]!.status).toBe(206);
      expect(got[i + 1]!.body.equals(large.subarray(from, to + 1)), `${from}-${to}`).toBe(true);
    });
    held.destroy();
  });
});
