import { beforeAll, describe, expect, it, vi } from 'vitest';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { fs as memfs, vol } from 'memfs';
import fc from 'fast-check';
import * as openpgp from 'openpgp';

// A killed gc is simulated by making the n-th file-system change (unlink, rename, rm, rmdir) fail, and
// every one after it: the process is gone, nothing more happens.
const kill = { after: Infinity };
function killable<T extends (...args: any[]) => Promise<unknown>>(fn: T): T {
  return (async (...args: unknown[]) => {
    if (--kill.after < 0) throw Object.assign(new Error('killed'), { code: 'EKILLED' });
    return fn(...args);
  }) as T;
}
vi.mock('node:fs/promises', () => {
  const p = memfs.promises;
  const mocked = { ...p, unlink: killable(p.unlink), rename: killable(p.rename), rm: killable(p.rm), rmdir: killable(p.rmdir) };
  return { ...mocked, default: mocked };
});
vi.mock('node:fs', () => ({ ...memfs, default: memfs }));
// syncfs is spawned (`sync -f`) on the real disk, which holds none of memfs' files
vi.mock('../../src/util/syncFileSystem.js', () => ({ syncFileSystem: async () => {} }));
// memfs renames a symlink's target instead of the link, so the STORE/releases link farm is left to the
// real-disk test (gc.test.ts)
vi.mock('../../src/store/syncReleaseLinks.js', () => ({ syncReleaseLinks: async () => ({ created: [], updated: [], removed: [] }) }));

const { importBundle } = await import('../../src/store/importBundle.js');
const { collectGarbage } = await import('../../src/store/collectGarbage.js');
const { generateKey } = await import('../../src/pgp/generateKey.js');
const { craftBundle, manifestFor } = await import('../helpers/craft.js');
const { planDifferential } = await import('../../src/bundle/planDifferential.js');
const { manifestDigest, serializeManifest } = await import('../../src/bundle/manifest.js');

const STORE = '/store';
const NAMES = ['app', 'db'] as const;
const VERSIONS = 4;

interface Variant {
  name: string;
  version: string;
  epoch: string;
  digest: string;
  bytes: Buffer;
  differential: boolean;
}

/**
 * A pool of releases: two names, four versions each, whose files share content across versions (so
 * blobs are shared), each as a full bundle and as a differential bundle over the previous version.
 */
async function makePool(): Promise<{ pool: Variant[]; key: openpgp.PublicKey }> {
  const k = await generateKey({ name: 'gc team' });
  const key = await openpgp.readPrivateKey({ armoredKey: k.secretArmored });
  const pool: Variant[] = [];
  for (const name of NAMES) {
    let previous: ReturnType<typeof manifestFor> | undefined;
    let previousDigest = '';
    for (let v = 1; v <= VERSIONS; v++) {
      const files = [
        { path: 'files/svc/common.txt', data: Buffer.from('shared by every release\n') },
        { path: 'files/svc/major.txt', data: Buffer.from(`${name} major ${Math.ceil(v / 2)}\n`) },
        { path: `files/svc/v${v}.txt`, data: Buffer.from(`${name} ${v}\n`) },
      ];
      const epoch = `2026-11-0${v}T00:00:00.000Z`;
      const manifest = manifestFor(files, { name, version: `${v}.0.0`, epoch });
      const full = await craftBundle(manifest, key, files);
      const digest = manifestDigest(serializeManifest(manifest));
      pool.push({ name, version: `${v}.0.0`, epoch, digest, bytes: full, differential: false });
      if (previous) {
        const plan = planDifferential(previous, manifest.entries);
        const dm = { ...manifest, base: { name, version: previous.version, digest: previousDigest }, omitted: plan.omitted };
        const omitted = new Set(plan.omitted);
        const bytes = await craftBundle(dm, key, files.filter((f) => !omitted.has(f.path)));
        pool.push({ name, version: `${v}.0.0`, epoch, digest: manifestDigest(serializeManifest(dm)), bytes, differential: true });
      }
      previous = manifest;
      previousDigest = digest;
    }
  }
  return { pool, key: key.toPublic() };
}

/** every file of the store with its content (empty folders of the layout do not count) */
const files = () => Object.fromEntries(Object.entries(vol.toJSON()).filter(([, v]) => v !== null));
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const ls = (dir: string): string[] => (vol.existsSync(dir) ? (vol.readdirSync(dir) as string[]).sort() : []);

interface StoreRelease {
  name: string;
  version: string;
  digest: string;
  epoch: string;
  entries: Array<{ path: string; sha256: string }>;
}

function releasesInStore(): StoreRelease[] {
  const out: StoreRelease[] = [];
  for (const name of ls(`${STORE}/refs`)) {
    for (const version of ls(`${STORE}/refs/${name}`).filter((v) => !v.startsWith('.'))) {
      const digest = (vol.readFileSync(`${STORE}/refs/${name}/${version}`, 'utf8') as string).trim();
      const m = JSON.parse(vol.readFileSync(`${STORE}/bundles/${digest}/manifest.json`, 'utf8') as string);
      out.push({ name, version, digest, epoch: m.epoch, entries: m.entries });
    }
  }
  return out;
}

/** Every visible release is whole: its tree holds every entry, and every blob it references is there with the right bytes. */
function expectReleasesWhole(): void {
  for (const r of releasesInStore()) {
    for (const e of r.entries) {
      const blob = `${STORE}/blobs/sha256/${e.sha256}`;
      expect(vol.existsSync(blob), `${r.name} ${r.version}: blob of ${e.path}`).toBe(true);
      expect(sha(vol.readFileSync(blob) as Buffer)).toBe(e.sha256);
      expect(sha(vol.readFileSync(`${STORE}/bundles/${r.digest}/${e.path}`) as Buffer)).toBe(e.sha256);
    }
  }
}

type Op = { op: 'import'; pick: number } | { op: 'gc'; keep: number; protect: number[]; dryRun: boolean };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('import' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('gc' as const), keep: fc.integer({ min: 1, max: 3 }), protect: fc.array(fc.nat(), { maxLength: 2 }), dryRun: fc.boolean() }) },
);

describe('ferry gc (memfs, random sequences of imports and gcs)', () => {
  let pool: Variant[];
  let keys: openpgp.PublicKey[];

  beforeAll(async () => {
    const made = await makePool();
    pool = made.pool;
    keys = [made.key];
  });

  async function fresh(): Promise<void> {
    vol.reset();
    vol.mkdirSync(`${STORE}/refs`, { recursive: true });
    kill.after = Infinity;
  }

  async function importVariant(v: Variant): Promise<'ok' | 'refused'> {
    const before = files();
    try {
      await importBundle(Readable.from([v.bytes]), { storeDir: STORE, keys });
      return 'ok';
    } catch (err) {
      // refused only when a differential bundle's base blobs are gone, or when the other variant
      // (full or differential: two signed bundles, two digests) of the same version is there; then nothing changed
      const other = releasesInStore().some((r) => r.name === v.name && r.version === v.version);
      if (other) expect(String(err)).toMatch(/already holds .* as [0-9a-f]{64}, this bundle is/);
      else expect(String(err)).toMatch(/is a differential bundle over .* and this store lacks/);
      expect(files()).toEqual(before);
      return 'refused';
    }
  }

  it('never removes a blob a kept release references; keeps the newest N per name and every protected one; leaves nothing unreferenced', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 14 }), async (ops) => {
        await fresh();
        for (const o of ops) {
          if (o.op === 'import') {
            await importVariant(pool[o.pick % pool.length]!);
            expectReleasesWhole();
            continue;
          }
          const before = releasesInStore();
          const protect = o.protect.map((i) => pool[i % pool.length]!.digest);
          const snapshot = vol.toJSON();
          const r = await collectGarbage({ storeDir: STORE, keep: o.keep, protect, dryRun: o.dryRun });
          if (o.dryRun) {
            expect(vol.toJSON()).toEqual(snapshot);
            continue;
          }
          const after = releasesInStore();
          for (const name of NAMES) {
            const mine = before.filter((x) => x.name === name).sort((a, b) => b.epoch.localeCompare(a.epoch));
            const expected = mine.filter((x, i) => i < o.keep || protect.includes(x.digest)).map((x) => x.digest);
            expect(after.filter((x) => x.name === name).map((x) => x.digest).sort()).toEqual(expected.sort());
          }
          expect(r.removed.length).toBe(before.length - after.length);
          expectReleasesWhole();
          const referenced = new Set(after.flatMap((x) => x.entries.map((e) => e.sha256)));
          expect(ls(`${STORE}/blobs/sha256`).filter((b) => !referenced.has(b))).toEqual([]);
          expect(ls(`${STORE}/bundles`)).toEqual(after.map((x) => x.digest).sort());
          expect(ls(`${STORE}/.tmp`)).toEqual([]);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('a gc killed at any step leaves every visible release whole, and the next gc finishes the job', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { minLength: 2, maxLength: 10 }), fc.nat({ max: 40 }), fc.integer({ min: 1, max: 2 }), async (picks, killAfter, keep) => {
        await fresh();
        for (const p of picks) await importVariant(pool[p % pool.length]!);
        kill.after = killAfter;
        await collectGarbage({ storeDir: STORE, keep }).catch((err) => {
          if (err.code !== 'EKILLED') throw err;
        });
        kill.after = Infinity;
        expectReleasesWhole();
        // the killed process is gone: its scratch folder now names a dead pid
        for (const d of ls(`${STORE}/.tmp`)) vol.writeFileSync(`${STORE}/.tmp/${d}/pid`, '999999999\n');
        const visible = releasesInStore();
        await collectGarbage({ storeDir: STORE, keep });
        expectReleasesWhole();
        const after = releasesInStore();
        const referenced = new Set(after.flatMap((x) => x.entries.map((e) => e.sha256)));
        expect(ls(`${STORE}/blobs/sha256`).filter((b) => !referenced.has(b))).toEqual([]);
        expect(ls(`${STORE}/bundles`)).toEqual(after.map((x) => x.digest).sort());
        expect(ls(`${STORE}/.tmp`)).toEqual([]);
        for (const name of NAMES) expect(after.filter((x) => x.name === name).length).toBe(Math.min(keep, visible.filter((x) => x.name === name).length));
      }),
      { numRuns: 60 },
    );
  });

  it('protects a release named as NAME/VERSION or by a digest prefix; a full digest the store never had protects nothing; an unknown name stops gc', async () => {
    await fresh();
    const app = (v: number) => pool.find((x) => x.name === 'app' && x.version === `${v}.0.0` && !x.differential)!;
    for (const v of [1, 2, 3, 4]) await importVariant(app(v));
    const before = files();
    await expect(collectGarbage({ storeDir: STORE, keep: 1, protect: ['app/9.0.0'] })).rejects.toThrow(/no release app\/9\.0\.0 in store \/store/);
    expect(files()).toEqual(before);
    const r = await collectGarbage({ storeDir: STORE, keep: 1, protect: ['app/1.0.0', app(2).digest.slice(0, 12), 'f'.repeat(64)] });
    expect(r.kept.map((x) => `${x.version} ${x.reason}`).sort()).toEqual(['1.0.0 protected', '2.0.0 protected', '4.0.0 newest']);
    expect(r.removed.map((x) => x.version)).toEqual(['3.0.0']);
    expect(releasesInStore().map((x) => x.version).sort()).toEqual(['1.0.0', '2.0.0', '4.0.0']);
  });

  it('a dry run reports the stale scratch folders the real run then sweeps, and removes nothing', async () => {
    await fresh();
    await importVariant(pool[0]!);
    // an import killed part-way (its pid is gone), and a gc of another live process
    vol.mkdirSync(`${STORE}/.tmp/import-killed/bundle`, { recursive: true });
    vol.writeFileSync(`${STORE}/.tmp/import-killed/pid`, '999999999\n');
    vol.writeFileSync(`${STORE}/.tmp/import-killed/bundle/part`, 'x'.repeat(4096));
    vol.mkdirSync(`${STORE}/.tmp/gc-other`, { recursive: true });
    vol.writeFileSync(`${STORE}/.tmp/gc-other/pid`, `${process.ppid}\n`);
    const before = files();
    const dry = await collectGarbage({ storeDir: STORE, keep: 1, dryRun: true });
    expect(dry.scratch).toBe(1);
    expect(files()).toEqual(before);
    const real = await collectGarbage({ storeDir: STORE, keep: 1 });
    expect(real.scratch).toBe(dry.scratch);
    expect(ls(`${STORE}/.tmp`)).toEqual(['gc-other']);
  });

  it('gc and import refuse to run while the other runs on the same store, and change nothing', async () => {
    await fresh();
    await importVariant(pool[0]!);
    // another live process (our parent) owns the scratch folder
    vol.mkdirSync(`${STORE}/.tmp/import-running`, { recursive: true });
    vol.writeFileSync(`${STORE}/.tmp/import-running/pid`, `${process.ppid}\n`);
    let before = files();
    await expect(collectGarbage({ storeDir: STORE, keep: 1 })).rejects.toThrow(new RegExp(`an import \\(pid ${process.ppid}, /store/.tmp/import-running\\) is running on /store: run gc when it has finished`));
    expect(files()).toEqual(before);
    vol.rmSync(`${STORE}/.tmp/import-running`, { recursive: true });
    vol.mkdirSync(`${STORE}/.tmp/gc-running`, { recursive: true });
    vol.writeFileSync(`${STORE}/.tmp/gc-running/pid`, `${process.ppid}\n`);
    before = files();
    await expect(importBundle(Readable.from([pool[1]!.bytes]), { storeDir: STORE, keys })).rejects.toThrow(new RegExp(`ferry gc \\(pid ${process.ppid}, /store/.tmp/gc-running\\) is running on /store: import when it has finished`));
    expect(files()).toEqual(before);
  });
});
