import { execFileSync } from 'node:child_process';
import { gunzipSync, gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IntegrityError, ResolveError, SignatureError } from '../../src/errors.js';
import { aptKind } from '../../src/sources/apt/aptKind.js';
import { snapshotTree } from '../helpers/tree.js';
import { context, fixtureUpstream } from './aptSetup.js';
import { readPrivate, signRelease } from './fixtureUpstream.js';
import { clearsign, signDetached } from '../../src/pgp/sign.js';
import { privateApt } from './privateApt.js';

describe('apt kind refuses an untrustworthy upstream and caches nothing from it', () => {
  let fx: Awaited<ReturnType<typeof fixtureUpstream>>;
  const spec = (keyring: string | string[]) => ({
    targets: { debian: { suite: 'bookworm', architectures: ['amd64'] } },
    upstreams: { apt: [{ uri: fx.server.url, suites: ['fixture'], keyring }] },
    services: { web: { version: '1', groups: ['web'], artifacts: { apt: ['app'] } } },
  });
  const dist = () => join(fx.upstreamRoot, 'dists/fixture');
  let goodRelease: { release: string; inRelease: string; gpg: string; packagesGz: Buffer };

  beforeAll(async () => {
    fx = await fixtureUpstream();
    goodRelease = {
      release: await readFile(join(dist(), 'Release'), 'utf8'),
      inRelease: await readFile(join(dist(), 'InRelease'), 'utf8'),
      gpg: await readFile(join(dist(), 'Release.gpg'), 'utf8'),
      packagesGz: await readFile(join(dist(), 'main/binary-amd64/Packages.gz')),
    };
  });
  afterAll(() => fx?.server.close());

  async function restore() {
    await writeFile(join(dist(), 'Release'), goodRelease.release);
    await writeFile(join(dist(), 'InRelease'), goodRelease.inRelease);
    await writeFile(join(dist(), 'Release.gpg'), goodRelease.gpg);
    await writeFile(join(dist(), 'main/binary-amd64/Packages.gz'), goodRelease.packagesGz);
  }

  /** the upstream's own key signs a Release over `packages` (as Packages.gz): what a compromised upstream can publish */
  async function republish(packages: Buffer) {
    await writeFile(join(dist(), 'main/binary-amd64/Packages.gz'), gzipSync(packages, { level: 1 }));
    // the Release lists the plain Packages too, as Debian's does (apt and ferry skip an index listed only
    // compressed); only Packages.gz is served
    await writeFile(join(dist(), 'main/binary-amd64/Packages'), packages);
    const opts = ['Suite=fixture', 'Codename=fixture', 'Architectures=amd64', 'Components=main'].flatMap((o) => ['-o', `APT::FTPArchive::Release::${o}`]);
    const release = execFileSync('apt-ftparchive', [...opts, 'release', '.'], { cwd: dist() }).toString('utf8');
    await rm(join(dist(), 'main/binary-amd64/Packages'));
    await signRelease(dist(), release, await readPrivate(fx.upstreamKey.secretArmored));
  }

  it('refuses an InRelease signed by a key outside the keyring', async () => {
    await signRelease(dist(), goodRelease.release, await readPrivate(fx.otherKey.secretArmored));
    try {
      const ctx = await context(fx.dir, spec(fx.upstreamKey.public), fx.bundleKey.secretArmored, join(fx.dir, 'cache-sig'));
      const err = await aptKind.lock(ctx).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SignatureError);
      expect((err as Error).message).toMatch(/dists\/fixture\/InRelease: no valid signature by a trusted key \(key [0-9A-F]{16}: not in the keyring\)/);
      expect(await snapshotTree(join(fx.dir, 'cache-sig', 'sha256'))).toEqual({});
    } finally {
      await restore();
    }
  });

  it('refuses an InRelease whose text was changed after signing', async () => {
    await writeFile(join(dist(), 'InRelease'), goodRelease.inRelease.replace('Suite: fixture', 'Suite: fixturf'));
    try {
      const ctx = await context(fx.dir, spec(fx.upstreamKey.public), fx.bundleKey.secretArmored, join(fx.dir, 'cache-edit'));
      await expect(aptKind.lock(ctx)).rejects.toThrow(/signature does not match the signed data/);
      expect(await snapshotTree(join(fx.dir, 'cache-edit', 'sha256'))).toEqual({});
    } finally {
      await restore();
    }
  });

  it('refuses a Packages file whose hash does not match the signed Release', async () => {
    const gz = Buffer.from(goodRelease.packagesGz);
    gz[gz.length - 5]! ^= 0xff;
    await writeFile(join(dist(), 'main/binary-amd64/Packages.gz'), gz);
    try {
      const ctx = await context(fx.dir, spec(fx.upstreamKey.public), fx.bundleKey.secretArmored, join(fx.dir, 'cache-pkgs'));
      const err = await aptKind.lock(ctx).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IntegrityError);
      expect((err as Error).message).toContain('main/binary-amd64/Packages.gz');
      expect(await snapshotTree(join(fx.dir, 'cache-pkgs', 'sha256'))).toEqual({});
    } finally {
      await restore();
    }
  });

  it('refuses a signed Packages index holding a line of tens of MiB (a few KiB of gzip) after reading 16 MiB of it, one line', async () => {
    // a compromised upstream signs what it likes: 64 MiB of one Description line compress to ~64 KiB,
    // and were held whole (and copied again for every piece of it that arrived: hours for a GiB)
    const line = Buffer.alloc(64 << 20, 0x61);
    await republish(Buffer.concat([Buffer.from('Package: filler\nDescription: '), line, Buffer.from('\n\n'), gunzipSync(goodRelease.packagesGz)]));
    try {
      const ctx = await context(fx.dir, spec(fx.upstreamKey.public), fx.bundleKey.secretArmored, join(fx.dir, 'cache-long-line'));
      const err = await aptKind.lock(ctx).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ResolveError);
      expect((err as Error).message).toMatch(/main\/binary-amd64\/Packages\.gz: a line of more than 16777216 bytes; not a Debian index, refusing it$/);
    } finally {
      await restore();
    }
  });

  it('refuses a signed Packages index holding a field continued over tens of MiB of short lines after 16 MiB of it, one line', async () => {
    // 32 MiB of " a,\n" compress to ~32 KiB; the field was built up line by line as one string (64 MiB took
    // 1.5 GiB of memory, 256 MiB ended the process)
    const lines = Buffer.from(' a,\n'.repeat(8 << 20));
    await republish(Buffer.concat([Buffer.from('Package: filler\nVersion: 1\nArchitecture: amd64\nDepends: b,\n'), lines, Buffer.from('\n'), gunzipSync(goodRelease.packagesGz)]));
    try {
      const ctx = await context(fx.dir, spec(fx.upstreamKey.public), fx.bundleKey.secretArmored, join(fx.dir, 'cache-long-field'));
      const err = await aptKind.lock(ctx).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ResolveError);
      expect((err as Error).message).toMatch(/main\/binary-amd64\/Packages\.gz: field Depends of more than 16777216 bytes \(continuation lines included\); not a Debian index, refusing it$/);
    } finally {
      await restore();
    }
  });

  it.each([
    ['a Filename with a space', (t: string) => t.replace(/^Filename: (.*)\/app_(.*)$/m, 'Filename: $1/app $2'), /packages\[\d+\]\.url: an http\(s\):\/\/ or file:\/\/ URL or an absolute path \("app 1\.0-1 amd64" at "http:.*\/app 1\.0-1_amd64\.deb"\)/],
    ['a Priority of two words', (t: string) => t.replace(/^(Package: app\nArchitecture: amd64\nVersion: 1\.0-1\nPriority:) optional$/m, '$1 optional extra'), /packages\[\d+\]\.priority: a Debian priority \("app 1\.0-1 amd64"/],
  ])('refuses, at lock, a signed index with %s, which the build would refuse in the lock (ResolveError, one line)', async (_what, edit, message) => {
    const text = gunzipSync(goodRelease.packagesGz).toString('utf8');
    const edited = edit(text);
    expect(edited).not.toBe(text);
    await republish(Buffer.from(edited));
    try {
      const ctx = await context(fx.dir, spec(fx.upstreamKey.public), fx.bundleKey.secretArmored, join(fx.dir, 'cache-unlockable'));
      const err = await aptKind.lock(ctx).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ResolveError);
      expect((err as Error).message).toMatch(/^upstreams\.apt: the upstream's index gives what a lock may not hold: /);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toMatch(/\n|run ferry lock again/);
    } finally {
      await restore();
    }
  });

  it('takes an index in which a package gives SHA512 and no SHA256, as apt-get does: the lock pins the sha256 of the file that matches it', async () => {
    const text = gunzipSync(goodRelease.packagesGz).toString('utf8');
    const edited = text.replace(/^(Package: libbaz\n(?:.+\n)*?)SHA256: [0-9a-f]{64}\n/m, '$1');
    expect(edited).not.toBe(text);
    expect(edited).toMatch(/^Package: libbaz\n(?:.+\n)*?SHA512: [0-9a-f]{128}\n/m);
    await republish(Buffer.from(edited));
    try {
      const apt = await privateApt(`deb [signed-by=${fx.upstreamKey.public}] ${fx.server.url} fixture main`);
      const update = await apt.aptGet('update');
      expect(update.stdout + update.stderr).not.toMatch(/^E: /m);
      for (const pkg of ['app', 'libbaz']) expect((await apt.simulate([pkg])).result.code).toBe(0);
      const locked = await aptKind.lock(await context(fx.dir, spec(fx.upstreamKey.public), fx.bundleKey.secretArmored, join(fx.dir, 'cache-sha512-app')));
      expect(locked!.packages.map((p) => p.name)).toContain('app');
      const needs = { ...spec(fx.upstreamKey.public), services: { web: { version: '1', groups: ['web'], artifacts: { apt: ['libbaz'] } } } };
      const ctx = await context(fx.dir, needs, fx.bundleKey.secretArmored, join(fx.dir, 'cache-sha512-libbaz'));
      const lock = (await aptKind.lock(ctx))!;
      const libbaz = lock.packages.find((p) => p.name === 'libbaz')!;
      const bytes = await readFile(join(fx.upstreamRoot, new URL(libbaz.url).pathname));
      expect(libbaz).toMatchObject({ version: '1.0', size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
      // and the build takes what the lock pinned
      await aptKind.collect(lock, ctx);
    } finally {
      await restore();
    }
  });

  it('refuses (exit 67, one line) to pin a package whose index gives SHA512 alone when the file does not match it', async () => {
    const text = gunzipSync(goodRelease.packagesGz).toString('utf8');
    const edited = text.replace(/^(Package: libbaz\n(?:.+\n)*?)SHA256: [0-9a-f]{64}\n((?:.+\n)*?SHA512: )[0-9a-f]{128}\n/m, `$1$2${'ab'.repeat(64)}\n`);
    expect(edited).toMatch(new RegExp(`^Package: libbaz\\n(?:.+\\n)*?SHA512: ${'ab'.repeat(64)}\\n`, 'm'));
    await republish(Buffer.from(edited));
    try {
      const apt = await privateApt(`deb [signed-by=${fx.upstreamKey.public}] ${fx.server.url} fixture main`);
      expect((await apt.aptGet('update')).code).toBe(0);
      const got = await apt.aptGet('install', '--download-only', '-y', 'libbaz');
      expect(got.code).not.toBe(0);
      expect(got.stdout + got.stderr).toMatch(/Hash Sum mismatch/);
      const needs = { ...spec(fx.upstreamKey.public), services: { web: { version: '1', groups: ['web'], artifacts: { apt: ['libbaz'] } } } };
      const cacheDir = join(fx.dir, 'cache-sha512-bad');
      const err = await aptKind.lock(await context(fx.dir, needs, fx.bundleKey.secretArmored, cacheDir)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IntegrityError);
      expect((err as Error).message).toMatch(/^libbaz 1\.0 \(http:\S+\/libbaz_1\.0_amd64\.deb\): sha512 [0-9a-f]{128}, but the signed index says (ab){64}; nothing was pinned or cached$/);
      const deb = await readFile(join(fx.upstreamRoot, 'pool/main/libbaz_1.0_amd64.deb'));
      expect(await readdir(join(cacheDir, 'sha256'))).not.toContain(createHash('sha256').update(deb).digest('hex'));
    } finally {
      await restore();
    }
  });

  it('refuses a .deb whose hash does not match Packages and keeps the good ones only', async () => {
    const ctx = await context(fx.dir, spec(fx.upstreamKey.public), fx.bundleKey.secretArmored, join(fx.dir, 'cache-deb'));
    const lock = (await aptKind.lock(ctx))!;
    const victim = lock.packages.find((p) => p.name === 'libbar')!;
    const file = join(fx.upstreamRoot, new URL(victim.url).pathname);
    const good = await readFile(file);
    const bad = Buffer.from(good);
    bad[bad.length - 10]! ^= 0xff;
    await writeFile(file, bad);
    try {
      const err = await aptKind.collect(lock, ctx).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IntegrityError);
      expect((err as Error).message).toContain('libbar');
      const cached = Object.keys(await snapshotTree(join(fx.dir, 'cache-deb', 'sha256')));
      expect(cached).not.toContain(victim.sha256);
      expect(cached).not.toContain((await import('../../src/util/sha256.js')).sha256Hex(bad));
      // no half-downloaded copy is left to be resumed either
      expect(Object.keys(await snapshotTree(join(fx.dir, 'cache-deb', 'partial'))).filter((f) => !f.endsWith('/'))).toEqual([]);
    } finally {
      await writeFile(file, good);
    }
  });

  it('refuses an upstream without a keyring in the spec, before any download', async () => {
    const raw = spec(fx.upstreamKey.public);
    delete (raw.upstreams.apt[0] as { keyring?: string }).keyring;
    const ctx = await context(fx.dir, raw, fx.bundleKey.secretArmored, join(fx.dir, 'cache-nokey'));
    const before = fx.server.requests.length;
    await expect(aptKind.lock(ctx)).rejects.toThrow(`upstreams.apt[0]: ${fx.server.url} needs a keyring`);
    expect(fx.server.requests.length).toBe(before);
  });

  it('refuses a Release that has expired (Valid-Until in the past)', async () => {
    const expired = goodRelease.release.replace(/^Date: .*$/m, (d) => `${d}\nValid-Until: Sat, 01 Jan 2000 00:00:00 UTC`);
    await signRelease(dist(), expired, await readPrivate(fx.upstreamKey.secretArmored));
    try {
      const ctx = await context(fx.dir, spec(fx.upstreamKey.public), fx.bundleKey.secretArmored, join(fx.dir, 'cache-exp'));
      await expect(aptKind.lock(ctx)).rejects.toThrow(/expired on Sat, 01 Jan 2000 00:00:00 UTC \(Valid-Until\)/);
    } finally {
      await restore();
    }
  });

  it.each(['InRelease', 'Release.gpg'])(
    'refuses a %s signed before its key was revoked as superseded, when the revocation is in a second copy of the keyring',
    async (signed) => {
      // signed an hour ago by a key made two hours ago; the revocation is made now, for a "soft" reason
      const hour = 3600_000;
      const { privateKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'Mirror' }], date: new Date(Date.now() - 2 * hour), format: 'object' });
      const at = new Date(Date.now() - hour);
      await writeFile(join(dist(), 'Release.gpg'), await signDetached(Buffer.from(goodRelease.release), [privateKey], at));
      if (signed === 'InRelease') await writeFile(join(dist(), 'InRelease'), await clearsign(goodRelease.release, [privateKey], at));
      else await rm(join(dist(), 'InRelease'));
      const good = join(fx.dir, `mirror-${signed}.asc`);
      await writeFile(good, privateKey.toPublic().armor());
      const revoked = join(fx.dir, `mirror-${signed}-revoked.asc`);
      const r = await openpgp.revokeKey({ key: privateKey, reasonForRevocation: { flag: openpgp.enums.reasonForRevocation.keySuperseded, string: 'new mirror key' }, format: 'armored' });
      await writeFile(revoked, r.publicKey);
      try {
        // the control: the unrevoked copy alone accepts this upstream
        const control = await context(fx.dir, spec(good), fx.bundleKey.secretArmored, join(fx.dir, `cache-control-${signed}`));
        expect((await aptKind.lock(control))!.packages.length).toBeGreaterThan(0);
        const ctx = await context(fx.dir, spec([good, revoked]), fx.bundleKey.secretArmored, join(fx.dir, `cache-revoked-${signed}`));
        const err = await aptKind.lock(ctx).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(SignatureError);
        expect((err as Error).message).toContain(`dists/fixture/${signed}: no valid signature by a trusted key`);
        expect((err as Error).message).toMatch(/key is revoked \(superseded: "new mirror key"/);
        expect(await snapshotTree(join(fx.dir, `cache-revoked-${signed}`, 'sha256'))).toEqual({});
      } finally {
        await restore();
      }
    },
  );

  afterAll(() => rm(fx.dir, { recursive: true, force: true }));
});
