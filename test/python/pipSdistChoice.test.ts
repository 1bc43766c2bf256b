import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRequirementsFile } from '../../src/sources/python/parseRequirementsFile.js';
import { readProjectPage } from '../../src/sources/python/readProjectPage.js';
import { selectFile } from '../../src/sources/python/selectFile.js';
import { readFormatControl } from '../../src/sources/python/formatControl.js';
import { ResolveError } from '../../src/errors.js';
import { targetTags } from '../../src/sources/python/targetTags.js';
import { buildWheels, PIP_OFFLINE_ENV, runCommand, serveFixtureIndex, sha256 } from './fixtures.js';

// With upstreams.python.allow_sdist, the file pip 23.2 takes when sdists are allowed (`pip download` without
// --only-binary, on a generated index on 127.0.0.1) against ferry's selection from the same page. pip weighs
// wheels and sdists as one list (pinned page hash, not yanked, version, then wheels before sdists): an
// sdist is not only the fallback for "no wheel fits".
const made: string[] = [];
afterAll(() => Promise.all(made.map((d) => rm(d, { recursive: true, force: true }))));

const TARGET = { version: '3.11', implementation: 'cp', platforms: ['manylinux_2_17_x86_64'] };

/** An sdist whose in-tree build backend (no requirements, so pip's isolated build needs no index) writes its metadata. */
async function buildSdist(outDir: string, name: string, version: string): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'ferry-pipsdist-src-'));
  made.push(root);
  const stem = `${name}-${version}`;
  await mkdir(join(root, stem));
  const metadata = `Metadata-Version: 2.1\\nName: ${name}\\nVersion: ${version}\\n`;
  await writeFile(join(root, stem, 'pyproject.toml'), '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n');
  await writeFile(
    join(root, stem, 'backend.py'),
    [
      'import os',
      'def get_requires_for_build_wheel(config_settings=None):',
      '    return []',
      'def prepare_metadata_for_build_wheel(directory, config_settings=None):',
      `    info = ${JSON.stringify(`${name}-${version}.dist-info`)}`,
      '    os.makedirs(os.path.join(directory, info))',
      `    open(os.path.join(directory, info, "METADATA"), "w").write("${metadata}")`,
      '    return info',
      'def build_wheel(directory, config_settings=None, metadata_directory=None):',
      '    raise RuntimeError("not built in this test")',
      '',
    ].join('\n'),
  );
  await writeFile(join(root, stem, 'PKG-INFO'), `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\n`);
  const file = `${stem}.tar.gz`;
  execFileSync('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '-czf', join(outDir, file), '-C', root, stem]);
  return file;
}

/** the file pip downloads for `req.txt` (sdists allowed) and the one ferry selects from the same page */
async function bothChoose(dir: string, project: string, yanked: Record<string, string> = {}, lines: { before?: string; after?: string } = {}): Promise<{ pip: string[]; ferry: string }> {
  const index = await serveFixtureIndex(dir, { yanked });
  try {
    const files = (await readdir(dir)).filter((f) => f.startsWith(`${project}-`)).sort();
    const hashes = await Promise.all(files.map(async (f) => sha256(await readFile(join(dir, f)))));
    const requirements = `${lines.before ?? ''}${project}==1.0 ${lines.after ?? ''}${hashes.map((h) => `--hash=sha256:${h}`).join(' ')}\n`;
    const out = await mkdtemp(join(tmpdir(), 'ferry-pipsdist-dl-'));
    made.push(out);
    await writeFile(join(out, 'req.txt'), requirements);
    const r = await runCommand(
      'python3',
      ['-m', 'pip', 'download', '-q', '--no-cache-dir', '--no-deps', '--platform', 'manylinux_2_17_x86_64', '--python-version', '3.11', '--implementation', 'cp', '--abi', 'cp311', '-d', join(out, 'files'), '--index-url', index.url, '-r', join(out, 'req.txt')],
      { ...PIP_OFFLINE_ENV, PIP_FIND_LINKS: '' },
    );
    // pip refuses sdists with --platform unless told --only-binary=:all: or --no-deps... it downloads with --no-deps
    expect(r.code, r.stderr).toBe(0);
    const page = await readProjectPage(index.url, project);
    const parsed = parseRequirementsFile(requirements, 'req.txt');
    const formats = readFormatControl(parsed.formatOptions, parsed.preferBinary);
    const chosen = selectFile(parsed.pins[0]!, page.files, { tags: targetTags(TARGET), pythonVersion: '3.11', allowSdist: true, page: page.url, formats });
    return { pip: await readdir(join(out, 'files')), ferry: chosen.file.filename };
  } finally {
    await index.close();
  }
}

describe('sdists allowed: the file pip 23.2 takes among wheels and sdists', () => {
  it('a yanked wheel is passed over for an sdist that is not yanked', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-pipsdist-yk-'));
    made.push(dir);
    const [wheel] = buildWheels(dir, [{ name: 'sdy', version: '1.0' }]);
    const sdist = await buildSdist(dir, 'sdy', '1.0');
    const { pip, ferry } = await bothChoose(dir, 'sdy', { [wheel!]: 'broken' });
    expect(pip).toEqual([sdist]);
    expect(ferry).toBe(sdist);
  });

  it('==1.0 takes the sdist of 1.0+local before the wheel of 1.0 (the higher version first)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-pipsdist-loc-'));
    made.push(dir);
    buildWheels(dir, [{ name: 'sdl', version: '1.0' }]);
    const sdist = await buildSdist(dir, 'sdl', '1.0+local');
    const { pip, ferry } = await bothChoose(dir, 'sdl');
    expect(pip).toEqual([sdist]);
    expect(ferry).toBe(sdist);
  });

  it('a wheel and an sdist of one version, neither yanked: both take the wheel', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-pipsdist-ok-'));
    made.push(dir);
    const [wheel] = buildWheels(dir, [{ name: 'sdw', version: '1.0' }]);
    await buildSdist(dir, 'sdw', '1.0');
    const { pip, ferry } = await bothChoose(dir, 'sdw');
    expect(pip).toEqual([wheel]);
    expect(ferry).toBe(wheel);
  });
});

// pip 23.2 obeys the requirements file's --only-binary and --no-binary (any line's, a pin's own line too:
// they update its finder's FormatControl as the line is read, the later overriding the earlier, names
// normalized) and an option line's --prefer-binary (wheels before sdists, whatever their versions)
describe('sdists allowed: --only-binary, --no-binary and --prefer-binary in the requirements file', () => {
  // each: the project, its sdist's version (the wheel's is 1.0), the wheel yanked or not, the lines, and which pip takes
  const cases: Array<[string, string, string, boolean, { before?: string; after?: string }, 'wheel' | 'sdist']> = [
    ['--only-binary :all: takes the yanked wheel, never the sdist', 'fob', '1.0', true, { before: '--only-binary :all:\n' }, 'wheel'],
    ['--prefer-binary takes the wheel of 1.0 before the sdist of 1.0+local', 'fpb', '1.0+local', false, { before: '--prefer-binary\n' }, 'wheel'],
    ["--no-binary on the pin's own line takes the sdist over a wheel of the same version", 'fnb', '1.0', false, { after: '--no-binary fnb ' }, 'sdist'],
    ['a later --only-binary FOX (normalized) overrides --no-binary :all: for that project', 'fox', '1.0+local', false, { before: '--no-binary :all:\n--only-binary FOX\n' }, 'wheel'],
    ['--prefer-binary does not take a yanked wheel over an sdist that is not yanked', 'fpy', '1.0', true, { before: '--prefer-binary\n' }, 'sdist'],
    ['--prefer-binary on the pin\'s own line is dropped: the sdist of 1.0+local comes first', 'fpd', '1.0+local', false, { after: '--prefer-binary ' }, 'sdist'],
  ];
  it.each(cases)('%s', async (_title, project, sdistVersion, yankWheel, lines, takes) => {
    const dir = await mkdtemp(join(tmpdir(), `ferry-pipsdist-fc-${project}-`));
    made.push(dir);
    const [wheel] = buildWheels(dir, [{ name: project, version: '1.0' }]);
    const sdist = await buildSdist(dir, project, sdistVersion);
    const { pip, ferry } = await bothChoose(dir, project, yankWheel ? { [wheel!]: 'broken' } : {}, lines);
    const expected = takes === 'wheel' ? wheel! : sdist;
    expect(pip).toEqual([expected]);
    expect(ferry).toBe(expected);
  });

  it('without allow_sdist, --no-binary leaves no file that fits (exit 70) instead of the wheel pip would not take', () => {
    const parsed = parseRequirementsFile(`--no-binary :all:\nnbx==1.0 --hash=sha256:${'a'.repeat(64)}\n`, 'req.txt');
    const files = [{ filename: 'nbx-1.0-py3-none-any.whl', url: 'http://127.0.0.1:1/nbx-1.0-py3-none-any.whl', sha256: 'a'.repeat(64) }];
    const select = () => selectFile(parsed.pins[0]!, files, { tags: targetTags(TARGET), pythonVersion: '3.11', allowSdist: false, page: 'http://127.0.0.1:1/nbx/', formats: readFormatControl(parsed.formatOptions, parsed.preferBinary) });
    expect(select).toThrow(ResolveError);
    expect(select).toThrow(/nbx-1\.0-py3-none-any\.whl: --no-binary :all: \(req\.txt:1\) permits no wheel of nbx/);
  });
});
