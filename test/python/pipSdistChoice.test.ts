import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRequirementsFile } from '../../src/sources/python/parseRequirementsFile.js';
import { readProjectPage } from '../../src/sources/python/readProjectPage.js';
import { selectFile } from '../../src/sources/python/selectFile.js';
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
async function bothChoose(dir: string, project: string, yanked: Record<string, string> = {}): Promise<{ pip: string[]; ferry: string }> {
  const index = await serveFixtureIndex(dir, { yanked });
  try {
    const files = (await readdir(dir)).filter((f) => f.startsWith(`${project}-`)).sort();
    const hashes = await Promise.all(files.map(async (f) => sha256(await readFile(join(dir, f)))));
    const requirements = `${project}==1.0 ${hashes.map((h) => `--hash=sha256:${h}`).join(' ')}\n`;
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
    const pin = parseRequirementsFile(requirements, 'req.txt').pins[0]!;
    const chosen = selectFile(pin, page.files, { tags: targetTags(TARGET), pythonVersion: '3.11', allowSdist: true, page: page.url });
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
