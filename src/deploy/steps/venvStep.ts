import { sha256Hex } from '../../util/sha256.js';
import { readReleaseFile } from '../../store/readReleaseFile.js';
import type { ManifestEntry } from '../../bundle/manifest.js';
import type { Release } from '../../store/loadRelease.js';
import { shellQuote as q } from '../../util/shellQuote.js';
import { bundleEntry, bundlePath } from './bundleEntry.js';
import { checkStagedScript } from './checkStagedScript.js';
import { runScript } from './runScript.js';
import { activateScript, CHOOSE_SLOT_SCRIPT, inspectActivation, PICK_BEST, slotScript, treeFor } from './sideBySide.js';
import { comparePins } from './comparePins.js';
import type { StepOptions } from '../../specfile/stepOptions.js';
import type { StepContext, StepKind } from './types.js';

type VenvParams = StepOptions<'venv'>;

/**
 * The requirements text the build recorded for a service (manifest.artifacts.python.services.SERVICE.requirements);
 * a step names another service's pins as `python/requirements/SERVICE.txt`.
 */
function pins(release: Release, service: string, requirements: string | undefined): { text: string } | { entry: ManifestEntry } | undefined {
  if (requirements) {
    const entry = bundleEntry(release, service, requirements);
    if (entry) return { entry };
    const named = /^python\/requirements\/([^/]+)\.txt$/.exec(requirements);
    if (!named) return undefined;
    service = named[1]!;
  }
  const text = recorded(release, service);
  return text === undefined ? undefined : { text };
}

function recorded(release: Release, service: string): string | undefined {
  const py = release.manifest.artifacts.python as { services?: Record<string, { requirements?: unknown }> } | undefined;
  const text = py?.services?.[service]?.requirements;
  return typeof text === 'string' ? text : undefined;
}

/** The tree id: what the venv is built from (interpreter and pinned requirements). */
function venvId(p: VenvParams, text: string): string {
  return sha256Hex(`${p.python}\n${text}`).slice(0, 16);
}

/** Shell run in a tree: its marker says it was built from these requirements. */
function built(marker: string): string {
  return `[ "$(cat .ferry-requirements 2>/dev/null)" = ${q(marker)} ]`;
}

/**
 * A virtualenv built on the host from the bundle's wheels only (`--no-index --require-hashes`):
 * virtualenvs are not portable, so they are built where they run. Install builds it beside the live
 * one, at PATH.d/ID (a venv's scripts name the folder they were built in, so it is built where it
 * stays); configure switches PATH to it (sideBySide.ts). A marker written last makes a re-run free
 * and a half-built venv rebuilt. Install never removes or rewrites the tree PATH points at: a venv to
 * build again where that tree is live (`--repair`, or its marker gone) is built at PATH.d/ID-rN, the
 * next free number, and configure switches to it (the activation takes the highest-numbered built
 * tree), keeping the old one until then and as the previous tree after.
 */
export const venvStep: StepKind<VenvParams> = {
  name: 'venv',
  target: (p) => ({ kind: 'tree', path: p.path }),
  check(p, service, release) {
    if (pins(release, service, p.requirements)) return [];
    if (p.requirements) return [`venv requirements ${p.requirements}: the bundle has no ${bundlePath(service, p.requirements)} and records no pins under that name`];
    return [`venv ${p.path}: the bundle records no Python requirements for service ${service} (artifacts.python in the spec), and the step names no requirements file`];
  },
  async run(p, ctx) {
    const text = await requirementsText(p, ctx);
    const marker = sha256Hex(text);
    const script = [
      'set -e',
      slotScript(p.path, venvId(p, text), built(marker)),
      // --repair: packages in the venv were found changed, build it again whatever its marker says
      ctx.repair ? '' : 'if [ -n "$best" ] && [ "$best" = "$top" ]; then exit 0; fi',
      // never in the tree PATH points at (the running service's): a rebuild of that one goes to the next number
      ...CHOOSE_SLOT_SCRIPT,
      // the staged wheels pip installs from, as signed (also when the stage stage was skipped), as the apt, file
      // and git steps check theirs: one removed or changed on the host since is one line saying to run --force stage
      checkStagedScript(ctx.remoteBundle, pinnedWheels(ctx.release, text)),
      'req=$(mktemp)',
      `trap 'rm -f "$req"' EXIT`,
      'cat > "$req"',
      'rm -rf "$d"',
      'mkdir -p "$(dirname "$d")"',
      `${q(p.python)} -m venv "$d"`,
      `"$d/bin/pip" install -q --no-index --disable-pip-version-check --find-links ${q(`${ctx.remoteBundle}/python/files`)} --require-hashes -r "$req"`,
      `echo ${q(marker)} > "$d/.ferry-requirements"`,
      'echo "changed: built"',
    ]
      .filter(Boolean)
      .join('\n');
    return runScript(ctx, `venv ${p.path}`, script, { stdin: text });
  },
  async activate(p, ctx) {
    const text = await requirementsText(p, ctx);
    const marker = sha256Hex(text);
    const pick = [slotScript(p.path, venvId(p, text), built(marker)), PICK_BEST].join('\n');
    return runScript(ctx, `venv ${p.path}`, activateScript(p.path, venvId(p, text), built(marker), `venv ${p.path}`, pick));
  },
  /** the venv is built (its marker) and holds exactly the pinned versions (pip's own list of what is installed) */
  async inspect(p, ctx) {
    const text = await requirementsText(p, ctx);
    // the tree the activation takes: the highest-numbered one built
    const script = [
      slotScript(p.path, venvId(p, text), built(sha256Hex(text))),
      'd="$vd/${best:-$vid}"',
      'echo "@@tree ${best:-$vid}"',
      `if ! ( cd "$d" 2>/dev/null && ${built(sha256Hex(text))} ); then echo "@@unbuilt"; exit 0; fi`,
      // reading only: no bytecode, cache or version check written on the host
      'PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 "$d/bin/python" -m pip list --format=freeze --disable-pip-version-check --no-color --no-input 2>/dev/null || echo "@@nopip"',
    ].join('\n');
    const r = await runScript(ctx, `inspect venv ${p.path}`, script);
    const d = treeFor(p.path, /^@@tree (\S+)$/m.exec(r.stdout)?.[1] ?? venvId(p, text));
    r.stdout = r.stdout.replace(/^@@tree .*\n/m, '');
    if (r.stdout.includes('@@unbuilt')) return { target: d, differences: [{ what: 'venv', want: 'built from the pinned requirements', have: 'not built' }] };
    if (r.stdout.includes('@@nopip')) return { target: d, differences: [{ what: 'venv', want: 'a working python -m pip', have: 'pip cannot list the venv' }] };
    return { target: d, differences: comparePins(text, r.stdout) };
  },
  async inspectActivation(p, ctx) {
    const text = await requirementsText(p, ctx);
    return inspectActivation(ctx, p.path, venvId(p, text), [slotScript(p.path, venvId(p, text), built(sha256Hex(text))), PICK_BEST].join('\n'));
  },
};

/** The bundle's wheels (python/files) the pinned requirements name by their sha256: what pip installs from. */
function pinnedWheels(release: Release, text: string): ManifestEntry[] {
  const hashes = new Set([...text.matchAll(/--hash[= ]sha256:([0-9a-fA-F]{64})/g)].map((m) => m[1]!.toLowerCase()));
  return release.manifest.entries.filter((e) => e.path.startsWith('python/files/') && hashes.has(e.sha256));
}

async function requirementsText(p: VenvParams, ctx: StepContext): Promise<string> {
  const found = pins(ctx.release, ctx.service, p.requirements)!;
  return 'entry' in found ? (await readReleaseFile(ctx.release.dir, found.entry)).toString('utf8') : found.text;
}
