import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/deploy/loadInventory.js';
import { prepareTargets } from '../../src/deploy/prepareTargets.js';
import { loadRelease } from '../../src/store/loadRelease.js';
import { writeRelease } from './storeFixture.js';

describe('what each host of a fleet gets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-targets-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('shares one artifact list and the host-independent stage keys of a service across its hosts; configure keys follow each host\'s variables', async () => {
    const store = join(dir, 'store');
    writeRelease(store, {
      name: 'fleet',
      version: '1',
      services: {
        web: { version: '1.0.0', groups: ['web'], files: { 'a.conf.j2': 'port {{ port }}\n', 'b.bin': 'b' }, configure: [{ template: { src: 'a.conf.j2', dest: '/etc/a.conf' } }] },
      },
    });
    const release = await loadRelease(store, 'fleet@1');
    const inventory = parseInventory(JSON.stringify({ groups: { web: { hosts: ['w1', 'w2', 'w3'], vars: { port: 80 } } }, hosts: { w1: { address: '10.0.0.1' }, w2: { address: '10.0.0.2' }, w3: { address: '10.0.0.3', vars: { port: 81 } } } }), 'fleet.yaml');
    const [w1, w2, w3] = prepareTargets(release, inventory, inventory.hosts).map((t) => t.services[0]!);
    // one list in the runner's memory, whatever the number of hosts
    expect(w2!.entries).toBe(w1!.entries);
    expect(w3!.entries).toBe(w1!.entries);
    expect(w1!.entries.map((e) => e.path)).toEqual(['files/web/a.conf.j2', 'files/web/b.bin']);
    expect([w2!.keys.stage, w3!.keys.stage, w2!.keys.install, w3!.keys.install]).toEqual([w1!.keys.stage, w1!.keys.stage, w1!.keys.install, w1!.keys.install]);
    expect(w2!.keys.configure).toBe(w1!.keys.configure);
    expect(w3!.keys.configure).not.toBe(w1!.keys.configure);
  });
});
