import type { ManifestEntry } from '../../bundle/manifest.js';
import { shellQuote as q } from '../../util/shellQuote.js';
import { nameSome } from './nameSome.js';
import { runScript } from './runScript.js';
import type { Difference, StepContext } from './types.js';

/** Lines of tar's comparison the host sends at most; a tree that differs in more is counted as "at least". */
const LINES_SENT = 200;

/** What GNU tar's --compare says about one entry, as the word a drift line uses. */
const REASONS: Array<[RegExp, string]> = [
  [/^(Contents differ|Size differs)$/, 'content'],
  [/^Mode differs$/, 'mode'],
  [/^Uid differs$/, 'owner'],
  [/^Gid differs$/, 'group'],
  [/^File type differs$/, 'type'],
  [/^Symlink differs$/, 'link'],
  [/^Device number differs$/, 'device'],
];

/**
 * Compare a rootfs tree unpacked on the host (DEST.d/ID) with the staged tarball it came from,
 * changing nothing. The marker says whether this tarball was unpacked there at all; then GNU tar's
 * `--compare` reads every entry of the tarball (its sha256 checked again first, so the comparison is
 * with what was signed) and the file at its place: content, size, mode, numeric owner and group, type,
 * symlink target, hard links; a missing file. Modification times are not compared (rewriting a file
 * with the same bytes is no drift), nor the tree's own folder mode (ferry sets it to 0755), nor files
 * added beside the tarball's (a service may write into its tree).
 */
export async function inspectUnpackedTree(ctx: StepContext, tree: string, archive: ManifestEntry): Promise<Difference[]> {
  const want = `unpacked from sha256 ${archive.sha256.slice(0, 12)}`;
  const script = [
    `d=${q(tree)}`,
    `a=${q(`${ctx.remoteBundle}/${archive.path}`)}`,
    `sum=${q(archive.sha256)}`,
    'm=$(cat "$d/.ferry-rootfs" 2>/dev/null) || m=',
    'echo "marker $m"',
    '[ "$m" = "$sum" ] || exit 0',
    'got=$(sha256sum < "$a" 2>/dev/null | cut -c1-64) || got=',
    'if [ "$got" != "$sum" ]; then echo staged-changed; exit 0; fi',
    `{ LC_ALL=C tar --compare --numeric-owner -f "$a" -C "$d" 2>&1; echo "ferry-exit $?"; } | awk '/: Mod time differs$/ { next } /^ferry-exit / { print; next } { n++; if (n <= ${LINES_SENT}) print "d " $0 } END { print "ferry-lines " n+0 }'`,
  ].join('\n');
  const r = await runScript(ctx, `inspect rootfs ${tree}`, script);
  const marker = /^marker (.*)$/m.exec(r.stdout)?.[1]?.trim() ?? '';
  if (marker !== archive.sha256) return [{ what: 'tree', want, have: marker ? `marker ${marker.slice(0, 12)}` : 'not unpacked' }];
  if (/^staged-changed$/m.test(r.stdout)) return [{ what: 'tree', want, have: `not comparable: the staged ${archive.path} is missing or changed (the stage stage's check names it)` }];
  const byPath = new Map<string, Set<string>>();
  const other: string[] = [];
  for (const [, line] of r.stdout.matchAll(/^d (.*)$/gm)) {
    const entry = parseCompareLine(line!);
    if (!entry) other.push(line!);
    else if (!(entry.what === 'mode' && /^\.\/?$/.test(entry.path))) byPath.set(entry.path, (byPath.get(entry.path) ?? new Set()).add(entry.what));
  }
  const exit = Number(/^ferry-exit (\d+)$/m.exec(r.stdout)?.[1] ?? 2);
  if (!byPath.size) return exit > 1 || other.length ? [{ what: 'tree', want, have: `not comparable: ${other.at(-1) ?? `tar --compare exit status ${exit}`}` }] : [];
  const cut = Number(/^ferry-lines (\d+)$/m.exec(r.stdout)?.[1] ?? 0) > LINES_SENT;
  const files = [...byPath].map(([path, what]) => `${path} (${[...what].join(', ')})`);
  return [{ what: 'tree', want, have: `${cut ? 'at least ' : ''}${files.length} file${files.length > 1 ? 's' : ''} differ${files.length > 1 || cut ? '' : 's'}: ${nameSome(files)}` }];
}

/** One line of `tar --compare` (LC_ALL=C): the entry's path (without "./") and what differs, or undefined for a line about no entry. */
function parseCompareLine(line: string): { path: string; what: string } | undefined {
  const stat = /^tar: (.*?): (?:Warning: )?Cannot (stat|readlink|open): (.*)$/.exec(line);
  if (stat) return { path: strip(stat[1]!), what: stat[3] === 'No such file or directory' ? 'missing' : `cannot ${stat[2]}: ${stat[3]}` };
  if (line.startsWith('tar: ')) return undefined;
  // "PATH: Not linked to TARGET" (a hard link), else "PATH: REASON", REASON one of tar's fixed texts
  const linked = /^(.*): Not linked to /.exec(line);
  if (linked) return { path: strip(linked[1]!), what: 'link' };
  const i = line.lastIndexOf(': ');
  if (i <= 0) return undefined;
  const reason = line.slice(i + 2);
  return { path: strip(line.slice(0, i)), what: REASONS.find(([re]) => re.test(reason))?.[1] ?? reason };
}

const strip = (p: string) => (p === './' || p === '.' ? '.' : p.replace(/^\.\//, ''));
