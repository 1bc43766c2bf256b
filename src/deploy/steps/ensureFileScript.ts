import { shellQuote as q } from '../../util/shellQuote.js';

export interface EnsureFile {
  dest: string;
  sha256: string;
  /** a file already on the host to copy from, or undefined to read the content from stdin */
  from?: string;
  mode?: string;
  owner?: string;
  group?: string;
}

/**
 * Shell that makes DEST hold exactly the wanted bytes, owner, group and mode: compare first, and only
 * when something differs write a temporary file beside DEST, check its sha256, give it its owner, group
 * and mode, and rename it over DEST (atomic: readers see the old or the new file, never a torn one or one
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
    '  t=$(mktemp "$d.ferry.XXXXXX")',
    `  trap 'rm -f "$t"' EXIT`,
    // the content is right: the same bytes again (checked below, so a link swapped in meanwhile cannot add others)
    `  if [ "$cur" = "$want" ]; then cat < "$d" > "$t"; else ${f.from ? `cat ${q(f.from)} > "$t"` : 'cat > "$t"'}; fi`,
    '  got=$(sha256sum < "$t" | cut -c1-64)',
    '  if [ "$got" != "$want" ]; then echo "$d: the new content has sha256 $got, expected $want" >&2; exit 3; fi',
    // owner first: changing a file's owner clears its setuid and setgid bits, the mode then sets them
    '  if [ -f "$d" ] && [ ! -L "$d" ]; then chown --reference="$d" "$t" 2>/dev/null || true; fi',
    f.owner || f.group ? `  chown ${q(`${f.owner ?? ''}${f.group ? ':' + f.group : ''}`)} "$t"` : '',
    mode ? `  chmod ${mode} "$t"` : '  if [ -f "$d" ] && [ ! -L "$d" ]; then chmod --reference="$d" "$t"; else chmod 644 "$t"; fi',
    // -T: a folder at DEST is an error, not a place to move the file into
    '  mv -fT "$t" "$d"',
    '  trap - EXIT',
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
