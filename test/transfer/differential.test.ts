import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, truncate, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeKey } from '../helpers/keys.js';
import { snapshotTree } from '../helpers/tree.js';
import { TarReader } from '../../src/bundle/readTar.js';
import { Readable } from 'node:stream';
import { buildRelease, ferry, importInto, sizeOf } from './fixtures.js';

const framed = (size: number) => 512 + Math.ceil(size / 512) * 512;

/** The entries of a bundle file as the tar holds them: path and size, in order. */
async function tarEntries(bundle: string): Promise<Array<{ path: string; size: number }>> {
  const tar = new TarReader(Readable.from([await readFile(bundle)]), bundle);
  const out = [];
  for (let h = await tar.next(); h; h = await tar.next()) {
    out.push({ path: h.path, size: h.size });
    await tar.readBody(h.size);
  }
  return out;
}

/** Everything in a store except what names the bundle: its manifest and signature, its digest in folder and link names, its ref, the releases index. */
function content(snapshot: Record<string, string>, digest: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(snapshot)
      .filter(([p]) => !/(^|\/)manifest\.json(\.asc)?$/.test(p) && !p.startsWith('refs/') && p !== 'releases.json')
      .map(([p, h]) => [p.replace(digest, 'DIGEST'), h.replace(digest, 'DIGEST')]),
  );
}

describe('differential bundles (build --since)', () => {
  let dir: string;
  let team: Awaited<ReturnType<typeof writeKey>>;
  let v1: string;
  let v2full: string;
  let v2diff: string;
  const shared = randomBytes(300_000);
  const v1files = { 'big.bin': shared, 'conf.txt': 'workers = 4\n', 'old.txt': 'goes away\n' };
  const v2files = { 'big.bin': shared, 'conf.txt': 'workers = 8\n', 'new.bin': randomBytes(20_000) };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-diff-'));
    team = await writeKey(dir, 'team');
    v1 = (await buildRelease(dir, team.secret, { version: '1.0.0', files: v1files })).bundle;
    v2full = (await buildRelease(dir, team.secret, { version: '2.0.0', epoch: '2026-11-25T01:00:00Z', files: v2files }, [], join(dir, 'full'))).bundle;
    v2diff = (await buildRelease(dir, team.secret, { version: '2.0.0', epoch: '2026-11-25T01:00:00Z', files: v2files }, ['--since', v1], join(dir, 'diff'))).bundle;
  });

  it('carries only the changed artifacts plus the manifest: its size is exactly that', async () => {
    const inspect = JSON.parse((await ferry(['inspect', v2diff, '--json'])).stdout);
    const v1digest = JSON.parse((await ferry(['inspect', v1, '--json'])).stdout).digest;
    expect(inspect.base).toEqual({ name: 'app', version: '1.0.0', digest: v1digest });
    const entries = await tarEntries(v2diff);
    // the unchanged big file and the bundle key (same key) stay behind; the changed and the new file travel,
    // and so does the SBOM, which names the new version
    expect(entries.map((e) => e.path)).toEqual(['manifest.json', 'manifest.json.asc', 'files/svc/conf.txt', 'files/svc/new.bin', 'sbom.cdx.json']);
    expect(await sizeOf(v2diff)).toBe(entries.reduce((n, e) => n + framed(e.size), 0) + 1024);
    expect(entries[3]!.size).toBe(20_000);
    expect(await sizeOf(v2diff)).toBeLessThan((await sizeOf(v2full)) - 300_000);
    // the manifest stays complete: every entry of the full release, with what is omitted named
    const manifest = JSON.parse((await ferry(['inspect', v2diff, '--manifest'])).stdout);
    const full = JSON.parse((await ferry(['inspect', v2full, '--manifest'])).stdout);
    expect(manifest.entries).toEqual(full.entries);
    expect(manifest.omitted).toEqual(['files/svc/big.bin', 'keys/bundle.asc']);
  });

  it('imports after v1 to the same store content as the full v2', async () => {
    const a = join(dir, 'store-full');
    const b = join(dir, 'store-diff');
    for (const s of [a, b]) await importInto(s, v1, team.public);
    await importInto(a, v2full, team.public);
    const r = await ferry(['import', v2diff, '--keyring', team.public, '--store', b, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const fullDigest = JSON.parse((await ferry(['inspect', v2full, '--json'])).stdout).digest;
    const diffDigest = JSON.parse(r.stdout).digest;
    // the two bundles are different signed objects (the differential one names its base), so only the digest-named parts differ
    expect(content(await snapshotTree(b), diffDigest)).toEqual(content(await snapshotTree(a), fullDigest));
    expect(await readFile(join(b, 'bundles', diffDigest, 'files/svc/big.bin'))).toEqual(shared);
    const list = JSON.parse((await ferry(['list', '--store', b, '--json'])).stdout);
    expect(list.map((x: { version: string }) => x.version)).toEqual(['1.0.0', '2.0.0']);
  });

  it('is refused without v1 in the store, naming the base release and digest, and the store is unchanged', async () => {
    const store = join(dir, 'store-no-base');
    await importInto(store, (await buildRelease(dir, team.secret, { name: 'other', version: '1.0.0', files: { 'o.txt': 'o\n' } })).bundle, team.public);
    // the other release shares the bundle key with v1, so only the big file is lacking
    const before = await snapshotTree(store);
    const v1digest = JSON.parse((await ferry(['inspect', v1, '--json'])).stdout).digest;
    const r = await ferry(['import', v2diff, '--keyring', team.public, '--store', store]);
    expect(r.code).toBe(71);
    expect(r.stderr).toContain(`is a differential bundle over app 1.0.0 (${v1digest}), and this store lacks 1 artifact it takes from there (files/svc/big.bin): import app 1.0.0 first, or bring the full bundle`);
    expect(await snapshotTree(store)).toEqual(before);
  });

  it('is verified and signed like any other bundle', async () => {
    const ok = await ferry(['verify', v2diff, '--keyring', team.public]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/differential over app 1\.0\.0 \([0-9a-f]{64}\): 2 entries come from it on import/);
    const mallory = await writeKey(dir, 'mallory');
    const bad = await ferry(['verify', v2diff, '--keyring', mallory.public]);
    expect(bad.code).toBe(66);
    const bytes = await readFile(v2diff);
    bytes[bytes.indexOf('workers = 8')] ^= 1;
    await writeFile(join(dir, 'tampered.ferry'), bytes);
    const t = await ferry(['verify', join(dir, 'tampered.ferry'), '--keyring', team.public]);
    expect(t.code).toBe(67);
    expect(t.stderr).toMatch(/entry "files\/svc\/conf\.txt" has sha256/);
  });

  it('takes the base as a manifest.json or a release in a store, with the same bytes', async () => {
    const manifest = join(dir, 'v1-manifest.json');
    await writeFile(manifest, (await ferry(['inspect', v1, '--manifest'])).stdout);
    const fromManifest = (await buildRelease(dir, team.secret, { version: '2.0.0', epoch: '2026-11-25T01:00:00Z', files: v2files }, ['--since', manifest], join(dir, 'm'))).bundle;
    const store = join(dir, 'store-ref');
    await importInto(store, v1, team.public);
    const fromStore = (await buildRelease(dir, team.secret, { version: '2.0.0', epoch: '2026-11-25T01:00:00Z', files: v2files }, ['--since', 'app/1.0.0', '--store', store], join(dir, 's'))).bundle;
    const expected = await readFile(v2diff);
    expect((await readFile(fromManifest)).equals(expected)).toBe(true);
    expect((await readFile(fromStore)).equals(expected)).toBe(true);
  });

  it('refuses a base of its own name and version (a rebuild over the previous build): exit 65 before anything is written', async () => {
    const out = join(dir, 'self');
    const r = await ferry(['build', join(dir, 'spec-app-1.0.0/spec.yaml'), '--key', team.secret, '--out', out, '--cache', join(dir, 'cache'), '--since', v1]);
    expect(r.code, r.stderr).toBe(65);
    expect(r.stderr).toMatch(/manifest names app 1\.0\.0, its own name and version, as its base/);
    await expect(readFile(join(out, 'app-1.0.0.ferry'))).rejects.toThrow(/ENOENT/);
  });

  it('refuses a re-formatted manifest as a base', async () => {
    const pretty = join(dir, 'pretty.json');
    await writeFile(pretty, JSON.stringify(JSON.parse((await ferry(['inspect', v1, '--manifest'])).stdout), null, 2));
    const r = await ferry(['build', join(dir, 'spec-app-2.0.0/spec.yaml'), '--key', team.secret, '--out', join(dir, 'p'), '--cache', join(dir, 'cache'), '--since', pretty]);
    expect(r.code).toBe(68);
    expect(r.stderr).toMatch(/not the exact bytes of a bundle's manifest.json \(re-formatted\?\): take it with ferry inspect BUNDLE --manifest/);
  });

  it('refuses a manifest.json file larger than any manifest (68) before reading it, as a bundle\'s is', async () => {
    // sparse: no disk used; 3 GiB ended in an internal error (readFile's 2 GiB limit), 1.9 GiB was read whole
    const huge = join(dir, 'huge-manifest.json');
    await writeFile(huge, '');
    await truncate(huge, 3 * 1024 ** 3);
    for (const args of [['diff', huge, v1], ['build', join(dir, 'spec-app-2.0.0/spec.yaml'), '--key', team.secret, '--out', join(dir, 'huge'), '--cache', join(dir, 'cache'), '--since', huge]]) {
      const r = await ferry(args);
      expect(r.code, r.stderr).toBe(68);
      expect(r.stderr).toBe(`ferry: ${huge}: manifest.json is 3221225472 bytes, over the limit of 67108864\n`);
    }
  });

  it('ferry diff shows files added, removed and changed, and the bytes a differential bundle carries', async () => {
    const r = await ferry(['diff', v1, v2full, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(d.sections.files.added.map((x: { name: string }) => x.name)).toEqual(['files/svc/new.bin']);
    expect(d.sections.files.removed.map((x: { name: string }) => x.name)).toEqual(['files/svc/old.txt']);
    expect(d.sections.files.changed.map((x: { name: string }) => x.name)).toEqual(['files/svc/conf.txt']);
    const sbom = JSON.parse((await ferry(['inspect', v2full, '--manifest'])).stdout).entries.find((e: { path: string }) => e.path === 'sbom.cdx.json');
    expect(d.differential.bytes).toBe(20_000 + 'workers = 8\n'.length + sbom.size);
    expect(d.differential.entries).toBe(3);
    // the estimate is the real differential bundle's size give or take the signature's length
    expect(Math.abs(d.differential.bundleBytes - (await sizeOf(v2diff)))).toBeLessThanOrEqual(1024);
    const human = await ferry(['diff', v1, v2full]);
    expect(human.stdout).toContain('files: 1 added, 1 removed, 1 changed');
    expect(human.stdout).toMatch(/~ files\/svc\/conf\.txt [0-9a-f]{12} -> [0-9a-f]{12}/);
    expect(human.stdout).toMatch(/differential bundle \(ferry build --since\): 3 of 5 artifacts/);
  });

  it('ferry diff reads releases from a store as well', async () => {
    const store = join(dir, 'store-full');
    const fromStore = await ferry(['diff', '--store', store, 'app/1.0.0', 'app/2.0.0', '--json']);
    const fromFiles = await ferry(['diff', v1, v2full, '--json']);
    expect(fromStore.code, fromStore.stderr).toBe(0);
    expect(JSON.parse(fromStore.stdout)).toEqual(JSON.parse(fromFiles.stdout));
  });
});
