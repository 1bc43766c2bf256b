import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { admitsPython } from '../../src/sources/python/admitsPython.js';
import { checkClosure } from '../../src/sources/python/checkClosure.js';
import { markerEnvironment } from '../../src/sources/python/markerEnvironment.js';
import { parseRequirementsFile, type Pin } from '../../src/sources/python/parseRequirementsFile.js';
import { satisfiesSpecifier } from '../../src/sources/python/satisfiesSpecifier.js';
import { selectFile } from '../../src/sources/python/selectFile.js';
import { targetTags } from '../../src/sources/python/targetTags.js';

// What pip 23.2 (its vendored packaging 21.3: SpecifierSet(s).contains(v, prereleases=True), the test its
// resolver makes of a pinned candidate) answers, checked with the real pip on a generated index.
const PIP_SAYS: Array<[version: string, specifier: string, contains: boolean]> = [
  ['2!1.0', '>1.0', true], // an epoch is bigger than any version without one
  ['1.0', '>1.0a1', true], // only post-releases and local versions of V itself fail >V
  ['1.0.post1', '>1.0.post0', true],
  ['2.0.dev0', '<2.0rc1', true],
  ['1.0', '<1.0.post1', true],
  ['1.0+cpu', '==1.0+cu118', false], // a local label in the specifier must match exactly
  ['1.0+cpu', '!=1.0+cu118', true],
  ['1.0+local', '==1.0', true], // ... and is ignored when the specifier has none
  ['1.0+local', '>1.0', false],
  ['1.0+local', '<=1.0', true],
  ['2.0rc1', '<2.0', false],
  ['3.0a1', '<3', false],
  ['2.0.post1', '>2.0', false],
  ['2.0.post1', '<=2.0', false],
  ['2.0b1', '>=1.0', true],
  ['1.4.9', '~=1.4.2', true],
  ['1.5', '~=1.4.2', false],
  ['1.9', '==1.*', true],
  ['1.9', '!=1.*', false],
  ['1.0', '==1.0.0', true],
  ['2!0.1', '<2', false],
  ['1.5', '>=1.0,<2.0', true],
];

describe('PEP 440 specifiers as pip tests them', () => {
  it.each(PIP_SAYS)('%s in %s: %s', (version, specifier, contains) => {
    expect(satisfiesSpecifier(version, specifier)).toBe(contains);
  });

  const env = markerEnvironment({ version: '3.11', implementation: 'cp', platforms: ['manylinux_2_36_x86_64'] });
  const pin = (name: string, version: string): [string, Pin] => [name, { name, project: name, version, extras: [], hashes: ['a'.repeat(64)], where: `req.txt` }];

  it('the closure check: no false conflict on an epoch or an exclusive bound, and a conflicting local label is one', () => {
    const ok = checkClosure({
      pins: new Map([pin('app', '1.0'), pin('a', '2!1.0'), pin('b', '1.0'), pin('c', '1.0.post1'), pin('d', '1.0+cpu')]),
      requiresDist: new Map([['app', ['a>1.0', 'b>1.0a1', 'c>1.0.post0', 'd!=1.0+cu118']], ['a', []], ['b', []], ['c', []], ['d', []]]),
      env,
    });
    expect(ok).toEqual([]);
    const bad = checkClosure({
      pins: new Map([pin('app', '1.0'), pin('torch', '2.1.0+cpu')]),
      requiresDist: new Map([['app', ['torch==2.1.0+cu118']], ['torch', []]]),
      env,
    });
    expect(bad).toEqual([expect.stringContaining('torch==2.1.0+cu118: but the requirements pin torch==2.1.0+cpu')]);
  });

  it('reads a pin with an epoch (pip-compile writes "name==2!1.0")', () => {
    const r = parseRequirementsFile(`epoched==2!1.0 --hash=sha256:${'b'.repeat(64)}\n`, 'req.txt');
    expect(r.pins.map((p) => p.version)).toEqual(['2!1.0']);
    expect(() => parseRequirementsFile(`x!=1.0 --hash=sha256:${'b'.repeat(64)}\n`, 'req.txt')).toThrow(/not pinned/);
  });

  it('between wheels equal in tag and build, takes the one the page lists last, as pip does', () => {
    const tags = targetTags({ version: '3.11', implementation: 'cp', platforms: ['manylinux_2_36_x86_64'] });
    const p = pin('tie', '1.0')[1];
    const files = [{ filename: 'tie-1.0-py2.py3-none-any.whl', url: 'http://x/a' }, { filename: 'tie-1.0-py3-none-any.whl', url: 'http://x/b' }];
    const opts = { tags, pythonVersion: '3.11', allowSdist: false, page: 'http://x/' };
    expect(selectFile(p, files, opts).file.filename).toBe('tie-1.0-py3-none-any.whl');
    expect(selectFile(p, [...files].reverse(), opts).file.filename).toBe('tie-1.0-py2.py3-none-any.whl');
  });

  describe('pins and local versions, as pip reads them', () => {
    const tags = targetTags({ version: '3.11', implementation: 'cp', platforms: ['manylinux_2_36_x86_64'] });
    const opts = { tags, pythonVersion: '3.11', allowSdist: false, page: 'http://x/' };
    const pinned = (line: string, files: string[]) => {
      const hashes = files.map((_, i) => String(i + 1).repeat(64).slice(0, 64));
      const req = parseRequirementsFile(`${line} ${hashes.map((h) => `--hash=sha256:${h}`).join(' ')}\n`, 'req.txt');
      return { pin: req.pins[0]!, files: files.map((filename, i) => ({ filename, url: `http://x/${filename}`, sha256: hashes[i]! })) };
    };

    it('==1.0 takes a file of 1.0+local when the index has only that (PyTorch-style +cpu builds)', () => {
      const { pin: p, files } = pinned('loc==1.0', ['loc-1.0+local-py3-none-any.whl']);
      expect(selectFile(p, files, opts).file.filename).toBe('loc-1.0+local-py3-none-any.whl');
    });

    it('==1.0 with files of 1.0 and 1.0+local pinned takes the higher, 1.0+local, whatever the page order', () => {
      const { pin: p, files } = pinned('loc2==1.0', ['loc2-1.0-py3-none-any.whl', 'loc2-1.0+local-py3-none-any.whl']);
      expect(selectFile(p, files, opts).file.filename).toBe('loc2-1.0+local-py3-none-any.whl');
      expect(selectFile(p, [...files].reverse(), opts).file.filename).toBe('loc2-1.0+local-py3-none-any.whl');
    });

    it('==1.0+cpu does not take 1.0+cu118', () => {
      const { pin: p, files } = pinned('torch==1.0+cpu', ['torch-1.0+cu118-py3-none-any.whl']);
      expect(() => selectFile(p, files, opts)).toThrow(/lists no file of this version/);
    });

    it('===1.0 is the string: it does not take 1.0.0, but takes 1.0', () => {
      const { pin: p, files } = pinned('tri===1.0', ['tri-1.0.0-py3-none-any.whl']);
      expect(p.arbitrary).toBe(true);
      expect(() => selectFile(p, files, opts)).toThrow(/lists no file of this version/);
      const exact = pinned('tri===1.0', ['tri-1.0-py3-none-any.whl']);
      expect(selectFile(exact.pin, exact.files, opts).file.filename).toBe('tri-1.0-py3-none-any.whl');
      // and == reads 1.0 and 1.0.0 as one version
      const eq = pinned('tri==1.0', ['tri-1.0.0-py3-none-any.whl']);
      expect(selectFile(eq.pin, eq.files, opts).file.filename).toBe('tri-1.0.0-py3-none-any.whl');
    });
  });
});

// Asked of the real pip 23.2 at test time: its check_requires_python (what it applies to data-requires-python
// and to a wheel's METADATA for --python-version) and its packaging's SpecifierSet.contains(prereleases=True),
// including clauses PEP 440 cannot read, which packaging 21.3 compares as LegacySpecifier.
const PIP_ORACLE = `
import json, sys
from pip._internal.utils.packaging import check_requires_python
from pip._internal.models.target_python import TargetPython
from pip._vendor.packaging.specifiers import SpecifierSet, InvalidSpecifier
out = []
for kind, a, b in json.load(sys.stdin):
    try:
        if kind == 'rp':
            # as pip download --python-version b takes it (3.11 is 3.11.0)
            out.append(check_requires_python(a, TargetPython(py_version_info=tuple(int(x) for x in b.split('.'))).py_version_info))
        else:
            out.append(SpecifierSet(b).contains(a, prereleases=True))
    except InvalidSpecifier:
        out.append(True if kind == 'rp' else None)
print(json.dumps(out))
`;

describe('Requires-Python and legacy specifiers, against the real pip', () => {
  const requiresPython = ['===3.11', '==3.11', '==3.11.*', '<=3.11.*', '<3.12.*', '>=3.11.*', '>3.10.*', '>=3.6.*', '>=3.6.0.*', '>= 3.8', '~=3.11.0', '>3.11', '>=3.11.1', '<3.12.0a0', '>=3.11.0rc1', '!=3.11.0', '>=2.7, !=3.0.*, !=3.1.*', '>=3.6,', 'not a specifier',
    // one clause pip cannot read makes it ignore the whole specifier, even after a clause that excludes the target
    '!=3.11.*, 3', '!=3.11.2, 3.11', '<3..11, ~=3', '<3.11+x, <=3.11 .0', '===3.11 .0', '>=3.8,,<4', '<3, ===3.11 .0'];
  const specifiers: Array<[string, string]> = [
    ['1.0', '>=1.0.*'],
    ['0.9', '>=1.0.*'],
    ['1.0', '<=1.0+local'],
    ['1.0', '<1.0+local'],
    ['1.0', '>=1.0+local'],
    ['1.0+local', '>=1.0+local'],
    ['1.0rc1', '>=1.0.*'],
    ['1.0.post1', '<=1.0.*'],
    ['2.0', '==1.0.*, >=1.0+x'],
    // arbitrary equality compares the normalized spelling of a version with the specifier's text
    ['1.0', '===1.0'],
    ['1.0.0', '===1.0'],
    ['1.0RC1', '===1.0rc1'],
    ['1.0c1', '===1.0c1'],
    ['1.0-1', '===1.0-1'],
    ['1.0-1', '===1.0.post1'],
    ['v1.0', '===v1.0'],
    ['1.0+A-b', '===1.0+a.b'],
    ['1.0+a-b', '===1.0+a-b'],
    ['1.0-foo', '===1.0-foo'],
    // a local label in an ordered clause is a LegacySpecifier: the candidate compared as its normalized string
    ['1.0+a-b', '<1.0+a-b'],
    ['1.0+a_b', '>=1.0+a.b'],
    ['1.0+a-b', '<=1.0+a_b'],
  ];
  const cases = [
    ...requiresPython.flatMap((r) => [['rp', r, '3.11'] as const, ['rp', r, '3.11.2'] as const]),
    ...specifiers.map(([v, s]) => ['sp', v, s] as const),
  ];
  const pip = JSON.parse(execFileSync('python3', ['-c', PIP_ORACLE], { input: JSON.stringify(cases), encoding: 'utf8' })) as Array<boolean | null>;

  it('ferry answers as pip does for every case', () => {
    const differ = cases.flatMap((c, i) => {
      const ferry = c[0] === 'rp' ? admitsPython(c[1], c[2]) : (satisfiesSpecifier(c[1], c[2]) ?? null);
      return ferry === pip[i] ? [] : [`${c.join(' ')}: pip ${pip[i]}, ferry ${ferry}`];
    });
    expect(differ).toEqual([]);
  });

  it('the cases are not all alike', () => {
    expect(pip.filter((x) => x === true).length).toBeGreaterThan(0);
    expect(pip.filter((x) => x === false).length).toBeGreaterThan(0);
  });
});
