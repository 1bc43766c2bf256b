import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkClosure } from '../../src/sources/python/checkClosure.js';
import { markerEnvironment } from '../../src/sources/python/markerEnvironment.js';
import type { Pin } from '../../src/sources/python/parseRequirementsFile.js';
import { writePep503Index } from '../../src/sources/python/writePep503Index.js';

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
