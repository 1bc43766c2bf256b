import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { forEachHost } from '../../src/deploy/forEachHost.js';
import { hostSettings } from '../../src/deploy/hostSettings.js';
import { parseInventory } from '../../src/deploy/loadInventory.js';

/**
 * ssh takes the first value given for an option. The inventory may say how long to wait for a host and how
 * often to probe it (ssh_options: ConnectTimeout, ServerAliveInterval, ServerAliveCountMax); ferry's own
 * defaults for them came first on the command line, so the inventory's were silently ignored. The system
 * ssh answers with `ssh -G` what it would use, connecting nowhere.
 */
describe('ssh_options against ferry\'s defaults', () => {
  const effective = async (program: string, sshOptions: Record<string, unknown> | undefined) => {
    const inventory = parseInventory(JSON.stringify({ hosts: { h1: { address: 'h1.example.org', port: 2222, vars: sshOptions ? { ssh_options: sshOptions } : {} } } }), 'inventory.yaml');
    const items = inventory.hosts.map((host) => ({ host, settings: hostSettings(host, inventory.file) }));
    const config = new Map<string, string>();
    await forEachHost(items, { ssh: { configFile: '/dev/null', program } }, async (_item, transport) => {
      const r = await transport.run('true');
      for (const line of r.stdout.split('\n')) {
        const [k, ...v] = line.split(' ');
        if (k) config.set(k, v.join(' '));
      }
    });
    return config;
  };

  it('uses the inventory\'s timeouts and keep-alives, and ferry\'s defaults where it gives none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-ssh-options-order-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const program = join(dir, 'ssh-G.sh');
    writeFileSync(program, '#!/bin/sh\nexec ssh -G "$@"\n');
    chmodSync(program, 0o755);
    const mine = await effective(program, { ConnectTimeout: 60, ServerAliveInterval: 30, ServerAliveCountMax: 10 });
    expect([mine.get('connecttimeout'), mine.get('serveraliveinterval'), mine.get('serveralivecountmax')]).toEqual(['60', '30', '10']);
    // what ferry's connection depends on stays ferry's
    expect([mine.get('batchmode'), mine.get('hostname'), mine.get('port')]).toEqual(['yes', 'h1.example.org', '2222']);
    const defaults = await effective(program, undefined);
    expect([defaults.get('connecttimeout'), defaults.get('serveraliveinterval'), defaults.get('serveralivecountmax')]).toEqual(['15', '5', '3']);
  });
});
