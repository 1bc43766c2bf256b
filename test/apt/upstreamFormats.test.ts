import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { aptKind } from '../../src/sources/apt/aptKind.js';
import { loadAptUpstreams } from '../../src/sources/apt/loadAptUpstreams.js';
import { readSystemSources } from '../../src/sources/apt/readSystemSources.js';
import { Spec } from '../../src/specfile/schema.js';
import { writeKey } from '../helpers/keys.js';
import { context, fixtureUpstream } from './aptSetup.js';

const appSpec = (url: string, keyring: string) => ({
  targets: { debian: { suite: 'bookworm', architectures: ['amd64'] } },
  upstreams: { apt: [{ uri: url, suites: ['fixture'], keyring }] },
  services: { web: { version: '1', groups: ['web'], artifacts: { apt: ['app'] } } },
});

describe('upstream formats', () => {
  it('asks for the next compression the Release lists when the mirror lacks one (a copy with only the plain Packages), over HTTP and from a local path', async () => {
    const fx = await fixtureUpstream({ compress: ['gz', 'plain'] });
    try {
      await rm(join(fx.upstreamRoot, 'dists/fixture/main/binary-amd64/Packages.gz'));
      for (const uri of [fx.server.url, `file://${fx.upstreamRoot}`]) {
        const ctx = await context(fx.dir, appSpec(uri, fx.upstreamKey.public), fx.bundleKey.secretArmored, join(fx.dir, `cache-${uri.startsWith('file') ? 'file' : 'http'}`));
        const lock = (await aptKind.lock(ctx))!;
        expect(lock.packages.map((p) => p.name)).toContain('libfoo');
      }
      expect(fx.server.requests).toEqual(expect.arrayContaining(['/dists/fixture/main/binary-amd64/Packages.gz', '/dists/fixture/main/binary-amd64/Packages']));
    } finally {
      await fx.server.close();
    }
  });

  it('reads an upstream that only has Packages.xz and only Release + Release.gpg (no InRelease)', async () => {
    const fx = await fixtureUpstream({ compress: ['xz'], inRelease: false });
    try {
      const ctx = await context(fx.dir, appSpec(fx.server.url, fx.upstreamKey.public), fx.bundleKey.secretArmored);
      const lock = (await aptKind.lock(ctx))!;
      expect(lock.packages.map((p) => p.name)).toContain('libfoo');
      expect(fx.server.requests).toEqual(expect.arrayContaining(['/dists/fixture/InRelease', '/dists/fixture/Release', '/dists/fixture/Release.gpg', '/dists/fixture/main/binary-amd64/Packages.xz']));
    } finally {
      await fx.server.close();
    }
  });

  it('reads a local mirror given as an absolute path or file:// URL', async () => {
    const fx = await fixtureUpstream();
    try {
      for (const uri of [fx.upstreamRoot, `file://${fx.upstreamRoot}`]) {
        const ctx = await context(fx.dir, appSpec(uri, fx.upstreamKey.public), fx.bundleKey.secretArmored, join(fx.dir, `cache-${uri.length}`));
        const lock = (await aptKind.lock(ctx))!;
        expect(lock.packages.find((p) => p.name === 'app')!.url).toBe(`${uri}/pool/main/app_1.0-1_amd64.deb`);
        const r = await aptKind.collect(lock, ctx);
        expect(r.entries.filter((e) => e.kind === 'apt')).toHaveLength(lock.packages.length);
      }
      expect(fx.server.requests).toEqual([]);
    } finally {
      await fx.server.close();
    }
  });

  it('reads a binary (.gpg) keyring as well as an armored one', async () => {
    const fx = await fixtureUpstream();
    try {
      const { execFileSync } = await import('node:child_process');
      const binary = join(fx.dir, 'upstream-keyring.gpg');
      await writeFile(binary, execFileSync('gpg', ['--dearmor'], { input: await (await import('node:fs/promises')).readFile(fx.upstreamKey.public) }));
      const ctx = await context(fx.dir, appSpec(fx.server.url, binary), fx.bundleKey.secretArmored);
      expect((await aptKind.lock(ctx))!.sources[0]!.signers).toEqual([fx.upstreamKey.fingerprint]);
    } finally {
      await fx.server.close();
    }
  });
});

describe('uri: system reads the machine apt sources', () => {
  it('reads deb822 .sources and one-line .list files, skipping deb-src and disabled entries', async () => {
    const etc = await mkdtemp(join(tmpdir(), 'ferry-etc-apt-'));
    await mkdir(join(etc, 'sources.list.d'));
    await writeFile(join(etc, 'sources.list'), '# comment\ndeb http://127.0.0.1:9/debian bookworm main contrib\ndeb-src http://127.0.0.1:9/debian bookworm main\n');
    await writeFile(
      join(etc, 'sources.list.d/a.sources'),
      'Types: deb deb-src\nURIs: http://127.0.0.1:9/mirror\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/x.gpg\nCheck-Valid-Until: No\n\nTypes: deb\nURIs: http://127.0.0.1:9/off\nSuites: x\nComponents: main\nEnabled: no\n',
    );
    await writeFile(join(etc, 'sources.list.d/b.list'), 'deb [arch=amd64 signed-by=/etc/apt/keyrings/b.asc] http://127.0.0.1:9/b stable main\ndeb [check-valid-until=no] http://127.0.0.1:9/snap stable main\n');
    await writeFile(join(etc, 'sources.list.d/c.list.disabled'), 'deb http://127.0.0.1:9/c stable main\n');
    const got = await readSystemSources(etc);
    expect(got.map(({ from: _f, ...s }) => s)).toEqual([
      { uri: 'http://127.0.0.1:9/debian', suites: ['bookworm'], components: ['main', 'contrib'], checkValidUntil: true },
      { uri: 'http://127.0.0.1:9/mirror', suites: ['bookworm', 'bookworm-updates'], components: ['main'], signedBy: { files: ['/usr/share/keyrings/x.gpg'] }, checkValidUntil: false },
      { uri: 'http://127.0.0.1:9/b', suites: ['stable'], components: ['main'], signedBy: { files: ['/etc/apt/keyrings/b.asc'] }, checkValidUntil: true },
      { uri: 'http://127.0.0.1:9/snap', suites: ['stable'], components: ['main'], checkValidUntil: false },
    ]);
  });

  it('takes an inline Signed-By key block and filters suites', async () => {
    const etc = await mkdtemp(join(tmpdir(), 'ferry-etc-apt-'));
    const key = await writeKey(etc, 'inline');
    const inline = key.publicArmored.trim().split('\n').map((l) => ' ' + (l === '' ? '.' : l)).join('\n');
    await mkdir(join(etc, 'sources.list.d'));
    await writeFile(join(etc, 'sources.list.d/x.sources'), `Types: deb\nURIs: http://127.0.0.1:9/x\nSuites: one two\nComponents: main\nSigned-By:\n${inline}\n`);
    const spec = Spec.parse({ name: 'n', version: '1', epoch: '2026-01-01T00:00:00Z', upstreams: { apt: [{ uri: 'system', suites: ['two'] }] } });
    const ups = await loadAptUpstreams(spec.upstreams.apt, { baseDir: etc, etc, where: 'upstreams.apt' });
    expect(ups).toHaveLength(1);
    expect(ups[0]!.suites).toEqual(['two']);
    expect(ups[0]!.keys.map((k) => k.getFingerprint().toUpperCase())).toEqual([key.fingerprint]);
  });
});
