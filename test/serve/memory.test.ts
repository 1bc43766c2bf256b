import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { get } from 'node:http';
import { makeStore, type StoredBundle, type TestStore } from './makeStore.js';
import { spawnServe, type ServeProcess } from './spawnServe.js';

const SIZE = 256 * 1024 * 1024;
const CLIENTS = 4;

async function memoryKiB(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)![1]);
}

describe('ferry serve streams: memory stays flat whatever the file size', () => {
  let t: TestStore;
  let bundle: StoredBundle;
  let serve: ServeProcess;

  beforeAll(async () => {
    t = await makeStore();
    const big = Buffer.alloc(SIZE, 0x5a);
    bundle = await t.addBundle('big', '1', { 'rootfs/huge.tar.gz': big });
    serve = await spawnServe(['--store', t.store, '--listen', '127.0.0.1:0', '--no-access-log', '--workers', '2']);
  });
  afterAll(async () => {
    serve.child.kill('SIGTERM');
    await serve.exited;
    await t.cleanup();
  });

  it(`sends ${CLIENTS} × ${SIZE / 2 ** 20} MiB with the server's peak memory (its workers' together) growing by less than 64 MiB`, async () => {
    const pids = await serve.workerPids();
    expect(pids).toHaveLength(2);
    const sum = async (field: 'VmRSS' | 'VmHWM') => (await Promise.all(pids.map((p) => memoryKiB(p, field)))).reduce((a, b) => a + b, 0);
    const before = await sum('VmRSS');
    const expected = bundle.files.get('rootfs/huge.tar.gz')!.sha256;
    const hashes = await Promise.all(
      Array.from(
        { length: CLIENTS },
        () =>
          new Promise<string>((resolve, reject) => {
            get(`${serve.url}/releases/big/1/rootfs/huge.tar.gz`, (res) => {
              const h = createHash('sha256');
              res.on('data', (c: Buffer) => h.update(c));
              res.on('end', () => resolve(h.digest('hex')));
              res.on('error', reject);
            }).on('error', reject);
          }),
      ),
    );
    expect(hashes).toEqual(Array(CLIENTS).fill(expected));
    const peak = await sum('VmHWM');
    expect((peak - before) / 1024).toBeLessThan(64);
  });
});
