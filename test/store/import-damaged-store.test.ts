import { randomBytes } from 'node:crypto';
import { chmod, link, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { craftBundle, manifestFor } from '../helpers/craft.js';
import { writeKey } from '../helpers/keys.js';
import { flipStoredByte } from '../helpers/damageStoredFile.js';
import { sha256Hex } from '../../src/util/sha256.js';

/**
 * A blob of the store changed on disk behind ferry's back (same size, other bytes: `ferry serve` says
 * "re-import the bundle"). Importing that bundle again reported "already in the store: nothing to do",
 * exit 0, and with its ref gone (a killed import's tree) it published the damaged tree as the release.
 * Then it was refused (67) with "remove the refs, gc, import again", though the bundle in hand had just
 * verified the very bytes the file should hold: it mends the file now, as a new release sharing the blob does.
 */
describe('importing a bundle whose stored copy was changed on disk', () => {
  it('rewrites the file from the bundle\'s verified bytes (warning, audit record), publishes a sound tree without its ref, and refuses what it cannot mend', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-damaged-store-'));
    try {
      const key = await writeKey(dir, 'team');
      const data = randomBytes(100 * 1024);
      const files = [
        { path: 'files/s/data.bin', data },
        { path: 'files/s/small.txt', data: Buffer.from('small\n') },
      ];
      const bundle = join(dir, 'app-1.0.0.ferry');
      await writeFile(bundle, await craftBundle(manifestFor(files, { name: 'app' }), await openpgp.readPrivateKey({ armoredKey: key.secretArmored }), files));
      const store = join(dir, 'store');
      const first = await ferry(['import', bundle, '--keyring', key.public, '--store', store, '--json']);
      expect(first.code, first.stderr).toBe(0);
      const { digest } = JSON.parse(first.stdout) as { digest: string };
      const again = await ferry(['import', bundle, '--keyring', key.public, '--store', store]);
      expect(again.code, again.stderr).toBe(0); // a sound store: a no-op
      expect(again.stdout).toContain('nothing to do');

      // one byte of the blob changed in place (every link of it sees the change)
      const blob = join(store, 'blobs/sha256', sha256Hex(data));
      const file = join(store, 'bundles', digest, 'files/s/data.bin');
      const damage = async () => {
        const bytes = await flipStoredByte(blob, 5000);
        return `warning: ${blob} held sha256 ${sha256Hex(bytes)}, not ${sha256Hex(data)}: damaged on disk; rewritten in place from this bundle's verified bytes`;
      };
      const sound = async () => {
        expect(sha256Hex(await readFile(blob))).toBe(sha256Hex(data));
        expect(sha256Hex(await readFile(file))).toBe(sha256Hex(data));
        expect((await stat(blob)).mode & 0o777).toBe(0o444);
        const v = await ferry(['verify', '--store', store, 'app@1.0.0']);
        expect(v.code, v.stderr).toBe(0);
      };

      const warning = await damage();
      // a small file too (held in memory until verified, written in the background): cut short
      const small = join(store, 'bundles', digest, 'files/s/small.txt');
      await chmod(small, 0o644);
      await writeFile(small, 'sm');
      await chmod(small, 0o444);
      const r = await ferry(['import', bundle, '--keyring', key.public, '--store', store]);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('warning: ') || l.startsWith('ferry: '));
      expect(lines).toHaveLength(2);
      expect(lines).toEqual(expect.arrayContaining([expect.stringContaining(warning), expect.stringContaining(`warning: ${join(store, 'blobs/sha256', sha256Hex(Buffer.from('small\n')))} held sha256 ${sha256Hex(Buffer.from('sm'))}, not ${sha256Hex(Buffer.from('small\n'))}`)]));
      expect(r.stdout).toBe(`app 1.0.0 (${digest}) is already in ${store}: 2 damaged blobs of the store rewritten from it\n`);
      expect(await readFile(small, 'utf8')).toBe('small\n');
      await sound();
      const records = (await readFile(join(store, 'audit.log'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { result: string; repaired?: string[] });
      expect(records.at(-1)?.result).toBe('already present');
      expect(records.at(-1)?.repaired?.sort()).toEqual([sha256Hex(data), sha256Hex(Buffer.from('small\n'))].sort());

      // its ref gone, as after an import killed between publishing its tree and its ref: claimed only once mended
      await unlink(join(store, 'refs/app/1.0.0'));
      const warning2 = await damage();
      const orphan = await ferry(['import', bundle, '--keyring', key.public, '--store', store]);
      expect(orphan.code, orphan.stderr).toBe(0);
      expect(orphan.stderr).toContain(warning2);
      expect((await readFile(join(store, 'refs/app/1.0.0'), 'utf8')).trim()).toBe(digest);
      await sound();

      // a file of the tree that is another blob, hard-linked in its place: not written through (that blob would then
      // hold other bytes than its name), refused, both left as they were
      const smallBlob = join(store, 'blobs/sha256', sha256Hex(Buffer.from('small\n')));
      await unlink(file);
      await link(smallBlob, file);
      const other = await ferry(['import', bundle, '--keyring', key.public, '--store', store]);
      expect(other.code, other.stderr).toBe(67);
      expect(other.stderr.trim().split('\n').filter((l) => l.startsWith('ferry: ') || l.startsWith('warning: '))).toEqual([
        `ferry: ${file} has sha256 ${sha256Hex(Buffer.from('small\n'))} (6 bytes), but its manifest says ${sha256Hex(data)} (${data.length}), and it is neither the store's blob ${blob} nor a file of its own (3 names): the store is damaged; nothing was mended: remove refs/app/1.0.0, run ferry gc and import again`,
      ]);
      expect(await readFile(smallBlob, 'utf8')).toBe('small\n');
      expect(sha256Hex(await readFile(blob))).toBe(sha256Hex(data));

      // a copy of its own in its place, of other bytes: rewritten in place (the tree is sound again, the blob untouched)
      await unlink(file);
      await writeFile(file, 'another file\n', { mode: 0o444 });
      const copy = await ferry(['import', bundle, '--keyring', key.public, '--store', store]);
      expect(copy.code, copy.stderr).toBe(0);
      expect(copy.stderr).toContain(`warning: ${file} held sha256 ${sha256Hex(Buffer.from('another file\n'))}, not ${sha256Hex(data)}`);
      expect(sha256Hex(await readFile(file))).toBe(sha256Hex(data));

      // a file gone from the tree is not mended (the published tree is not written into): refused, nothing published
      await unlink(join(store, 'refs/app/1.0.0'));
      await unlink(file);
      const gone = await ferry(['import', bundle, '--keyring', key.public, '--store', store]);
      expect(gone.code, gone.stderr).toBe(71);
      expect(gone.stderr.trim().split('\n').filter((l) => l.startsWith('ferry: '))).toEqual([expect.stringContaining(`ferry: cannot read ${file} (missing): the store is damaged`)]);
      expect(await readdir(join(store, 'refs/app')).catch(() => [])).toEqual([]);
      expect(await readdir(join(store, '.tmp'))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Two entries of one content in a bundle new to the store: the second's link to the blob hit EEXIST and was
 * ignored, so it stayed a copy of its own (twice the space, hashed twice by `verify --store`, not mended with
 * the blob). Every entry of a content is now the one blob inode, as README "The store" says.
 */
describe('importing a bundle whose entries share one content', () => {
  it('links every entry of a content to its one blob; a damaged blob is rewritten once, and a copy of its own left by an older store is mended too', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-damaged-store-twice-'));
    try {
      const key = await writeKey(dir, 'team');
      const data = randomBytes(70 * 1024); // streamed to its file (above SMALL_ENTRY)
      const small = Buffer.from('small and shared\n'); // held in memory, written in the background
      const files = [
        { path: 'files/s/a.bin', data },
        { path: 'files/s/b.bin', data },
        { path: 'files/t/c.bin', data },
        { path: 'files/s/x.txt', data: small },
        { path: 'files/t/y.txt', data: small },
      ];
      const bundle = join(dir, 'twice-1.0.0.ferry');
      await writeFile(bundle, await craftBundle(manifestFor(files, { name: 'twice' }), await openpgp.readPrivateKey({ armoredKey: key.secretArmored }), files));
      const store = join(dir, 'store');
      const first = await ferry(['import', bundle, '--keyring', key.public, '--store', store, '--json']);
      expect(first.code, first.stderr).toBe(0);
      expect((JSON.parse(first.stdout) as { newBytes: number }).newBytes).toBe(data.length + small.length);
      const blob = join(store, 'blobs/sha256', sha256Hex(data));
      const smallBlob = join(store, 'blobs/sha256', sha256Hex(small));
      const tree = join(store, 'bundles', (await readFile(join(store, 'refs/twice/1.0.0'), 'utf8')).trim());
      // one inode per content: the blob and every entry holding it
      for (const [b, paths] of [[blob, ['files/s/a.bin', 'files/s/b.bin', 'files/t/c.bin']], [smallBlob, ['files/s/x.txt', 'files/t/y.txt']]] as const) {
        const st = await stat(b);
        expect(st.nlink, b).toBe(paths.length + 1);
        for (const p of paths) expect((await stat(join(tree, p))).ino, p).toBe(st.ino);
      }

      // the blob changed on disk: every entry sees it, and it is rewritten once, named once
      await flipStoredByte(blob, 100);
      const r = await ferry(['import', bundle, '--keyring', key.public, '--store', store]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr.split('\n').filter((l) => l.startsWith('warning: '))).toEqual([expect.stringContaining(`warning: ${blob} held sha256`)]);
      for (const f of [blob, ...['a.bin', 'b.bin'].map((f) => join(tree, 'files/s', f))]) expect(sha256Hex(await readFile(f)), f).toBe(sha256Hex(data));

      // a store written by an older ferry holds the second entry as a copy of its own: both mended
      const own = join(tree, 'files/s/b.bin');
      await unlink(own);
      await writeFile(own, data, { mode: 0o444 });
      await flipStoredByte(blob, 100);
      await flipStoredByte(own, 200);
      const old = await ferry(['import', bundle, '--keyring', key.public, '--store', store]);
      expect(old.code, old.stderr).toBe(0);
      const warnings = old.stderr.split('\n').filter((l) => l.startsWith('warning: '));
      expect(warnings).toHaveLength(2);
      expect(warnings).toEqual(expect.arrayContaining([expect.stringContaining(`warning: ${blob} held sha256`), expect.stringContaining(`warning: ${own} held sha256`)]));
      for (const f of [blob, own, join(tree, 'files/s/a.bin')]) expect(sha256Hex(await readFile(f)), f).toBe(sha256Hex(data));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('importing a differential bundle again whose stored copy was changed on disk', () => {
  it('mends a file it carries, and refuses (67) one it omits (it lacks the bytes), rewriting nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-damaged-store-diff-'));
    try {
      const key = await writeKey(dir, 'team');
      const priv = await openpgp.readPrivateKey({ armoredKey: key.secretArmored });
      const data = randomBytes(100 * 1024);
      const added = { path: 'files/s/new.bin', data: randomBytes(90 * 1024) };
      const store = join(dir, 'store');
      const base = join(dir, 'app-1.0.0.ferry');
      await writeFile(base, await craftBundle(manifestFor([{ path: 'files/s/data.bin', data }], { name: 'app', version: '1.0.0' }), priv, [{ path: 'files/s/data.bin', data }]));
      const first = await ferry(['import', base, '--keyring', key.public, '--store', store, '--json']);
      expect(first.code, first.stderr).toBe(0);
      const d1 = (JSON.parse(first.stdout) as { digest: string }).digest;
      const manifest = manifestFor([{ path: 'files/s/data.bin', data }, added], { name: 'app', version: '2.0.0', base: { name: 'app', version: '1.0.0', digest: d1 }, omitted: ['files/s/data.bin'] });
      const diff = join(dir, 'app-2.0.0.ferry');
      await writeFile(diff, await craftBundle(manifest, priv, [added]));
      const second = await ferry(['import', diff, '--keyring', key.public, '--store', store, '--json']);
      expect(second.code, second.stderr).toBe(0);
      const d2 = (JSON.parse(second.stdout) as { digest: string }).digest;

      const flip = (bytes: Buffer) => flipStoredByte(join(store, 'blobs/sha256', sha256Hex(bytes)), 7);
      // the carried file alone: mended from the differential's own bytes
      await flip(added.data);
      const mend = await ferry(['import', diff, '--keyring', key.public, '--store', store]);
      expect(mend.code, mend.stderr).toBe(0);
      expect(mend.stdout).toContain('1 damaged blob of the store rewritten from it');
      expect(sha256Hex(await readFile(join(store, 'bundles', d2, added.path)))).toBe(sha256Hex(added.data));

      // both: the omitted one cannot be mended from this bundle, so neither is rewritten
      const dataCopy = await flip(data);
      const addedCopy = await flip(added.data);
      const r = await ferry(['import', diff, '--keyring', key.public, '--store', store]);
      expect(r.code, r.stderr).toBe(67);
      expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry: ') || l.startsWith('warning: '))).toEqual([
        expect.stringContaining(`ferry: ${join(store, 'bundles', d2, 'files/s/data.bin')} has sha256 ${sha256Hex(dataCopy)}`),
      ]);
      expect(r.stderr).toContain('omits files/s/data.bin (differential over app 1.0.0); nothing was mended: import the full bundle');
      expect(sha256Hex(await readFile(join(store, 'bundles', d2, added.path)))).toBe(sha256Hex(addedCopy));
      expect(await readdir(join(store, '.tmp'))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
