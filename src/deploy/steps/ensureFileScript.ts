import { shellQuote as q } from '../../util/shellQuote.js';

export interface EnsureFile {
  dest: string;
  sha256: string;
  /** a staged file on the host to copy from (its sha256 is `sha256`), or undefined to read the content from stdin */
  from?: string;
  mode?: string;
  owner?: string;
  group?: string;
}

/**
 * Shell that makes DEST hold exactly the wanted bytes, owner, group and mode: compare first, and only
 * when something differs write a new file in a private folder beside DEST, check its sha256, give it its
 * owner, group and mode, and rename it over DEST (atomic: readers see the old or the new file, never a torn one or one
 * with the wrong mode). Nothing is done to DEST by name after the rename: a link swapped in by whoever
 * can write DEST's folder is never chmod-ed or chown-ed through (an owner or mode that differs on a file
 * whose content is right is fixed the same way, by a new file renamed over it). The mode is set last (a
 * change of owner clears setuid and setgid bits).
 */
export function ensureFileScript(f: EnsureFile): string {
  const d = q(f.dest);
  const mode = f.mode ? parseInt(f.mode, 8).toString(8) : undefined;
  const differs = (what: string, format: string, want: string) => `  if [ "$(stat -c ${format} "$d")" != ${q(want)} ]; then fix="$fix ${what}"; fi`;
  const lines = [
    'set -e',
    `d=${d}`,
    `want=${q(f.sha256)}`,
    // a link at DEST is replaced by the file, never written, chmod-ed or chown-ed through
    'if [ -L "$d" ]; then cur=; else cur=$(sha256sum < "$d" 2>/dev/null | cut -c1-64) || cur=; fi',
    'fix=',
    'if [ "$cur" = "$want" ]; then',
    f.owner ? differs('owner', isNumericId(f.owner) ? '%u' : '%U', f.owner) : '',
    f.group ? differs('group', isNumericId(f.group) ? '%g' : '%G', f.group) : '',
    mode ? differs('mode', '%a', mode) : '',
    '  :',
    'fi',
    'if [ "$cur" != "$want" ] || [ -n "$fix" ]; then',
    '  mkdir -p "$(dirname "$d")"',
    // the new file is made in a folder of its own beside DEST (mode 700: only this user can add, remove or
    // swap anything in it), and worked on by a name relative to that folder, so nothing that can write
    // DEST's folder can put a link where the file's owner and mode are set
    '  td=$(mktemp -d "$d.ferry.XXXXXX")',
    `  trap 'cd / && rm -rf "$td"' EXIT`,
    '  cd "$td"',
    `  if [ -n "$(ls -A .)" ] || [ "$(stat -c '%u %a' .)" != "$(id -u) 700" ]; then echo "$td: not the private folder ferry just made (replaced meanwhile?)" >&2; exit 3; fi`,
    // the content is right: the same bytes again (checked below, so a link swapped in meanwhile cannot add others)
    `  if [ "$cur" = "$want" ]; then cat < "$d" > new; else ${f.from ? `cat ${q(f.from)} > new 2>/dev/null || true` : 'cat > new'}; fi`,
    '  got=$(sha256sum < new | cut -c1-64)',
    // a staged file removed or changed since it was staged (a later run skips the stage stage: its fact says
    // done): said as checkStagedScript says it, with what to run, not as cat's "No such file or directory"
    f.from ? `  if [ "$cur" != "$want" ] && [ "$got" != "$want" ]; then [ -f ${q(f.from)} ] || got=missing; echo "staged file "${q(f.from)}": sha256 $got, the bundle says $want (changed on this host since it was staged; run again with --force stage)" >&2; exit 8; fi` : '',
    '  if [ "$got" != "$want" ]; then echo "$d: the new content has sha256 $got, expected $want" >&2; exit 3; fi',
    // owner first: changing a file's owner clears its setuid and setgid bits, the mode then sets them
    '  if [ -f "$d" ] && [ ! -L "$d" ]; then chown --reference="$d" new 2>/dev/null || true; fi',
    f.owner || f.group ? `  chown ${q(`${f.owner ?? ''}${f.group ? ':' + f.group : ''}`)} new` : '',
    mode ? `  chmod ${mode} new` : '  if [ -f "$d" ] && [ ! -L "$d" ]; then chmod --reference="$d" new; else chmod 644 new; fi',
    // -T: a folder at DEST is an error, not a place to move the file into
    '  mv -fT new "$d"',
    '  if [ "$cur" != "$want" ]; then echo "changed: content"; fi',
    '  for w in $fix; do echo "changed: $w"; done',
    'fi',
  ];
  return lines.filter(Boolean).join('\n');
}

/** An owner or group given as a number (`"1000"`) names an id, compared with `stat`'s %u/%g; anything else is a name (%U/%G). */
export function isNumericId(s: string | undefined): boolean {
  return s !== undefined && /^\d+$/.test(s);
}
