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
 * Shell that makes DEST hold exactly the wanted bytes: compare sha256 first and only when it differs
 * write a temporary file beside DEST, check its sha256 and rename it over DEST (atomic: readers see the
 * old or the new file, never a torn one). Mode and owner are compared and fixed separately, the mode
 * last (a change of owner clears setuid and setgid bits).
 */
export function ensureFileScript(f: EnsureFile): string {
  const d = q(f.dest);
  const mode = f.mode ? parseInt(f.mode, 8).toString(8) : undefined;
  const lines = [
    'set -e',
    `d=${d}`,
    `want=${q(f.sha256)}`,
    // a link at DEST is replaced by the file, never written, chmod-ed or chown-ed through
    'if [ -L "$d" ]; then cur=; else cur=$(sha256sum < "$d" 2>/dev/null | cut -c1-64) || cur=; fi',
    'if [ "$cur" != "$want" ]; then',
    '  mkdir -p "$(dirname "$d")"',
    '  t=$(mktemp "$d.ferry.XXXXXX")',
    `  trap 'rm -f "$t"' EXIT`,
    f.from ? `  cat ${q(f.from)} > "$t"` : '  cat > "$t"',
    '  got=$(sha256sum < "$t" | cut -c1-64)',
    '  if [ "$got" != "$want" ]; then echo "$d: the new content has sha256 $got, expected $want" >&2; exit 3; fi',
    // owner first: changing a file's owner clears its setuid and setgid bits, the mode then sets them
    '  if [ -e "$d" ]; then chown --reference="$d" "$t" 2>/dev/null || true; fi',
    f.owner || f.group ? `  chown ${q(`${f.owner ?? ''}${f.group ? ':' + f.group : ''}`)} "$t"` : '',
    mode ? `  chmod ${mode} "$t"` : '  if [ -e "$d" ]; then chmod --reference="$d" "$t"; else chmod 644 "$t"; fi',
    // -T: a folder at DEST is an error, not a place to move the file into
    '  mv -fT "$t" "$d"',
    '  trap - EXIT',
    '  echo "changed: content"',
    'fi',
    f.owner ? `if [ "$(stat -c ${isNumericId(f.owner) ? '%u' : '%U'} "$d")" != ${q(f.owner)} ]; then chown ${q(f.owner)} "$d"; echo "changed: owner"; fi` : '',
    f.group ? `if [ "$(stat -c ${isNumericId(f.group) ? '%g' : '%G'} "$d")" != ${q(f.group)} ]; then chgrp ${q(f.group)} "$d"; echo "changed: group"; fi` : '',
    mode ? `if [ "$(stat -c %a "$d")" != ${mode} ]; then chmod ${mode} "$d"; echo "changed: mode"; fi` : '',
  ];
  return lines.filter(Boolean).join('\n');
}

/** An owner or group given as a number (`"1000"`) names an id, compared with `stat`'s %u/%g; anything else is a name (%U/%G). */
export function isNumericId(s: string | undefined): boolean {
  return s !== undefined && /^\d+$/.test(s);
}
