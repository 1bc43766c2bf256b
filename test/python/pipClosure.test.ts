import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FerryError } from '../../src/errors.js';
import { buildWheels, type FixtureWheel, lockedFiles, PIP_OFFLINE_ENV, requirementsFor, runCommand, serveFixtureIndex, sha256, writeLockSpecIn } from './fixtures.js';
import { readFileSync } from 'node:fs';

// The dependency check (docs/python.md, step 7) against the real pip 23.2: `pip download --only-binary=:all:
// -r req.txt` with dependencies, for the target, on a generated index on 127.0.0.1, in --require-hashes mode
// (every pin hashed, as pip-compile writes them). pip refuses a set whose dependency is not pinned (all
// requirements must be pinned with ==) or pinned at a version the dependent excludes (ResolutionImpossible);
// ferry lock must accept exactly the sets pip installs, and take the same files.
const made: string[] = [];
afterAll(() => Promise.all(made.map((d) => rm(d, { recursive: true, force: true }))));

type Pin = { name: string; version: string; extras?: string[]; marker?: string };
/** a's dependencies (a 1.0 is always pinned), the other wheels, and the other pins */
interface Scenario {
  requires: string[];
  extras?: string[];
  aExtras?: string[];
  wheels: FixtureWheel[];
  pins: Pin[];
  /** a known difference: pip installs, ferry refuses with exit 70 and a line matching this */
  ferryRefuses?: RegExp;
}

const b = (version: string, more: Partial<FixtureWheel> = {}): FixtureWheel => ({ name: 'b', version, ...more });
const pin = (name: string, version: string, extras?: string[]): Pin => ({ name, version, ...(extras ? { extras } : {}) });

const SCENARIOS: Record<string, Scenario> = {
  'a dependency named in another spelling (B_C.d)': { requires: ['B_C.d>=1.0'], wheels: [{ name: 'b-c-d', version: '1.0' }], pins: [pin('b-c-d', '1.0')] },
  '!=1.* excludes 1.0': { requires: ['b!=1.*'], wheels: [b('1.0')], pins: [pin('b', '1.0')] },
  '!=1.* excludes 1.0+local': { requires: ['b!=1.*'], wheels: [b('1.0+local')], pins: [pin('b', '1.0+local')] },
  '!=1.0 admits 1.0.post1': { requires: ['b!=1.0'], wheels: [b('1.0.post1')], pins: [pin('b', '1.0.post1')] },
  '~=1.0 admits 1.5': { requires: ['b~=1.0'], wheels: [b('1.5')], pins: [pin('b', '1.5')] },
  '~=1.0.0 excludes 1.1': { requires: ['b~=1.0.0'], wheels: [b('1.1')], pins: [pin('b', '1.1')] },
  '>=1.0 admits a pinned 2.0rc1': { requires: ['b>=1.0'], wheels: [b('2.0rc1')], pins: [pin('b', '2.0rc1')] },
  '<2.0 excludes 2.0rc1': { requires: ['b<2.0'], wheels: [b('2.0rc1')], pins: [pin('b', '2.0rc1')] },
  '<2.0rc2 admits 2.0rc1': { requires: ['b<2.0rc2'], wheels: [b('2.0rc1')], pins: [pin('b', '2.0rc1')] },
  '>1.0 excludes 1.0.post1': { requires: ['b>1.0'], wheels: [b('1.0.post1')], pins: [pin('b', '1.0.post1')] },
  '>1.0 excludes 1.0+local': { requires: ['b>1.0'], wheels: [b('1.0+local')], pins: [pin('b', '1.0+local')] },
  '<=1.0 admits 1.0+local': { requires: ['b<=1.0'], wheels: [b('1.0+local')], pins: [pin('b', '1.0+local')] },
  '<1.0 excludes 1.0.dev1': { requires: ['b<1.0'], wheels: [b('1.0.dev1')], pins: [pin('b', '1.0.dev1')] },
  '===1.0 admits 1.0': { requires: ['b===1.0'], wheels: [b('1.0')], pins: [pin('b', '1.0')] },
  '===1.0 excludes 1.0.0': { requires: ['b===1.0'], wheels: [b('1.0.0')], pins: [pin('b', '1.0.0')] },
  '==1.0+local excludes 1.0': { requires: ['b==1.0+local'], wheels: [b('1.0')], pins: [pin('b', '1.0')] },
  '==1.0 admits 1.0+local': { requires: ['b==1.0'], wheels: [b('1.0+local')], pins: [pin('b', '1.0+local')] },
  '==1.0.* admits 1.0.post1': { requires: ['b==1.0.*'], wheels: [b('1.0.post1')], pins: [pin('b', '1.0.post1')] },
  '==1.* admits 1.0rc1': { requires: ['b==1.*'], wheels: [b('1.0rc1')], pins: [pin('b', '1.0rc1')] },
  '>=1.0 admits the epoch 2!0.5': { requires: ['b>=1.0'], wheels: [b('2!0.5')], pins: [pin('b', '2!0.5')] },
  '>=1.0,!=1.5 excludes 1.5': { requires: ['b>=1.0,!=1.5'], wheels: [b('1.5')], pins: [pin('b', '1.5')] },
  'a parenthesized specifier (>=2.0) excludes 1.0': { requires: ['b (>=2.0)'], wheels: [b('1.0')], pins: [pin('b', '1.0')] },
  'an extra asked for needs its dependency': { requires: ['b; extra == "x"'], extras: ['x'], aExtras: ['x'], wheels: [], pins: [] },
  'an extra not asked for needs nothing': { requires: ['b; extra == "x"'], extras: ['x'], wheels: [], pins: [] },
  'an extra that asks for another extra of the same project': { requires: ['a[x]; extra == "all"', 'b; extra == "x"'], extras: ['x', 'all'], aExtras: ['all'], wheels: [], pins: [] },
  'a dependency with an extra whose dependency is not pinned': { requires: ['b[y]'], wheels: [b('1.0', { extras: ['y'], requires: ['c; extra == "y"'] })], pins: [pin('b', '1.0')] },
  'a dependency with an extra, all pinned': { requires: ['b[y]'], wheels: [b('1.0', { extras: ['y'], requires: ['c; extra == "y"'] }), { name: 'c', version: '1.0' }], pins: [pin('b', '1.0'), pin('c', '1.0')] },
  'a marker extra == "X" in upper case, a[x] asked for': { requires: ['b; extra == "X"'], extras: ['x'], aExtras: ['x'], wheels: [], pins: [] },
  "a marker 'x' == extra, reversed": { requires: ["b; 'x' == extra"], extras: ['x'], aExtras: ['x'], wheels: [], pins: [] },
  'a marker extra != "x", a[x] asked for': { requires: ['b; extra != "x"'], extras: ['x'], aExtras: ['x'], wheels: [], pins: [] },
  'a marker extra != "x", no extra asked for': { requires: ['b; extra != "x"'], extras: ['x'], wheels: [], pins: [] },
  'a dependency asks for an extra spelled Y_Z that b declares as y-z': { requires: ['b[Y_Z]'], wheels: [b('1.0', { extras: ['y-z'], requires: ['c; extra == "y-z"'] })], pins: [pin('b', '1.0')] },
  'a dependency asks for an extra spelled Y-Z that b declares as y-z': { requires: ['b[Y-Z]'], wheels: [b('1.0', { extras: ['y-z'], requires: ['c; extra == "y-z"'] })], pins: [pin('b', '1.0')] },
  'a dependency asks for an extra b does not declare': { requires: ['b[nope]'], wheels: [b('1.0', { requires: ['c; extra == "nope"'] })], pins: [pin('b', '1.0')] },
  'a pin whose marker is false for the target does not pin the dependency': { requires: ['b'], wheels: [b('1.0')], pins: [{ ...pin('b', '1.0'), marker: 'python_version < "3"' }] },
  'spaces and a trailing marker in a specifier': { requires: ['b >= 1.0 , < 2 ; python_version >= "3"'], wheels: [b('2.0')], pins: [pin('b', '2.0')] },
  '==1.0+cpu admits the 1.0+cpu file that the pin ==1.0 takes': { requires: ['b==1.0+cpu'], wheels: [b('1.0'), b('1.0+cpu')], pins: [pin('b', '1.0')] },
  // pip's resolver backtracks to the pin's other build (1.0); ferry does not backtrack for a dependent, it
  // refuses and says which build to pin (docs/python.md, step 7)
  '!=1.0+cpu excludes the 1.0+cpu file that the pin ==1.0 takes first': {
    requires: ['b!=1.0+cpu'],
    wheels: [b('1.0'), b('1.0+cpu')],
    pins: [pin('b', '1.0')],
    ferryRefuses: /a==1\.0 -> b!=1\.0\+cpu: but the requirements pin b==1\.0 \(requirements\/app\.txt:\d+\), which takes 1\.0\+cpu \(pin the build it admits exactly/,
  },
  '!=1.0+cpu with only the 1.0+cpu file': { requires: ['b!=1.0+cpu'], wheels: [b('1.0+cpu')], pins: [pin('b', '1.0')] },
  '>1.0 excludes the 1.0+cpu file that ==1.0 takes': { requires: ['b>1.0'], wheels: [b('1.0+cpu')], pins: [pin('b', '1.0')] },
  'a top-level pin whose marker names an extra is left out': { requires: ['b'], wheels: [b('1.0')], pins: [{ ...pin('b', '1.0'), marker: 'extra == "x"' }] },
  'a dependency on itself': { requires: ['a>=0.5'], wheels: [], pins: [] },
  'a dependency on itself that excludes its own version': { requires: ['a>=2'], wheels: [], pins: [] },
  'a cycle': { requires: ['b'], wheels: [b('1.0', { requires: ['a==1.0'] })], pins: [pin('b', '1.0')] },
  'a cycle that excludes the pin': { requires: ['b'], wheels: [b('1.0', { requires: ['a>1.0'] })], pins: [pin('b', '1.0')] },
};

/** pip's and ferry's answers for one scenario: the files each takes, or null where it refuses */
async function bothLock(s: Scenario): Promise<{ pip: string[] | null; pipErr: string; ferry: string[] | null; ferryErr: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-pipclosure-'));
  made.push(dir);
  const files = join(dir, 'files');
  buildWheels(files, [{ name: 'a', version: '1.0', requires: s.requires, ...(s.extras ? { extras: s.extras } : {}) }, ...s.wheels]);
  const index = await serveFixtureIndex(files);
  try {
    // as pip-compile writes them, and with the hashes of the pinned version's local builds too (`==1.0` takes `1.0+cpu`)
    const locals = (await readdir(files)).filter((f) => /^[^-]+-[^-+]+\+/.test(f));
    const requirements = (await requirementsFor(files, [pin('a', '1.0', s.aExtras), ...s.pins])).replace(/^([A-Za-z0-9_.-]+)(\[[^\]]*\])?==([^ ;]+)(.*) \\$/gm, (line, name: string, _x, version: string) => {
      const mine = locals.filter((f) => f.startsWith(`${name.replace(/-/g, '_')}-${version}+`));
      return mine.length ? `${line}\n${mine.map((f) => `    --hash=sha256:${sha256(readFileSync(join(files, f)))} \\`).join('\n')}` : line;
    });
    await writeFile(join(dir, 'req.txt'), requirements);
    const out = join(dir, 'pip');
    const r = await runCommand(
      'python3',
      ['-m', 'pip', 'download', '-q', '--no-cache-dir', '--only-binary=:all:', '--platform', 'manylinux_2_17_x86_64', '--python-version', '3.11', '--implementation', 'cp', '--abi', 'cp311', '-d', out, '--index-url', index.url, '-r', join(dir, 'req.txt')],
      PIP_OFFLINE_ENV,
    );
    const pip = r.code === 0 ? (await readdir(out)).sort() : null;
    const lockDir = join(dir, 'lock');
    let ferry: string[] | null = null;
    let ferryErr = '';
    try {
      await mkdir(lockDir);
      ferry = (await lockedFiles(lockDir, await writeLockSpecIn(lockDir, index.url, requirements))).sort();
    } catch (err) {
      if (!(err instanceof FerryError)) throw err;
      ferryErr = `${err.exitCode} ${err.message}`;
    }
    return { pip, pipErr: r.stderr.trim().split('\n').slice(-2).join(' '), ferry, ferryErr };
  } finally {
    await index.close();
  }
}

describe('the dependency check as pip 23.2 makes it (pip download -r with dependencies, --require-hashes mode)', () => {
  const outcomes: Array<string[] | null> = [];
  it.each(Object.entries(SCENARIOS))('%s', async (_title, scenario) => {
    const { pip, pipErr, ferry, ferryErr } = await bothLock(scenario);
    outcomes.push(pip);
    if (scenario.ferryRefuses) {
      expect(pip, pipErr).not.toBeNull();
      expect(ferry).toBeNull();
      expect(ferryErr).toMatch(/^70 [^\n]+$/);
      expect(ferryErr).toMatch(scenario.ferryRefuses);
      return;
    }
    expect({ ferry, why: ferry === null ? ferryErr : '' }, `pip: ${pipErr}`).toEqual({ ferry: pip, why: pip === null ? ferryErr : '' });
    // a refusal of the closure is exit 70, one line
    if (ferry === null) expect(ferryErr).toMatch(/^70 [^\n]+$/);
  });
  it('the scenarios are not all alike', () => {
    expect(outcomes.filter((o) => o === null).length).toBeGreaterThan(5);
    expect(outcomes.filter((o) => o !== null).length).toBeGreaterThan(5);
  });
});
