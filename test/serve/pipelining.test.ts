import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { readdir, readlink, realpath } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { curl } from './curl.js';
import { makeStore, sampleBundleFiles, type StoredBundle, type TestStore } from './makeStore.js';
import { startServer, type TestServer } from './startServer.js';
import { until } from '../helpers/until.js';

/** Files this process holds open under `path` (the server runs in this process). */
async function openFilesOf(path: string): Promise<number> {
  let n = 0;
  for (const fd of await readdir('/proc/self/fd')) {
    if ((await readlink(join('/proc/self/fd', fd)).catch(() => '')) === path) n++;
  }
  return n;
}

/** Send `count` GETs of `target` at once on one connection, as a pipelining client does. */
function pipeline(port: number, targets: string[]): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write(targets.map((t) => `GET ${t} HTTP/1.1\r\nHost: x\r\n\r\n`).join(''));
      resolve(s);
    });
    s.on('error', reject);
  });
}

/** Read `count` answers (with Content-Length) off a connection, in order. */
function readAnswers(s: Socket, count: number): Promise<Array<{ status: number; body: Buffer }>> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const out: Array<{ status: number; body: Buffer }> = [];
    s.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buf.subarray(0, end).toString('latin1');
        const length = Number(/^content-length: *(\d+)/im.exec(head)![1]);
        if (buf.length < end + 4 + length) return;
        out.push({ status: Number(head.split(' ')[1]), body: buf.subarray(end + 4, end + 4 + length) });
        buf = buf.subarray(end + 4 + length);
        if (out.length === count) return resolve(out);
      }
    });
    s.on('error', reject);
  });
}

describe('ferry serve answers pipelined requests one after another', () => {
  let t: TestStore;
  let bundle: StoredBundle;
  let server: TestServer;
  // more than the loopback's socket buffers hold: a client that stops reading keeps its answer in flight
  const large = randomBytes(16 * 1024 * 1024);
  const other = randomBytes(2 * 1024 * 1024);
  const target = () => `/bundles/${bundle.digest}/rootfs/large.tar.gz`;

  beforeAll(async () => {
    t = await makeStore();
    bundle = await t.addBundle('openstack', '2026.11.0', sampleBundleFiles({ 'rootfs/large.tar.gz': large, 'rootfs/other.tar.gz': other }));
    server = await startServer(t.store);
  });
  afterAll(async () => {
    await server.close(1000);
    await t.cleanup();
  });

  it('in order, each with its own bytes', async () => {
    const paths = ['rootfs/other.tar.gz', 'apt/dists/bookworm/Release', 'rootfs/other.tar.gz', 'keys/bundle.asc'];
    const s = await pipeline(Number(new URL(server.url).port), paths.map((p) => `/bundles/${bundle.digest}/${p}`));
    const answers = await readAnswers(s, paths.length);
    s.destroy();
    answers.forEach((a, i) => {
      expect(a.status).toBe(200);
      expect(a.body.equals(bundle.files.get(paths[i]!)!.content)).toBe(true);
    });
  });

  it('a client that sends many and stops reading holds one file open, not one per request; each request gets its log line when it leaves', async () => {
    const file = await realpath(join(t.store, 'bundles', bundle.digest, 'rootfs', 'large.tar.gz'));
    const count = 64;
    const s = await pipeline(Number(new URL(server.url).port), Array(count).fill(target()));
    // the first answer is on its way, and the client reads no further
    await new Promise<void>((resolve) => s.once('data', () => (s.pause(), resolve())));
    // another download, to its end, while those requests wait
    const got = await curl(`${server.url}/bundles/${bundle.digest}/rootfs/other.tar.gz`);
    expect(got.body.equals(other)).toBe(true);
    expect(await openFilesOf(file)).toBe(1);
    s.destroy();
    await until('a log line for every pipelined request', () => server.accessLog.filter((e) => e.target === target()).length === count);
    const lines = server.accessLog.filter((e) => e.target === target());
    expect(lines.every((e) => e.aborted)).toBe(true);
    // the one being answered when the client left, and the others, which never had their turn
    expect(lines.filter((e) => e.status === 200)).toHaveLength(1);
    expect(lines.filter((e) => e.status === 0 && e.bytes === 0)).toHaveLength(count - 1);
    expect(await openFilesOf(file)).toBe(0);
  });

  // a malformed request pipelined behind others: refused without touching their answers
  /** Everything the server sends on one connection: `first` at once, `then` once the first bytes of the answer arrived. */
  const exchange = (first: string, then: string) =>
    new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const s = connect(Number(new URL(server.url).port), '127.0.0.1', () => s.write(first));
      s.once('data', () => s.write(then));
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('error', reject);
      s.on('close', () => resolve(Buffer.concat(chunks)));
    });

  it('a bad request arriving while a download is sent cuts the connection: no "HTTP/1.1 400" written into the file\'s bytes', async () => {
    const target = `/bundles/${bundle.digest}/rootfs/large.tar.gz`;
    const all = await exchange(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`, 'BAD\x01 / HTTP/1.1\r\n\r\n');
    const end = all.indexOf('\r\n\r\n');
    expect(all.subarray(0, end).toString('latin1')).toMatch(/^HTTP\/1\.1 200 /);
    const body = all.subarray(end + 4);
    // what arrived of the body is the file's own bytes, a prefix of it, and nothing else
    expect(body.length).toBeLessThan(large.length);
    expect(body.equals(large.subarray(0, body.length))).toBe(true);
    await until('the log line of the bad request', () => server.accessLog.some((e) => e.method === '' && e.aborted === true));
  }, 60_000);

  it('one arriving after the answers before it were sent is still answered 400', async () => {
    const target = `/bundles/${bundle.digest}/apt/dists/bookworm/Release`;
    const all = await exchange(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`, 'BAD\x01 / HTTP/1.1\r\n\r\n');
    const text = all.toString('latin1');
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    const content = bundle.files.get('apt/dists/bookworm/Release')!.content;
    const end = text.indexOf('\r\n\r\n');
    expect(all.subarray(end + 4, end + 4 + content.length).equals(content)).toBe(true);
    expect(all.subarray(end + 4 + content.length).toString('latin1')).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
  }, 60_000);
});
