import type { ManifestEntry } from '../../bundle/manifest.js';
import { shellQuote as q } from '../../util/shellQuote.js';

/**
 * Shell that re-reads staged files before a step uses them and stops (exit 8) at the first whose
 * sha256 is not the manifest's. The stage stage checked them when they arrived, but a later run may
 * skip that stage (its fact matches) while the files on disk changed since: what is installed is
 * always what was signed.
 */
export function checkStagedScript(remoteBundle: string, entries: ManifestEntry[]): string {
  if (entries.length === 0) return '';
  return [
    // the braces: the shell opens "$1" for the redirection, and its own "cannot open" went to stderr beside the line below
    'ferry_check() { got=$({ sha256sum < "$1"; } 2>/dev/null | cut -c1-64) || got=missing; [ -n "$got" ] || got=missing;',
    '  if [ "$got" != "$2" ]; then echo "staged file $1: sha256 $got, the bundle says $2 (changed on this host since it was staged; run again with --force stage)" >&2; exit 8; fi; }',
    ...entries.map((e) => `ferry_check ${q(`${remoteBundle}/${e.path}`)} ${e.sha256}`),
  ].join('\n');
}
