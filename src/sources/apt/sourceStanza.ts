import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { IntegrityError } from '../../errors.js';
import { field, parseControl, type Paragraph } from './parseControl.js';
import { parseChecksums, type SourceFile } from './readSourcesIndex.js';

/** The control text of a .dsc: its clearsigned body when it is signed (dash-escaping undone), else the whole file. */
function dscBody(text: string): string {
  if (!text.startsWith('-----BEGIN PGP SIGNED MESSAGE-----')) return text;
  const start = text.indexOf('\n\n');
  const end = text.indexOf('\n-----BEGIN PGP SIGNATURE-----');
  if (start < 0 || end < start) return '';
  return text
    .slice(start + 2, end)
    .split('\n')
    .map((l) => (l.startsWith('- ') ? l.slice(2) : l))
    .join('\n');
}

/**
 * The Sources stanza of one source package, made from its .dsc the way Debian's archive tools make it:
 * the .dsc's fields with Source renamed Package, Directory set to where the files are published, and
 * each checksum list (Files, Checksums-Sha1, Checksums-Sha256) led by the .dsc itself. The .dsc must be
 * the package the lock names and list exactly the other files the lock pins, or the build stops
 * (IntegrityError, exit 67): a Sources index that does not match its files would fail every `apt-get source`.
 */
export async function sourceStanza(
  pkg: { name: string; version: string; files: Array<SourceFile & { file: string }> },
  directory: string,
): Promise<Paragraph> {
  const dsc = pkg.files.find((f) => f.name.endsWith('.dsc'));
  if (!dsc) throw new IntegrityError(`source package ${pkg.name} ${pkg.version}: no .dsc among its files`);
  const bytes = await readFile(dsc.file);
  const [p] = parseControl(dscBody(bytes.toString('utf8')));
  const label = `${dsc.name} (source package ${pkg.name} ${pkg.version})`;
  if (!p || field(p, 'Source') !== pkg.name || field(p, 'Version') !== pkg.version) {
    throw new IntegrityError(`${label}: the .dsc names source "${p && field(p, 'Source')}" version "${p && field(p, 'Version')}", not what the lock pins`);
  }
  const listed = parseChecksums(field(p, 'Checksums-Sha256'), label)
    .map((f) => `${f.sha256} ${f.size} ${f.name}`)
    .sort();
  const pinned = pkg.files
    .filter((f) => f !== dsc)
    .map((f) => `${f.sha256} ${f.size} ${f.name}`)
    .sort();
  if (listed.join('\n') !== pinned.join('\n')) {
    throw new IntegrityError(`${label}: the .dsc lists other files than the lock pins (${listed.length} vs ${pinned.length}); run ferry lock again`);
  }
  const out: Paragraph = new Map([['Package', pkg.name]]);
  for (const [k, v] of p) if (k !== 'Source') out.set(k, v);
  const own: Array<[string, string]> = [
    ['Files', createHash('md5').update(bytes).digest('hex')],
    ['Checksums-Sha1', createHash('sha1').update(bytes).digest('hex')],
    ['Checksums-Sha256', dsc.sha256],
  ];
  for (const [k, digest] of own) {
    const v = field(p, k);
    if (v !== undefined) out.set(k, `\n ${digest} ${bytes.length} ${dsc.name}${v}`);
  }
  out.set('Directory', directory);
  return out;
}
