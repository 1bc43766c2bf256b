import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FERRY_BIN, run } from '../helpers/cli.js';

/**
 * An error thrown outside any awaited call (an event handler) reaches the process. The test makes the
 * real one undici 7 throws (issue 5360: an unread body, a server that closes after the response) inside
 * a running `ferry serve`, with a plain undici client that lacks ferry's protection, loaded before ferry.
 */
describe('errors thrown outside any command step', () => {
  let dir: string;
  let server: Server;
  let inject: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-stray-'));
    await mkdir(join(dir, 'store'));
    server = createServer((sock: Socket) =>
      sock.once('data', () => {
        const body = Buffer.alloc(65_537, 0x61);
        sock.write(`HTTP/1.0 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
        sock.end(body);
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const undici = pathToFileURL(fileURLToPath(new URL('../../node_modules/undici/index.js', import.meta.url))).href;
    inject = join(dir, 'inject.mjs');
    await writeFile(
      inject,
      [
        `import { Agent, request } from ${JSON.stringify(undici)};`,
        // wait until ferry's main() is running, then leave a response body unread
        `const go = () => request('http://127.0.0.1:${(server.address() as { port: number }).port}/', { dispatcher: new Agent() });`,
        `const wait = () => (process.listenerCount('uncaughtException') > 0 ? go() : setImmediate(wait));`,
        'wait();',
        '',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const serve = (env: NodeJS.ProcessEnv = {}) =>
    run(process.execPath, ['--import', pathToFileURL(inject).href, FERRY_BIN, 'serve', '--store', join(dir, 'store'), '--listen', '127.0.0.1:0'], { env: { FERRY_DEBUG: '', ...env } });

  it('an HTTP client failure ends the command with exit 69 and one line, no stack trace', async () => {
    const r = await serve();
    expect(r.code).toBe(69);
    // `ferry serve` says where it serves, then the error: one line, no stack frames
    expect(r.stderr).not.toMatch(/^\s+at /m);
    const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^ferry: an upstream download failed inside the HTTP client \(AssertionError: .*\)\. Run the command again/);
    expect(lines[0]).toContain('run with FERRY_DEBUG=1 for the stack.');
  });

  it('FERRY_DEBUG=1 adds the stack', async () => {
    const r = await serve({ FERRY_DEBUG: '1' });
    expect(r.code).toBe(69);
    expect(r.stderr).toMatch(/\n\s+at .*undici/);
  });
});
