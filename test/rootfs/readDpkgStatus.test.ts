import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDpkgStatus } from '../../src/sources/rootfs/readDpkgStatus.js';

describe('readDpkgStatus: what an mmdebstrap rootfs has installed, for its SBOM', () => {
  it('keeps only installed packages, with name, version and architecture, sorted', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-dpkg-status-'));
    const file = join(dir, 'status');
    await writeFile(
      file,
      [
        'Package: zlib1g',
        'Status: install ok installed',
        'Architecture: amd64',
        'Version: 1:1.2.13.dfsg-1',
        'Description: compression library',
        ' continuation line: Version: 9',
        '',
        'Package: removed-pkg',
        'Status: deinstall ok config-files',
        'Architecture: amd64',
        'Version: 1.0',
        '',
        'Package: half',
        'Status: install reinstreq half-installed',
        'Architecture: all',
        'Version: 2.0',
        '',
        'Package: base-files',
        'Status: install ok installed',
        'Architecture: amd64',
        'Version: 12.4+deb12u5',
        '',
      ].join('\n'),
    );
    expect(await readDpkgStatus(file)).toEqual([
      { name: 'base-files', version: '12.4+deb12u5', architecture: 'amd64' },
      { name: 'zlib1g', version: '1:1.2.13.dfsg-1', architecture: 'amd64' },
    ]);
  });

  it('gives none when there is no status file (the extract variant installs nothing)', async () => {
    expect(await readDpkgStatus(join(tmpdir(), 'ferry-no-such-folder', 'status'))).toEqual([]);
  });
});
