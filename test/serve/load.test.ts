import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { Agent, get } from 'node:http';
import { makeStore, sampleBundleFiles, type StoredBundle, type TestStore } from './makeStore.js';
import { spawnServe, type ServeProcess } from './spawnServe.js';
import { until } from '../helpers/until.js';

const CLIENTS = 200;
const SMALL_PER_CLIENT = 10;
const LARGE_SIZE = 8 * 1024 * 1024;

/** GET a URL; resolves with status and the body's sha256, computed while it streams. */
function fetchHash(agent: Agent, url: string): Promise<{ status: number; sha256: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent }, (res) => {
      const h = createHash('sha256');
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        h.update(c);
        bytes += c.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, sha256: h.digest('hex'), bytes }));
      res.on('error', reject);
    });
    req.setTimeout(60_000, () => req.destroy(new Error(`timeout on ${url}`)));
    req.on('error', reject);
  });
}

describe('ferry serve under load (loopback, bounded)', () => {
  let t: TestStore;
  let bundle: StoredBundle;
  let serve: ServeProcess;

  beforeAll(async () => {
    t = await makeStore();
    bundle = await t.addBundle('openstack', '2026.11.0', sampleBundleFiles({ 'rootfs/large.tar.gz': randomBytes(LARGE_SIZE) }));
    // two workers: the access log's lines come from both, through the primary
    serve = await spawnServe(['--store', t.store, '--listen', '127.0.0.1:0', '--json', '--workers', '2']);
  });
  afterAll(async () => {
    serve.child.kill('SIGTERM');
    await serve.exited;
    await t.cleanup();
  });

  it(`${CLIENTS} concurrent clients fetch small indexes and a large file with 0 errors and correct bodies`, async () => {
    const small = [...bundle.files.values()].filter((f) => f.content.length < 100_000);
    const large = bundle.files.get('rootfs/large.tar.gz')!;
    const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
    const base = `${serve.url}/releases/openstack/2026.11.0`;
    const errors: string[] = [];
    let ok = 0;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        // each client: its share of small files, with the large file somewhere in the middle
        const plan = Array.from({ length: SMALL_PER_CLIENT }, (_, i) => small[(c + i) % small.length]!);
        plan.splice(c % SMALL_PER_CLIENT, 0, large);
        for (const f of plan) {
          try {
            const r = await fetchHash(agent, `${base}/${f.path}`);
            if (r.status !== 200) errors.push(`${f.path}: HTTP ${r.status}`);
            else if (r.sha256 !== f.sha256) errors.push(`${f.path}: body sha256 ${r.sha256} (${r.bytes} bytes), expected ${f.sha256}`);
            else ok++;
          } catch (err) {
            errors.push(`${f.path}: ${(err as Error).message}`);
          }
        }
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    agent.destroy();
    expect(errors.slice(0, 10)).toEqual([]);
    expect(ok).toBe(CLIENTS * (SMALL_PER_CLIENT + 1));
    // a line is written when the server sees its response complete, a moment after the client does
    const logLines = () => serve.stdout().trim().split('\n').map((l) => JSON.parse(l) as { status: number; bytes: number; target: string });
    await until('every access log line', () => logLines().length >= ok, 20);
    const lines = logLines();
    expect(lines.filter((l) => l.status === 200).length).toBe(ok);
    expect(lines.filter((l) => l.target.endsWith('large.tar.gz')).every((l) => l.bytes === LARGE_SIZE)).toBe(true);
    console.log(`load: ${ok} requests (${CLIENTS} clients, ${((CLIENTS * LARGE_SIZE) / 2 ** 20).toFixed(0)} MiB of large bodies) in ${seconds.toFixed(1)} s`);
  });
});
