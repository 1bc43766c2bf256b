import { IntegrityError } from '../../errors.js';
import { quoteInput } from '../../util/oneLine.js';
import { parseDistFilename } from './parseDistFilename.js';

/**
 * A wheel is carried under the name the lock gives it, which says what it installs on (its tags): its own
 * WHEEL file must name at least one of those tags. A lock may pin, under one wheel's name, the sha256 of
 * another file of the same release (a service's requirements list every file's hash; a mirror's lock
 * pins whatever it says): a Windows or pure wheel signed and served as the manylinux one. Lenient as pip
 * is: a WHEEL without Tag lines passes. Thrown as IntegrityError (67), one line, after `where` when given.
 */
export function checkWheelTags(filename: string, project: string, wheelFile: string, where?: string): void {
  const own = [...wheelFile.matchAll(/^Tag:[ \t]*(\S+)[ \t]*$/gim)].map((m) => m[1]!.toLowerCase());
  const dist = parseDistFilename(filename, project);
  const named = dist?.kind === 'wheel' ? dist.tags.map((t) => t.toLowerCase()) : [];
  if (own.length > 0 && !own.some((t) => named.includes(t))) {
    throw new IntegrityError(
      `${where ? `${where}: ` : ''}${filename}: its own WHEEL names the tags ${quoteInput(own.slice(0, 5).join(' '), 200)}, none of its file name's (${named.join(' ')}): the lock pins another file under this name; run ferry lock again and review the diff`,
    );
  }
}
