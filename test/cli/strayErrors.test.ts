import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FERRY_BIN, run } from '../helpers/cli.js';

/**
 * An error thrown outside any awaited call (an event handler) reaches the process. The test makes undici
 * throw from its own code inside an event handler of a running `ferry serve`, loaded before ferry: the way
 * undici 7's parser fails when a server closes after an unread response (issue 5360), without the race.
 */
describe('errors thrown outside any command step', () => {
  let dir: string;
  let inject: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-stray-'));
    await mkdir(join(dir, 'store'));
    const undici = pathToFileURL(fileURLToPath(new URL('../../node_modules/undici/index.js', import.meta.url))).href;
    inject = join(dir, 'inject.mjs');
    await writeFile(
      inject,
      [
        `import { Pool } from ${JSON.stringify(undici)};`,
        // once ferry's main() is running, undici throws from its own code inside an event handler, outside any
        // promise ferry awaits: what its HTTP/1 parser does when a server closes at the wrong moment (issue 5360),
        // made deterministic (the real race does not happen on every machine)
        `const go = () => new Pool('http://127.0.0.1:9', { connections: -1 });`,
        `const wait = () => (process.listenerCount('uncaughtException') > 0 ? setImmediate(go) : setImmediate(wait));`,
        'wait();',
        '',
      ].join('\n'),
    );
  });
  afterAll(async () => {
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
    expect(lines[0]).toMatch(/^ferry: an upstream download failed inside the HTTP client \(InvalidArgumentError: .*\)\. Run the command again/);
    expect(lines[0]).toContain('run with FERRY_DEBUG=1 for the stack.');
  });

  it('FERRY_DEBUG=1 adds the stack', async () => {
    const r = await serve({ FERRY_DEBUG: '1' });
    expect(r.code).toBe(69);
    expect(r.stderr).toMatch(/\n\s+at .*undici/);
  });
});
