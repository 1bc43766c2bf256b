import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IntegrityError, UsageError } from '../../src/errors.js';
import { generateKey } from '../../src/pgp/generateKey.js';
import { writeAptRepository } from '../../src/sources/apt/writeAptRepository.js';

/** A .deb built by dpkg-deb, its control.tar compressed with `compression` (xz is Debian's usual). */
function dpkgDeb(dir: string, name: string, compression: 'xz' | 'gzip', extra = ''): string {
  const root = join(dir, `${name}-root`);
  mkdirSync(join(root, 'DEBIAN'), { recursive: true });
  mkdirSync(join(root, 'usr/share', name), { recursive: true });
  writeFileSync(join(root, 'usr/share', name, 'data'), createHash('sha256').update(name).digest('hex').repeat(3000));
  writeFileSync(join(root, 'DEBIAN/control'), `Package: ${name}\nVersion: 1.2-3\nArchitecture: all\nMaintainer: ferry tests <tests@ferry.invalid>\n${extra}Description: test package ${name}\n`);
  // maintainer scripts and md5sums after ./control, as in real packages
  writeFileSync(join(root, 'DEBIAN/postinst'), `#!/bin/sh\n# ${'x'.repeat(5000)}\nexit 0\n`, { mode: 0o755 });
  const deb = join(dir, `${name}.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', `-Z${compression}`, '-b', root, deb], { stdio: 'ignore' });
  return deb;
}

/**
 * A .deb assembled by hand: its control.tar.xz is a pax archive whose first entry, a name longer than
 * ustar holds, comes before ./control with a pax header.
 */
function paxDeb(dir: string, name: string): string {
  const ctl = join(dir, `${name}-control`);
  mkdirSync(ctl, { recursive: true });
  const long = `a${'-long'.repeat(30)}`;
  writeFileSync(join(ctl, long), 'first\n');
  writeFileSync(join(ctl, 'control'), `Package: ${name}\nVersion: 2.0-1\nArchitecture: all\nMaintainer: ferry tests <tests@ferry.invalid>\nDescription: pax control\n`);
  execFileSync('tar', ['--format=pax', '--owner=0', '--group=0', '-C', ctl, '-cJf', join(dir, 'control.tar.xz'), `./${long}`, './control']);
  writeFileSync(join(dir, 'debian-binary'), '2.0\n');
  execFileSync('tar', ['-C', ctl, '-cJf', join(dir, 'data.tar.xz'), '--files-from', '/dev/null']);
  const deb = join(dir, `${name}.deb`);
  execFileSync('ar', ['rc', deb, 'debian-binary', 'control.tar.xz', 'data.tar.xz'], { cwd: dir });
  return deb;
}

describe('writeAptRepository', () => {
  let dir: string;
  let key: openpgp.PrivateKey;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `ferry-apt-writer-${process.pid}-`));
    key = await openpgp.readPrivateKey({ armoredKey: (await generateKey({ name: 'apt' })).secretArmored });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists each .deb with its own control paragraph, size and sha256, whatever its control.tar compression', async () => {
    const debs = [dpkgDeb(dir, 'pkg-xz', 'xz', 'Depends: libc6 (>= 2.36)\n'), dpkgDeb(dir, 'pkg-gz', 'gzip'), paxDeb(dir, 'pkg-pax')];
    const out = join(dir, 'repo');
    const r = await writeAptRepository({ outDir: out, suite: 'test', architectures: ['amd64'], debs: debs.map((file) => ({ file })), date: new Date('2026-11-25T00:00:00Z'), signingKeys: async () => [key] });
    const packages = readFileSync(join(out, 'dists/test/main/binary-amd64/Packages'), 'utf8');
    for (const deb of debs) {
      // the fields dpkg-deb itself reads from the package, in its order
      const control = execFileSync('dpkg-deb', ['-f', deb]).toString().trim();
      const stanza = packages.split('\n\n').find((s) => s.startsWith(control.split('\n')[0]!));
      expect(stanza, deb).toBeDefined();
      for (const line of control.split('\n')) expect(stanza).toContain(line);
      const data = readFileSync(deb);
      expect(stanza).toContain(`Size: ${statSync(deb).size}`);
      expect(stanza).toContain(`SHA256: ${createHash('sha256').update(data).digest('hex')}`);
    }
    expect(r.packages.map((p) => p.name).sort()).toEqual(['pkg-gz', 'pkg-pax', 'pkg-xz']);
  });

  /** a .deb of the given control.tar member, by hand */
  function arDeb(d: string, member: string, data: Buffer): string {
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'debian-binary'), '2.0\n');
    writeFileSync(join(d, member), data);
    writeFileSync(join(d, 'data.tar.xz'), '');
    const deb = join(d, 'p.deb');
    execFileSync('ar', ['rc', deb, 'debian-binary', member, 'data.tar.xz'], { cwd: d });
    return deb;
  }
  const publish = (d: string, deb: string) =>
    writeAptRepository({ outDir: join(d, 'repo'), suite: 'test', architectures: ['amd64'], debs: [{ file: deb }], date: new Date('2026-11-25T00:00:00Z'), signingKeys: async () => [key] });
  const controlText = (name: string) => `Package: ${name}\nVersion: 3.0-1\nArchitecture: all\nMaintainer: ferry tests <tests@ferry.invalid>\nDescription: ${name}\n`;

  it('finds ./control after a large entry in a control.tar.xz, across many pieces of decoded output', async () => {
    const d = join(dir, 'late-control');
    const ctl = join(d, 'ctl');
    mkdirSync(ctl, { recursive: true });
    // md5sums first and large (400 KiB of hex, decoded piece by piece), then control
    writeFileSync(join(ctl, 'md5sums'), Array.from({ length: 6000 }, (_, i) => `${createHash('md5').update(String(i)).digest('hex')}  usr/share/f${i}\n`).join(''));
    writeFileSync(join(ctl, 'control'), controlText('late-control'));
    execFileSync('tar', ['--format=ustar', '--owner=0', '--group=0', '-C', ctl, '-cJf', join(d, 'c.tar.xz'), './md5sums', './control']);
    const deb = arDeb(d, 'control.tar.xz', readFileSync(join(d, 'c.tar.xz')));
    const r = await publish(d, deb);
    expect(r.packages.map((p) => [p.name, p.version])).toEqual([['late-control', '3.0-1']]);
  });

  it('refuses a control.tar.xz cut short before ./control', async () => {
    const d = join(dir, 'cut-xz');
    const ctl = join(d, 'ctl');
    mkdirSync(ctl, { recursive: true });
    writeFileSync(join(ctl, 'md5sums'), createHash('sha512').update('x').digest('hex').repeat(2000));
    writeFileSync(join(ctl, 'control'), controlText('cut'));
    execFileSync('tar', ['--format=ustar', '--owner=0', '--group=0', '-C', ctl, '-cJf', join(d, 'c.tar.xz'), './md5sums', './control']);
    const whole = readFileSync(join(d, 'c.tar.xz'));
    const deb = arDeb(d, 'control.tar.xz', whole.subarray(0, Math.floor(whole.length / 2)));
    const err = await publish(d, deb).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as Error).message).toBe(`${deb}: its control.tar member is not valid xz data (the xz data ends early)`);
  });

  it('refuses a control archive that decodes to more than 64 MiB, xz or gzip, instead of holding it', async () => {
    for (const [flag, member, kind] of [['-cJf', 'control.tar.xz', 'xz'], ['-czf', 'control.tar.gz', 'gzip']] as const) {
      const d = join(dir, `bomb-${kind}`);
      const ctl = join(d, 'ctl');
      mkdirSync(ctl, { recursive: true });
      // 70 MiB of zeros first (a few KiB compressed), then ./control
      execFileSync('truncate', ['-s', '70M', join(ctl, 'aaa')]);
      writeFileSync(join(ctl, 'control'), controlText(`bomb-${kind}`));
      execFileSync('tar', ['--format=ustar', '--owner=0', '--group=0', '-C', ctl, flag, join(d, member), './aaa', './control']);
      const deb = arDeb(d, member, readFileSync(join(d, member)));
      const err = await publish(d, deb).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IntegrityError);
      expect((err as Error).message).toBe(`${deb}: its control.tar member is not valid ${kind} data (it decodes to more than 64 MiB)`);
    }
  });

  it('refuses a control.tar.zst that decodes to more than 64 MiB, as it does xz and gzip, rather than hold whatever zstd writes', async () => {
    const d = join(dir, 'bomb-zstd');
    const ctl = join(d, 'ctl');
    mkdirSync(ctl, { recursive: true });
    // 70 MiB of zeros first (a few KiB compressed), then ./control: zstd's output grows without bound otherwise
    execFileSync('truncate', ['-s', '70M', join(ctl, 'aaa')]);
    writeFileSync(join(ctl, 'control'), controlText('bomb-zstd'));
    execFileSync('tar', ['--format=ustar', '--owner=0', '--group=0', '--zstd', '-C', ctl, '-cf', join(d, 'control.tar.zst'), './aaa', './control']);
    const deb = arDeb(d, 'control.tar.zst', readFileSync(join(d, 'control.tar.zst')));
    const err = await publish(d, deb).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as Error).message).toBe(`${deb} control.tar.zst: not valid zstd data (it decodes to more than 64 MiB)`);
    expect(existsSync(join(d, 'repo', 'dists'))).toBe(false);
  });

  it('reads ./control from a header with a wrong checksum no differently than node-tar does: not at all', async () => {
    const d = join(dir, 'bad-sum');
    const ctl = join(d, 'ctl');
    mkdirSync(ctl, { recursive: true });
    writeFileSync(join(ctl, 'control'), controlText('bad-sum'));
    const tar = execFileSync('tar', ['--format=ustar', '--owner=0', '--group=0', '-C', ctl, '-cf', '-', './control']);
    // its modification time changes, the stored checksum does not: the name still reads ./control, but node-tar
    // refuses the damaged header, and so must the fast walk on the worker
    tar[137] = tar[137] === 0x31 ? 0x32 : 0x31;
    const deb = arDeb(d, 'control.tar.gz', gzipSync(tar));
    const err = await publish(d, deb).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as Error).message).toBe(`${deb}: control.tar.gz has no control file`);
  });

  it('asks for the signing keys once, and refuses to publish without one', async () => {
    const deb = dpkgDeb(dir, 'pkg-keys', 'xz');
    let asked = 0;
    const r = await writeAptRepository({ outDir: join(dir, 'keys-once'), suite: 'test', architectures: ['amd64'], debs: [{ file: deb }], date: new Date('2026-11-25T00:00:00Z'), signingKeys: async () => (asked++, [key]) });
    expect(asked).toBe(1);
    expect(readFileSync(join(dir, 'keys-once/dists/test/InRelease'), 'utf8')).toContain('-----BEGIN PGP SIGNATURE-----');
    expect(r.packages.map((p) => p.name)).toEqual(['pkg-keys']);
    const err = await writeAptRepository({ outDir: join(dir, 'no-keys'), suite: 'test', architectures: ['amd64'], debs: [{ file: deb }], date: new Date('2026-11-25T00:00:00Z'), signingKeys: async () => [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toBe('publishing an apt repository needs the bundle signing key (--key)');
    expect(existsSync(join(dir, 'no-keys'))).toBe(false);
  });

  it('refuses a file that is not a Debian package, naming it', async () => {
    const notDeb = join(dir, 'not-a.deb');
    writeFileSync(notDeb, 'just text\n');
    const err = await writeAptRepository({ outDir: join(dir, 'refused'), suite: 'test', architectures: ['amd64'], debs: [{ file: notDeb }], date: new Date('2026-11-25T00:00:00Z'), signingKeys: async () => [key] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as Error).message).toBe(`${notDeb}: not a Debian package (no ar header)`);
  });

  it('refuses a package whose control.tar.xz is not xz data', async () => {
    const d = join(dir, 'bad-xz');
    mkdirSync(d);
    writeFileSync(join(d, 'debian-binary'), '2.0\n');
    writeFileSync(join(d, 'control.tar.xz'), 'not xz at all\n');
    writeFileSync(join(d, 'data.tar.xz'), '');
    const deb = join(d, 'bad.deb');
    execFileSync('ar', ['rc', deb, 'debian-binary', 'control.tar.xz', 'data.tar.xz'], { cwd: d });
    const err = await writeAptRepository({ outDir: join(d, 'repo'), suite: 'test', architectures: ['amd64'], debs: [{ file: deb }], date: new Date('2026-11-25T00:00:00Z'), signingKeys: async () => [key] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as Error).message).toMatch(new RegExp(`^${deb}: its control.tar member is not valid xz data`));
  });
});
