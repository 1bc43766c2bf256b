import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { makeStore, type TestStore } from './makeStore.js';

const FERRY = fileURLToPath(new URL('../../bin/ferry.js', import.meta.url));
const REQUESTS = 8000;
/** the log cuts it at 512 characters, and the target at 1024: each line is about 1.6 KB, 8,000 of them about 13 MB */
const USER_AGENT = 'u'.repeat(8000);
const TARGET = `/healthz?${'q'.repeat(1000)}`;

/**
 * The access log goes to standard output, which node writes to a pipe asynchronously: what the reader has
 * not taken waits in the server's memory. A reader that stopped (a stalled log shipper, a paused terminal)
 * made each request grow ferry serve's memory by its log line, without end. Now at most 8 MiB of log wait;
 * further lines are dropped, and once the output drains a warning on standard error says how many.
 */
describe('ferry serve whose standard output is not read', () => {
  let t: TestStore;
  beforeAll(async () => {
    t = await makeStore();
  });
  afterAll(async () => {
    await t.cleanup();
  });

  for (const workers of ['1', '2']) {
    it(`keeps at most 8 MiB of access log waiting, and says how many lines it dropped (--workers ${workers})`, async () => {
      const child = spawn(process.execPath, [FERRY, 'serve', '--store', t.store, '--listen', '127.0.0.1:0', '--workers', workers], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise((resolve) => child.once('exit', resolve));
      try {
        await vi.waitFor(() => expect(stderr).toMatch(/serving .* on http:\/\/127\.0\.0\.1:\d+\//), { timeout: 30_000, interval: 50 });
        const url = /on (http:\/\/127\.0\.0\.1:\d+)\//.exec(stderr)![1]!;
        // nothing reads the access log meanwhile (stdout has no reader attached: the pipe fills)
        const agent = new Agent({ connections: 1 });
        for (let i = 0; i < REQUESTS; i++) {
          const r = await request(`${url}${TARGET}`, { dispatcher: agent, headers: { 'user-agent': USER_AGENT } });
          await r.body.text();
          expect(r.statusCode).toBe(200);
        }
        await agent.close();
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        const dropped = () => Number(/(\d+) access log line\(s\) dropped: standard output was not being read/.exec(stderr)?.[1] ?? 0);
        // every request is either a line of the log or counted as dropped
        await vi.waitFor(() => expect(out.split('\n').filter((l) => l.includes('"/healthz?q')).length + dropped()).toBe(REQUESTS), { timeout: 30_000, interval: 50 });
        expect(dropped()).toBeGreaterThan(0);
      } finally {
        child.kill('SIGTERM');
        await exited;
      }
    }, 120_000);
  }
});
