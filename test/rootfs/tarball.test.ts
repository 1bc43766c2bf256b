import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { ferry, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { buildAndImport, listTree, makeRootfsTree, writeSpec } from './helpers.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('rootfs from an existing tarball', () => {
  let dir: string;
  let key: Awaited<ReturnType<typeof writeKey>>;
  let tree: string;
  let tarball: Buffer;
  let server: Server;
  let base: string;
  const requests: string[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-rootfs-tarball-'));
    key = await writeKey(dir, 'team');
    tree = join(dir, 'tree');
    await makeRootfsTree(tree);
    // made by GNU tar, as a vendor's rootfs tarball would be
    const t = await run('tar', ['--numeric-owner', '-cJf', join(dir, 'vendor.tar.xz'), '-C', tree, '.']);
    expect(t.code, t.stderr).toBe(0);
    tarball = await readFile(join(dir, 'vendor.tar.xz'));
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      if (req.url === '/images/vendor.tar.xz') {
        res.writeHead(200, { 'content-length': tarball.length });
        res.end(tarball);
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('round-trips a tarball fetched from a URL through build, import and extract with identical contents', async () => {
    const spec = await writeSpec(dir, `rootfs:\n  vendor: { tarball: { src: ${base}/images/vendor.tar.xz, sha256: ${sha256(tarball)} } }\n`);
    const store = join(dir, 'store');
    await buildAndImport({ spec, key, out: join(dir, 'out'), cache: join(dir, 'cache'), store });
    // the tarball is carried as it came, with its own compression
    const digest = (await readdir(join(store, 'bundles')))[0]!;
    expect((await readFile(join(store, 'bundles', digest, 'rootfs/vendor.tar.xz'))).equals(tarball)).toBe(true);
    const manifest = JSON.parse(await readFile(join(store, 'bundles', digest, 'manifest.json'), 'utf8'));
    expect(manifest.artifacts.rootfs.vendor).toMatchObject({ path: 'rootfs/vendor.tar.xz', source: 'tarball', compression: 'xz', sha256: sha256(tarball), size: tarball.length });
    const to = join(dir, 'extracted');
    const r = await ferry(['extract', 'rootfs-test/1.0.0', 'rootfs/vendor', '--store', store, '--to', to]);
    expect(r.code, r.stderr).toBe(0);
    expect(await listTree(to)).toEqual(await listTree(tree));
  });

  it('takes a tarball by local path, and a second build fetches nothing', async () => {
    const spec = await writeSpec(dir, `rootfs:\n  local: { tarball: { src: vendor.tar.xz, sha256: ${sha256(tarball)} } }\n  remote: { tarball: { src: ${base}/images/vendor.tar.xz, sha256: ${sha256(tarball)} } }\n`, 'cached');
    const cache = join(dir, 'cache-2');
    const first = await ferry(['build', spec, '--key', key.secret, '--out', join(dir, 'out-2a'), '--cache', cache]);
    expect(first.code, first.stderr).toBe(0);
    const before = requests.length;
    const second = await ferry(['build', spec, '--key', key.secret, '--out', join(dir, 'out-2b'), '--cache', cache]);
    expect(second.code, second.stderr).toBe(0);
    expect(requests.length).toBe(before);
    expect((await readFile(join(dir, 'out-2a/cached-1.0.0.ferry'))).equals(await readFile(join(dir, 'out-2b/cached-1.0.0.ferry')))).toBe(true);
  });

  it('refuses to pack a cached tarball whose bytes changed in the cache (same size), writing no bundle', async () => {
    const spec = await writeSpec(dir, `rootfs:\n  remote: { tarball: { src: ${base}/images/vendor.tar.xz, sha256: ${sha256(tarball)} } }\n`, 'damaged');
    const cache = join(dir, 'cache-damaged');
    const first = await ferry(['build', spec, '--key', key.secret, '--out', join(dir, 'out-damaged-a'), '--cache', cache]);
    expect(first.code, first.stderr).toBe(0);
    const file = join(cache, 'sha256', sha256(tarball));
    const bytes = await readFile(file);
    bytes[bytes.length - 100] ^= 0xff;
    await chmod(file, 0o644);
    await writeFile(file, bytes);
    const out = join(dir, 'out-damaged-b');
    const r = await ferry(['build', spec, '--key', key.secret, '--out', out, '--cache', cache]);
    expect(r.code, r.stderr).toBe(67);
    expect(r.stderr).toContain(`but the manifest records ${sha256(tarball)} for rootfs/remote.tar.xz`);
    expect(await readdir(out).catch(() => [])).toEqual([]);
  });

  it('refuses at build a tarball whose sha256 does not match, writing no bundle and caching nothing', async () => {
    const wrong = 'a'.repeat(64);
    const spec = await writeSpec(dir, `rootfs:\n  vendor: { tarball: { src: ${base}/images/vendor.tar.xz, sha256: ${wrong} } }\n`, 'mismatch');
    const cache = join(dir, 'cache-mismatch');
    const out = join(dir, 'out-mismatch');
    const r = await ferry(['build', spec, '--key', key.secret, '--out', out, '--cache', cache]);
    expect(r.code).toBe(67);
    expect(r.stderr).toContain(`rootfs vendor: ${base}/images/vendor.tar.xz: expected sha256 ${wrong}, found ${sha256(tarball)}`);
    expect(r.stderr).toContain('put its sha256 in rootfs.vendor.tarball.sha256');
    expect(await readdir(out).catch(() => [])).toEqual([]);
    expect(await readdir(join(cache, 'sha256')).catch(() => [])).toEqual([]);
  });

  it('refuses at import a bundle whose rootfs bytes were changed after signing, and stores nothing', async () => {
    const spec = await writeSpec(dir, `rootfs:\n  vendor: { tarball: { src: vendor.tar.xz, sha256: ${sha256(tarball)} } }\n`, 'tampered');
    const out = join(dir, 'out-tampered');
    const b = await ferry(['build', spec, '--key', key.secret, '--out', out, '--cache', join(dir, 'cache')]);
    expect(b.code, b.stderr).toBe(0);
    const file = join(out, 'tampered-1.0.0.ferry');
    const bytes = await readFile(file);
    // flip one byte inside the rootfs tarball's data (its xz magic is unique in the bundle)
    const at = bytes.indexOf(tarball.subarray(0, 64));
    expect(at).toBeGreaterThan(0);
    bytes[at + 200] ^= 0xff;
    await writeFile(file, bytes);
    const store = join(dir, 'store-tampered');
    const r = await ferry(['import', file, '--keyring', key.public, '--store', store]);
    expect(r.code).toBe(67);
    expect(r.stderr).toContain('rootfs/vendor.tar.xz');
    expect(await readdir(join(store, 'bundles')).catch(() => [])).toEqual([]);
    expect(await readdir(join(store, 'refs')).catch(() => [])).toEqual([]);
  });

  it('refuses a file that is not a tarball, naming it', async () => {
    const junk = Buffer.from('this is not a tarball at all\n');
    await writeFile(join(dir, 'junk.tar.gz'), junk);
    const spec = await writeSpec(dir, `rootfs:\n  junk: { tarball: { src: junk.tar.gz, sha256: ${sha256(junk)} } }\n`, 'junk');
    const r = await ferry(['build', spec, '--key', key.secret, '--out', join(dir, 'out-junk'), '--cache', join(dir, 'cache')]);
    expect(r.code).toBe(68);
    expect(r.stderr).toContain('is not a tar archive compressed with gzip, zstd or xz');
    expect(await readdir(join(dir, 'out-junk')).catch(() => [])).toEqual([]);
  });
});
