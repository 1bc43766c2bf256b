import { ResolveError } from '../../errors.js';
import { aptBool } from './aptBool.js';
import { parseControlStream } from './parseControl.js';
import { checkDebVersion } from './checkDebVersion.js';
import { dependencyError, joinDanglingOr, parseProvides } from './parseDependencies.js';
import type { AptOrigin, AptPackage } from './types.js';

const FIELDS = new Set([
  'Package', 'Version', 'Architecture', 'Filename', 'Size', 'SHA256', 'SHA512', 'Essential', 'Important', 'Protected', 'Provides', 'Multi-Arch', 'Priority', 'Section', 'Source',
  'Depends', 'Pre-Depends', 'Recommends', 'Conflicts', 'Breaks', 'Suggests', 'Replaces', 'Enhances',
]);

const RELATION_FIELDS = ['Pre-Depends', 'Depends', 'Recommends', 'Suggests', 'Conflicts', 'Breaks', 'Replaces', 'Enhances', 'Provides'];

/**
 * Fields are looked up by their canonical spelling (the archive tools write nothing else), which keeps
 * the lookups of absent fields cheap on a 60,000-package index.
 *
 * Read a (decompressed) Packages index stream into package records. Entries without Filename, Size or
 * SHA256 cannot be fetched and verified, so they are refused: apt would not trust them either (one with SHA512
 * instead is read, with an empty sha256: see pinDebSha256).
 */
export async function* readPackagesIndex(chunks: AsyncIterable<string | Buffer>, origin: AptOrigin, label: string): AsyncGenerator<AptPackage> {
  for await (const p of parseControlStream(chunks, FIELDS, label)) {
    // apt lower-cases a package's own name, as dpkg does (not the names its relations give)
    const name = p.get('Package')?.toLowerCase();
    const version = p.get('Version');
    const architecture = p.get('Architecture');
    if (!name || !version || !architecture) continue;
    const invalid = checkDebVersion(version);
    if (invalid) throw new ResolveError(`${label}: package ${name} has version "${version}", which dpkg rejects (${invalid}); refusing this index`);
    const filename = p.get('Filename');
    const size = Number(p.get('Size'));
    // a stanza with SHA512 but no SHA256 is one apt takes and verifies: it stays in the index (sha256 empty,
    // sha512 kept), and a lock that pins it pins the sha256 of the file that matched the SHA512 (pinDebSha256)
    const sha512 = p.get('SHA256') === undefined ? p.get('SHA512')?.toLowerCase() : undefined;
    const sha256 = sha512 !== undefined && /^[0-9a-f]{128}$/.test(sha512) ? '' : p.get('SHA256')?.toLowerCase();
    if (!filename || !Number.isSafeInteger(size) || sha256 === undefined || (sha256 !== '' && !/^[0-9a-f]{64}$/.test(sha256))) {
      throw new ResolveError(`${label}: package ${name} ${version} has no Filename, Size or SHA256; ferry only takes packages it can verify`);
    }
    if (filename.startsWith('/') || filename.split('/').includes('..')) {
      throw new ResolveError(`${label}: package ${name} ${version} has Filename "${filename}" outside the repository; refusing this index`);
    }
    // apt-get update refuses an index with a relation it cannot parse ("Problem parsing dependency")
    for (const field of RELATION_FIELDS) {
      const value = p.get(field);
      const bad = dependencyError(value);
      if (bad) throw new ResolveError(`${label}: package ${name} ${version} has a ${field} field apt cannot parse (${bad}: ${JSON.stringify(value!.slice(0, 200))}); refusing this index, as apt does`);
    }
    // a field ending with "|" joins the next field's first group, as in apt's list of relations
    const joined = joinDanglingOr((field) => p.get(field));
    if (joined.error) throw new ResolveError(`${label}: package ${name} ${version}: ${joined.error}; refusing this index`);
    const get = (field: string) => (joined.fields?.has(field) ? joined.fields.get(field) || undefined : p.get(field));
    const pkg: AptPackage = {
      name,
      version,
      architecture,
      // yes/no fields as apt reads them (StringToBool: `Yes`, `true`, `1`… are yes)
      essential: aptBool(p.get('Essential')),
      provides: parseProvides(p.get('Provides')),
      filename,
      size,
      sha256,
      ...(sha256 === '' ? { sha512 } : {}),
      origin,
    };
    const multiArch = p.get('Multi-Arch');
    if (multiArch) pkg.multiArch = multiArch;
    const priority = p.get('Priority');
    // kept as written (the lock takes one word, in any case); apt reads it in any case (resolveAptClosure)
    if (priority) pkg.priority = priority;
    const section = p.get('Section');
    if (section) pkg.section = section;
    const source = p.get('Source');
    if (source) pkg.source = source;
    const depends = get('Depends');
    if (depends) pkg.depends = depends;
    const preDepends = get('Pre-Depends');
    if (preDepends) pkg.preDepends = preDepends;
    const recommends = get('Recommends');
    if (recommends) pkg.recommends = recommends;
    const conflicts = get('Conflicts');
    if (conflicts) pkg.conflicts = conflicts;
    const breaks = get('Breaks');
    if (breaks) pkg.breaks = breaks;
    const other = [get('Suggests'), get('Replaces'), get('Enhances')].filter(Boolean).join(', ');
    if (other) pkg.otherRelations = other;
    if (aptBool(p.get('Important')) || aptBool(p.get('Protected'))) pkg.important = true;
    yield pkg;
  }
}
