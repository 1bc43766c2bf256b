import { beforeAll, describe, expect, it } from 'vitest';
import { cp, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeKey } from '../helpers/keys.js';
import { snapshotTree } from '../helpers/tree.js';
import { buildRelease, ferry, importInto } from './fixtures.js';

/** ferry gc through the real binary: what it prints, --dry-run, --protect. The invariants are in gc-memfs.test.ts. */
describe('ferry gc', () => {
  let dir: string;
  let store: string;
  const digests: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-gc-'));
    const team = await writeKey(dir, 'team');
    store = join(dir, 'store');
    for (let v = 1; v <= 3; v++) {
      const files = { 'common.txt': 'same in every release\n', [`v${v}.txt`]: `release ${v}\n` };
      const { bundle } = await buildRelease(dir, team.secret, { version: `${v}.0.0`, epoch: `2026-11-2${v}T00:00:00Z`, files });
      await importInto(store, bundle, team.public);
      digests.push(JSON.parse((await ferry(['inspect', bundle, '--json'])).stdout).digest);
    }
  });

  async function copyStore(name: string): Promise<string> {
    const d = join(dir, name);
    await cp(store, d, { recursive: true });
    return d;
  }

  it('--dry-run says what it would remove and changes nothing', async () => {
    const s = await copyStore('dry');
    const before = await snapshotTree(s);
    const r = await ferry(['gc', '--store', s, '--keep', '1', '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/would remove\s+app\s+1\.0\.0/);
    expect(r.stdout).toMatch(/would remove\s+app\s+2\.0\.0/);
    expect(r.stdout).toMatch(/dry run: would remove 2 release\(s\), 0 unreferenced tree\(s\), 4 blob\(s\)/);
    expect(await snapshotTree(s)).toEqual(before);
  });

  it('keeps the newest N by epoch and removes the rest with the blobs only they used', async () => {
    const s = await copyStore('keep1');
    const r = await ferry(['gc', '--store', s, '--keep', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.removed.map((x: { version: string }) => x.version).sort()).toEqual(['1.0.0', '2.0.0']);
    const list = JSON.parse((await ferry(['list', '--store', s, '--json'])).stdout);
    expect(list.map((x: { version: string }) => x.version)).toEqual(['3.0.0']);
    const files = Object.keys(await snapshotTree(s));
    expect(files.filter((f) => f.startsWith('bundles/') && f.endsWith('/'))).not.toContain(`bundles/${digests[0]}/`);
    // common.txt, v3.txt, the bundle key and v3's SBOM are left (each release's SBOM names its version: its own blob)
    expect(files.filter((f) => /^blobs\/sha256\/[0-9a-f]{64}$/.test(f))).toHaveLength(4);
    // the links a static web server follows point at kept releases only
    expect(files.filter((f) => f.startsWith('releases/app/') && !f.endsWith('/'))).toEqual(['releases/app/3.0.0']);
    expect(await readFile(join(s, 'releases.json'), 'utf8')).not.toContain(digests[0]!);
  });

  it('never removes a protected release (the one a host runs)', async () => {
    const s = await copyStore('protect');
    const r = await ferry(['gc', '--store', s, '--keep', '1', '--protect', digests[0]!.slice(0, 12)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/kept \(protected\)\s+app\s+1\.0\.0/);
    const list = JSON.parse((await ferry(['list', '--store', s, '--json'])).stdout);
    expect(list.map((x: { version: string }) => x.version)).toEqual(['1.0.0', '3.0.0']);
  });

  it('refuses --keep 0 and a folder that is not a store', async () => {
    const zero = await ferry(['gc', '--store', store, '--keep', '0']);
    expect(zero.code).toBe(64);
    expect(zero.stderr).toMatch(/--keep 0: expected a whole number of releases, at least 1/);
    const notStore = await ferry(['gc', '--store', dir, '--keep', '1']);
    expect(notStore.code).toBe(71);
    expect(notStore.stderr).toMatch(/is not a ferry store \(no refs\/ folder\)/);
  });

  it('--inventory keeps every release a host reports in its facts', async () => {
    const s = await copyStore('inventory');
    const facts = join(dir, 'facts');
    await mkdir(facts, { recursive: true });
    // host h1 (run locally) still runs release 1.0.0
    const fact = { format: 'ferry-fact/1', service: 'svc', host: 'h1', version: '1.0.0', digest: digests[0], release: { name: 'app', version: '1.0.0' }, stages: {} };
    await writeFile(join(facts, 'svc.json'), JSON.stringify(fact));
    await writeFile(join(dir, 'inventory.yaml'), 'hosts:\n  h1: { transport: local }\n');
    const r = await ferry(['gc', '--store', s, '--keep', '1', '--allow-local', '--inventory', join(dir, 'inventory.yaml'), '--facts-dir', facts]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/kept \(protected\)\s+app\s+1\.0\.0/);
    expect(r.stdout).toMatch(/removed\s+app\s+2\.0\.0/);
  });

  it('--inventory with a host that cannot be asked removes nothing', async () => {
    const s = await copyStore('unreachable');
    const before = await snapshotTree(s);
    await writeFile(join(dir, 'bad-inventory.yaml'), 'hosts:\n  gone: { address: 127.0.0.1, port: 1 }\n');
    const r = await ferry(['gc', '--store', s, '--keep', '1', '--allow-local', '--inventory', join(dir, 'bad-inventory.yaml')]);
    expect(r.code).toBe(72);
    expect(r.stderr).toMatch(/gc removes nothing: cannot tell which release gone \(unreachable: .*\) runs\. Fix those hosts, leave them out with --limit, or name their releases with --protect/);
    expect(await snapshotTree(s)).toEqual(before);
  });

  it('--inventory with many hosts that cannot be asked: one line naming the first five, the rest counted', async () => {
    const s = await copyStore('unreachable-many');
    const before = await snapshotTree(s);
    const names = ['g1', 'g2', 'g3', 'g4', 'g5', 'g6', 'g7', 'g8'];
    await writeFile(join(dir, 'many-gone.yaml'), `hosts:\n${names.map((n) => `  ${n}: { address: 127.0.0.1, port: 1 }\n`).join('')}`);
    const r = await ferry(['gc', '--store', s, '--keep', '1', '--inventory', join(dir, 'many-gone.yaml')]);
    expect(r.code).toBe(72);
    expect(r.stderr.split('\n')).toHaveLength(2);
    expect(r.stderr).toMatch(/^ferry: gc removes nothing: cannot tell which release g1 \(unreachable: .* and 3 more runs\. Fix those hosts, leave them out with --limit, or name their releases with --protect\n$/);
    // in the inventory's order, whichever failed first
    const named = [...r.stderr.matchAll(/(?:release |\), )(g\d) \(unreachable: /g)].map((m) => m[1]);
    expect(named).toEqual(['g1', 'g2', 'g3', 'g4', 'g5']);
    expect(await snapshotTree(s)).toEqual(before);
  });
});
