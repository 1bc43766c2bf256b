import { BundleFormatError } from '../errors.js';
import type { Manifest } from '../bundle/manifest.js';
import { normalizeProjectName } from '../sources/python/normalizeProjectName.js';
import { escapeText } from '../util/escapeText.js';
import type { CdxBom, CdxComponent } from '../sbom/cycloneDx.js';
import { debPurl, gitPurl, ociPurl, parsePurl, pypiPurl, withoutQualifier } from '../sbom/purl.js';

/**
 * Whether a bundle's SBOM describes what its manifest carries, as ferry writes it; refused (exit 68,
 * one line) when not. The signature covers both, but nothing else ties them: a signer could list other
 * packages or versions than it ships, and `ferry audit` and `ferry sbom` report what the SBOM says.
 * Checked: the release and its services are the manifest's; bom-refs are unique; each top-level
 * component is a manifest entry (its `ferry:path`, with that entry's sha256); each carried artifact
 * (a .deb, wheel, git repository, rootfs, file, image, mirror package) has a component; a component's
 * name and version are its purl's; and the purl is the one the manifest's own record gives (the apt
 * packages, the wheels the requirements pin by hash, the git commit, the image digest and tag, a
 * mirror's packages and files). A package listed inside a rootfs with a sha256 is a carried .deb.
 */
export function checkSbomMatchesManifest(bom: CdxBom, manifest: Manifest, label: string): void {
  const refuse = (what: string): never => {
    throw new BundleFormatError(`${label}: the SBOM does not describe what the manifest carries: ${escapeText(what)}; refused (rebuild the bundle with ferry build)`);
  };
  const show = (c: CdxComponent) => JSON.stringify(c['bom-ref']);
  const release = bom.metadata.component;
  if (release.name !== manifest.name || release.version !== manifest.version) refuse(`it describes ${release.name} ${release.version ?? ''}, the manifest ${manifest.name} ${manifest.version}`);
  const services = release.components ?? [];
  const listed = services.map((s) => `${s.name} ${s.version ?? ''}`).sort();
  const carried = Object.entries(manifest.services).map(([name, s]) => `${name} ${s.version}`).sort();
  if (listed.join('\n') !== carried.join('\n')) refuse(`its services are ${listed.join(', ') || 'none'}, the manifest's ${carried.join(', ') || 'none'}`);

  const refs = new Set<string>();
  const walk = (c: CdxComponent) => {
    if (refs.has(c['bom-ref'])) refuse(`bom-ref ${show(c)} is listed twice`);
    refs.add(c['bom-ref']);
    if (c.purl !== undefined) {
      const p = parsePurl(c.purl);
      if (!p) refuse(`component ${show(c)} has purl ${JSON.stringify(c.purl)}, which is not a package URL`);
      else if ((p.type === 'pypi' ? normalizeProjectName(p.name) !== normalizeProjectName(c.name) : p.name !== c.name) || p.version !== c.version) refuse(`component ${show(c)} is ${c.name} ${c.version ?? ''}, its purl ${c.purl}`);
    }
    for (const inner of c.components ?? []) walk(inner);
  };
  walk(release);
  bom.components.forEach(walk);

  const entries = new Map(manifest.entries.map((e) => [e.path, e]));
  const artifacts = manifest.artifacts as Record<string, unknown> & Manifest['artifacts'];
  // a .deb of the apt repository carries its suite as distro=; a bundle built before that, none
  const aptPurls = new Set(
    (artifacts.apt?.packages ?? []).flatMap((p) => {
      const architecture = String((p as { architecture?: unknown }).architecture);
      return [debPurl(p.name, p.version, architecture, artifacts.apt!.suite), debPurl(p.name, p.version, architecture)];
    }),
  );
  // a mirror's .deb carries as distro= the Codename of a suite that lists it (`codenames`, else the suite's name); a bundle built before that, none
  const mirrorAptPurls = new Map(
    Object.entries(artifacts.mirror?.apt ?? {}).map(([name, m]) => {
      const { packages = [], codenames = {} } = m as { packages?: Array<{ name: string; version: string; architecture: string; suite?: unknown }>; codenames?: Record<string, unknown> };
      const distro = (suite: unknown) => (typeof suite !== 'string' ? [] : [typeof codenames[suite] === 'string' ? codenames[suite] : suite]);
      return [name, new Set(packages.flatMap((p) => [debPurl(p.name, p.version, p.architecture), ...distro(p.suite).map((d) => debPurl(p.name, p.version, p.architecture, d))]))];
    }),
  );
  const mirrorWheels = new Map(Object.entries(artifacts.mirror?.python ?? {}).map(([name, m]) => [name, new Map(((m as { files?: Array<{ project: string; version: string; filename: string }> }).files ?? []).map((f) => [f.filename, pypiPurl(f.project, f.version, f.filename)]))]));
  // NAME==VERSION \ --hash=sha256:HEX, one pin per wheel, as the build writes each service's requirements
  const pins = new Map<string, { name: string; version: string }>();
  for (const s of Object.values(artifacts.python?.services ?? {})) {
    for (const m of s.requirements.matchAll(/^([A-Za-z0-9._-]+)(?:\[[^\]\n]*\])?==(\S+) \\\n\s*--hash=sha256:([0-9a-f]{64})$/gm)) pins.set(m[3]!, { name: m[1]!, version: m[2]! });
  }
  const gitByPath = new Map(Object.entries(artifacts.git ?? {}).map(([name, g]) => [g.path, { name, ...(g as { commit: string; url?: unknown }) }]));
  const images = new Map((artifacts.image?.images ?? []).map((i) => [`oci/blobs/sha256/${i.digest.slice(7)}`, i]));
  const rootfsByPath = new Map(Object.entries(artifacts.rootfs ?? {}).map(([name, r]) => [r.path, name]));

  /** the purl the manifest's record gives the entry at `path`, or undefined when it gives none (a file, a rootfs) */
  const expectedPurl = (path: string, c: CdxComponent): string | undefined => {
    const mirror = /^mirrors\/([^/]+)\/(debian|files)\/(.*)$/.exec(path);
    if (mirror) {
      const [, name, part, rest] = mirror;
      if (part === 'debian') return mirrorAptPurls.get(name!)?.has(c.purl ?? '') ? c.purl : refuse(`component ${show(c)} (${path}) is not a package of mirror ${name}`);
      return mirrorWheels.get(name!)?.get(rest!) ?? refuse(`component ${show(c)} (${path}) is not a file of mirror ${name}`);
    }
    if (path.startsWith('apt/')) return aptPurls.has(c.purl ?? '') ? c.purl : refuse(`component ${show(c)} (${path}) is ${c.purl ?? 'without a purl'}, not a package the manifest's apt section lists`);
    if (path.startsWith('python/')) {
      const pin = pins.get(c.hashes?.[0]?.content ?? '');
      const p = c.purl === undefined ? undefined : parsePurl(c.purl);
      if (!pin || !p || normalizeProjectName(pin.name) !== normalizeProjectName(p.name) || pin.version !== p.version) refuse(`component ${show(c)} (${path}) is ${c.purl ?? 'without a purl'}, not a wheel the requirements pin with its sha256`);
      return c.purl;
    }
    const git = gitByPath.get(path);
    if (git) return gitPurl(git.name, git.commit, typeof git.url === 'string' ? git.url : '');
    const image = images.get(path);
    if (image) return ociPurl(image.repository, image.digest, `${image.registry}/${image.repository}`, image.tag);
    const rootfs = rootfsByPath.get(path);
    if (rootfs !== undefined && c.name !== rootfs) refuse(`component ${show(c)} (${path}) is named ${c.name}, the manifest's rootfs ${rootfs}`);
    return undefined;
  };

  const described = new Set<string>();
  const debs = new Map<string, string>();
  // the .debs listed in the apt repository and in each apt mirror (REPO purl): a package once per repository
  const listedDebs = new Set<string>();
  for (const c of bom.components) {
    const path = c.properties?.find((p) => p.name === 'ferry:path')?.value;
    const entry = path === undefined ? undefined : entries.get(path);
    if (!entry || path === undefined) refuse(`component ${show(c)} names ${path === undefined ? 'no bundle path' : `${path}, which is not an entry of the manifest`}`);
    else {
      const sha256 = c.hashes?.map((h) => h.content) ?? [];
      if (sha256.length !== 1 || sha256[0] !== entry.sha256) refuse(`component ${show(c)} (${path}) has sha256 ${sha256.join(',') || 'none'}, the manifest lists ${entry.sha256}`);
      const purl = expectedPurl(path, c);
      if (purl !== c.purl) refuse(`component ${show(c)} (${path}) has purl ${c.purl ?? 'none'}, the manifest's record gives ${purl ?? 'none'}`);
      described.add(entry.sha256);
      if (c.purl?.startsWith('pkg:deb/')) debs.set(c.purl, entry.sha256);
      const repo = /^(apt|mirrors\/[^/]+\/debian)\//.exec(path)?.[1];
      // one package listed twice (at another .deb's path, with its bytes) would hide that .deb's name and version
      // (with and without distro= it is the same package)
      if (repo !== undefined && c.purl !== undefined) {
        const key = `${repo} ${withoutQualifier(c.purl, 'distro')}`;
        if (listedDebs.has(key)) refuse(`${c.purl} is listed twice under ${repo}/`);
        listedDebs.add(key);
      }
    }
  }
  // what the build lists as a component: every artifact, not the indexes, keys, source packages, image layers; and,
  // whatever kind the manifest gives it (the signer's word too: a .deb given the kind of an apt index needed none),
  // what hosts install: a .deb an apt index of the bundle or of a mirror can name, a file of pip's --find-links
  // folder or of a Python mirror's files
  const needsComponent = (e: Manifest['entries'][number]) =>
    ['apt', 'python', 'git', 'rootfs', 'file'].includes(e.kind) ||
    (e.kind === 'image' && images.has(e.path)) ||
    /^(apt|mirrors\/[^/]+\/debian)\/.*\.u?deb$/.test(e.path) ||
    /^(python|mirrors\/[^/]+)\/files\/[^/]+$/.test(e.path);
  const missing = manifest.entries.find((e) => needsComponent(e) && !described.has(e.sha256));
  if (missing) refuse(`${missing.path} (${missing.kind}) has no component`);
  // the packages the build lists inside a rootfs take the sha256 of the carried .deb of the same purl
  const inside = (c: CdxComponent) => {
    for (const inner of c.components ?? []) {
      const sha256 = inner.hashes?.[0]?.content;
      if (sha256 !== undefined && (inner.purl === undefined || debs.get(inner.purl) !== sha256)) refuse(`component ${show(inner)} inside ${show(c)} has sha256 ${sha256}, which no carried .deb of its purl has`);
      inside(inner);
    }
  };
  bom.components.forEach(inside);
}
