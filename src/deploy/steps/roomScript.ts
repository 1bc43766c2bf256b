import { shellQuote as q } from '../../util/shellQuote.js';

/**
 * Shell that refuses (exit 1, one line on stderr, before anything is unpacked or checked out) when what
 * `list` prints, one record a line, needs more room than the file system holding "$(dirname "$d")" has free:
 * space a user other than root may use, and inodes (a file system that counts none, btrfs, is judged by space
 * only). `count` is the awk action run for each record with `bs` the block size: it adds to `n` (inodes) and
 * `b` (blocks). As `ferry extract` measures on the runner (sources/checkRoom.ts): a signed artifact of a few
 * KiB can unpack to gigabytes or millions of files, and would fill the host's disk on its way to failing.
 * POSIX awk only (mawk: no intervals). A listing that fails is left to the unpacking, which fails with the
 * tool's own reason.
 */
export function roomScript(list: string, count: string, what: string): string {
  return [
    'set -- $(stat -f -c "%S %a %c %d" "$(dirname "$d")")',
    `if ! ${list} 2>/dev/null | awk -v bs="$1" -v free="$2" -v files="$3" -v inodes="$4" '`,
    `  { ${count} }`,
    '  b > free || (files > 0 && n > inodes) { exit 1 }',
    "'; then",
    `  echo ${q(`${what} unpacks to more than the room on the file system holding`)} "$(dirname "$d")" "($(($1 * $2)) bytes, $4 files free): refused before unpacking anything; free space there" >&2`,
    '  exit 1',
    'fi',
  ].join('\n');
}

/** blocks a record's size field takes (`field`: an awk expression), at least one (a folder, a device, an empty file) */
export const BLOCKS = (field: string) => `((${field} ~ /^[0-9]+$/ && ${field} > 0) ? int((${field} + bs - 1) / bs) : 1)`;
