import { DeployError } from '../../errors.js';
import type { ManifestEntry } from '../../bundle/manifest.js';
import { isServerUrl } from '../hostSettings.js';
import type { Release } from '../../store/loadRelease.js';
import type { StepOptions } from '../../specfile/stepOptions.js';
import { carriedImages, type CarriedImage } from '../../util/imageNames.js';
import { shellQuote as q } from '../../util/shellQuote.js';
import { checkStagedScript } from './checkStagedScript.js';
import { runScript } from './runScript.js';
import type { Difference, StepContext, StepKind } from './types.js';

type ImageParams = StepOptions<'image'>;

/** The staged OCI layout's index: checked before a load (the blobs are checked by the runtime as it reads them), though a load reads its image by DESC. */
const LAYOUT_INDEX = 'oci/index.json';

export function carriedImage(release: Release, ref: string): CarriedImage | undefined {
  return carriedImages(release.manifest.artifacts).images.find((i) => i.ref === ref);
}

/** `http://10.0.0.5:8080` -> the registry address `10.0.0.5:8080` (ferry serve answers /v2/ at its root) and whether it is plain HTTP. */
export function registryOf(server: string, host: string): { address: string; plain: boolean } {
  // --server as well as the inventory's ferry_server: the address starts an argument of podman, docker and ctr
  if (!isServerUrl(server)) throw new DeployError(`host ${host}: ferry_server ${JSON.stringify(server)} is not an http(s) URL of a host name or IP address`);
  const url = new URL(server);
  if (url.pathname !== '/' || url.search || url.username) {
    throw new DeployError(`host ${host}: images are pulled from ferry serve's /v2/ at the root of ${server}; give ferry_server without a path (http://HOST:PORT), or deploy with --push`);
  }
  return { address: url.host, plain: url.protocol === 'http:' };
}

/**
 * `one_layout FN`: runs FN with $t a layout of this one image, its index.json holding only the descriptor
 * the signed manifest pins (DESC), its blobs the staged ones. Nothing is loaded by name from the staged
 * index.json: it lists every image of the release, and the manifest it names by a reference need not be
 * the one the step checks for (a podman load then failed after giving the reference to that other image;
 * docker keeps no digest to check, and went on with it).
 */
const ONE_IMAGE_LAYOUT =
  'one_layout() { t=$(mktemp -d) || return 1; printf \'{"schemaVersion":2,"manifests":[%s]}\' "$DESC" > "$t/index.json" && cp "$LAYOUT/oci-layout" "$t/" && ln -s "$LAYOUT/blobs" "$t/blobs" && "$1"; r=$?; rm -rf "$t"; return $r; }';

/**
 * Per runtime, shell functions over the variables the step sets:
 *   D (manifest digest), REF (original name:tag), ORIG (original name@digest), SRC (where to pull
 *   from, name@digest; empty with --push), PLAIN (1 for an HTTP registry), LAYOUT (the staged OCI
 *   layout), MARK (docker: the image ID a load gave), DESC (the image's descriptor, for one_layout,
 *   naming it PRIV), PRIV (the private name a load gives it: privateName)
 * present: the image is there at digest D; named: REF names that image; pull; load (from LAYOUT); tag;
 * current: what REF names now (podman, containerd: its digest; docker: its image ID), for --check's report.
 */
const RUNTIME_SCRIPTS: Record<ImageParams['runtime'], string> = {
  // podman finds an image by name@digest through its digest, whatever name it came under
  podman: [
    'command -v podman >/dev/null || { echo "this host has no podman" >&2; exit 5; }',
    'present() { podman image exists "$ORIG"; }',
    'id_of() { podman image inspect --format "{{.ID}}" "$1" 2>/dev/null; }',
    'named() { [ "$(id_of "$REF")" = "$(id_of "$ORIG")" ]; }',
    'pull() { if [ "$PLAIN" = 1 ]; then podman pull -q --tls-verify=false "$SRC"; else podman pull -q "$SRC"; fi >/dev/null; }',
    // skopeo names the image by its private name (podman's own oci: transport would name it after the folder)
    'copy_in() { skopeo copy -q "oci:$t:$PRIV" "containers-storage:$PRIV"; }',
    'load() { command -v skopeo >/dev/null || { echo "loading an image into podman needs skopeo on the host" >&2; exit 5; }; one_layout copy_in; }',
    'tag() { podman tag "$ORIG" "$REF"; }',
    'current() { podman image inspect --format "{{.Digest}}" "$REF" 2>/dev/null; }',
  ].join('\n'),
  // docker: an HTTP registry must be listed in daemon.json's insecure-registries; loading needs skopeo
  docker: [
    'command -v docker >/dev/null || { echo "this host has no docker" >&2; exit 5; }',
    'id_of() { docker image inspect --format "{{.Id}}" "$1" 2>/dev/null; }',
    'present() { for n in "$ORIG" ${SRC:+"$SRC"}; do id_of "$n" >/dev/null && return 0; done; [ -s "$MARK" ] && id_of "$(cat "$MARK")" >/dev/null; }',
    'named() { r=$(id_of "$REF") && { [ "$r" = "$(id_of "${SRC:-$ORIG}")" ] || [ "$r" = "$(cat "$MARK" 2>/dev/null)" ]; }; }',
    'pull() { docker pull -q "$SRC" >/dev/null; }',
    // docker-daemon: keeps no registry digest, so the image ID it got for D is remembered beside the layout
    // skopeo reaches the engine at /var/run/docker.sock unless told: a host's DOCKER_HOST (rootless docker) is passed on
    'copy_in() { skopeo copy -q ${DOCKER_HOST:+--dest-daemon-host "$DOCKER_HOST"} "oci:$t:$PRIV" "docker-daemon:$PRIV"; }',
    'load() { command -v skopeo >/dev/null || { echo "loading an image into docker needs skopeo on the host" >&2; exit 5; }; one_layout copy_in && id_of "$PRIV" > "$MARK"; }',
    // a loaded image by the ID the load gave (docker knows it by no name@digest)
    'tag() { s=$SRC; if [ -z "$s" ] && [ -s "$MARK" ]; then s=$(cat "$MARK"); fi; docker tag "${s:-$ORIG}" "$REF"; }',
    'current() { id_of "$REF"; }',
  ].join('\n'),
  // containerd: the k8s.io namespace, where the kubelet (CRI) looks
  containerd: [
    'command -v ctr >/dev/null || { echo "this host has no ctr (containerd)" >&2; exit 5; }',
    'C="ctr -n k8s.io"',
    'present() { $C images ls | awk -v d="$D" \'$3 == d { f = 1 } END { exit !f }\'; }',
    'named() { $C images ls | awk -v r="$REF" -v d="$D" \'$1 == r && $3 == d { f = 1 } END { exit !f }\'; }',
    'pull() { if [ "$PLAIN" = 1 ]; then $C images pull --plain-http "$SRC"; else $C images pull "$SRC"; fi >/dev/null; }',
    // the staged layout lists every image of the release, not all staged here: the layout of this one image
    'import_tar() { tar -C "$t" -chf - oci-layout index.json blobs | $C images import --digests -; }',
    'load() { one_layout import_tar; }',
    // from any name the image has at D (an import's private name, a pull's name@digest)
    'tag() { $C images tag --force "$($C images ls | awk -v d="$D" \'$3 == d { print $1; exit }\')" "$REF" >/dev/null; }',
    'current() { $C images ls | awk -v r="$REF" \'$1 == r { print $3 }\'; }',
  ].join('\n'),
};

/**
 * Make an image present on the host at its pinned digest, for podman, docker or containerd. Reads
 * first: present at that digest (and, with `retag`, named by its original reference) is unchanged.
 * Otherwise the runtime pulls it by digest from ferry serve's registry (/v2/ at the host's
 * ferry_server), or, with --push, loads it from the staged OCI layout; either way the runtime checks
 * every blob's digest as it reads it, and the step checks the digest is present afterwards.
 * `inspect` (--check) runs the same present and named reads, and nothing else.
 */
export const imageStep: StepKind<ImageParams> = {
  name: 'image',
  target: (p) => ({ kind: 'image', ref: p.ref, runtime: p.runtime }),
  check(p, service, release) {
    const img = carriedImage(release, p.ref);
    if (!img) return [`image ${p.ref}: the bundle carries no such image (artifacts.image lists ${carriedImages(release.manifest.artifacts).images.map((i) => i.ref).join(', ') || 'none'})`];
    const blob = `oci/blobs/sha256/${img.digest.slice(7)}`;
    if (!release.manifest.entries.some((e) => e.path === blob && e.services.includes(service))) return [`image ${p.ref}: the bundle does not carry ${blob} for service ${service}`];
    return [];
  },
  async run(p, ctx) {
    const img = carriedImage(ctx.release, p.ref)!;
    let act: string[];
    if (ctx.push) {
      const index = ctx.release.manifest.entries.find((e) => e.path === LAYOUT_INDEX);
      if (!index) throw new DeployError(`host ${ctx.host}, service ${ctx.service}: the bundle has no ${LAYOUT_INDEX} to load ${img.ref} from`);
      // the image's manifest (or index) too: skopeo reads the top document of an oci: layout without checking it
      // against its digest (the platform manifests, configs and layers it does check), and docker keeps no
      // digest the step could check afterwards
      const top = topEntry(ctx.release, img);
      act = [checkStagedScript(ctx.remoteBundle, top ? [index, top] : [index]), 'load || { echo "cannot load $REF from the staged layout $LAYOUT" >&2; exit 9; }', 'echo "changed: loaded $REF"'];
    } else {
      if (!ctx.server) throw new DeployError(`host ${ctx.host}: no ferry serve address to pull ${img.ref} from; set vars.ferry_server, pass --server URL, or use --push`);
      act = ['pull || { echo "cannot pull $SRC (is ferry serve running, reachable from this host, and the release imported?)" >&2; exit 6; }', 'echo "changed: pulled $SRC"'];
    }
    // the tag moves only where the step runs in configure: under install it is the activation's (a load
    // from the staged layout names the image privately, never by REF: privateName)
    const tagHere = p.retag && ctx.stage !== 'install';
    const script = [
      'set -e',
      imageShell(p, img, ctx),
      `if present${tagHere ? ' && named' : ''}; then exit 0; fi`,
      'if ! present; then',
      ...act.map((l) => `  ${l}`),
      '  present || { echo "the image is not present at $D after it was brought in (the runtime names another digest?)" >&2; exit 8; }',
      'fi',
      ...(tagHere ? [TAG] : []),
    ].join('\n');
    return runScript(ctx, `image ${p.ref}`, script);
  },
  activates: (p) => p.retag === true,
  /**
   * `retag` of a step under install: the reference moves to the pinned image in configure, inside the
   * batches (a unit naming a tag two releases share would start the new image on any restart before)
   */
  async activate(p, ctx) {
    if (!p.retag) return { changed: false, detail: 'unchanged' };
    const img = carriedImage(ctx.release, p.ref)!;
    const script = [
      'set -e',
      imageShell(p, img, ctx),
      'if present && named; then exit 0; fi',
      `if ! present; then echo ${q(`image ${p.ref}: not present at ${img.digest} on this host, though install is recorded done for this release (removed since?); bring it in again with ferry deploy --force install (configure follows)`)} >&2; exit 3; fi`,
      TAG,
    ].join('\n');
    return runScript(ctx, `image ${p.ref}`, script);
  },
  /** what install brings in: the image present at its digest (and, for a step under configure, the tag too) */
  inspect(p, ctx) {
    return inspectImage(p, ctx, p.retag === true && ctx.stage !== 'install');
  },
  /** what configure's activation moves: the tag */
  async inspectActivation(p, ctx) {
    const found = await inspectImage(p, ctx, p.retag === true);
    return { ...found, differences: found.differences.filter((d) => d.what === 'tag') };
  },
};

/** Shell that names the image by its reference where it does not yet. */
const TAG = 'if ! named; then tag; echo "changed: tagged $REF"; fi';

/** The image's two reads (present at the digest; with `tagged`, named by its reference), changing nothing. */
async function inspectImage(p: ImageParams, ctx: StepContext, tagged: boolean) {
  const img = carriedImage(ctx.release, p.ref)!;
  const script = [imageShell(p, img, ctx), 'if present; then echo present; fi', ...(tagged ? ['if named; then echo named; fi'] : []), 'echo "current $(current)"'].join('\n');
  const r = await runScript(ctx, `inspect image ${p.ref}`, script);
  const said = new Set(r.stdout.split('\n'));
  const current = /^current (\S+)/m.exec(r.stdout)?.[1];
  const short = (d: string) => d.slice(0, 19);
  const differences: Difference[] = [];
  if (!said.has('present')) differences.push({ what: 'image', want: short(img.digest), have: current ? `missing (${p.ref} is ${short(current)})` : 'missing' });
  else if (tagged && !said.has('named')) differences.push({ what: 'tag', want: `${p.ref} at ${short(img.digest)}`, have: current ? `${p.ref} at ${short(current)}` : `no ${p.ref}` });
  return { target: `${p.ref} (${p.runtime})`, differences };
}

/**
 * The step's shell up to its decision: the variables for the image and the runtime's functions
 * (RUNTIME_SCRIPTS). SRC is where a pull comes from: empty with --push, or when --check knows no
 * ferry serve address.
 */
function imageShell(p: ImageParams, img: CarriedImage, ctx: StepContext): string {
  const layout = `${ctx.remoteBundle}/oci`;
  const reg = !ctx.push && ctx.server ? registryOf(ctx.server, ctx.host) : undefined;
  return [
    `D=${q(img.digest)}`,
    `REF=${q(img.ref)}`,
    `ORIG=${q(`${img.registry}/${img.repository}@${img.digest}`)}`,
    `LAYOUT=${q(layout)}`,
    `MARK=${q(`${layout}/.ferry-docker-${img.digest.slice(7)}`)}`,
    `PRIV=${q(privateName(img))}`,
    `DESC=${q(JSON.stringify({ mediaType: img.mediaType, digest: img.digest, size: sizeOf(ctx, img), annotations: { 'org.opencontainers.image.ref.name': privateName(img) } }))}`,
    `SRC=${reg ? q(`${reg.address}/${img.repository}@${img.digest}`) : ''}`,
    `PLAIN=${reg?.plain ? 1 : 0}`,
    ONE_IMAGE_LAYOUT,
    RUNTIME_SCRIPTS[p.runtime],
  ].join('\n');
}

/**
 * The name a load from the staged layout gives the image (podman, docker and containerd all name what
 * they load): one of ferry's own, never the reference a unit names, which only `retag` moves, at
 * configure (or where the step runs under configure:).
 */
export function privateName(img: CarriedImage): string {
  return `localhost/ferry-staged:${img.digest.slice(7)}`;
}

/** The bundle's entry of the image's manifest or index (the step's check makes sure there is one). */
function topEntry(release: Release, img: CarriedImage): ManifestEntry | undefined {
  return release.manifest.entries.find((e) => e.path === `oci/blobs/sha256/${img.digest.slice(7)}`);
}

function sizeOf(ctx: StepContext, img: CarriedImage): number {
  return topEntry(ctx.release, img)?.size ?? 0;
}
