import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { ferry } from '../helpers/cli.js';
import { fixtureUpstream, writeAptSpec } from './aptSetup.js';
import { buildDeb, readPrivate, signRelease } from './fixtureUpstream.js';
import { privateApt } from './privateApt.js';

/**
 * The signed Release of an upstream as apt-get 2.6 reads it and as `ferry lock` reads it, on the same
 * repository: each case signs an edited Release with the upstream's own key (what a broken or
 * compromised upstream publishes), runs the real `apt-get update` on it and `ferry lock` from it, and
 * asserts both take it or both refuse it (ferry: one line, its exit code, no lock written).
 */
describe('ferry lock reads a signed Release as apt-get does', () => {
  let fx: Awaited<ReturnType<typeof fixtureUpstream>>;
  let good: string;
  let gzSize: number;
  const dist = () => join(fx.upstreamRoot, 'dists/fixture');
  const gz = () => join(dist(), 'main/binary-amd64/Packages.gz');
  let goodGz: Buffer;

  beforeAll(async () => {
    fx = await fixtureUpstream();
    good = await readFile(join(dist(), 'Release'), 'utf8');
    goodGz = await readFile(gz());
    gzSize = goodGz.length;
  });
  afterAll(() => fx?.server.close());

  /** the Release with a line after Date */
  const withLine = (line: string) => good.replace(/^Date: .*$/m, (d) => `${d}\n${line}`);
  const withDate = (date: string) => good.replace(/^Date: .*$/m, `Date: ${date}`);
  /** the Release giving Packages.gz this size in every hash list (apt takes the size of its strongest one) */
  const withGzSize = (size: string) => good.replace(/^( \S+\s+)\d+( main\/binary-amd64\/Packages\.gz)$/gm, `$1${size}$2`);

  /** the Release with Packages.gz's line in one hash list changed: its size one more, or its digest's first hex digit */
  const withListEdit = (list: string, what: 'size' | 'digest') => {
    let section = '';
    return good
      .split('\n')
      .map((line) => {
        if (/^\S/.test(line)) section = line.replace(/:.*$/, '');
        const m = /^ (\S+)(\s+)(\d+)( main\/binary-amd64\/Packages\.gz)$/.exec(line);
        if (section !== list || !m) return line;
        const digest = what === 'digest' ? (m[1]![0] === '0' ? '1' : '0') + m[1]!.slice(1) : m[1]!;
        return ` ${digest}${m[2]}${what === 'size' ? Number(m[3]) + 1 : m[3]}${m[4]}`;
      })
      .join('\n');
  };

  let n = 0;
  /** apt-get update and ferry lock on the upstream as it is now */
  /** `sides`: the same option on both, e.g. apt's check-valid-until=no and ferry's check_valid_until: false */
  async function both(pkg = 'app', sides = { apt: '', ferry: '' }): Promise<{ apt: { code: number; out: string }; ferry: { code: number; stderr: string; written: string[] } }> {
    const apt = await privateApt(`deb [signed-by=${fx.upstreamKey.public}${sides.apt ? ` ${sides.apt}` : ''}] ${fx.server.url} fixture main`);
    // apt's own defaults, which this machine's apt.conf.d turns off
    const u = await apt.aptGet('-o', 'Acquire::Check-Valid-Until=true', '-o', 'Acquire::Check-Date=true', 'update');
    // a refused index leaves apt without the package
    const simulated = await apt.aptGet('install', '--simulate', pkg);
    const dir = join(fx.dir, `release-case-${++n}`);
    await mkdir(dir);
    await copyFile(fx.upstreamKey.public, join(dir, 'upstream.asc'));
    const spec = await writeAptSpec(dir, fx.server.url, pkg, sides.ferry);
    const lock = await ferry(['lock', spec, '--cache', join(dir, 'cache')]);
    const written = (await readdir(dir)).filter((f) => !['upstream.asc', 'aptdemo.yaml', 'cache'].includes(f));
    return {
      apt: { code: u.code !== 0 || /^E: /m.test(u.stdout + u.stderr) || simulated.code !== 0 ? 100 : 0, out: u.stdout + u.stderr + simulated.stdout + simulated.stderr },
      ferry: { code: lock.code, stderr: lock.stderr, written },
    };
  }

  async function publish(release: string) {
    await signRelease(dist(), release, await readPrivate(fx.upstreamKey.secretArmored));
  }

  /** both take it, or both refuse it (ferry with `code` and one line matching `message`) */
  async function expectAgreement(apt: RegExp | 'accepts', code?: number, message?: RegExp, pkg?: string, sides?: { apt: string; ferry: string }) {
    const r = await both(pkg, sides);
    if (apt === 'accepts') {
      expect(r.apt.code, r.apt.out).toBe(0);
      expect(r.ferry.code, r.ferry.stderr).toBe(0);
      return;
    }
    expect(r.apt.code, r.apt.out).toBe(100);
    expect(r.apt.out).toMatch(apt);
    expect(r.ferry.code, r.ferry.stderr).toBe(code);
    // the refusal is one line; only the progress line of the indexes read ("apt: N packages in M upstream suite(s)") may come before it
    const refusal = r.ferry.stderr.trim().split('\n').filter((l) => !/^apt: \d+ packages in \d+ upstream suite\(s\)$/.test(l));
    expect(refusal, r.ferry.stderr).toHaveLength(1);
    expect(refusal[0]).toMatch(/^ferry: /);
    expect(refusal[0]).toMatch(message!);
    expect(r.ferry.written).toEqual([]);
  }

  it('the unedited Release: both take it', async () => {
    await publish(good);
    await expectAgreement('accepts');
  });

  // apt refuses a Valid-Until it cannot read (its error then is "provides only weak security information")
  it.each([
    ['garbage', 'garbage'],
    ['an ISO date (Date.parse reads it)', '2099-01-01T00:00:00Z'],
    ['a zone other than UTC', 'Thu, 01 Jan 2099 00:00:00 +0100'],
    ['no zone (Date.parse reads a local time)', 'Thu, 01 Jan 2099 00:00:00'],
    ['a zone in lower case', 'Thu, 01 Jan 2099 00:00:00 utc'],
    ['an hour 24', 'Thu, 01 Jan 2099 24:00:00 UTC'],
    ['a day 32', 'Thu, 32 Jan 2099 00:00:00 UTC'],
  ])('Valid-Until as %s: both refuse (66)', async (_what, validUntil) => {
    await publish(withLine(`Valid-Until: ${validUntil}`));
    await expectAgreement(/weak security information|Invalid 'Valid-Until'/, 66, /dists\/fixture\/: the signed Release has an invalid Valid-Until/);
  });

  it.each([
    ['RFC 1123 with +0000 (apt-ftparchive writes it)', 'Thu, 01 Jan 2099 00:00:00 +0000'],
    ['RFC 1123 with GMT', 'Thu, 01 Jan 2099 00:00:00 GMT'],
    ['RFC 1123 with Z', 'Thu, 01 Jan 2099 00:00:00 Z'],
    ['asctime', 'Thu Jan  1 00:00:00 2099'],
    ['RFC 850 with a four-digit year (1900 + 2099)', 'Thursday, 01-Jan-2099 00:00:00 GMT'],
    ['the 31st of February (rolls over)', 'Thu, 31 Feb 2099 00:00:00 UTC'],
  ])('Valid-Until in the future as %s: both take it', async (_what, validUntil) => {
    await publish(withLine(`Valid-Until: ${validUntil}`));
    await expectAgreement('accepts');
  });

  it.each([
    ['RFC 1123', 'Sat, 01 Jan 2000 00:00:00 UTC'],
    ['RFC 850 (two-digit year: 1999)', 'Friday, 01-Jan-99 00:00:00 GMT'],
  ])('Valid-Until in the past as %s: both refuse (66)', async (_what, validUntil) => {
    await publish(withLine(`Valid-Until: ${validUntil}`));
    await expectAgreement(/is expired/, 66, /dists\/fixture\/: the Release expired on .* \(Valid-Until\)/);
  });

  // a snapshot archive's Release is past its Valid-Until by design: apt takes it with check-valid-until=no
  it.each([
    ['in the past', 'Sat, 01 Jan 2000 00:00:00 UTC'],
    ['unreadable', 'garbage'],
  ])('Valid-Until %s with apt\'s check-valid-until=no and ferry\'s check_valid_until: false: both take it', async (_what, validUntil) => {
    await publish(withLine(`Valid-Until: ${validUntil}`));
    await expectAgreement('accepts', undefined, undefined, undefined, { apt: 'check-valid-until=no', ferry: 'check_valid_until: false' });
  });

  it('Valid-Until in the past with check-valid-until=yes and check_valid_until: true: both refuse (66)', async () => {
    await publish(withLine('Valid-Until: Sat, 01 Jan 2000 00:00:00 UTC'));
    await expectAgreement(/is expired/, 66, /the Release expired on/, undefined, { apt: 'check-valid-until=yes', ferry: 'check_valid_until: true' });
  });

  it('a Date in the future: both refuse, "not valid yet" (66)', async () => {
    await publish(withDate('Thu, 01 Jan 2099 00:00:00 UTC'));
    await expectAgreement(/is not valid yet/, 66, /dists\/fixture\/: the Release is not valid yet: dated Thu, 01 Jan 2099 00:00:00 UTC/);
  });

  it.each([
    ['garbage', 'garbage'],
    ['an ISO date in the future, which apt cannot read', '2099-01-01T00:00:00Z'],
  ])('a Date as %s: apt warns and takes it, so does ferry', async (_what, date) => {
    await publish(withDate(date));
    await expectAgreement('accepts');
  });

  it('no Date: both take it', async () => {
    await publish(good.replace(/^Date: .*\n/m, ''));
    await expectAgreement('accepts');
  });

  it.each([
    ['not a number', () => 'abc'],
    ['negative', () => '-5'],
    ['in hex (Number() reads it)', () => `0x${gzSize.toString(16)}`],
    ['with a decimal exponent (Number() reads it; apt the digits before the point)', () => `${gzSize / 10}e1`],
    ['one more than the file', () => String(gzSize + 1)],
  ])('an index size %s: both refuse the index (67)', async (_what, size) => {
    await publish(withGzSize(size()));
    await expectAgreement(/Failed to fetch .*Packages\.gz/, 67, /main\/binary-amd64\/Packages\.gz/);
  });

  it.each([
    ['letters', () => `${gzSize}abc`],
    ['an exponent', () => `${gzSize}e0`],
  ])('an index size followed by %s: apt reads the digits (strtoull), so does ferry', async (_what, size) => {
    await publish(withGzSize(size()));
    await expectAgreement('accepts');
  });

  it.each([
    ['changed in place', (b: Buffer) => Buffer.from(b.map((x, i) => (i === b.length - 5 ? x ^ 0xff : x)))],
    ['one byte longer', (b: Buffer) => Buffer.concat([b, Buffer.from([0])])],
  ])('an index %s after signing: both refuse it (67)', async (_what, edit) => {
    await publish(good);
    await writeFile(gz(), edit(goodGz));
    try {
      await expectAgreement(/Failed to fetch .*Packages\.gz/, 67, /main\/binary-amd64\/Packages\.gz/);
    } finally {
      await writeFile(gz(), goodGz);
    }
  });

  it.each([
    ['True', 'SHA256 SHA512', 'accepts'],
    ['1', 'SHA256 SHA512', 'accepts'],
    ['no', 'SHA256 SHA512', 'refuses'],
    // apt asks by-hash/ of the strongest hash the Release lists (SHA512 here), and the plain name when that is missing
    ['yes', 'SHA512', 'accepts'],
    ['yes', 'SHA256', 'refuses'],
  ] as const)('Acquire-By-Hash: %s, by-hash/ of %s served, the plain Packages.gz already the next one: ferry reads it as apt does', async (value, algos, outcome) => {
    const byHash = join(dist(), 'main/binary-amd64/by-hash');
    for (const algo of algos.split(' ')) {
      await mkdir(join(byHash, algo), { recursive: true });
      await writeFile(join(byHash, algo, createHash(algo.toLowerCase()).update(goodGz).digest('hex')), goodGz);
    }
    await publish(withLine(`Acquire-By-Hash: ${value}`));
    await writeFile(gz(), Buffer.concat([goodGz, Buffer.from('next')]));
    try {
      if (outcome === 'accepts') await expectAgreement('accepts');
      else await expectAgreement(/Failed to fetch .*Packages\.gz/, 67, /main\/binary-amd64\/Packages\.gz/);
    } finally {
      await writeFile(gz(), goodGz);
      await rm(byHash, { recursive: true });
    }
  });

  it.each([
    ['no Architectures field', [], 'accepts', ''],
    ['"Architectures: amd64 all"', ['amd64 all'], 'accepts', ''],
    ['"Architectures: amd64"', ['amd64'], 'refuses', ''],
    // apt skips binary-all when the field has the word Packages (words split at white space, case kept)
    ['"No-Support-for-Architecture-all: Packages"', ['amd64 all'], 'refuses', 'No-Support-for-Architecture-all: Packages\n'],
    ['"No-Support-for-Architecture-all: Sources Packages"', ['amd64 all'], 'refuses', 'No-Support-for-Architecture-all: Sources Packages\n'],
    ['"No-Support-for-Architecture-all: Packages Sources"', [], 'refuses', 'No-Support-for-Architecture-all: Packages Sources\n'],
    ['"No-Support-for-Architecture-all: Packages,Sources"', ['amd64 all'], 'accepts', 'No-Support-for-Architecture-all: Packages,Sources\n'],
    ['"No-Support-for-Architecture-all: packages"', ['amd64 all'], 'accepts', 'No-Support-for-Architecture-all: packages\n'],
  ] as const)('a binary-all index and %s: both read binary-all as apt does (or neither)', async (_what, archs, outcome, field) => {
    const deb = await buildDeb(fx.dir, { name: 'allpkg', version: '1', arch: 'all' });
    const binAll = join(dist(), 'main/binary-all');
    await mkdir(binAll, { recursive: true });
    await copyFile(deb, join(fx.upstreamRoot, 'pool/main/allpkg_1_all.deb'));
    await writeFile(join(binAll, 'Packages'), execFileSync('apt-ftparchive', ['packages', 'pool/main/allpkg_1_all.deb'], { cwd: fx.upstreamRoot }));
    const opts = ['Suite=fixture', 'Codename=fixture', 'Components=main', ...archs.map((a) => `Architectures=${a}`)].flatMap((o) => ['-o', `APT::FTPArchive::Release::${o}`]);
    await publish(field + execFileSync('apt-ftparchive', [...opts, 'release', '.'], { cwd: dist() }).toString('utf8'));
    try {
      if (outcome === 'accepts') await expectAgreement('accepts', undefined, undefined, 'allpkg');
      else await expectAgreement(/Unable to locate package allpkg/, 70, /allpkg/, 'allpkg');
    } finally {
      await rm(binAll, { recursive: true });
      await publish(good);
    }
  });

  // apt checks every hash list it knows and takes the size of the strongest one (SHA512)
  it.each([
    ['SHA512', 'digest', 'refuse'],
    ['SHA1', 'digest', 'refuse'],
    ['MD5Sum', 'digest', 'refuse'],
    ['SHA512', 'size', 'refuse'],
    ['SHA256', 'size', 'take'],
    ['MD5Sum', 'size', 'take'],
  ] as const)('the Packages.gz line of %s with a wrong %s: both %s it', async (list, what, outcome) => {
    const edited = withListEdit(list, what);
    expect(edited).not.toBe(good);
    await publish(edited);
    if (outcome === 'take') await expectAgreement('accepts');
    else await expectAgreement(/Failed to fetch .*Packages\.gz/, 67, what === 'digest' ? new RegExp(`main/binary-amd64/Packages\\.gz: its ${list} is [0-9a-f]+, the signed Release says`) : /main\/binary-amd64\/Packages\.gz/);
  });

  /** the Release without the hash lists named */
  const withoutLists = (...lists: string[]) => {
    let section = '';
    return good
      .split('\n')
      .filter((line) => {
        if (/^\S/.test(line)) section = line.replace(/:.*$/, '');
        return !lists.includes(section);
      })
      .join('\n');
  };

  // apt 2.6 trusts a Release whose strong hash list is SHA512 alone (or SHA256 alone), and not one with
  // only the weak lists (SHA1, MD5Sum): "No Hash entry in Release file …, which is considered strong enough"
  it.each([
    ['SHA512 alone', ['SHA256', 'SHA1', 'MD5Sum'], 'accepts'],
    ['SHA512 and MD5Sum, no SHA256', ['SHA256', 'SHA1'], 'accepts'],
    ['SHA256 alone', ['SHA512', 'SHA1', 'MD5Sum'], 'accepts'],
    ['SHA1 and MD5Sum only', ['SHA256', 'SHA512'], 'refuses'],
  ] as const)('a Release listing %s: ferry takes it or refuses it as apt does', async (_what, drop, outcome) => {
    const edited = withoutLists(...drop);
    expect(edited).not.toBe(good);
    await publish(edited);
    try {
      if (outcome === 'accepts') await expectAgreement('accepts');
      else await expectAgreement(/strong enough|Failed to fetch|no hash|weak security/i, 66, /dists\/fixture\/: the Release lists no SHA256 or SHA512 sums/);
    } finally {
      await publish(good);
    }
  });

  // apt looks an index up by its uncompressed name: a Release that lists only Packages.gz makes it skip the
  // index (the Release says amd64 is supported, so without a word), and one that lists only the plain
  // Packages makes it fetch that, which this upstream does not serve
  it.each([
    ['Packages.gz and not the uncompressed Packages', '', /Unable to locate package app/, 70, /\(amd64\): package app is not in the configured sources for amd64$/],
    ['the uncompressed Packages and not Packages.gz', '\\.gz', /Failed to fetch .*binary-amd64\/Packages +404/, 69, /binary-amd64\/Packages: HTTP 404/],
  ] as const)('a Release listing %s (only Packages.gz served): both refuse', async (_what, dropped, aptSays, code, ferrySays) => {
    const edited = good.replace(new RegExp(`^ \\S+\\s+\\d+ main/binary-amd64/Packages${dropped}\\n`, 'gm'), '');
    expect(edited).not.toBe(good);
    await publish(edited);
    try {
      await expectAgreement(aptSays, code, ferrySays);
    } finally {
      await publish(good);
    }
  });

  // apt 2.6 splits a signed file itself before gpgv sees it (SplitClearSignedFile, ExecGPGV) and refuses
  // one with unsigned text around its signed parts; the signature itself is good in every case
  it.each([
    ['unsigned text before the signed message', (t: string) => `Origin: Evil\nSuite: fixture\n\n${t}`, /does not start with a signed message block|got 'NOSPLIT'/, /the clearsigned file does not start with its signed message/],
    ['an empty line before the signed message', (t: string) => `\n${t}`, /does not start with a signed message block|got 'NOSPLIT'/, /the clearsigned file does not start with its signed message/],
    ['an unsigned line after the signature', (t: string) => `${t}Origin: Evil\n`, /contains unsigned lines|Splitting up .* failed/, /unsigned text after the signature, line \d+/],
    ['an empty line after the signature', (t: string) => `${t}\n`, /contains unsigned lines|Splitting up .* failed/, /unsigned text after the signature, line \d+/],
    ['a second signed message after the signature', (t: string) => `${t}${t}`, /contains unsigned lines|Splitting up .* failed/, /unsigned text after the signature, line \d+/],
  ])('an InRelease with %s: both refuse (66)', async (_what, edit, aptSays, ferrySays) => {
    await publish(good);
    const inRelease = join(dist(), 'InRelease');
    const signed = await readFile(inRelease, 'utf8');
    await writeFile(inRelease, edit(signed));
    try {
      await expectAgreement(aptSays, 66, new RegExp(`dists/fixture/InRelease: ${ferrySays.source}`));
    } finally {
      await publish(good);
    }
  });

  // dash-escaping is undone before hashing, so a signed line "-Note" stays signed without its "- ": apt refuses
  // such a line all the same (a dash line is where a signed message ends), and so does ferry
  it('an InRelease whose signed text holds a line starting with a dash that is not dash-escaped: both refuse (66)', async () => {
    await publish(good.replace(/^Date: .*$/m, (d) => `${d}\n-Note: x`));
    const inRelease = join(dist(), 'InRelease');
    const signed = await readFile(inRelease, 'utf8');
    expect(signed).toMatch(/\n- -Note: x\r?\n/);
    await writeFile(inRelease, signed.replace(/\n- -Note: x(\r?\n)/, '\n-Note: x$1'));
    try {
      await expectAgreement(/dash|Splitting up .* failed|NOSPLIT/, 66, /dists\/fixture\/InRelease: message line \d+ starts with a dash without being dash-escaped/);
    } finally {
      await publish(good);
    }
  });

  it('an InRelease with trailing spaces and CRLF line ends on its armor lines: both take it', async () => {
    await publish(good);
    const inRelease = join(dist(), 'InRelease');
    const signed = await readFile(inRelease, 'utf8');
    await writeFile(inRelease, signed.replace(/^(-----[A-Z ]+-----)$/gm, '$1 \t\r'));
    try {
      await expectAgreement('accepts');
    } finally {
      await publish(good);
    }
  });

  it.each([
    ['text before the armored signature', (s: string) => `Origin: Evil\n${s}`],
    ['text after the armored signature', (s: string) => `${s}Origin: Evil\n`],
  ])('no InRelease, a Release.gpg with %s: both refuse (66)', async (_what, edit) => {
    await signRelease(dist(), good, await readPrivate(fx.upstreamKey.secretArmored), false);
    await rm(join(dist(), 'InRelease'));
    const gpg = join(dist(), 'Release.gpg');
    await writeFile(gpg, edit(await readFile(gpg, 'utf8')));
    try {
      await expectAgreement(/not belonging to a signature|Release\.gpg/, 66, /dists\/fixture\/Release\.gpg: text outside the armored signature/);
    } finally {
      await publish(good);
    }
  });

  it('a second lock whose Release now gives the same SHA256 and another SHA512: refused (67), not answered from the parsed index the first lock kept', async () => {
    await publish(good);
    const dir = join(fx.dir, 'release-case-cached');
    await mkdir(dir);
    await copyFile(fx.upstreamKey.public, join(dir, 'upstream.asc'));
    const spec = await writeAptSpec(dir, fx.server.url);
    const first = await ferry(['lock', spec, '--cache', join(dir, 'cache')]);
    expect(first.code, first.stderr).toBe(0);
    // without its downloaded Packages.gz, only the parsed form (and the digests kept beside it) can answer
    await rm(join(dir, 'cache', 'sha256'), { recursive: true, force: true });
    await publish(withListEdit('SHA512', 'digest'));
    const second = await ferry(['lock', spec, '--cache', join(dir, 'cache')]);
    expect(second.code, second.stderr).toBe(67);
    expect(second.stderr.trim().split('\n').at(-1)).toMatch(/^ferry: .*main\/binary-amd64\/Packages\.gz: its SHA512 is [0-9a-f]+, the signed Release says/);
    await publish(good);
    const third = await ferry(['lock', spec, '--cache', join(dir, 'cache')]);
    expect(third.code, third.stderr).toBe(0);
  });
});
