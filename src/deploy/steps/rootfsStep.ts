import { shellQuote as q } from '../../util/shellQuote.js';
import { checkStagedScript } from './checkStagedScript.js';
import { inspectUnpackedTree } from './inspectUnpackedTree.js';
import { runScript } from './runScript.js';
import { BLOCKS, roomScript } from './roomScript.js';
import { activateScript, CHOOSE_SLOT_SCRIPT, inspectActivation, PICK_BEST, slotScript, SWAP_IN_SCRIPT, treeFor } from './sideBySide.js';
import type { StepOptions } from '../../specfile/stepOptions.js';
import type { StepKind } from './types.js';
import type { Release } from '../../store/loadRelease.js';

type RootfsParams = StepOptions<'rootfs'>;

/** The tarball of rootfs NAME: manifest.artifacts.rootfs[NAME].path, as the rootfs kind records it. */
function archive(release: Release, name: string) {
  const all = release.manifest.artifacts.rootfs as Record<string, { path?: unknown }> | undefined;
  const path = all?.[name]?.path;
  return release.manifest.entries.find((e) => e.kind === 'rootfs' && (typeof path === 'string' ? e.path === path : e.path.replace(/\.tar(\.\w+)?$/, '') === `rootfs/${name}`));
}

/** Shell run in a tree: its marker says it was unpacked from the tarball of this sha256. */
function unpacked(sha256: string): string {
  return `[ "$(cat .ferry-rootfs 2>/dev/null)" = ${q(sha256)} ]`;
}

/**
 * Each member of the tarball's `tar -tv` listing (PERMS OWNER SIZE DATE TIME NAME) in whole blocks, at least one
 * (a hard link none), and the folders its name passes through that no member before made (tar makes them on
 * its way: ten files 2,000 folders deep; exact for tar's usual order, folders before what they hold).
 */
const TAR_MEMBER = [
  't = substr($1, 1, 1); name = $0; for (i = 0; i < 5; i++) sub(/^[^ ]+ +/, "", name); if (t == "l") sub(/ -> .*$/, "", name)',
  'k = split(name, part, "/"); m = 0; for (i = 1; i <= k; i++) if (part[i] != "" && part[i] != ".") q[++m] = part[i]',
  's = 0; while (s < m - 1 && s < c && q[s + 1] == cur[s + 1]) s++',
  'if (m - 1 > s) { n += m - 1 - s; b += m - 1 - s }',
  'c = (t == "d") ? m : m - 1; for (i = 1; i <= c; i++) cur[i] = q[i]',
  `if (t != "h") { n++; b += ${BLOCKS('$3')} }`,
].join('\n    ');

/**
 * Unpack a rootfs tarball beside the live tree, at DEST.d/ID (ID: the tarball's sha256), into a
 * temporary folder renamed into place when complete; configure switches DEST to it (sideBySide.ts).
 * A marker holding the tarball's sha256 makes re-runs free. Install never removes or rewrites the tree
 * DEST points at: a tree to unpack again where that one is live (`--repair`, or its marker gone) goes
 * to DEST.d/ID-rN, the next free number, and configure switches DEST to it with one rename.
 */
export const rootfsStep: StepKind<RootfsParams> = {
  name: 'rootfs',
  target: (p) => ({ kind: 'tree', path: p.dest }),
  check(p, _service, release) {
    return archive(release, p.name) ? [] : [`rootfs ${p.name}: the bundle has no rootfs/${p.name}.tar.*`];
  },
  async run(p, ctx) {
    const a = archive(ctx.release, p.name)!;
    const script = [
      'set -e',
      checkStagedScript(ctx.remoteBundle, [a]),
      slotScript(p.dest, a.sha256.slice(0, 16), unpacked(a.sha256)),
      // --repair: the tree was found changed, unpack it again whatever its marker says
      ctx.repair ? '' : 'if [ -n "$best" ] && [ "$best" = "$top" ]; then exit 0; fi',
      // never over the tree DEST points at (the running service's): that one is unpacked again beside it
      ...CHOOSE_SLOT_SCRIPT,
      'mkdir -p "$vd"',
      roomScript(`tar -t -v --numeric-owner -f ${q(`${ctx.remoteBundle}/${a.path}`)}`, TAR_MEMBER, `rootfs ${p.name}: the tarball`),
      't=$(mktemp -d "$d.ferry.XXXXXX")',
      `trap 'rm -rf "$t"' EXIT`,
      `tar -x -p --numeric-owner -f ${q(`${ctx.remoteBundle}/${a.path}`)} -C "$t"`,
      // the tarball may carry a member of the marker's name (a link out of the tree): replace it, never write through it
      'rm -rf "$t/.ferry-rootfs"',
      `(set -C; echo ${q(a.sha256)} > "$t/.ferry-rootfs")`,
      'chmod 755 "$t"',
      ...SWAP_IN_SCRIPT,
      'echo "changed: unpacked $s"',
    ]
      .filter(Boolean)
      .join('\n');
    return runScript(ctx, `rootfs ${p.name}`, script);
  },
  async activate(p, ctx) {
    const a = archive(ctx.release, p.name)!;
    const id = a.sha256.slice(0, 16);
    return runScript(ctx, `rootfs ${p.name}`, activateScript(p.dest, id, unpacked(a.sha256), `rootfs ${p.name}`, [slotScript(p.dest, id, unpacked(a.sha256)), PICK_BEST].join('\n')));
  },
  /** the tree the activation takes (the highest-numbered one unpacked) against the tarball */
  async inspect(p, ctx) {
    const a = archive(ctx.release, p.name)!;
    const id = a.sha256.slice(0, 16);
    const r = await runScript(ctx, `inspect rootfs ${p.name}`, [slotScript(p.dest, id, unpacked(a.sha256)), 'echo "${best:-$vid}"'].join('\n'));
    const d = treeFor(p.dest, /^[0-9a-f]{16}(-r[1-9][0-9]*)?$/.test(r.stdout.trim()) ? r.stdout.trim() : id);
    return { target: d, differences: await inspectUnpackedTree(ctx, d, a) };
  },
  inspectActivation(p, ctx) {
    const a = archive(ctx.release, p.name)!;
    return inspectActivation(ctx, p.dest, a.sha256.slice(0, 16), [slotScript(p.dest, a.sha256.slice(0, 16), unpacked(a.sha256)), PICK_BEST].join('\n'));
  },
};
