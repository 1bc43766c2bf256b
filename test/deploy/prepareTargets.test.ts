import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/deploy/loadInventory.js';
import { prepareTargets } from '../../src/deploy/prepareTargets.js';
import { loadRelease } from '../../src/store/loadRelease.js';
import { canonicalJson } from '../../src/util/canonicalJson.js';
import { sha256Hex } from '../../src/util/sha256.js';
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

  it('puts into the stage and install keys the values of the variables their steps and templates name, and only those: a changed tree dest runs install again', async () => {
    const store = join(dir, 'store-vars');
    writeRelease(store, {
      name: 'fleet',
      version: '1',
      services: {
        // install names root (an option) and site (in the template it renders), stage names stamp
        tree: {
          version: '1.0.0',
          groups: ['web'],
          files: { 'env.j2': 'site {{ site }}\n' },
          stage: [{ command: { run: 'echo {{ stamp }}' } }],
          install: [{ command: { run: 'mkdir -p {{ root }}/srv' } }, { template: { src: 'env.j2', dest: '/etc/env' } }],
        },
        // names no variable: one install key on every host, the one facts written before keys held variables carry
        plain: { version: '1.0.0', groups: ['web'], install: [{ command: { run: 'true' } }], configure: [{ command: { run: 'echo {{ port }}' } }] },
      },
    });
    const release = await loadRelease(store, 'fleet@1');
    const hosts = (h2: Record<string, unknown>) =>
      parseInventory(JSON.stringify({ groups: { web: { hosts: ['w1', 'w2'], vars: { port: 80, root: '/r', site: 'a', stamp: 1 } } }, hosts: { w1: { address: '10.0.0.1' }, w2: { address: '10.0.0.2', vars: h2 } } }), 'fleet.yaml');
    const keys = (h2: Record<string, unknown>) => {
      const inv = hosts(h2);
      return prepareTargets(release, inv, inv.hosts).map((t) => Object.fromEntries(t.services.map((s) => [s.name, s.keys])));
    };
    const [w1, same] = keys({});
    expect(same).toEqual(w1);
    for (const [changed, stage] of [[{ root: '/other' }, 'install'], [{ site: 'b' }, 'install'], [{ stamp: 2 }, 'stage']] as const) {
      const [, w2] = keys(changed);
      expect(w2!.tree![stage], JSON.stringify(changed)).not.toBe(w1!.tree![stage]);
      expect([w2!.plain!.stage, w2!.plain!.install]).toEqual([w1!.plain!.stage, w1!.plain!.install]);
    }
    // a variable no stage or install step names leaves those keys alone (configure reads every variable)
    const [, port] = keys({ port: 81 });
    expect([port!.tree!.stage, port!.tree!.install, port!.plain!.stage, port!.plain!.install]).toEqual([w1!.tree!.stage, w1!.tree!.install, w1!.plain!.stage, w1!.plain!.install]);
    expect(port!.plain!.configure).not.toBe(w1!.plain!.configure);
    const [target] = prepareTargets(release, hosts({}), hosts({}).hosts);
    const plain = target!.services.find((s) => s.name === 'plain')!;
    expect(plain.keys.install).toBe(sha256Hex(canonicalJson({ stage: 'install', version: '1.0.0', artifacts: plain.artifacts, steps: plain.steps.install, vars: null })));
  });
});
