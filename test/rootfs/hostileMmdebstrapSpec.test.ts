import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { writeSpec } from './helpers.js';
import { parseSpecText } from '../../src/specfile/loadSpec.js';

/**
 * A spec's mmdebstrap values reach mmdebstrap's command line: the packages go to `--include`, which
 * mmdebstrap hands on to apt-get's command line (where `-o…` is an option wherever it stands), and the
 * architecture to `--architectures`, which mmdebstrap writes between quotes into the apt.conf it runs
 * apt-get update with: `amd64,i386";};APT::Update::Pre-Invoke{"CMD";};X{"x` ran CMD as root on the build
 * machine, outside any chroot (checked with mmdebstrap 1.3.5). Neither may carry anything but a name.
 */
describe('a spec whose mmdebstrap values are not names', () => {
  let dir: string;
  let key: Awaited<ReturnType<typeof writeKey>>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-rootfs-mmdeb-hostile-'));
    key = await writeKey(dir, 'team');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const cases: Array<[string, string, RegExp]> = [
    [
      'an architecture that closes apt.conf\'s quotes',
      `{ variant: minbase, architecture: 'amd64,i386";};APT::Update::Pre-Invoke{"touch\${IFS}/tmp/x";};X{"x' }`,
      /^ferry: .*rootfs\.base\.mmdebstrap\.architecture: a Debian architecture name/,
    ],
    ['an architecture with a space', `{ variant: minbase, architecture: 'amd64 i386' }`, /^ferry: .*rootfs\.base\.mmdebstrap\.architecture: a Debian architecture name/],
    ['a package that apt-get reads as an option', `{ variant: minbase, packages: ['-oDPkg::Pre-Install-Pkgs::=touch\${IFS}pwned'] }`, /^ferry: .*rootfs\.base\.mmdebstrap\.packages\[0\]: a Debian package name/],
    ['two packages in one, the second an option', `{ variant: minbase, packages: ['curl,-oAPT::Get::Whatever=1'] }`, /^ferry: .*rootfs\.base\.mmdebstrap\.packages\[0\]: a Debian package name/],
    ['an apt pattern', `{ variant: minbase, packages: ['?essential'] }`, /^ferry: .*rootfs\.base\.mmdebstrap\.packages\[0\]: a Debian package name/],
  ];

  for (const [what, rootfs, message] of cases) {
    it(`lock and build refuse ${what}: exit 65, one line, no lock or bundle written`, async () => {
      const sub = join(dir, what.replace(/[^a-z]+/g, '-'));
      await mkdir(sub);
      const spec = await writeSpec(
        sub,
        [
          'targets: { debian: { suite: bookworm, architectures: [amd64] } }',
          'services:',
          '  base: { version: "1", groups: [all], artifacts: { rootfs: [base] } }',
          'rootfs:',
          `  base: { mmdebstrap: ${rootfs} }`,
          '',
        ].join('\n'),
      );
      const l = await ferry(['lock', spec, '--cache', join(sub, 'cache')]);
      expect(l.code, l.stderr).toBe(65);
      expect(l.stderr.trim().split('\n'), l.stderr).toHaveLength(1);
      expect(l.stderr).toMatch(message);
      const b = await ferry(['build', spec, '--key', key.secret, '--out', join(sub, 'out'), '--cache', join(sub, 'cache')]);
      expect(b.code, b.stderr).toBe(65);
      expect(b.stderr.trim().split('\n'), b.stderr).toHaveLength(1);
      expect(b.stderr).toMatch(message);
      expect(await readdir(sub)).toEqual(['spec.yaml']);
      expect(existsSync(join(sub, 'out'))).toBe(false);
    });
  }

  it('still takes names, name:arch and name=version (with an epoch)', () => {
    const spec = parseSpecText(
      [
        'name: fine',
        'version: 1.0.0',
        'epoch: 2026-11-25T00:00:00Z',
        'targets: { debian: { suite: bookworm, architectures: [amd64, arm64] } }',
        'services:',
        '  base: { version: "1", groups: [all], artifacts: { rootfs: [base] } }',
        'rootfs:',
        `  base: { mmdebstrap: { variant: minbase, architecture: arm64, packages: [openssh-server, 'libc6:arm64', 'g++=4:12.2.0-3', 'python3.11=3.11.2-6+deb12u1'] } }`,
        '',
      ].join('\n'),
      'fine.yaml',
    );
    expect(spec.rootfs.base).toEqual({ mmdebstrap: expect.objectContaining({ architecture: 'arm64', packages: ['openssh-server', 'libc6:arm64', 'g++=4:12.2.0-3', 'python3.11=3.11.2-6+deb12u1'] }) });
  });
});
