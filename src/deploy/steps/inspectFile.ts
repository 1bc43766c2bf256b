import { createTwoFilesPatch } from 'diff';
import { shellQuote as q } from '../../util/shellQuote.js';
import { isNumericId } from './ensureFileScript.js';
import { runScript } from './runScript.js';
import type { Difference, Inspection, StepContext } from './types.js';

export interface WantedFile {
  dest: string;
  sha256: string;
  /** the wanted text, for a diff; undefined when no diff may be shown */
  content?: string;
  /** why no diff is shown (the step marks a secret) */
  hidden?: string;
  mode?: string;
  owner?: string;
  group?: string;
}

/** Host files larger than this are compared by sha256 only; a diff of them would not be short anyway. */
export const DIFF_MAX_BYTES = 64 * 1024;
/** Lines of unified diff printed per file; the rest is counted. */
export const DIFF_MAX_LINES = 40;

/**
 * Read DEST's sha256, mode, owner and group on the host and compare them with what a file or template
 * step wants, changing nothing. When the content differs and may be shown, the host also sends up to
 * 64 KiB of it, and the runner makes a short unified diff.
 */
export async function inspectFile(ctx: StepContext, f: WantedFile): Promise<Inspection> {
  const script = [
    `d=${q(f.dest)}`,
    'if [ ! -e "$d" ] && [ ! -L "$d" ]; then echo missing; exit 0; fi',
    'if [ -L "$d" ] || [ ! -f "$d" ]; then echo "notfile $(stat -c %F "$d")"; exit 0; fi',
    'echo "sha $(sha256sum < "$d" | cut -c1-64)"',
    `echo "stat $(stat -c '%a %U %G %s %u %g' "$d")"`,
    f.content !== undefined ? `if [ "$(sha256sum < "$d" | cut -c1-64)" != ${q(f.sha256)} ] && [ "$(stat -c %s "$d")" -le ${DIFF_MAX_BYTES} ]; then echo "content $(base64 -w0 < "$d")"; fi` : '',
  ].filter(Boolean);
  const r = await runScript(ctx, `inspect ${f.dest}`, script.join('\n'));
  const lines = keyedLines(r.stdout);
  if (lines.has('missing')) return { target: f.dest, differences: [{ what: 'state', want: 'present', have: 'missing' }] };
  if (lines.has('notfile')) return { target: f.dest, differences: [{ what: 'state', want: 'regular file', have: lines.get('notfile')! }] };
  const [mode, owner, group, size, uid, gid] = (lines.get('stat') ?? '').split(' ');
  const have = lines.get('sha') ?? '';
  const differences: Difference[] = [];
  if (have !== f.sha256) differences.push(contentDifference(f, have, lines.get('content'), Number(size)));
  if (f.mode && mode !== parseInt(f.mode, 8).toString(8)) differences.push({ what: 'mode', want: parseInt(f.mode, 8).toString(8).padStart(4, '0'), have: (mode ?? '').padStart(4, '0') });
  // an owner or group given as a number is compared with the host's id, a name with its name
  const owned = isNumericId(f.owner) ? uid : owner;
  const grouped = isNumericId(f.group) ? gid : group;
  if (f.owner && owned !== f.owner) differences.push({ what: 'owner', want: f.owner, have: owned ?? '' });
  if (f.group && grouped !== f.group) differences.push({ what: 'group', want: f.group, have: grouped ?? '' });
  return { target: f.dest, differences };
}

/** "KEY VALUE" lines as a map (a line without a space is a key with an empty value). */
function keyedLines(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of stdout.split('\n')) {
    const i = l.indexOf(' ');
    if (i > 0) out.set(l.slice(0, i), l.slice(i + 1));
    else if (l) out.set(l, '');
  }
  return out;
}

function contentDifference(f: WantedFile, have: string, base64: string | undefined, size: number): Difference {
  const d: Difference = { what: 'content', want: `sha256 ${f.sha256.slice(0, 12)}`, have: `sha256 ${have.slice(0, 12)}` };
  if (f.content === undefined) return { ...d, hidden: f.hidden ?? 'no diff for this step' };
  if (base64 === undefined) return { ...d, hidden: size > DIFF_MAX_BYTES ? `the host's file is larger than ${DIFF_MAX_BYTES / 1024} KiB` : 'the host sent no content' };
  const current = Buffer.from(base64, 'base64');
  if (current.includes(0) || f.content.includes('\0')) return { ...d, hidden: 'binary content' };
  return { ...d, diff: shortDiff(f.dest, current.toString('utf8'), f.content) };
}

/** A unified diff from the host's text to the wanted one, cut to DIFF_MAX_LINES lines. */
export function shortDiff(name: string, current: string, wanted: string): string {
  const lines = createTwoFilesPatch(`${name} (host)`, `${name} (wanted)`, current, wanted, '', '', { context: 3 }).split('\n');
  // the first line is a rule of "=" signs; the last is empty (the patch ends with a newline)
  const body = lines.slice(lines[0]!.startsWith('===') ? 1 : 0, lines.at(-1) === '' ? -1 : undefined);
  if (body.length <= DIFF_MAX_LINES) return body.join('\n');
  return [...body.slice(0, DIFF_MAX_LINES), `… ${body.length - DIFF_MAX_LINES} more lines`].join('\n');
}
