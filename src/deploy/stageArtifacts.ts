import { create as createTar } from 'tar';
import { join } from 'node:path';
import { DeployError, StoreError } from '../errors.js';
import { checkStoreTreeFile } from '../store/checkStorePath.js';
import type { ManifestEntry } from '../bundle/manifest.js';
import { shellQuote as q } from '../util/shellQuote.js';
import { runScript } from './steps/runScript.js';
import type { StepContext, StepResult } from './steps/types.js';

export type StageSource = { push: true } | { push: false; server: string };

/**
 * The listing is read by the host's shell line by line into "$B/$path": a path must stay one line
 * inside the bundle folder whatever the manifest says (import validates names too; this holds even
 * for a store written by other means).
 */
function checkForHost(e: ManifestEntry, host: string): void {
  const bad = !/^[0-9a-f]{64}$/.test(e.sha256) || /[\x00-\x1f\x7f]/.test(e.path) || e.path.startsWith('/') || e.path.split('/').some((s) => s === '' || s === '.' || s === '..');
  if (bad) throw new DeployError(`host ${host}: refusing to stage ${JSON.stringify(e.path)}: a bundle path must be relative, without empty, "." or ".." segments or control characters, with a sha256 of 64 hex digits`);
}

function listing(entries: ManifestEntry[], withUrl: boolean): string {
  return entries.map((e) => `${e.sha256} ${withUrl ? e.path.split('/').map(encodeURIComponent).join('/') + ' ' : ''}${e.path}`).join('\n');
}

/** A here-document whose end marker cannot occur in the listing (bundle paths never start with "@"). */
const heredoc = (body: string) => `<<'@@FERRY_LIST'\n${body}\n@@FERRY_LIST`;

/**
 * Shell that links a release tree's file to its blob when the blob is present and right, and says
 * which files it could not: the blob is checked against its sha256 each time (a blob altered on the
 * host is fetched again). Blobs are hard links, so a blob whose only link is its own is unused. A blob
 * with as many names as the file system allows (ext4: 65,000, which one release of that many entries of one
 * content uses up) is copied instead (into a new file of its own, then renamed into place): `ln` failed, and
 * every later release holding that content lacked the file.
 */
const linkPresent = [
  'have() {',
  '  b="$S/$1"',
  '  if [ -f "$b" ] && [ "$(sha256sum < "$b" | cut -c1-64)" = "$1" ]; then',
  '    if [ ! "$B/$2" -ef "$b" ]; then',
  '      mkdir -p "$(dirname "$B/$2")"',
  '      ln -f "$b" "$B/$2" 2>/dev/null || { c=$(mktemp "$S/.copy.XXXXXX") && cp "$b" "$c" && chmod 644 "$c" && mv -f "$c" "$B/$2"; } || return 1',
  '    fi',
  '    return 0',
  '  fi',
  '  return 1',
  '}',
];

/**
 * Put a service's artifacts on the host, content-addressed: each file once in DATA/blobs/sha256/HEX,
 * checked against its sha256 there, and the release's tree DATA/bundles/DIGEST/ made of hard links
 * to the blobs. A file any earlier release brought is never fetched or pushed again, and an
 * interrupted stage resumes. Pulled by the host from `ferry serve` (curl, wget or python3 on the
 * host), or pushed over the ssh connection as one tar stream with --push when the host cannot reach
 * the runner.
 */
export async function stageArtifacts(ctx: StepContext, entries: ManifestEntry[], source: StageSource): Promise<StepResult> {
  if (entries.length === 0) return { changed: false, detail: 'no artifacts' };
  for (const e of entries) checkForHost(e, ctx.host);
  const head = [`B=${q(ctx.remoteBundle)}`, `S=${q(`${ctx.dataDir}/blobs/sha256`)}`, 'mkdir -p "$B" "$S"', ...linkPresent];
  if (!source.push) {
    const base = `${source.server.replace(/\/+$/, '')}/bundles/${ctx.release.digest}`;
    const script = [
      'set -e',
      ...head,
      `U=${q(base)}`,
      'if command -v curl >/dev/null 2>&1; then get() { curl -fsS --retry 2 --connect-timeout 10 --speed-limit 1 --speed-time 60 -o "$2" "$1"; }',
      'elif command -v wget >/dev/null 2>&1; then get() { wget -q -T 30 -O "$2" "$1"; }',
      `elif command -v python3 >/dev/null 2>&1; then get() { python3 -c 'import sys,shutil,urllib.request; shutil.copyfileobj(urllib.request.urlopen(sys.argv[1], timeout=30), open(sys.argv[2], "wb"))' "$1" "$2"; }`,
      'else echo "this host has no curl, wget or python3 to fetch artifacts; deploy with --push" >&2; exit 5; fi',
      'while read -r sha url path; do',
      '  if have "$sha" "$path"; then continue; fi',
      '  p="$S/$sha.ferry-part"',
      '  get "$U/$url" "$p" || { rm -f "$p"; echo "cannot fetch $U/$url (is ferry serve running and reachable from this host?)" >&2; exit 6; }',
      '  got=$(sha256sum < "$p" | cut -c1-64)',
      '  if [ "$got" != "$sha" ]; then rm -f "$p"; echo "$U/$url: sha256 $got, expected $sha (altered on the server or on the way)" >&2; exit 7; fi',
      '  chmod 644 "$p"; mv -f "$p" "$S/$sha"',
      '  have "$sha" "$path"',
      '  echo "changed: $path"',
      `done ${heredoc(listing(entries, true))}`,
    ].join('\n');
    return summarize(await runScript(ctx, 'fetch artifacts', script));
  }

  const check = [...head, 'while read -r sha path; do', '  have "$sha" "$path" || echo "missing $path"', `done ${heredoc(listing(entries, false))}`].join('\n');
  const present = await runScript(ctx, 'check artifacts', check);
  const missing = new Set(present.stdout.split('\n').filter((l) => l.startsWith('missing ')).map((l) => l.slice('missing '.length)));
  if (missing.size === 0) return { changed: false, detail: 'all artifacts present' };
  const send = entries.filter((e) => missing.has(e.path));
  const receive = [
    'set -e',
    ...head,
    'i=$(mktemp -d "$S/.incoming.XXXXXX")',
    `trap 'rm -rf "$i"' EXIT`,
    'tar -x -f - -C "$i"',
    'while read -r sha path; do',
    '  got=$(sha256sum < "$i/$path" | cut -c1-64) || got=missing',
    '  if [ "$got" != "$sha" ]; then echo "$path: sha256 $got after the transfer, expected $sha" >&2; exit 7; fi',
    '  chmod 644 "$i/$path"; mv -f "$i/$path" "$S/$sha"',
    '  have "$sha" "$path"',
    '  echo "changed: $path"',
    `done ${heredoc(listing(send, false))}`,
  ].join('\n');
  // the host checks each file once it has arrived: a link in the tree (a folder of it replaced by a link to a folder
  // of the runner) would have sent the runner's file of that name first, so every path is walked without following one
  const folders = new Set<string>();
  for (const e of send) {
    if (!(await checkStoreTreeFile(ctx.release.dir, e.path, folders))) throw new StoreError(`${join(ctx.release.dir, e.path)} is missing: the store was changed after import; import the bundle again`);
  }
  // portable: no owner names or host-specific metadata; the host checks content, not headers
  const stream = createTar({ cwd: ctx.release.dir, portable: true, noDirRecurse: true }, send.map((e) => e.path));
  try {
    return summarize(await runScript(ctx, 'push artifacts', receive, { stdin: stream }));
  } catch (err) {
    if (err instanceof DeployError) throw err;
    throw new DeployError(`host ${ctx.host}: pushing artifacts of ${ctx.service} failed: ${(err as Error).message}`);
  }
}

/**
 * Keep the newest `keep` release trees on the host (by when a run last used them), every one a fact is
 * being brought to, and `running` (the bundles whose configure last completed for a service that is not
 * complete: what runs while a newer bundle is staged and installed only), remove the others, then every blob
 * no tree links to any more.
 */
export function pruneReleasesScript(dataDir: string, factsDir: string, digest: string, keep: number, running: readonly string[] = []): string {
  return [
    'set -e',
    `D=${q(dataDir)}`,
    'o="$D/releases.order"',
    `{ grep -vx ${q(digest)} "$o" 2>/dev/null || true; printf '%s\\n' ${q(digest)}; } > "$o.new"`,
    'mv -f "$o.new" "$o"',
    `keep=$(tail -n ${keep} "$o"; sed -n 's/^  "digest": "\\([0-9a-f]*\\)",\\{0,1\\}$/\\1/p' ${q(factsDir)}/*.json 2>/dev/null || true${running.map((d) => `; echo ${q(d)}`).join('')})`,
    'for t in "$D"/bundles/*; do',
    '  [ -d "$t" ] || continue',
    '  n=${t##*/}',
    '  if ! printf "%s\\n" $keep | grep -qx "$n"; then rm -rf "$t"; grep -vx "$n" "$o" > "$o.new" || true; mv -f "$o.new" "$o"; echo "changed: removed release $n"; fi',
    'done',
    'for b in "$D"/blobs/sha256/*; do',
    '  [ -f "$b" ] || continue',
    '  if [ "$(stat -c %h "$b")" = 1 ]; then rm -f "$b"; fi',
    'done',
  ].join('\n');
}

function summarize(r: StepResult): StepResult {
  const n = r.changed ? r.detail.split(', ').length : 0;
  return { changed: r.changed, detail: r.changed ? `${n} artifact${n === 1 ? '' : 's'} transferred` : 'all artifacts present' };
}
