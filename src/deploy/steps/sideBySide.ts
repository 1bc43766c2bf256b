import { shellQuote as q } from '../../util/shellQuote.js';
import { runScript } from './runScript.js';
import type { Inspection, StepContext } from './types.js';

/**
 * Trees a service runs from (a virtualenv, a rootfs, a git checkout) are never changed in place:
 * install prepares DEST.d/ID beside the live one (ID names the content), and configure, inside the
 * serial batches, switches DEST, a symlink to DEST.d/ID, with one rename. The tree DEST pointed to
 * before stays for a rollback; older ones are removed.
 */
export function treeFor(dest: string, id: string): string {
  return `${dest.replace(/\/+$/, '')}.d/${id}`;
}

/**
 * Shell that finds the trees prepared for ID: DEST.d/ID and its rebuilds DEST.d/ID-rN (N = 1, 2...), and
 * sets vd (DEST.d), vid (ID), top (the highest-numbered one there, complete or not), best (the
 * highest-numbered one complete: `ready`, a shell test run in the tree, says so) and live (the one DEST
 * points at, if any). The activation switches to best.
 */
export function slotScript(dest: string, id: string, ready: string): string {
  const d = dest.replace(/\/+$/, '');
  return [
    `vd=${q(`${d}.d`)}`,
    `vid=${q(id)}`,
    'top=; topn=-1; best=; bestn=-1; live=',
    'for x in "$vd/$vid" "$vd/$vid"-r*; do',
    '  [ -e "$x" ] || continue',
    '  n=${x##*/}; k=0',
    // a number ferry wrote: digits, no leading zero
    '  if [ "$n" != "$vid" ]; then k=${n#"$vid"-r}; case "$k" in ""|0*|*[!0-9]*) continue;; esac; fi',
    '  if [ "$k" -gt "$topn" ]; then top=$n; topn=$k; fi',
    `  if ( cd "$x" 2>/dev/null && ${ready} ) && [ "$k" -gt "$bestn" ]; then best=$n; bestn=$k; fi`,
    `  if [ "$(readlink -f ${q(d)} 2>/dev/null)" = "$(readlink -f "$x")" ]; then live=$n; fi`,
    'done',
  ].join('\n');
}

/** Shell after slotScript: the activation's choice, best when there is one. */
export const PICK_BEST = 'if [ -n "$best" ]; then id=$best; fi';

/**
 * Shell after slotScript: sets "$d" to the tree to prepare, never the one DEST points at (the running
 * service's): none yet, DEST.d/ID; the highest-numbered one when it is not live (prepared again where it
 * is); else the next number, DEST.d/ID-rN, which configure switches DEST to with one rename.
 */
export const CHOOSE_SLOT_SCRIPT = ['if [ -z "$top" ]; then s=$vid; elif [ "$top" != "$live" ]; then s=$top; else s="$vid-r$((topn + 1))"; fi', 'd="$vd/$s"'];

/**
 * Shell that puts the tree prepared in "$t" at "$d" (CHOOSE_SLOT_SCRIPT: never the live tree, so the
 * path DEST points at is never missing): a tree there is moved aside with one rename and removed after.
 * A run killed in between leaves "$t.old", which the next activation's sweep of DEST.d removes.
 * Expects a `trap 'rm -rf "$t"' EXIT`, which it clears.
 */
export const SWAP_IN_SCRIPT = ['if [ -e "$d" ] || [ -L "$d" ]; then mv -T "$d" "$t.old"; fi', 'mv -T "$t" "$d"', 'trap - EXIT', 'rm -rf "$t.old"'];

/**
 * Read where DEST points and compare it with DEST.d/ID, changing nothing (`--check` of an activation).
 * `pick`: shell that may set "$id" to the tree of DEST.d the activation would choose (activateScript).
 */
export async function inspectActivation(ctx: StepContext, dest: string, id: string, pick?: string): Promise<Inspection> {
  const d = dest.replace(/\/+$/, '');
  const base = `${d.slice(d.lastIndexOf('/') + 1)}.d/`;
  const script = [`id=${q(id)}`, pick ?? '', 'echo "id $id"', `if [ -L ${q(d)} ]; then echo "link $(readlink ${q(d)})"; elif [ -e ${q(d)} ]; then echo notlink; else echo missing; fi`];
  const r = await runScript(ctx, `inspect ${d}`, script.filter(Boolean).join('\n'));
  const [first = '', ...rest] = r.stdout.split('\n');
  const want = `${base}${first.startsWith('id ') && first.length > 3 ? first.slice(3) : id}`;
  const out = rest.join('\n').trim();
  const have = out.startsWith('link ') ? out.slice(5) : out === 'notlink' ? 'a real folder, not a link' : 'missing';
  return { target: d, differences: have === want ? [] : [{ what: 'link', want, have }] };
}

/**
 * Shell that points DEST at DEST.d/ID when `ready` (a shell test run in "$t") says the tree is
 * complete, keeps the tree it pointed at before, and removes the others. A real folder at DEST (from
 * before ferry kept trees side by side) is moved into DEST.d first, so it becomes the previous tree.
 * `pick`: shell that may set "$id" to another tree of DEST.d (a venv rebuilt beside the live one).
 */
export function activateScript(dest: string, id: string, ready: string, what: string, pick?: string): string {
  const d = dest.replace(/\/+$/, '');
  const base = d.slice(d.lastIndexOf('/') + 1);
  return [
    'set -e',
    `d=${q(d)}`,
    `id=${q(id)}`,
    pick ?? '',
    't="$d.d/$id"',
    `if ! ( cd "$t" 2>/dev/null && ${ready} ); then echo ${q(`${what}: ${treeFor(d, id)} is not prepared on this host, though install is recorded done for this release (removed or changed since?); prepare it again with ferry deploy --force install (configure follows)`)} >&2; exit 3; fi`,
    `want=${q(`${base}.d/`)}"$id"`,
    'cur=$(readlink "$d" 2>/dev/null) || cur=',
    'if [ "$cur" = "$want" ]; then exit 0; fi',
    'prev=${cur##*/}',
    'if [ -z "$cur" ] && [ -e "$d" ]; then prev=unmanaged-$(date +%Y%m%d%H%M%S); mv "$d" "$d.d/$prev"; fi',
    'ln -sfn "$want" "$d.ferry-new"',
    'mv -T "$d.ferry-new" "$d"',
    'echo "changed: activated $id"',
    'for x in "$d.d"/* "$d.d"/.[!.]*; do [ -e "$x" ] || continue; n=${x##*/}; if [ "$n" != "$id" ] && [ "$n" != "$prev" ]; then rm -rf "$x"; fi; done',
  ]
    .filter(Boolean)
    .join('\n');
}
