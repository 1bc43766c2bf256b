import { posix } from 'node:path';
import * as z from '../util/zod.js';
import { aptDistribution, ENTRY_PATH_MAX, ENTRY_PATH_RULE, isSafeBundlePath, isSafeSegment, name, version } from '../util/names.js';
import { STEP_KIND_LIST } from './stepOptions.js';
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex characters (a sha256)');

/**
 * A source the bundle records (a file's src, a git URL, a tarball's src goes into manifest.json, the
 * SBOM and, for git, the origin of every checkout on the hosts): no login in it. An http(s) URL may
 * hold no user or password, another URL (ssh://git@host/…) no password.
 */
export function hasCredentials(source: string): boolean {
  let url: URL;
  try {
    url = new URL(source);
  } catch {
    return false;
  }
  return url.password !== '' || (/^(https?|ftps?):$/.test(url.protocol) && url.username !== '');
}
const recordedSource = (instead: string) =>
  z
    .string()
    .min(1)
    .refine((s) => !hasCredentials(s), `a URL with a login in it, which the bundle would carry to the secure side; ${instead}`);
const FETCH_IT_YOURSELF = 'download the file yourself and name its local path';

/** A plain file: a local path (relative to the spec) or an http(s) URL, which must carry its sha256. */
export const FileArtifact = z
  .object({
    src: recordedSource(FETCH_IT_YOURSELF),
    sha256: sha256.optional(),
    /** Name inside the bundle's files/SERVICE/ folder (may hold folders: "conf/app.conf"); defaults to the basename of src. */
    name: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((f, ctx) => {
    if (/^https?:\/\//.test(f.src) && !f.sha256) {
      ctx.addIssue({ code: 'custom', message: 'a file fetched from a URL needs its sha256', path: ['sha256'] });
    }
    const n = fileArtifactName(f);
    if (!n.split('/').every(isSafeSegment)) {
      ctx.addIssue({ code: 'custom', message: `the bundle cannot carry a file named ${JSON.stringify(n)}: ${ENTRY_PATH_RULE}; ${f.name === undefined ? 'give it a name:' : 'choose another name'}`, path: [f.name === undefined ? 'src' : 'name'] });
    }
  });

/** The file's name under files/SERVICE/: its `name`, else the last segment of its path or URL (decoded). */
export function fileArtifactName(f: { src: string; name?: string }): string {
  if (f.name !== undefined) return f.name;
  if (!/^https?:\/\//.test(f.src)) return posix.basename(f.src);
  try {
    return decodeURIComponent(posix.basename(new URL(f.src).pathname));
  } catch {
    return posix.basename(f.src);
  }
}

export const GitArtifact = z
  .object({
    url: recordedSource('give git the login through a credential helper or ~/.netrc instead').refine(
      (s) => !/^[A-Za-z][A-Za-z0-9+.-]*::/.test(s),
      'a git transport helper (ext::, fd::, …), which runs a program of its own on this machine; give an https, ssh, git or file URL or a path',
    ),
    ref: z.string().min(1),
    name: name.optional(),
    /** history depth carried in the git bundle; 0 = full history */
    depth: z.number().int().min(0).default(1),
  })
  .strict();

/**
 * A container image: its full reference (`registry.example/team/app:1.4`, optionally `@sha256:…` to pin
 * it), the platforms to carry of a multi-platform image (default: targets.debian.architectures), and
 * where to read it when not from its registry: `oci:PATH[:TAG]` (an OCI image layout folder) or
 * `docker-archive:PATH` (what `docker save` writes), PATH relative to the spec.
 */
export const ImageArtifact = z
  .object({
    ref: z.string().min(1),
    platforms: z.array(z.string().regex(/^[a-z0-9]+\/[a-z0-9]+(?:\/[a-z0-9]+)?$/, 'OS/ARCHITECTURE[/VARIANT], like "linux/amd64" or "linux/arm/v7"')).min(1).optional(),
    from: z.string().regex(/^(?:oci|docker-archive):./, '"oci:PATH[:TAG]" or "docker-archive:PATH"').optional(),
  })
  .strict();

/** A step: exactly one key naming its kind, with that kind's options (checked by validateSteps.ts). */
export const Step = z
  .record(z.string(), z.unknown())
  .refine((o) => Object.keys(o).length === 1, `a step has exactly one key naming its kind (${STEP_KIND_LIST})`);

export const Service = z
  .object({
    version,
    groups: z.array(name).min(1),
    artifacts: z
      .object({
        files: z.array(FileArtifact).default([]),
        apt: z.array(z.string().min(1)).default([]),
        python: z.object({ requirements: z.string().min(1) }).strict().optional(),
        git: z.array(GitArtifact).default([]),
        rootfs: z.array(name).default([]),
        images: z.array(ImageArtifact).default([]),
      })
      .strict()
      .default({ files: [], apt: [], git: [], rootfs: [], images: [] }),
    stage: z.array(Step).default([]),
    install: z.array(Step).default([]),
    configure: z.array(Step).default([]),
  })
  .strict();

export const AptUpstream = z
  .object({
    /** an http(s) URI, or "system": the build machine's own apt sources and keyrings */
    uri: z.string().min(1),
    suites: z.array(z.string().min(1)).optional(),
    components: z.array(z.string().min(1)).default(['main']),
    /** keyring file(s) that sign the upstream's InRelease (armored .asc or binary .gpg) */
    keyring: z.union([z.string(), z.array(z.string())]).optional(),
    /** false: take a Release past its Valid-Until (apt's check-valid-until=no, for snapshot archives) */
    check_valid_until: z.boolean().optional(),
  })
  .strict();

/**
 * A general-purpose apt mirror carried across the gap: the upstream's suites, components and
 * architectures as they are, filtered (names and globs, sections, priorities; with the dependencies of
 * the selection when asked) or whole, keeping the newest `keep` versions of each package.
 */
export const AptMirror = z
  .object({
    /** an http(s) URI, or "system": the build machine's own apt sources and keyrings */
    uri: z.string().min(1),
    /** keyring file(s) that sign the upstream's InRelease (armored .asc or binary .gpg); not with "system" */
    keyring: z.union([z.string(), z.array(z.string())]).optional(),
    /** false: take a Release past its Valid-Until (apt's check-valid-until=no, for snapshot archives) */
    check_valid_until: z.boolean().optional(),
    suites: z.array(aptDistribution).min(1),
    components: z.array(aptDistribution).min(1).default(['main']),
    architectures: z.array(name).min(1).default(['amd64']),
    /** what to carry; without a filter, everything */
    filter: z
      .object({
        /** package names or globs (* and ?) */
        packages: z.array(z.string().min(1)).default([]),
        /** sections, e.g. net, admin (a section "contrib/net" also matches "net") */
        sections: z.array(z.string().min(1)).default([]),
        /** priorities, e.g. required, important, standard */
        priorities: z.array(z.string().min(1)).default([]),
        /** add what the selection needs to install (Pre-Depends and Depends, across every suite and component) */
        with_dependencies: z.boolean().default(false),
      })
      .strict()
      .optional(),
    /** versions of each package kept, newest first */
    keep: z.number().int().min(1).default(1),
    /** carry the source package (.dsc and its files) of every kept binary package, with Sources indexes */
    sources: z.boolean().default(false),
  })
  .strict();

/** The interpreter and platforms wheels are chosen for (targets.python, and each target of a Python mirror). */
export const PythonTarget = z
  .object({
    version: z.string().regex(/^\d+\.\d+(?:\.\d+)?$/, 'MAJOR.MINOR or MAJOR.MINOR.PATCH, like "3.11" or "3.11.2"'),
    implementation: z.string().default('cp'),
    abi: z.string().optional(),
    platforms: z.array(z.string()).min(1),
  })
  .strict();

/**
 * A general-purpose Python package mirror: the projects named (PEP 508 requirements, e.g.
 * `django>=4.2,<5`), every release of them the specifier admits, and for each target the newest release
 * of each dependency that has a file for it (markers evaluated for the target), so that
 * `pip install PROJECT` against the mirror resolves offline on every target (docs/mirrors.md).
 */
export const PythonMirror = z
  .object({
    /** a PEP 503 (HTML) or PEP 691 (JSON) simple index URL, or a static PEP 503 tree on disk (relative to the spec) */
    index: z.string().min(1),
    projects: z.array(z.string().min(1)).min(1),
    targets: z.array(PythonTarget).min(1),
    /** carry source distributions too (a target without a fitting wheel then installs from the sdist) */
    sdists: z.boolean().default(false),
  })
  .strict();

const Compress = z.enum(['gzip', 'xz', 'zstd']).default('gzip');
/** compression level: gzip 1-9 (default 6), zstd 1-19 (default 10), xz 0-9 (default 6) */
/**
 * What mmdebstrap's command line may carry from a spec. Its `--include` list reaches apt-get's command
 * line, which reads `-o…` anywhere as an option (`-oDPkg::Pre-Install-Pkgs::=CMD` runs CMD on the build
 * machine), and mmdebstrap writes the architecture into the apt.conf it builds with, between quotes
 * (`amd64,i386";};APT::Update::Pre-Invoke{"CMD";};…` ran CMD as root outside the chroot): a package is
 * a Debian package name, optionally :ARCH and =VERSION; an architecture is a Debian architecture name.
 */
const MMDEBSTRAP_PACKAGE_RE = /^[a-z0-9][a-z0-9+.-]{0,199}(?::[a-z0-9][a-z0-9-]{0,63})?(?:=[A-Za-z0-9.+~:-]{1,200})?$/;
const MMDEBSTRAP_PACKAGE_RULE = 'a Debian package name (lowercase letters, digits and + - .), optionally :ARCH and =VERSION';
const DEBIAN_ARCH_RE = /^[a-z0-9][a-z0-9-]{0,63}$/;
const DEBIAN_ARCH_RULE = 'a Debian architecture name (lowercase letters, digits and -), such as amd64 or arm64';

const Level = z.number().int().min(0).max(19).optional();

/**
 * A root filesystem carried as a tarball: built by mmdebstrap from the bundle's own apt repository,
 * an existing tarball (local path or http(s) URL, with its sha256), or a local folder packed
 * deterministically.
 */
export const RootfsSpec = z.union([
  z
    .object({
      mmdebstrap: z
        .object({
          variant: z.enum(['extract', 'custom', 'essential', 'apt', 'required', 'minbase', 'buildd', 'important', 'debootstrap', 'standard']).default('minbase'),
          // installed by apt inside the rootfs from the bundle's repository, which has one suite: name or
          // name=version (a service's artifacts.apt may name a suite of upstreams.apt, name/suite)
          packages: z
            .array(
              z
                .string()
                .min(1)
                .refine((p) => !p.includes('/'), { message: 'name a package as name or name=version here: mmdebstrap installs from the bundle repository, which has one suite (name/suite belongs in a service\'s artifacts.apt)' })
                .refine((p) => p.includes('/') || MMDEBSTRAP_PACKAGE_RE.test(p), { message: MMDEBSTRAP_PACKAGE_RULE }),
            )
            .default([]),
          /** defaults to the first of targets.debian.architectures */
          architecture: z.string().regex(DEBIAN_ARCH_RE, DEBIAN_ARCH_RULE).optional(),
          compress: Compress,
          level: Level,
        })
        .strict(),
    })
    .strict(),
  z.object({ tarball: z.object({ src: recordedSource(FETCH_IT_YOURSELF), sha256 }).strict() }).strict(),
  z.object({ directory: z.object({ path: z.string().min(1), compress: Compress, level: Level }).strict() }).strict(),
]);

export const Spec = z
  .object({
    name,
    version,
    /** every timestamp in the bundle; SOURCE_DATE_EPOCH overrides */
    epoch: z.union([z.string().datetime({ offset: true }), z.date()]).transform((d) => (d instanceof Date ? d : new Date(d))),
    description: z.string().optional(),
    targets: z
      .object({
        debian: z.object({ suite: aptDistribution, architectures: z.array(name).min(1).default(['amd64']) }).strict().optional(),
        python: PythonTarget.optional(),
      })
      .strict()
      .default({}),
    upstreams: z
      .object({
        apt: z.array(AptUpstream).default([]),
        apt_options: z
          .object({
            recommends: z.boolean().default(false),
            /**
             * what target hosts already have: "required" (Priority: required + Essential), a list of
             * NAME or NAME=VERSION, or { status: FILE } (a dpkg status file taken from a reference host)
             */
            base: z.union([z.literal('required'), z.array(z.string()), z.object({ status: z.string() }).strict()]).default([]),
            valid_for_days: z.number().int().positive().optional(),
            /** apt's APT::Get::Upgrade-By-Source-Package: carry the upgrades of installed binaries of the same source */
            upgrade_by_source: z.boolean().default(true),
          })
          .strict()
          .default({ recommends: false, base: [], upgrade_by_source: true }),
        python: z
          .object({ index: z.string().min(1), allow_sdist: z.boolean().default(false) })
          .strict()
          .optional(),
        /**
         * where to fetch each registry's images: `registry.example: { url: http://127.0.0.1:5000 }` (a
         * mirror, or plain HTTP); a registry not listed is fetched from https://REGISTRY
         */
        images: z
          .object({ registries: z.record(z.string().min(1), z.object({ url: z.string().regex(/^https?:\/\/[^\s/?#]+\/?$/, 'an http(s) URL of a registry (scheme, host and port only)') }).strict()).default({}) })
          .strict()
          .optional(),
      })
      .strict()
      .default({ apt: [], apt_options: { recommends: false, base: [], upgrade_by_source: true } }),
    services: z
      .record(name, Service)
      .superRefine((services, ctx) => {
        // each segment was checked with the file; the whole path files/SERVICE/NAME must fit a bundle entry
        // too, or the build refuses it only when it writes manifest.json, naming no spec field
        for (const [svc, s] of Object.entries(services)) {
          s.artifacts.files.forEach((f, i) => {
            const path = `files/${svc}/${fileArtifactName(f)}`;
            if (path.split('/').every(isSafeSegment) && !isSafeBundlePath(path)) {
              ctx.addIssue({ code: 'custom', message: `the bundle cannot carry a file at ${path.length} characters (files/${svc}/…): ${ENTRY_PATH_RULE}, at most ${ENTRY_PATH_MAX} characters in all; choose a shorter name`, path: [svc, 'artifacts', 'files', i, f.name === undefined ? 'src' : 'name'] });
            }
          });
        }
      })
      .default({}),
    rootfs: z.record(name, RootfsSpec).default({}),
    /** general-purpose mirrors served at /mirrors/NAME/ after import (docs/mirrors.md) */
    mirrors: z
      .object({ apt: z.record(name, AptMirror).default({}), python: z.record(name, PythonMirror).default({}) })
      .strict()
      .superRefine((m, ctx) => {
        // both kinds are served under /mirrors/NAME/
        for (const n of Object.keys(m.python)) if (n in m.apt) ctx.addIssue({ code: 'custom', message: `mirror name "${n}" is used by an apt and a Python mirror; every mirror needs its own name (/mirrors/NAME/)`, path: ['python', n] });
      })
      .default({ apt: {}, python: {} }),
  })
  .strict();

export type Spec = z.infer<typeof Spec>;
export type Service = z.infer<typeof Service>;
export type FileArtifact = z.infer<typeof FileArtifact>;
export type GitArtifact = z.infer<typeof GitArtifact>;
export type ImageArtifact = z.infer<typeof ImageArtifact>;
export type AptUpstream = z.infer<typeof AptUpstream>;
export type RootfsSpec = z.infer<typeof RootfsSpec>;
export type AptMirror = z.infer<typeof AptMirror>;
export type PythonMirror = z.infer<typeof PythonMirror>;
export type Step = z.infer<typeof Step>;
