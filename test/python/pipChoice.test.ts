import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readProjectPage } from '../../src/sources/python/readProjectPage.js';
import { parseRequirementsFile } from '../../src/sources/python/parseRequirementsFile.js';
import { selectFile } from '../../src/sources/python/selectFile.js';
import { targetTags } from '../../src/sources/python/targetTags.js';
import { buildWheels, PIP_OFFLINE_ENV, requirementsFor, runCommand, serveFixtureIndex } from './fixtures.js';

// The file pip 23.2 downloads for a pin (pip download --only-binary=:all: --platform ... on a generated index
// on 127.0.0.1), against the file ferry's selection takes from the same page.
const made: string[] = [];
afterAll(() => Promise.all(made.map((d) => rm(d, { recursive: true, force: true }))));

const TARGET = { version: '3.11', implementation: 'cp', platforms: ['manylinux_2_17_x86_64'] };

async function pipDownloads(indexUrl: string, requirement: string): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-pipchoice-dl-'));
  made.push(dir);
  const r = await runCommand(
    'python3',
    ['-m', 'pip', 'download', '-q', '--no-cache-dir', '--no-deps', '--only-binary=:all:', '--platform', 'manylinux_2_17_x86_64', '--python-version', '3.11', '--implementation', 'cp', '--abi', 'cp311', '-d', dir, '--index-url', indexUrl, requirement],
    PIP_OFFLINE_ENV,
  );
  expect(r.code, r.stderr).toBe(0);
  return readdir(dir);
}

describe('the file chosen for a pin, as pip 23.2 chooses it', () => {
  it('a PEP 691 file with "yanked": "" is not yanked (pip reads an empty reason as not yanked)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-pipchoice-'));
    made.push(dir);
    const files = buildWheels(dir, [
      { name: 'yk', version: '1.0' },
      { name: 'yk', version: '1.0', tag: 'cp311-cp311-manylinux_2_17_x86_64' },
    ]);
    const platformWheel = files[1]!;
    const index = await serveFixtureIndex(dir, { json: true, yanked: { [platformWheel]: '' } });
    try {
      const page = await readProjectPage(index.url, 'yk');
      expect(page.format).toBe('json');
      const pin = parseRequirementsFile(await requirementsFor(dir, [{ name: 'yk', version: '1.0' }]), 'req.txt').pins[0]!;
      const ferry = selectFile(pin, page.files, { tags: targetTags(TARGET), pythonVersion: '3.11', allowSdist: false, page: page.url });
      const pip = await pipDownloads(index.url, 'yk==1.0');
      expect(pip).toEqual([platformWheel]);
      expect(ferry.file.filename).toBe(platformWheel);
      expect(ferry.warnings).toEqual([]);
    } finally {
      await index.close();
    }
  });
});
