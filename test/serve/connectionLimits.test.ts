import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { makeStore, sampleBundleFiles, type StoredBundle, type TestStore } from './makeStore.js';
import { spawnServe, type ServeProcess } from './spawnServe.js';

async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]);
}

/** A keep-alive connection to `port`. */
function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/**
 * One GET on `s`, read until its body (Content-Length bytes) is complete; resolves with the status, or with
 * 'closed' when the server closes the connection without answering.
 */
function get(s: Socket, target: string): Promise<number | 'closed'> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = buf.subarray(0, end).toString('latin1');
      const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length - end - 4 < length) return;
      done(Number(head.split(' ')[1]));
    };
    const onClose = () => done('closed');
    const done = (r: number | 'closed') => {
      s.off('data', onData);
      s.off('close', onClose);
      resolve(r);
    };
    s.on('data', onData);
    s.on('close', onClose);
    s.on('error', () => {});
    s.write(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
  });
}

describe('ferry serve caps its connections (--max-connections)', () => {
  let t: TestStore;
  let bundle: StoredBundle;
  let serve: ServeProcess;
  const CAP = 3;

  beforeAll(async () => {
    t = await makeStore();
    bundle = await t.addBundle('openstack', '2026.11.0', sampleBundleFiles());
    serve = await spawnServe(['--store', t.store, '--listen', '127.0.0.1:0', '--workers', '1', '--max-connections', String(CAP)]);
  });
  afterAll(async () => {
    serve.child.kill('SIGTERM');
    await serve.exited;
    await t.cleanup();
  });

  it('closes the connection beyond the cap unanswered, logs it, and keeps serving the ones it holds', async () => {
    const port = Number(new URL(serve.url).port);
    const target = `/bundles/${bundle.digest}/manifest.json`;
    // each answered: the server holds all of them open (keep-alive)
    const held = await Promise.all(Array.from({ length: CAP }, () => open(port)));
    for (const s of held) expect(await get(s, target)).toBe(200);
    const extra = await open(port);
    expect(await get(extra, target)).toBe('closed');
    // the ones it holds are still served, on the same connections
    for (const s of held) expect(await get(s, target)).toBe(200);
    await serve.stdoutWhen((out) => out.includes(`${CAP} connections open: connection closed`));
    // once one lets go, a new connection is served again
    await new Promise<void>((resolve) => {
      held[0]!.once('close', () => resolve());
      held[0]!.end();
    });
    // the server may take the new connection before it has counted the old one's close: then it is closed
    // unanswered and the next try is served (each try waits on the server's answer, not on a clock)
    let status: number | 'closed' = 'closed';
    for (let i = 0; i < 1000 && status === 'closed'; i++) {
      const again = await open(port);
      status = await get(again, target);
      again.destroy();
    }
    expect(status).toBe(200);
    for (const s of held) s.destroy();
  }, 120_000);
});

// in a cluster worker, server.maxConnections hands a connection beyond it back to the primary, which kept it,
// unread and without a timeout, until a worker had room: the cap is the worker's own, and closes it
describe('ferry serve --workers 2 caps the connections of each worker, closing the ones beyond', () => {
  let t: TestStore;
  let bundle: StoredBundle;
  let serve: ServeProcess;
  const CAP = 2;

  beforeAll(async () => {
    t = await makeStore();
    bundle = await t.addBundle('openstack', '2026.11.0', sampleBundleFiles());
    serve = await spawnServe(['--store', t.store, '--listen', '127.0.0.1:0', '--workers', '2', '--max-connections', String(CAP)]);
  });
  afterAll(async () => {
    serve.child.kill('SIGTERM');
    await serve.exited;
    await t.cleanup();
  });

  it('serves two connections per worker, and closes a fifth unanswered', async () => {
    const port = Number(new URL(serve.url).port);
    const target = `/bundles/${bundle.digest}/manifest.json`;
    // the primary hands connections to the workers in turn: two each
    const held: Socket[] = [];
    for (let i = 0; i < 2 * CAP; i++) {
      const s = await open(port);
      expect(await get(s, target)).toBe(200);
      held.push(s);
    }
    const extra = await open(port);
    expect(await get(extra, target)).toBe('closed');
    for (const s of held) expect(await get(s, target)).toBe(200);
    await serve.stdoutWhen((out) => out.includes(`${CAP} connections open: connection closed`));
    for (const s of held) s.destroy();
  }, 120_000);
});

describe('ferry serve bounds what clients that stop reading make it hold', () => {
  let t: TestStore;
  let bundle: StoredBundle;
  let serve: ServeProcess;
  // more than loopback's socket buffers take from a client that reads nothing
  const large = Buffer.alloc(32 * 1024 * 1024, 0x6b);
  const CLIENTS = 128;

  beforeAll(async () => {
    t = await makeStore();
    bundle = await t.addBundle('big', '1', { 'rootfs/large.tar.gz': large });
    serve = await spawnServe(['--store', t.store, '--listen', '127.0.0.1:0', '--workers', '1', '--no-access-log']);
  });
  afterAll(async () => {
    serve.child.kill('SIGTERM');
    await serve.exited;
    await t.cleanup();
  });

  // before, each download had two 512 KiB buffers filled and held while its client did not read: 128 such
  // clients grew the worker by ~128 MiB (a chunk per download now, and a small one beyond the worker's pool)
  it(`${CLIENTS} downloads whose clients read nothing after the first bytes grow the worker by less than 48 MiB`, async () => {
    const port = Number(new URL(serve.url).port);
    const target = `/bundles/${bundle.digest}/rootfs/large.tar.gz`;
    // one whole download first: what serving one at all costs is not counted
    const warm = await open(port);
    expect(await get(warm, target)).toBe(200);
    warm.destroy();
    const before = await rssKiB(serve.child.pid!);
    const stalled: Socket[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const s = await open(port);
      s.on('error', () => {});
      await new Promise<void>((resolve) => {
        s.once('data', () => {
          s.pause();
          resolve();
        });
        s.write(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
      });
      stalled.push(s);
    }
    const after = await rssKiB(serve.child.pid!);
    for (const s of stalled) s.destroy();
    expect((after - before) / 1024).toBeLessThan(48);
  }, 300_000);
});
