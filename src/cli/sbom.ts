import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { loadBundleSbom, loadStoredSbom } from '../store/loadSbom.js';
import { toSpdx } from '../sbom/toSpdx.js';
import { isFile } from '../util/isFile.js';
import { collect, printJson, trustedKeysFrom } from './options.js';

export function register(program: Command): void {
  program
    .command('sbom')
    .description('print the software bill of materials of a bundle (after verifying it) or of an imported release: CycloneDX 1.6 JSON as carried, or SPDX 2.3 JSON')
    .argument('<bundle|release>', 'NAME-VERSION.ferry (or a split index, its first volume, - for standard input), or with --store NAME/VERSION, NAME or a digest')
    .option('--store <dir>', 'store in which RELEASE is imported')
    .option('--keyring <file>', 'trusted public key(s) a bundle file is verified against (repeatable; FERRY_KEYRING)', collect)
    .option('--format <format>', 'cyclonedx (the bytes the bundle carries) or spdx', 'cyclonedx')
    .addHelpText(
      'after',
      '\nExamples:\n  ferry sbom openstack-2026.11.0.ferry --keyring team.asc > openstack.cdx.json\n  ferry sbom --store /srv/ferry openstack/2026.11.0 --format spdx > openstack.spdx.json\n',
    )
    .action(async (what: string, opts: { store?: string; keyring?: string[]; format: string }) => {
      if (opts.format !== 'cyclonedx' && opts.format !== 'spdx') throw new UsageError(`--format ${opts.format}: give cyclonedx or spdx`);
      const fromBundle = what === '-' || (await isFile(what));
      if (!fromBundle && !opts.store) throw new UsageError(`${what} is not a file: give a bundle file, or a release with --store DIR`);
      const sbom = fromBundle ? await loadBundleSbom(what, await trustedKeysFrom(opts)) : await loadStoredSbom(opts.store!, what);
      if (opts.format === 'spdx') return printJson(toSpdx(sbom.bom));
      process.stdout.write(sbom.bytes);
    });
}
