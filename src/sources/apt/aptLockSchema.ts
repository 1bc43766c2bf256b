import * as z from '../../util/zod.js';
import { SpecError } from '../../errors.js';
import { formatIssues } from '../../util/formatIssues.js';
import { ambiguousUrl, parseLocation, urlUnder } from '../../fetch/lockedUrl.js';
import { name } from '../../util/names.js';
import { quoteInput } from '../../util/oneLine.js';
import { RELEASE_NAME } from './releaseName.js';
import type { AptLock } from './aptKind.js';
import type { AptMirrorLock } from './lockAptMirror.js';
import type { AptMirror } from '../../specfile/schema.js';

const debFields = {
    name: z.string().regex(/^[a-z0-9][a-z0-9+.-]{1,199}$/, 'a Debian package name'),
    version: z.string().regex(/^[A-Za-z0-9.+~:-]{1,200}$/, 'a Debian version'),
    architecture: z.string().regex(/^[a-z0-9-]{1,64}$/, 'a Debian architecture'),
    /** an upstream or local mirror: the downloader takes http(s)://, file:// and absolute paths */
    url: z.string().regex(/^(?:https?:\/\/|file:\/|\/)[^\s\p{C}]*$/u, 'an http(s):// or file:// URL or an absolute path'),
    size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits'),
    /** written into the bundle's Packages index: one word, never a line of its own; in any case, as apt reads it (`Optional`) */
    priority: z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,31}$/, 'a Debian priority').optional(),
};
const LockedDeb = z.object({ ...debFields, services: z.array(name) }).strict();

const Lock = z
  .object({
    suite: z.string(),
    component: z.string(),
    architectures: z.array(z.string()),
    sources: z.array(z.object({ uri: z.string(), suite: z.string(), signers: z.array(z.string()) }).strict()),
    packages: z.array(LockedDeb),
  })
  .strict();

/**
 * The lock's apt section, read as hostile input: each .deb pins a URL, size and sha256 (checked as it
 * arrives); the suite, component and architectures published in the bundle are the spec's (a suite like
 * `../../x` would write the repository's indexes outside the build's folder).
 */
export function parseAptLock(section: unknown, expect: { suite: string; component: string; architectures: string[] }): AptLock {
  const parsed = Lock.safeParse(section);
  if (!parsed.success) throw new SpecError(formatIssues('lock: apt', parsed.error) + '; run ferry lock again');
  const lock = parsed.data;
  const got = { suite: lock.suite, component: lock.component, architectures: lock.architectures };
  if (JSON.stringify(got) !== JSON.stringify(expect)) {
    throw new SpecError(`lock: apt publishes ${clip(JSON.stringify(got))}, the spec gives ${JSON.stringify(expect)}; run ferry lock again and review the diff`);
  }
  return lock;
}

const MirrorLock = z
  .object({
    suites: z.array(z.object({ suite: z.string(), date: z.iso.datetime(), pin: z.union([z.literal(1), z.literal(100)]).optional(), releaseSuite: z.string().regex(RELEASE_NAME).optional(), codename: z.string().regex(RELEASE_NAME).optional() }).strict()),
    components: z.array(z.string()),
    architectures: z.array(z.string()),
    sources: z.array(z.object({ uri: z.string(), suite: z.string(), signers: z.array(z.string()), release: debFields.sha256.optional() }).strict()),
    packages: z.array(z.object({ ...debFields, suite: z.string(), component: z.string() }).strict()),
    sourcePackages: z
      .array(
        z
          .object({
            name: z.string(),
            version: z.string(),
            suite: z.string(),
            component: z.string(),
            files: z.array(z.object({ name: z.string(), size: debFields.size, sha256: debFields.sha256, url: debFields.url }).strict()),
          })
          .strict(),
      )
      .optional(),
  })
  .strict();

/**
 * One apt mirror of the lock: its files are pinned (URL, size, sha256); the suites it publishes are among
 * the spec's, its components and architectures are the spec's (they become folders of the bundle: a suite like
 * `../../x` would write the mirror's indexes outside the build's folder).
 */
export function parseAptMirrorLock(section: unknown, mirror: AptMirror, name: string): AptMirrorLock {
  const where = `lock: mirrors.apt.${name}`;
  const parsed = MirrorLock.safeParse(section);
  if (!parsed.success) throw new SpecError(formatIssues(where, parsed.error) + '; run ferry lock again');
  const lock = parsed.data;
  const within = (what: string, got: string[], allowed: string[]) => {
    const other = got.find((g) => !allowed.includes(g));
    if (other !== undefined) throw new SpecError(`${where}: ${what} ${clip(JSON.stringify(other))} is not one the spec names (${allowed.join(', ')}); run ferry lock again and review the diff`);
  };
  within('suite', lock.suites.map((s) => s.suite), mirror.suites);
  within('component', lock.components, mirror.components);
  within('architecture', lock.architectures, mirror.architectures);
  // ferry lock writes the spec's components and architectures, all of them: a lock leaving one out would sign
  // a mirror without it (its suites too, but with `uri: system` fewer: a machine's own sources may lack one)
  const all = (what: string, got: string[], want: string[]) => {
    if (JSON.stringify([...got].sort()) !== JSON.stringify([...want].sort())) {
      throw new SpecError(`${where}: the lock publishes the ${what} ${clip(JSON.stringify(got))}, the spec gives ${JSON.stringify(want)}; run ferry lock again and review the diff`);
    }
  };
  all('components', lock.components, mirror.components);
  all('architectures', lock.architectures, mirror.architectures);
  // an upstream the spec names gives every suite it names (ferry lock stops otherwise): a lock leaving one
  // out (a security suite) would sign a mirror without it
  if (mirror.uri !== 'system') all('suites', lock.suites.map((s) => s.suite), [...new Set(mirror.suites)]);
  // ferry lock writes sourcePackages exactly when the spec says `sources: true`
  if ((lock.sourcePackages !== undefined) !== mirror.sources) {
    throw new SpecError(`${where}: the lock ${lock.sourcePackages ? 'pins' : 'pins no'} source packages, the spec gives "sources: ${mirror.sources}"; run ferry lock again and review the diff`);
  }
  const suites = lock.suites.map((s) => s.suite);
  for (const p of [...lock.packages, ...(lock.sourcePackages ?? [])]) {
    within(`${p.name}'s suite`, [p.suite], suites);
    within(`${p.name}'s component`, [p.component], lock.components);
  }
  return lock;
}

/**
 * Every file of an apt section comes from one of the upstreams the spec names (`uri: system`: the build
 * machine's sources): a lock whose .deb URL leads elsewhere is refused, whatever sha256 it pins. URLs are
 * compared once parsed (a `%2e%2e` segment resolves as it does when fetched), and a spelling a server or
 * fileURLToPath could read otherwise (a backslash, an encoded `/` or `\`, an encoded or literal dot
 * segment) is refused outright, as is another scheme, login, host or port: ferry lock writes none of them.
 */
export function checkUpstreamUrls(where: string, files: ReadonlyArray<{ url: string; what: string }>, uris: readonly string[]): void {
  for (const { url, what } of files) {
    const why = ambiguousUrl(url) ?? (uris.some((u) => urlUnder(url, u)) ? undefined : `read as ${clip(parseLocation(url)?.href ?? 'no URL')}, it is below none of them`);
    if (why !== undefined) {
      throw new SpecError(`${where}: ${clip(JSON.stringify(url))} is not a file of an upstream the spec names (${uris.join(', ').slice(0, 200)}): ${why} (${clip(what)}); run ferry lock again and review the diff`);
    }
  }
}

function clip(s: string): string {
  const t = s.replace(/[\p{C}]/gu, '?');
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
}

type PinnedDeb = { name: string; version: string; architecture: string; url: string };

/** The files an apt or apt mirror lock section pins, with what each is, as checkUpstreamUrls takes them. */
export function lockedAptFiles(lock: { packages: readonly PinnedDeb[]; sourcePackages?: AptMirrorLock['sourcePackages'] }): Array<{ url: string; what: string }> {
  return [
    ...lock.packages.map((p) => ({ url: p.url, what: `package ${p.name} ${p.version} ${p.architecture}` })),
    ...(lock.sourcePackages ?? []).flatMap((sp) => sp.files.map((f) => ({ url: f.url, what: `source package ${sp.name} ${sp.version}, file ${f.name}` }))),
  ];
}

/** A message about `packages[N]` of an apt section: which package that is, for refuseUnlockable. */
export function namePinnedDeb(packages: readonly PinnedDeb[]): (why: string) => string | undefined {
  return (why) => {
    const at = /^packages\[(\d+)\]/.exec(why);
    const p = at ? packages[Number(at[1])] : undefined;
    return p ? `${quoteInput(`${p.name} ${p.version} ${p.architecture}`, 120)} at ${quoteInput(p.url, 200)}` : undefined;
  };
}
