import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { FORMAT, parseManifest, serializeManifest, type Manifest } from '../../src/bundle/manifest.js';
import { resolveRequestPath } from '../../src/serve/resolveRequestPath.js';
import { PackedIndex, packIndex } from '../../src/sources/apt/packedIndex.js';
import { selectMirrorPackages } from '../../src/sources/apt/selectMirrorPackages.js';
import type { AptPackage } from '../../src/sources/apt/types.js';
import { resolveMirror } from '../../src/store/resolveMirror.js';
import { switchMirror } from '../../src/store/syncMirrorLinks.js';

const origin = { uri: 'http://127.0.0.1:9', suite: 'stable', component: 'main' };
const pkg = (name: string, version: string, extra: Partial<AptPackage> = {}): AptPackage => ({
  name, version, architecture: 'amd64', essential: false, provides: [], filename: `pool/${name}_${version}.deb`, size: 1, sha256: `${name}${version}`.padEnd(64, '0').replace(/[^0-9a-f]/g, 'a'), origin, ...extra,
});
const index = (pkgs: AptPackage[]) => [PackedIndex.open(packIndex(pkgs), origin)!];
const names = (ps: AptPackage[]) => ps.map((p) => `${p.name} ${p.version}`);

describe('mirror selection', () => {
  const upstream = index([
    pkg('nc', '1.0', { section: 'contrib/net' }),
    pkg('tool', '1.0'), pkg('tool', '2.0'), pkg('tool', '3.0'),
    pkg('game', '1.0', { section: 'games', depends: 'libgame' }),
    pkg('libgame', '1.0', { section: 'libs' }),
    pkg('base', '1.0', { priority: 'required' }),
    pkg('i386only', '1.0', { architecture: 'i386', section: 'net' }),
  ]);
  it('keeps the newest N versions of each package', () => {
    expect(names(selectMirrorPackages(upstream, { architectures: ['amd64'], keep: 2, filter: { packages: ['too?'], sections: [], priorities: [], with_dependencies: false } }, 'm'))).toEqual(['tool 2.0', 'tool 3.0']);
  });
  it('selects by section (a "contrib/net" section matches "net"), priority or glob, on the mirror\'s architectures only', () => {
    expect(names(selectMirrorPackages(upstream, { architectures: ['amd64'], keep: 1, filter: { packages: [], sections: ['net'], priorities: ['required'], with_dependencies: false } }, 'm'))).toEqual(['base 1.0', 'nc 1.0']);
  });
  it('adds dependencies only when asked, and takes everything without a filter', () => {
    const f = { packages: ['game'], sections: [], priorities: [] };
    expect(names(selectMirrorPackages(upstream, { architectures: ['amd64'], keep: 1, filter: { ...f, with_dependencies: false } }, 'm'))).toEqual(['game 1.0']);
    expect(names(selectMirrorPackages(upstream, { architectures: ['amd64'], keep: 1, filter: { ...f, with_dependencies: true } }, 'm'))).toEqual(['game 1.0', 'libgame 1.0']);
    expect(names(selectMirrorPackages(upstream, { architectures: ['amd64'], keep: 1 }, 'm'))).toEqual(['base 1.0', 'game 1.0', 'libgame 1.0', 'nc 1.0', 'tool 3.0']);
  });
  it('adds what each selected version needs: the one of every suite, and each older version keep holds', () => {
    // stable has app 1.0 (needs liba); updates has app 1.1 (needs libb): a host of the mirror's stable suite
    // installs app 1.0, so liba must come along, not only what the newest app needs
    // with Releases that name their suites (`app/bookworm`, which also takes stable's libx 1.0 for
    // `Depends: libx (<< 2)` as apt-get does), and without (`app=1.0`)
    for (const named of [true, false]) {
      const stable = { ...origin, ...(named ? { releaseNames: ['bookworm'] } : {}) };
      const updates = { ...origin, suite: 'updates', ...(named ? { releaseNames: ['bookworm-updates'] } : {}) };
      const twoSuites = [
        PackedIndex.open(packIndex([pkg('app', '1.0', { depends: named ? 'liba, libx (<< 2)' : 'liba', origin: stable }), pkg('liba', '1.0', { origin: stable }), pkg('libx', '1.0', { origin: stable })]), stable)!,
        PackedIndex.open(packIndex([pkg('app', '1.1', { depends: 'libb', origin: updates }), pkg('libb', '1.0', { origin: updates }), pkg('libx', '2.0', { origin: updates })]), updates)!,
      ];
      const f = { packages: ['app'], sections: [], priorities: [], with_dependencies: true };
      expect(selectMirrorPackages(twoSuites, { architectures: ['amd64'], keep: 1, filter: f }, 'm').map((p) => `${p.origin.suite} ${p.name} ${p.version}`)).toEqual([
        'stable app 1.0',
        'stable liba 1.0',
        ...(named ? ['stable libx 1.0'] : []),
        'updates app 1.1',
        'updates libb 1.0',
      ]);
    }
    const f = { packages: ['app'], sections: [], priorities: [], with_dependencies: true };
    // keep: 2 holds tool 1.0 too: apt-get install tool=1.0 needs libold
    const versions = index([pkg('tool', '1.0', { depends: 'libold' }), pkg('tool', '2.0', { depends: 'libnew' }), pkg('libold', '1.0'), pkg('libnew', '1.0')]);
    expect(names(selectMirrorPackages(versions, { architectures: ['amd64'], keep: 2, filter: { ...f, packages: ['tool'] } }, 'm'))).toEqual(['libnew 1.0', 'libold 1.0', 'tool 1.0', 'tool 2.0']);
  });
  it('refuses one version listed as two different files even when only the filter selects it (exit 67 as documented), keeping a file listed twice once', () => {
    const twice = index([pkg('tool', '1.0'), pkg('tool', '1.0', { filename: 'pool/tool_1.0.rebuilt.deb', sha256: 'b'.repeat(64) }), pkg('tool', '0.9')]);
    const f = { packages: ['tool'], sections: [], priorities: [], with_dependencies: false };
    expect(() => selectMirrorPackages(twice, { architectures: ['amd64'], keep: 1, filter: f }, 'mirrors.apt.x')).toThrow(/mirrors\.apt\.x: the upstream lists tool 1\.0 amd64 \(main\) as two different files/);
    const same = index([pkg('tool', '1.0'), pkg('tool', '1.0', { filename: 'pool/tool_1.0.again.deb' }), pkg('tool', '0.9')]);
    expect(names(selectMirrorPackages(same, { architectures: ['amd64'], keep: 2, filter: f }, 'm'))).toEqual(['tool 0.9', 'tool 1.0']);
  });
  it('keeps the newest N versions of a package across Architecture: all and the mirror\'s architecture, as apt sees one package', () => {
    // tool became Architecture: all in 2.0: on amd64, apt's versions of tool are 2.0 (all) and 1.0 (amd64)
    const moved = index([pkg('tool', '1.0'), pkg('tool', '2.0', { architecture: 'all' }), pkg('tool', '0.5', { architecture: 'all' })]);
    const f = { packages: ['tool'], sections: [], priorities: [], with_dependencies: false };
    expect(selectMirrorPackages(moved, { architectures: ['amd64'], keep: 1, filter: f }, 'm').map((p) => `${p.version} ${p.architecture}`)).toEqual(['2.0 all']);
    expect(selectMirrorPackages(moved, { architectures: ['amd64'], keep: 2, filter: f }, 'm').map((p) => `${p.version} ${p.architecture}`)).toEqual(['2.0 all', '1.0 amd64']);
  });
  it('fails naming the selected package whose dependencies the upstream cannot meet', () => {
    const broken = index([pkg('app', '1.0', { depends: 'ghost (>= 2)' })]);
    expect(() => selectMirrorPackages(broken, { architectures: ['amd64'], keep: 1, filter: { packages: ['app'], sections: [], priorities: [], with_dependencies: true } }, 'mirrors.apt.x')).toThrow(/mirrors\.apt\.x \(amd64\): app: .*ghost/);
  });
});

describe('mirror URLs and links', () => {
  it('routes /mirrors/NAME/ and /mirrors/NAME@VERSION/, refusing anything else', () => {
    expect(resolveRequestPath('/mirrors/debian/debian/dists/x/Release')).toEqual({ kind: 'mirror', mirror: 'debian', version: undefined, path: 'debian/dists/x/Release', directory: false });
    expect(resolveRequestPath('/mirrors/debian@2026.11.1/keys/bundle.asc')).toMatchObject({ kind: 'mirror', mirror: 'debian', version: '2026.11.1', path: 'keys/bundle.asc' });
    expect(resolveRequestPath('/mirrors/debian')).toEqual({ kind: 'redirect', location: '/mirrors/debian/' });
    for (const bad of ['/mirrors/a@b@c/x', '/mirrors/@1/x', '/mirrors/a@/x', '/mirrors/%2e%2e/x', '/mirrors/debian/../x', '/mirrors/.hidden/x']) {
      expect(resolveRequestPath(bad).kind, bad).toBe('refused');
    }
  });

  it('refuses a manifest whose mirror name could leave STORE/mirrors', () => {
    const m: Manifest = { format: FORMAT, name: 'm', version: '1', epoch: '2026-11-25T00:00:00.000Z', created_by: 'ferry test', targets: {}, services: {}, artifacts: { mirror: { apt: { '../../etc': { suites: ['stable'] } } } }, entries: [] };
    expect(() => parseManifest(serializeManifest(m), 'x.ferry')).toThrow(/artifacts\.mirror\.apt/);
  });

  it('resolves only links of the form ferry writes; a planted file is refused, a foreign target is not served', async () => {
    const store = await mkdtemp(join(tmpdir(), `ferry-mirror-links-${process.pid}-`));
    await mkdir(join(store, 'mirrors'));
    const digest = 'a'.repeat(64);
    await symlink('good@1', join(store, 'mirrors/good'));
    await symlink(`../bundles/${digest}/mirrors/good`, join(store, 'mirrors/good@1'));
    await symlink('/etc', join(store, 'mirrors/evil@1'));
    await symlink('evil@1', join(store, 'mirrors/evil'));
    await symlink(`../bundles/${digest}/mirrors/good`, join(store, 'mirrors/other@1'));
    await writeFile(join(store, 'mirrors/planted'), 'x');
    expect(await resolveMirror(store, 'good')).toEqual({ version: '1', digest });
    expect(await resolveMirror(store, 'evil')).toBeUndefined();
    expect(await resolveMirror(store, 'other', '1')).toBeUndefined();
    expect(await resolveMirror(store, 'missing')).toBeUndefined();
    await expect(resolveMirror(store, 'planted')).rejects.toThrow(/not a symbolic link/);
    // switch names nothing outside STORE/mirrors, and only a snapshot that is there
    await mkdir(join(store, 'releases/app'), { recursive: true });
    await symlink('../../bundles/x', join(store, 'releases/app@1'));
    await expect(switchMirror(store, '../releases/app', '1')).rejects.toThrow(/expected a mirror name/);
    await expect(switchMirror(store, 'good', '../1')).rejects.toThrow(/expected a mirror name/);
    await expect(switchMirror(store, 'good', '2')).rejects.toThrow(/no snapshot 2.*it has 1/);
  });
});

describe('ferry diff of mirrors', () => {
  it('reads what a manifest\'s mirror lists when it can and passes over the rest (not a list, null, a number), exit 0, not an internal error', async () => {
    const dir = await mkdtemp(join(tmpdir(), `ferry-mirror-diff-${process.pid}-`));
    const manifest = (version: string, mirror: Record<string, unknown>): Manifest => ({ format: FORMAT, name: 'm', version, epoch: '2026-11-25T00:00:00.000Z', created_by: 'ferry test', targets: {}, services: {}, artifacts: { mirror }, entries: [] });
    const a = join(dir, 'a.json');
    const b = join(dir, 'b.json');
    await writeFile(a, serializeManifest(manifest('1', { apt: { debian: { suites: ['stable'], packages: [{ name: 'hello', version: '1.0', architecture: 'amd64', suite: 'stable' }] } } })));
    await writeFile(
      b,
      serializeManifest(
        manifest('2', {
          apt: { debian: { suites: ['stable'], packages: [null, 5, { name: 'hello', version: '2.0', architecture: 'amd64', suite: 'stable' }, { name: ['x'] }], sourcePackages: 5 }, other: { suites: ['stable'], packages: 'x' } },
          python: { pypi: { files: [null, { project: 'six', version: '1.16.0', filename: 'six-1.16.0-py2.py3-none-any.whl' }] }, broken: { files: 3 } },
        }),
      ),
    );
    const r = await ferry(['diff', a, b, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).sections.mirrors).toEqual({
      added: [{ name: 'pypi/six/six-1.16.0-py2.py3-none-any.whl', version: '1.16.0' }],
      removed: [],
      changed: [{ name: 'debian/stable/hello:amd64', from: '1.0', to: '2.0' }],
    });
  });
});
