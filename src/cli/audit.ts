import type { Command } from 'commander';
import { Option } from '../util/commander.js';
import { FerryError } from '../errors.js';
import { isFile } from '../util/isFile.js';
import { SEVERITIES, type Severity } from '../vulns/advisory.js';
import { collect, defaultStoreDir, loggerFrom, printJson, trustedKeysFrom } from './options.js';
import { formatTable } from '../ui/formatTable.js';
import { escapeText } from '../util/escapeText.js';

/** `--fail-on` met: the report found a package at or above that severity. */
class VulnerableError extends FerryError {
  override readonly exitCode = 1;
  override readonly code = 'VULNERABLE';
}

export function register(program: Command): void {
  const audit = program
    .command('audit')
    .description('offline vulnerability report of a bundle or release (audit BUNDLE --db FILE), and the store\'s audit log (audit verify)')
    .addHelpText('after', '\nExamples:\n  ferry audit openstack-2026.11.0.ferry --keyring team.asc --db debian-osv.zip\n  ferry audit verify --store /srv/ferry\n');
  audit
    .command('report', { isDefault: true })
    .description('match the Debian packages and wheels of a bundle or stored release against vulnerability data carried as a file')
    .argument('<bundle>', 'NAME-VERSION.ferry, or a release in --store (NAME@VERSION, NAME/VERSION, NAME, a digest)')
    .requiredOption('--db <file>', 'OSV data (a per-ecosystem zip, one record or an array: Debian, PyPI) or Debian security tracker JSON (repeatable)', collect)
    .option('--suite <name>', 'the Debian release whose advisories apply (bookworm or 12); default: the one the SBOM\'s Debian packages name (distro=)')
    .addOption(new Option('--fail-on <severity>', 'exit 1 when a finding is at least this severe').choices(SEVERITIES.slice(1)))
    .option('--store <dir>', 'store folder, for a release name (FERRY_STORE)', defaultStoreDir())
    .option('--keyring <file>', 'trusted public key(s) a bundle file is verified against before its SBOM is read (repeatable; FERRY_KEYRING)', collect)
    .option('--json', 'JSON output')
    .addHelpText('after', '\nExamples:\n  ferry audit openstack-2026.11.0.ferry --keyring team.asc --db debian-osv.zip --db pypi-osv.zip\n  ferry audit openstack@2026.11.0 --store /srv/ferry --db tracker.json --suite bookworm --fail-on high\n')
    .action(async (bundle: string, opts: { db: string[]; suite?: string; failOn?: Severity; store: string; keyring?: string[]; json?: boolean }) => {
      const { carriedPackages, sbomDebianSuite } = await import('../vulns/carriedPackages.js');
      const { DEBIAN_RELEASES, loadVulnDb, selectDebianRelease } = await import('../vulns/loadVulnDb.js');
      const { matchAdvisories } = await import('../vulns/matchAdvisories.js');
      const { loadBundleSbom, loadStoredSbom } = await import('../store/loadSbom.js');
      // the SBOM lists every package, those inside a rootfs too; a bundle file is verified first, so the report covers what the signers listed
      const sbom = (await isFile(bundle)) ? await loadBundleSbom(bundle, await trustedKeysFrom(opts)) : await loadStoredSbom(opts.store, bundle);
      const release = sbom.bom.metadata.component;
      const label = escapeText(`${release.name} ${release.version ?? ''}`.trim());
      // without --suite, the release the SBOM's Debian purls name (distro=, a codename ferry knows): data for
      // another release is refused rather than matched, and data for several needs no --suite
      const fromSbom = opts.suite === undefined ? sbomDebianSuite(sbom.bom) : undefined;
      const suite = opts.suite ?? (fromSbom !== undefined && Object.hasOwn(DEBIAN_RELEASES, fromSbom) ? fromSbom : undefined);
      const named = opts.suite !== undefined ? `--suite ${opts.suite}` : `${suite} (the release the SBOM's packages name; --suite chooses another)`;
      const advisories = selectDebianRelease((await Promise.all(opts.db.map((db) => loadVulnDb(db, suite, named)))).flat(), suite, named);
      const findings = matchAdvisories(carriedPackages(sbom.bom), advisories);
      if (opts.json) printJson({ name: release.name, version: release.version, digest: sbom.digest, findings });
      else if (findings.length === 0) process.stdout.write(`${label}: no known vulnerability in ${opts.db.join(', ')}\n`);
      else process.stdout.write(formatTable([['PACKAGE', 'VERSION', 'FIXED', 'SEVERITY', 'IDS'], ...findings.map((f) => [`${f.package} (${f.kind}${f.in ? ` in ${f.in}` : ''})`, f.version, f.fixed ?? (f.undetermined ? '(undetermined)' : f.last_affected === undefined ? '(not fixed)' : `(after ${f.last_affected})`), f.severity, f.ids.join(',')])]));
      const threshold = opts.failOn ? SEVERITIES.indexOf(opts.failOn) : undefined;
      const over = threshold === undefined ? [] : findings.filter((f) => SEVERITIES.indexOf(f.severity) >= threshold);
      if (over.length > 0) throw new VulnerableError(`${label}: ${over.length} finding(s) at or above ${opts.failOn}: ${over.map((f) => `${f.package} ${f.version}${f.in ? ` (in ${f.in})` : ''}${f.undetermined ? ' (undetermined)' : ''}`).join(', ')}`);
    });
  audit
    .command('verify')
    .description('check the hash chain of STORE/audit.log; exit 67 naming the first broken line')
    .option('--store <dir>', 'store folder (FERRY_STORE)', defaultStoreDir())
    .option('--json', 'JSON output')
    .addHelpText('after', '\nExample:\n  ferry audit verify --store /srv/ferry\n')
    .action(async (opts: { store: string; json?: boolean }) => {
      const { verifyAuditLog } = await import('../store/verifyAuditLog.js');
      const { auditLogPath } = await import('../store/auditLog.js');
      const { readRef } = await import('../store/readRef.js');
      const { REF_SEGMENT_RE, storeLayout } = await import('../store/storeLayout.js');
      const log = loggerFrom({});
      await (await import('../store/checkStorePath.js')).requireStoreFolder(opts.store);
      const r = await verifyAuditLog(opts.store);
      // an import that wrote its claim and no outcome (killed): whether its release is in the store
      const unfinished = await Promise.all(
        r.unfinished.map(async (u) => {
          const named = u.name !== null && u.version !== null && REF_SEGMENT_RE.test(u.name) && REF_SEGMENT_RE.test(u.version);
          const held = named ? await readRef(storeLayout(opts.store), u.name!, u.version!).catch(() => undefined) : undefined;
          return { ...u, inStore: held !== undefined && held === u.digest };
        }),
      );
      for (const u of unfinished) {
        log.warn(
          `${auditLogPath(opts.store)} line ${u.line}: an import of ${escapeText(`${u.name} ${u.version}`)} (${escapeText(String(u.digest))}) claimed its release and recorded no outcome (it was stopped); ${u.inStore ? 'the store holds it' : 'the store does not hold it under that name'}`,
        );
      }
      if (opts.json) return printJson({ ok: true, file: auditLogPath(opts.store), ...r, unfinished });
      process.stdout.write(`OK ${auditLogPath(opts.store)}: ${r.records} records, chain intact (last line sha256 ${r.last})\n`);
    });
}
