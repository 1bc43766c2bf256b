/**
 * Content types of the files a bundle holds. One table serves both ferry's server and the nginx
 * configuration it prints, so the two answer the same `Content-Type` for the same file.
 */

/** By file-name extension (the part after the last dot), checked after the exact names below. */
export const CONTENT_TYPES_BY_EXTENSION: Readonly<Record<string, string>> = {
  deb: 'application/vnd.debian.binary-package',
  udeb: 'application/vnd.debian.binary-package',
  gz: 'application/gzip',
  xz: 'application/x-xz',
  zst: 'application/zstd',
  bz2: 'application/x-bzip2',
  tar: 'application/x-tar',
  // a wheel is a zip archive (PEP 427); no media type of its own is registered
  whl: 'application/zip',
  zip: 'application/zip',
  html: 'text/html; charset=utf-8',
  json: 'application/json',
  // armored detached signatures; keys/NAME.asc is overridden below (a public key, not a signature)
  asc: 'application/pgp-signature',
  gpg: 'application/pgp-signature',
  sig: 'application/pgp-signature',
  txt: 'text/plain; charset=utf-8',
  conf: 'text/plain; charset=utf-8',
  cfg: 'text/plain; charset=utf-8',
  ini: 'text/plain; charset=utf-8',
  j2: 'text/plain; charset=utf-8',
  yaml: 'text/plain; charset=utf-8',
  yml: 'text/plain; charset=utf-8',
  sh: 'text/plain; charset=utf-8',
  bundle: 'application/octet-stream',
};

/** apt's index files have no extension; apt and people read them as text. */
export const TEXT_FILE_NAMES: readonly string[] = ['InRelease', 'Release', 'Packages', 'Sources', 'Contents'];

export const TEXT_PLAIN = 'text/plain; charset=utf-8';
export const PGP_KEYS = 'application/pgp-keys';
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** Content type for a path inside a bundle ("apt/dists/bookworm/InRelease", "keys/bundle.asc"). */
export function contentTypeFor(bundlePath: string): string {
  const slash = bundlePath.lastIndexOf('/');
  const name = bundlePath.slice(slash + 1);
  if (TEXT_FILE_NAMES.includes(name)) return TEXT_PLAIN;
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return DEFAULT_CONTENT_TYPE;
  const ext = name.slice(dot + 1);
  if (ext === 'asc' && slash === 4 && bundlePath.startsWith('keys/')) return PGP_KEYS;
  return CONTENT_TYPES_BY_EXTENSION[ext] ?? DEFAULT_CONTENT_TYPE;
}
