import { beforeAll, describe, expect, it } from 'vitest';
import { access, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KINDS } from '../../src/sources/kinds.js';
import { ferry, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { writeSpec } from './helpers.js';
import type { CdxBom } from '../../src/sbom/cycloneDx.js';

// Opt-in (FERRY_TEST_MMDEBSTRAP=1): downloads a minbase system from the machine's own mirror (the
// address comes from its apt sources via `uri: system`, never from this repository) and runs
// mmdebstrap twice. Needs the apt kind, mmdebstrap, and a mirror that answers.
const codename = /^VERSION_CODENAME=(\S+)$/m.exec(await readFile('/etc/os-release', 'utf8').catch(() => ''))?.[1];
const wanted = process.env.FERRY_TEST_MMDEBSTRAP === '1';
const ready =
  wanted &&
  codename !== undefined &&
  KINDS.some((k) => k.name === 'apt') &&
  (await run('sh', ['-c', 'command -v mmdebstrap'])).code === 0 &&
  (await run('apt-get', ['update', '-qq'])).code === 0;

describe.skipIf(!ready)('rootfs built by mmdebstrap from the bundle\'s own apt repository', () => {
  let dir: string;
  let key: Awaited<ReturnType<typeof writeKey>>;
  let spec: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-mmdebstrap-'));
    key = await writeKey(dir, 'team');
    // no apt list: the apt kind carries what the rootfs's variant and packages need
    spec = await writeSpec(
      dir,
      [
        `targets: { debian: { suite: ${codename}, architectures: [amd64] } }`,
        'upstreams: { apt: [{ uri: system }] }',
        'services:',
        '  base: { version: "1", groups: [all], artifacts: { rootfs: [minbase] } }',
        'rootfs:',
        '  minbase: { mmdebstrap: { variant: minbase } }',
        '',
      ].join('\n'),
      'mmdeb',
    );
  });

  it('builds the same bytes twice, and the extracted rootfs runs dpkg with its packages installed', async () => {
    const cache = join(dir, 'cache');
    const a = await ferry(['build', spec, '--key', key.secret, '--out', join(dir, 'a'), '--cache', cache, '--json']);
    expect(a.code, a.stderr).toBe(0);
    const b = await ferry(['build', spec, '--key', key.secret, '--out', join(dir, 'b'), '--cache', cache]);
    expect(b.code, b.stderr).toBe(0);
    expect((await readFile(join(dir, 'a/mmdeb-1.0.0.ferry'))).equals(await readFile(join(dir, 'b/mmdeb-1.0.0.ferry')))).toBe(true);

    const store = join(dir, 'store');
    const i = await ferry(['import', JSON.parse(a.stdout).bundle, '--keyring', key.public, '--store', store]);
    expect(i.code, i.stderr).toBe(0);
    const to = join(dir, 'rootfs');
    const x = await ferry(['extract', 'mmdeb/1.0.0', 'rootfs/minbase', '--store', store, '--to', to]);
    expect(x.code, x.stderr).toBe(0);
    const dpkg = await run('chroot', [to, 'dpkg', '-l']);
    expect(dpkg.code, dpkg.stderr).toBe(0);
    expect(dpkg.stdout).toMatch(/^ii {2}apt /m);
    expect(dpkg.stdout).toMatch(/^ii {2}base-files /m);
    // the build machine's resolver and name do not travel
    await expect(access(join(to, 'etc/resolv.conf'))).rejects.toThrow();
    await expect(access(join(to, 'etc/hostname'))).rejects.toThrow();
    // nor does the build's scratch repository: apt inside has no source until deploy gives it one
    await expect(access(join(to, 'etc/apt/sources.list'))).rejects.toThrow();
    expect(await readdir(join(to, 'etc/apt/sources.list.d'))).toEqual([]);

    // the SBOM lists inside the rootfs exactly what dpkg says is installed there, as the bundle's .debs
    const sbom = await ferry(['sbom', 'mmdeb/1.0.0', '--store', store]);
    expect(sbom.code, sbom.stderr).toBe(0);
    const bom = JSON.parse(sbom.stdout) as CdxBom;
    const rootfs = bom.components.find((c) => c['bom-ref'] === 'rootfs/minbase.tar.gz')!;
    expect(rootfs.type).toBe('operating-system');
    const query = await run('chroot', [to, 'dpkg-query', '-W', '-f', '${db:Status-Status} ${Package} ${Version} ${Architecture}\\n']);
    const installed = query.stdout.split('\n').filter((l) => l.startsWith('installed ')).map((l) => l.split(' ').slice(1).join(' ')).sort();
    // each purl with the architecture dpkg gives and the suite as distro=, qualifiers in key order
    expect((rootfs.components ?? []).map((c) => `${c.name} ${c.version} ${/\?arch=([^&]+)&distro=([^&]+)$/.exec(c.purl!)?.slice(1).join(' ')}`).sort()).toEqual(installed.map((l) => `${l} ${codename}`));
    const carried = new Map(bom.components.map((c) => [c.purl, c.hashes]));
    for (const c of rootfs.components!) expect(c.hashes, c.purl).toEqual(carried.get(c.purl));

    // ferry audit reads the SBOM, so a package inside the rootfs is audited there too, under its source
    const inside = rootfs.components!.find((c) => c.name === 'base-files')!;
    const source = inside.properties!.find((p) => p.name === 'ferry:deb:source')!.value;
    const tracker = join(dir, 'tracker.json');
    await writeFile(tracker, JSON.stringify({ [source]: { 'CVE-2026-9999': { releases: { [codename!]: { status: 'resolved', fixed_version: `${inside.version}+ferrytest1`, urgency: 'high' } } } } }));
    const audit = await ferry(['audit', 'mmdeb/1.0.0', '--store', store, '--db', tracker, '--suite', codename!, '--json']);
    expect(audit.code, audit.stderr).toBe(0);
    expect(JSON.parse(audit.stdout).findings).toContainEqual({ kind: 'deb', package: 'base-files', version: inside.version, in: 'rootfs/minbase.tar.gz', fixed: `${inside.version}+ferrytest1`, ids: ['CVE-2026-9999'], severity: 'high' });
  });
});
