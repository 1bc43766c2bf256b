import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { checkClosure } from '../../src/sources/python/checkClosure.js';
import { markerEnvironment } from '../../src/sources/python/markerEnvironment.js';
import { parseCoreMetadata } from '../../src/sources/python/parseCoreMetadata.js';
import { buildWheels, hostPython, wheelMetadata } from './fixtures.js';
import type { Pin } from '../../src/sources/python/parseRequirementsFile.js';
import { writePep503Index } from '../../src/sources/python/writePep503Index.js';
import { checkCarriedMetadata } from '../../src/sources/python/lockPython.js';
import type { PythonLock } from '../../src/sources/python/pythonLockSchema.js';
import { IntegrityError } from '../../src/errors.js';

const env = markerEnvironment({ version: '3.11', implementation: 'cp', platforms: ['manylinux_2_36_x86_64'] });
const pins = (...specs: string[]) =>
  new Map(
    specs.map((s, i) => {
      const [nameExtras, version] = s.split('==') as [string, string];
      const [name, extras] = nameExtras.replace(']', '').split('[') as [string, string | undefined];
      const pin: Pin = { name, project: name, version, extras: extras ? extras.split(',') : [], hashes: ['a'.repeat(64)], where: `req.txt:${i + 1}` };
      return [name, pin];
    }),
  );

describe('dependency closure', () => {
  it('accepts a set where every dependency that applies to the target is pinned', () => {
    const problems = checkClosure({
      pins: pins('web==1.0', 'core==2.0'),
      requiresDist: new Map([
        ['web', ['core>=2', 'winonly; sys_platform == "win32"', 'old; python_version < "3.8"', 'tests; extra == "test"']],
        ['core', []],
      ]),
      env,
    });
    expect(problems).toEqual([]);
  });

  it('reports every unpinned dependency with the chain from the top-level requirement', () => {
    const problems = checkClosure({
      pins: pins('app==1.0', 'web[async]==2.0', 'core==1.5'),
      requiresDist: new Map([
        ['app', ['web[async]>=2']],
        ['web', ['core>=2.0', 'anyio>=4; extra == "async"', 'typing-extensions; python_version < "3.12"']],
        ['core', ['colorama; platform_system == "Windows"']],
      ]),
      env,
    });
    expect(problems).toEqual([
      'app==1.0 -> web[async]==2.0 -> core>=2.0: but the requirements pin core==1.5 (req.txt:3)',
      'app==1.0 -> web[async]==2.0 -> anyio>=4: anyio is not pinned in the requirements',
      'app==1.0 -> web[async]==2.0 -> typing-extensions: typing-extensions is not pinned in the requirements',
    ]);
  });

  it('follows extras asked for further down the chain', () => {
    const problems = checkClosure({
      pins: pins('app==1.0', 'lib==1.0'),
      requiresDist: new Map([
        ['app', ['lib[speed]']],
        ['lib', ['fastpath; extra == "speed"']],
      ]),
      env,
    });
    expect(problems).toEqual(['app==1.0 -> lib==1.0 -> fastpath: fastpath is not pinned in the requirements']);
  });
});

describe('extras spelled differently, as pip 23.2 matches them (the oracle: the real pip)', () => {
  const made: string[] = [];
  afterAll(async () => {
    for (const d of made) await rm(d, { recursive: true, force: true });
  });

  it('requires a dependency behind an extra exactly when pip 23.2 installs it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-extras-'));
    made.push(dir);
    // one project per (extra as its metadata spells it, extra as the requirement asks it), each with its own
    // dependency behind that extra, so that one pip run answers every case
    const provided = ['some-extra', 'Some_Extra', 'some_extra', 'fast', 'Fast'];
    const asked = ['Some_Extra', 'some-extra', 'some_extra', 'some.extra', 'FAST', 'Fast'];
    const cases = provided.flatMap((p, i) => asked.map((a, j) => ({ project: `p${i}x${j}`, dep: `d${i}x${j}`, provided: p, asked: a })));
    const files = buildWheels(dir, [
      ...cases.map((c) => ({ name: c.project, version: '1.0', extras: [c.provided], requires: [`${c.dep}; extra == "${c.provided}"`] })),
      ...cases.map((c) => ({ name: c.dep, version: '1.0' })),
    ]);
    const meta = new Map<string, ReturnType<typeof parseCoreMetadata>>();
    for (const f of files) meta.set(f.split('-')[0]!, parseCoreMetadata(await wheelMetadata(join(dir, f))));
    const report = join(dir, 'report.json');
    const args = ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', '--dry-run', '--report', report, '--no-index', '--find-links', dir, '--target', join(dir, 't')];
    execFileSync('python3', [...args, ...cases.map((c) => `${c.project}[${c.asked}]`)], { stdio: 'pipe' });
    const installed = new Set((JSON.parse(await readFile(report, 'utf8')) as { install: Array<{ metadata: { name: string } }> }).install.map((i) => i.metadata.name));
    const target = markerEnvironment({ version: hostPython().version, implementation: 'cp', platforms: ['linux_x86_64'] });
    const disagreements: string[] = [];
    let pulled = 0;
    for (const c of cases) {
      const pipInstallsDep = installed.has(c.dep);
      if (pipInstallsDep) pulled++;
      const problems = checkClosure({
        pins: pins(`${c.project}[${c.asked}]==1.0`),
        requiresDist: new Map([[c.project, meta.get(c.project)!.requiresDist]]),
        providesExtra: new Map([[c.project, meta.get(c.project)!.providesExtra]]),
        env: target,
      });
      const ferryNeedsDep = problems.some((p) => p.endsWith(`${c.dep} is not pinned in the requirements`));
      if (ferryNeedsDep !== pipInstallsDep) disagreements.push(`[${c.asked}] of an extra spelled ${c.provided}: pip installs its dependency ${pipInstallsDep}, ferry requires it ${ferryNeedsDep}`);
    }
    expect(disagreements).toEqual([]);
    // the cases are not all alike: pip 23.2 pulls dep in for some spellings only
    expect(pulled).toBeGreaterThan(0);
    expect(pulled).toBeLessThan(cases.length);
  });

  it('notes a dependency that only PEP 685 normalization (pip >= 23.3) would pull in', () => {
    const notes: string[] = [];
    const problems = checkClosure({
      pins: pins('lib[Some_Extra]==1.0'),
      requiresDist: new Map([['lib', ['dep; extra == "some-extra"']]]),
      providesExtra: new Map([['lib', ['some-extra']]]),
      env,
      onNote: (n) => notes.push(n),
    });
    expect(problems).toEqual([]);
    expect(notes).toEqual([
      "lib[Some_Extra]==1.0 does not provide the extra 'some_extra' (as pip 23.2 spells it; it provides some-extra); pip 23.2 ignores it",
      'lib[Some_Extra]==1.0 -> dep; extra == "some-extra": pip 23.2 does not install dep (the extra is spelled differently), pip >= 23.3 (PEP 685) does; pin dep if the hosts\' pip is newer',
    ]);
  });

  it('refuses a pre-release pin that a dependency asks for with extras and a specifier that admits no pre-release, as pip 23.2 does', () => {
    // pip looks `lib[fast]` up on its own with `<2` (no pre-release), so it finds no 1.0rc1 and refuses
    const refused = checkClosure({ pins: pins('app==1.0', 'lib==1.0rc1'), requiresDist: new Map([['app', ['lib[fast]<2']], ['lib', []]]), env });
    expect(refused).toEqual([
      'app==1.0 -> lib[fast]<2: pip 23.2 looks lib[fast] up with <2, which admits no pre-release, so it does not find lib==1.0rc1 (req.txt:2), a pre-release (1.0rc1), and refuses; add a line lib[fast]==1.0rc1 with the same hashes',
    ]);
    // found: without extras (the pin's ==1.0rc1 joins the search), with no specifier (pip falls back to
    // pre-releases), with a clause that names a pre-release, or with the extras pinned too
    for (const [reqs, ...pinned] of [
      [['lib<2'], 'app==1.0', 'lib==1.0rc1'],
      [['lib[fast]'], 'app==1.0', 'lib==1.0rc1'],
      [['lib[fast]>=1.0rc1'], 'app==1.0', 'lib==1.0rc1'],
      [['lib[fast]<2'], 'app==1.0', 'lib[fast]==1.0rc1'],
      [['lib[fast]<2'], 'app==1.0', 'lib==1.0'],
    ] as Array<[string[], ...string[]]>) {
      expect(checkClosure({ pins: pins(...pinned), requiresDist: new Map([['app', reqs], ['lib', []]]), env }), `${reqs} ${pinned}`).toEqual([]);
    }
  });
});

describe('static PEP 503 index', () => {
  const made: string[] = [];
  const fresh = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-pep503-'));
    made.push(dir);
    return dir;
  };
  afterAll(() => Promise.all(made.map((d) => rm(d, { recursive: true, force: true }))));

  it('writes normalized project pages with #sha256 links, escaped requires-python and yanked reasons, the same bytes for any input order', async () => {
    const files = [
      { project: 'Zope.Interface', filename: 'zope.interface-6.1-cp311-cp311-manylinux_2_17_x86_64.whl', sha256: 'a'.repeat(64), requiresPython: '>=3.7,<4' },
      { project: 'demo', filename: 'demo-1.0-py3-none-any.whl', sha256: 'b'.repeat(64) },
      { project: 'demo', filename: 'demo-1.0-cp311-cp311-linux_x86_64.whl', sha256: 'c'.repeat(64), yanked: 'bad "build" <1>' },
    ];
    const a = await fresh();
    const b = await fresh();
    const pagesA = writePep503Index(files, a);
    const pagesB = writePep503Index([...files].reverse(), b);
    expect(pagesA.map((p) => p.path)).toEqual(['python/simple/demo/index.html', 'python/simple/index.html', 'python/simple/zope-interface/index.html']);
    for (const p of pagesA) expect(await readFile(join(b, p.path), 'utf8')).toBe(await readFile(p.file, 'utf8'));
    expect(pagesB.map((p) => p.path)).toEqual(pagesA.map((p) => p.path));
    const zope = await readFile(join(a, 'python/simple/zope-interface/index.html'), 'utf8');
    expect(zope).toContain(
      `<a href="../../files/zope.interface-6.1-cp311-cp311-manylinux_2_17_x86_64.whl#sha256=${'a'.repeat(64)}" data-requires-python="&gt;=3.7,&lt;4">zope.interface-6.1-cp311-cp311-manylinux_2_17_x86_64.whl</a>`,
    );
    const demo = await readFile(join(a, 'python/simple/demo/index.html'), 'utf8');
    expect(demo.indexOf('demo-1.0-cp311')).toBeLessThan(demo.indexOf('demo-1.0-py3'));
    expect(demo).toContain(`#sha256=${'c'.repeat(64)}" data-yanked="bad &quot;build&quot; &lt;1&gt;">`);
    expect(await readFile(join(a, 'python/simple/index.html'), 'utf8')).toContain('<a href="zope-interface/">zope-interface</a>');
  });

  it('refuses two different files with the same name', async () => {
    const dir = await fresh();
    expect(() =>
      writePep503Index(
        [
          { project: 'demo', filename: 'demo-1.0-py3-none-any.whl', sha256: 'a'.repeat(64) },
          { project: 'demo', filename: 'demo-1.0-py3-none-any.whl', sha256: 'b'.repeat(64) },
        ],
        dir,
      ),
    ).toThrow('demo-1.0-py3-none-any.whl is listed twice with different sha256');
  });
});

// ferry build checks the closure again with the wheels' own METADATA: a dependent's specifier is tested
// against the version of the file carried (`b==1.0` carrying `1.0+cpu`), as pip's resolver tests it
describe('the closure at build, against the files carried', () => {
  const carried = (bRequirement: string) => {
    const files = [
      { project: 'a', version: '1.0', filename: 'a-1.0-py3-none-any.whl' },
      { project: 'b', version: '1.0+cpu', filename: 'b-1.0+cpu-py3-none-any.whl' },
    ].map((f) => ({ ...f, url: `http://127.0.0.1:1/${f.filename}`, sha256: 'a'.repeat(64), size: 1, kind: 'wheel' as const, services: ['app'] }));
    const lock = {
      index: 'http://127.0.0.1:1/simple/',
      target: { version: '3.11', implementation: 'cp', platforms: ['manylinux_2_36_x86_64'] },
      files,
      services: { app: { requirements: 'req.txt', pins: files.map((f) => ({ name: f.project, version: '1.0', hashes: ['a'.repeat(64)], filename: f.filename })) } },
    } as unknown as PythonLock;
    const metadata = new Map([
      ['a-1.0-py3-none-any.whl', { name: 'a', version: '1.0', requiresDist: [bRequirement], providesExtra: [] }],
      ['b-1.0+cpu-py3-none-any.whl', { name: 'b', version: '1.0+cpu', requiresDist: [], providesExtra: [] }],
    ]);
    return () => checkCarriedMetadata(lock, metadata, new Map([['app', pins('a==1.0', 'b==1.0')]]));
  };

  it('accepts b==1.0+cpu asked for by a, when the pin b==1.0 carries 1.0+cpu', () => {
    expect(carried('b==1.0+cpu')).not.toThrow();
  });

  it('refuses b!=1.0+cpu asked for by a, when the pin b==1.0 carries 1.0+cpu (exit 67)', () => {
    expect(carried('b!=1.0+cpu')).toThrow(IntegrityError);
    expect(carried('b!=1.0+cpu')).toThrow(/a-1\.0-py3-none-any\.whl: its own METADATA: a==1\.0 -> b!=1\.0\+cpu: but the requirements pin b==1\.0 \(req\.txt:2\), which takes 1\.0\+cpu/);
  });
});
