import * as z from './zod.js';

/**
 * The rules for every string of a spec or manifest that becomes a file name, a URL, an ssh argument
 * or part of a host script. One module, so the build (spec schema), every reader of a manifest
 * (verify, import, inspect, serve, deploy, gc) and the inventory refuse the same strings: a signed
 * bundle is trusted for its content, not for writing outside its place (`../../tmp/x` as a service
 * name, a newline in an entry path that adds a line to a host's artifact list).
 */

/** A single name (release, service, group, git or rootfs artifact): one path segment, never `.`/`..`, never an option. */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$/;
export const NAME_RULE = 'a name of up to 200 letters, digits and . _ + - that starts with a letter or digit';

/** A version (release or service): a name that may also hold `~` (Debian's "sorts before"). */
export const VERSION_RE = /^[A-Za-z0-9][A-Za-z0-9._+~-]{0,199}$/;
export const VERSION_RULE = 'a version of up to 200 letters, digits and . _ + ~ - that starts with a letter or digit';

/** A systemd unit: what `systemctl` takes, without its `\x2d` escapes; never an option. */
export const UNIT_RE = /^[A-Za-z0-9_.:@][A-Za-z0-9_.:@-]{0,255}$/;
export const UNIT_RULE = 'a unit name of letters, digits and _ . : @ - that does not start with -';

/** A git object name as hosts receive it (full sha-1 or sha-256). */
export const COMMIT_RE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/**
 * One segment of an entry path: letters and digits of any script, space, and `! # % + , - . : = @ _ ~`.
 * Nothing a shell treats specially inside double quotes or as a glob (`$ \` " ' \ * ? [ ]`), no
 * control or invisible formatting characters (bidi overrides, zero-width), no `%` (a served path
 * decodes once: a name holding "%2e" would read as double encoding), no leading `-` (an option), no
 * space at either end (`read` strips it), at most 255 bytes (NAME_MAX).
 */
const SEGMENT_RE = /^[\p{L}\p{M}\p{N}!#+,.:=@_~][\p{L}\p{M}\p{N} !#+,.:=@_~-]*$/u;
export const ENTRY_PATH_MAX = 4096;
export const ENTRY_PATH_RULE =
  'a relative path of segments made of letters, digits, space and ! # + , - . : = @ _ ~ (no "." or ".." segment, none starting with - or ending with a space, at most 255 bytes each)';

export function isSafeSegment(s: string): boolean {
  return s !== '.' && s !== '..' && SEGMENT_RE.test(s) && !s.endsWith(' ') && Buffer.byteLength(s) <= 255;
}

/** Paths inside a bundle: relative, forward slashes, every segment a safe segment. */
export function isSafeBundlePath(p: string): boolean {
  return p.length > 0 && p.length <= ENTRY_PATH_MAX && p.split('/').every(isSafeSegment);
}

export const name = z.string().regex(NAME_RE, NAME_RULE);
/** Inventory host and group names: they appear in messages, facts and --limit patterns. */
export const hostName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/, 'a name of up to 253 letters, digits and . _ - that starts with a letter or digit');
/**
 * What ssh connects to: a host name, IPv4 or IPv6 address (with a `%zone`), never read as an option (it
 * follows `--` too), and nothing a shell reads specially: ssh hands the name to a ProxyCommand of the
 * operator's ssh_config as %h, which a shell runs (`$(...)`, `;`, backquotes would run on the runner). No
 * brackets either: ssh cannot resolve `[::1]` as a destination, and that shell expands `[-]e` to the name
 * of a file `-e` in its folder, an option of the ProxyCommand's program (`nc %h %p`).
 */
export const hostAddress = z
  .string()
  .regex(/^[\p{L}\p{N}_.:][\p{L}\p{N}_.:%-]{0,252}$/u, 'a host name or address (letters, digits and . _ : % -, not starting with - or %)');
export const userName = z.string().regex(/^[A-Za-z0-9_.][A-Za-z0-9_.@-]{0,63}$/, 'a user name of letters, digits and _ . @ - (not starting with -)');
export const version = z.string().regex(VERSION_RE, VERSION_RULE);
export const unitName = z.string().regex(UNIT_RE, UNIT_RULE);
export const commit = z.string().regex(COMMIT_RE, 'a full git commit id (40 or 64 lowercase hex digits)');
export const entryPath = z.string().refine(isSafeBundlePath, ENTRY_PATH_RULE);
/** apt suites and components may hold a `/` ("bookworm/updates"), each part a name. */
export const aptDistribution = z
  .string()
  .refine((s) => s.length <= 200 && s.split('/').every((p) => NAME_RE.test(p)), 'names of letters, digits and . _ + - separated by /');

/**
 * Container image names (the OCI distribution spec's grammar): they become URL paths of `ferry serve`
 * (/v2/REPOSITORY/manifests/TAG) and arguments of podman/docker on hosts, so a manifest's are checked
 * like every other name. A registry is a host name with an optional port.
 */
export const IMAGE_REGISTRY_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(?::[0-9]{1,5})?$/;
export const IMAGE_REPOSITORY_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
export const IMAGE_TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
export const IMAGE_DIGEST_RE = /^sha256:[0-9a-f]{64}$/;
export const imageRegistry = z.string().max(255).regex(IMAGE_REGISTRY_RE, 'a registry host name with an optional :PORT');
export const imageRepository = z.string().max(255).regex(IMAGE_REPOSITORY_RE, 'a repository of lowercase path components (letters, digits, separated by . _ __ -) joined by /');
export const imageTag = z.string().regex(IMAGE_TAG_RE, 'a tag of up to 128 letters, digits and _ . - that does not start with . or -');
export const imageDigest = z.string().regex(IMAGE_DIGEST_RE, 'sha256: and 64 lowercase hex digits');
