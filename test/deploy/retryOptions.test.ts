import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFerry, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';

/**
 * `ferry status` and `ferry plan` refused --retries and --retry-delay (unknown option, exit 64), which deploy
 * and rollback take: an operator who copies a command's options to the next got a usage error. They take them
 * now, for reading the facts (default 2 retries, as before), and `deploy --check`, which took them, ignored
 * them. Each retry is a new connection: a loopback listener that closes every connection at once (ssh exit
 * 255, a dropped connection) counts them.
 */
describe('--retries and --retry-delay on status, plan and --check', () => {
  let dir = '';
  let server: Server;
  let connections = 0;
  let inventory = '';
  let store = '';
  let sshConfig = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-retry-options-'));
    server = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const port = (server.address() as { port: number }).port;
    inventory = join(dir, 'inventory.yaml');
    writeFileSync(inventory, stringify({ vars: { ferry_server: 'http://127.0.0.1:9', port: 8080 }, groups: { web: { hosts: ['down1'] } }, hosts: { down1: { address: '127.0.0.1', port, vars: { root: join(dir, 'root') } } } }));
    sshConfig = join(dir, 'ssh_config');
    writeFileSync(sshConfig, '');
    store = join(dir, 'store');
    writeRelease(store, { name: 'rt', version: '1', services: { web: webService('1.0.0') } });
  });
  afterAll(() => {
    server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const tries = async (...args: string[]) => {
    connections = 0;
    const r = await runFerry(...args, '-i', inventory, '--store', store, '-F', sshConfig);
    return { ...r, connections };
  };

  it('status and plan take them and read the facts that many times more; deploy --check and rollback too', async () => {
    for (const command of [['status'], ['plan', 'rt']]) {
      const once = await tries(...command, '--retries', '0', '--retry-delay', '1');
      expect(once.stderr).toContain('could not be asked for their facts: down1');
      expect(once.code).toBe(72);
      expect(once.connections).toBe(1);
      const thrice = await tries(...command, '--retries', '2', '--retry-delay', '1');
      expect(thrice.code).toBe(72);
      expect(thrice.connections).toBe(3);
    }
    // deploy --check read and compared with 2 retries whatever --retries said
    const check = await tries('deploy', 'rt', '--check', '--retries', '0', '--retry-delay', '1');
    expect(check.code, check.stderr).toBe(72);
    expect(check.connections).toBe(1);
    // rollback reads the facts it chooses the release by with its --retries too
    const rollback = await tries('rollback', 'rt', '--retries', '0', '--retry-delay', '1');
    expect(rollback.stderr).toContain('cannot tell which release down1');
    expect(rollback.connections).toBe(1);
  });
});
