import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { selectFile } from '../../src/sources/python/selectFile.js';
import { targetTags, type PythonTarget } from '../../src/sources/python/targetTags.js';
import type { Pin } from '../../src/sources/python/parseRequirementsFile.js';
import { ResolveError } from '../../src/errors.js';

/** What the `packaging` library (the one pip uses) says the target host accepts, best first. */
function packagingTags(target: PythonTarget): string[] {
  const out = execFileSync('python3', [join(import.meta.dirname, 'packaging_tags.py')], { input: JSON.stringify(target), encoding: 'utf8' });
  return JSON.parse(out) as string[];
}

const targets: PythonTarget[] = [
  { version: '3.11', implementation: 'cp', platforms: ['manylinux_2_36_x86_64'] },
  { version: '3.12', implementation: 'cp', platforms: ['manylinux2014_aarch64'] },
  { version: '3.12', implementation: 'cp', platforms: ['musllinux_1_2_x86_64'] },
  { version: '3.8', implementation: 'cp', platforms: ['manylinux_2_17_x86_64'] },
  { version: '3.7', implementation: 'cp', platforms: ['manylinux1_x86_64'] },
  { version: '3.10', implementation: 'cp', platforms: ['win_amd64'] },
  // PyPy: the ABI PyPy 7.3 reports (pypy39_pp73) unless one is given
  { version: '3.9', implementation: 'pp', platforms: ['manylinux_2_17_x86_64'] },
  { version: '3.10', implementation: 'pp', abi: 'pypy310_pp73', platforms: ['manylinux_2_28_aarch64'] },
];

describe('target tags', () => {
  for (const target of targets) {
    it(`lists exactly packaging's tags in packaging's order for ${target.implementation}${target.version} ${target.platforms.join(',')}`, () => {
      expect(targetTags(target)).toEqual(packagingTags(target));
    });
  }
});

const pin = (name: string, version: string): Pin => ({ name, project: name, version, extras: [], hashes: ['a'.repeat(64)], where: 'requirements.txt:1' });
const files = (names: string[]) => names.map((filename) => ({ filename, url: `http://127.0.0.1/files/${filename}` }));

/** Wheels of one release of "demo" covering the usual spread of tags on an index. */
const DEMO = [
  'demo-1.0-py3-none-any.whl',
  'demo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
  'demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl',
  'demo-1.0-cp311-cp311-musllinux_1_1_x86_64.whl',
  'demo-1.0-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl',
  'demo-1.0-cp38-abi3-manylinux_2_17_x86_64.whl',
  'demo-1.0-cp310-cp310-win_amd64.whl',
  'demo-1.0-cp37-cp37m-manylinux1_x86_64.whl',
  'demo-1.0-pp39-pypy39_pp73-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
  'demo-1.0.tar.gz',
];

describe('file choice', () => {
  const table: Array<[PythonTarget, string]> = [
    [{ version: '3.11', implementation: 'cp', platforms: ['manylinux_2_36_x86_64'] }, 'demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl'],
    [{ version: '3.11', implementation: 'cp', platforms: ['manylinux_2_17_x86_64'] }, 'demo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl'],
    [{ version: '3.11', implementation: 'cp', platforms: ['musllinux_1_2_x86_64'] }, 'demo-1.0-cp311-cp311-musllinux_1_1_x86_64.whl'],
    [{ version: '3.12', implementation: 'cp', platforms: ['manylinux_2_36_x86_64'] }, 'demo-1.0-cp38-abi3-manylinux_2_17_x86_64.whl'],
    [{ version: '3.12', implementation: 'cp', platforms: ['manylinux_2_36_aarch64'] }, 'demo-1.0-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl'],
    [{ version: '3.13', implementation: 'cp', platforms: ['manylinux_2_36_aarch64'] }, 'demo-1.0-py3-none-any.whl'],
    [{ version: '3.10', implementation: 'cp', platforms: ['win_amd64'] }, 'demo-1.0-cp310-cp310-win_amd64.whl'],
    [{ version: '3.7', implementation: 'cp', platforms: ['manylinux_2_17_x86_64'] }, 'demo-1.0-cp37-cp37m-manylinux1_x86_64.whl'],
    [{ version: '3.9', implementation: 'pp', platforms: ['manylinux_2_17_x86_64'] }, 'demo-1.0-pp39-pypy39_pp73-manylinux_2_17_x86_64.manylinux2014_x86_64.whl'],
  ];
  for (const [target, expected] of table) {
    it(`chooses ${expected} for ${target.implementation}${target.version} ${target.platforms[0]}, as packaging's order does`, () => {
      const tags = targetTags(target);
      const chosen = selectFile(pin('demo', '1.0'), files(DEMO), { tags, pythonVersion: target.version, allowSdist: false, page: 'index' });
      expect(chosen.file.filename).toBe(expected);
      // the same choice from packaging's own order: the wheel whose best tag comes first
      const order = packagingTags(target);
      const rank = (f: string) => Math.min(...wheelTags(f).map((t) => (order.indexOf(t) < 0 ? Infinity : order.indexOf(t))));
      const byPackaging = DEMO.filter((f) => f.endsWith('.whl') && rank(f) < Infinity).sort((a, b) => rank(a) - rank(b))[0];
      expect(byPackaging).toBe(expected);
    });
  }

  it('prefers the higher build tag between two wheels with the same tag', () => {
    const chosen = selectFile(pin('demo', '1.0'), files(['demo-1.0-1-py3-none-any.whl', 'demo-1.0-2-py3-none-any.whl']), {
      tags: targetTags(targets[0]!),
      pythonVersion: '3.11',
      allowSdist: false,
      page: 'index',
    });
    expect(chosen.file.filename).toBe('demo-1.0-2-py3-none-any.whl');
  });

  it('refuses an sdist unless the spec allows sdists, and names every file it did not take', () => {
    const target: PythonTarget = { version: '3.11', implementation: 'cp', platforms: ['manylinux_2_36_aarch64'] };
    const opts = { tags: targetTags(target), pythonVersion: '3.11', allowSdist: false, page: 'index' };
    const only = files(['demo-1.0-cp311-cp311-win_amd64.whl', 'demo-1.0.tar.gz']);
    let err: unknown;
    try {
      selectFile(pin('demo', '1.0'), only, opts);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ResolveError);
    expect((err as Error).message).toContain('no file of demo==1.0 fits the target');
    expect((err as Error).message).toContain('demo-1.0-cp311-cp311-win_amd64.whl: its tags (cp311-cp311-win_amd64) do not fit the target');
    expect((err as Error).message).toContain('demo-1.0.tar.gz: a source distribution (set upstreams.python.allow_sdist: true');
    expect(selectFile(pin('demo', '1.0'), only, { ...opts, allowSdist: true }).file.filename).toBe('demo-1.0.tar.gz');
  });

  it('skips yanked files when another fits, and uses a yanked one (with a warning) only because the pin is exact', () => {
    const opts = { tags: targetTags(targets[0]!), pythonVersion: '3.11', allowSdist: false, page: 'index' };
    const list = [
      { filename: 'demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl', url: 'http://127.0.0.1/a', yanked: 'broken build' },
      { filename: 'demo-1.0-py3-none-any.whl', url: 'http://127.0.0.1/b' },
    ];
    const a = selectFile(pin('demo', '1.0'), list, opts);
    expect(a.file.filename).toBe('demo-1.0-py3-none-any.whl');
    expect(a.warnings).toEqual([]);
    const b = selectFile(pin('demo', '1.0'), list.slice(0, 1), opts);
    expect(b.file.filename).toBe('demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl');
    expect(b.warnings[0]).toContain('is yanked (broken build); used because the requirements pin demo==1.0 exactly');
  });

  it('excludes files whose sha256 is not pinned or whose Requires-Python excludes the target', () => {
    const opts = { tags: targetTags(targets[0]!), pythonVersion: '3.11', allowSdist: false, page: 'index' };
    const list = [
      { filename: 'demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl', url: 'http://127.0.0.1/a', sha256: 'b'.repeat(64) },
      { filename: 'demo-1.0-cp311-abi3-manylinux_2_28_x86_64.whl', url: 'http://127.0.0.1/b', requiresPython: '>=3.12' },
      { filename: 'demo-1.0-py3-none-any.whl', url: 'http://127.0.0.1/c', sha256: 'a'.repeat(64) },
    ];
    expect(selectFile(pin('demo', '1.0'), list, opts).file.filename).toBe('demo-1.0-py3-none-any.whl');
    expect(() => selectFile(pin('demo', '1.0'), list.slice(0, 2), opts)).toThrow(/sha256 b{64} is not among the pinned hashes[\s\S]*Requires-Python >=3.12 excludes Python 3.11/);
  });

  it('says which versions the index has when the pinned one is missing', () => {
    const opts = { tags: targetTags(targets[0]!), pythonVersion: '3.11', allowSdist: false, page: 'http://127.0.0.1/simple/demo/' };
    expect(() => selectFile(pin('demo', '2.0'), files(['demo-1.0-py3-none-any.whl', 'demo-1.5-py3-none-any.whl']), opts)).toThrow(
      'requirements.txt:1: demo==2.0: http://127.0.0.1/simple/demo/ lists no file of this version (it offers 1.0, 1.5); fix the pin or the index',
    );
  });
});

function wheelTags(filename: string): string[] {
  const parts = filename.slice(0, -4).split('-');
  const [py, abi, plat] = parts.slice(-3) as [string, string, string];
  return py.split('.').flatMap((p) => abi.split('.').flatMap((a) => plat.split('.').map((pl) => `${p}-${a}-${pl}`)));
}
