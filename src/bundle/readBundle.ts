import { createHash } from 'node:crypto';
import type * as openpgp from 'openpgp';
import { BundleFormatError, IntegrityError } from '../errors.js';
import { noteIgnored, verifyDetached, type Verification } from '../pgp/verify.js';
import type { Logger } from '../ui/log.js';
import { expectEpochMtime, TarReader, writtenSize } from './readTar.js';
import { ENTRY_PATH_RULE, isSafeBundlePath } from '../util/names.js';
import {
  manifestDigest,
  MANIFEST_MAX_BYTES,
  MANIFEST_PATH,
  parseManifest,
  SIGNATURE_MAX_BYTES,
  SIGNATURE_PATH,
  type Manifest,
  type ManifestEntry,
} from './manifest.js';

/** small bundles finish before a progress line would help */
const PROGRESS_MIN_BYTES = 32 * 1024 * 1024;

/** Receives verified-as-listed entries; the importer writes them, verify discards them. */
export interface EntrySink {
  /**
   * the next bytes of the body; the chunk may be lent (a buffer the source reads into again soon): copy
   * what is kept past the call (a write that is still queued when the call returns keeps a copy)
   */
  write(chunk: Buffer): Promise<void> | void;
  /** called after the whole body matched its sha256 and size */
  commit(): Promise<void> | void;
  /** called when the entry (or the bundle) failed; must remove what was written */
  abort(): Promise<void> | void;
}

export interface VerifiedHead extends Verification {
  manifest: Manifest;
  manifestBytes: Buffer;
  signature: string;
  digest: string;
  /**
   * the bundle's size as ferry's writer makes it for this manifest (its head, every entry it carries, the
   * end-of-archive marker); undefined when an entry is none the writer can make (the reader refuses it there)
   */
  writtenBytes: number | undefined;
}

export interface ReadBundleOptions {
  keys: openpgp.PublicKey[];
  label: string;
  log?: Logger;
  /** after the signature verified: return false to stop reading (e.g. already imported) */
  onHead?(head: VerifiedHead): Promise<boolean | void> | boolean | void;
  /** a sink per listed entry; without it, bodies are only hashed */
  openEntry?(entry: ManifestEntry): Promise<EntrySink | undefined>;
}

export interface ReadBundleResult extends VerifiedHead {
  /** false when onHead stopped the read */
  complete: boolean;
  bytes: number;
}

/**
 * One streaming pass over a bundle: read manifest.json and its signature first, verify the signature
 * against the trusted keys, then check every following entry against the manifest while handing its
 * bytes to a sink. Refuses unlisted, duplicated, missing, oversized, linked, escaping and corrupt
 * entries; an entry is only committed after its whole body matched.
 */
export async function readBundle(chunks: AsyncIterable<Buffer>, opts: ReadBundleOptions): Promise<ReadBundleResult> {
  const { label } = opts;
  const tar = new TarReader(chunks, label);

  const manifestBytes = await readHeadEntry(tar, MANIFEST_PATH, MANIFEST_MAX_BYTES, label, 'first');
  const signatureBytes = await readHeadEntry(tar, SIGNATURE_PATH, SIGNATURE_MAX_BYTES, label, 'second');
  const signature = signatureBytes.toString('utf8');
  const verification = await verifyDetached(manifestBytes, signature, opts.keys, `${label}: manifest.json`);
  for (const i of verification.ignored) opts.log?.warn(`${label}: manifest.json: ${noteIgnored(i)}`);
  const manifest = parseManifest(manifestBytes, label);
  // every entry carries the epoch as its mtime, as the writer gave it: no header byte is left to chance
  expectEpochMtime(tar, manifest);
  const head: VerifiedHead = { manifest, manifestBytes, signature, digest: manifestDigest(manifestBytes), writtenBytes: writtenSize(manifest, tar.offset), ...verification };
  if ((await opts.onHead?.(head)) === false) {
    await tar.close();
    return { ...head, complete: false, bytes: tar.offset };
  }

  const expected = new Map(manifest.entries.map((e) => [e.path, e]));
  const omitted = new Set(manifest.omitted ?? []);
  const seen = new Set<string>();
  const total = manifest.entries.reduce((n, e) => (omitted.has(e.path) ? n : n + e.size), 0);
  let done = 0;

  for (;;) {
    const h = await tar.next();
    if (h === null) {
      await tar.expectOnlyZeros();
      break;
    }
    const where = `${label}: entry ${JSON.stringify(h.path)}`;
    if (!isSafeBundlePath(h.path)) throw new BundleFormatError(`${where} escapes the bundle or is not a safe name: ${ENTRY_PATH_RULE}`);
    if (h.type !== 'File') {
      throw new BundleFormatError(`${where} is a ${describeType(h.type)}; a bundle holds only regular files`);
    }
    if (h.path === MANIFEST_PATH || h.path === SIGNATURE_PATH) throw new BundleFormatError(`${where} appears twice`);
    const entry = expected.get(h.path);
    if (!entry) throw new BundleFormatError(`${where} is not listed in the signed manifest`);
    if (seen.has(h.path)) throw new BundleFormatError(`${where} appears twice`);
    if (omitted.has(h.path)) throw new BundleFormatError(`${where} is marked as omitted (differential) but is present`);
    seen.add(h.path);
    if (h.size !== entry.size) {
      throw new IntegrityError(`${where} is ${h.size} bytes, the manifest says ${entry.size}${h.size > entry.size ? ' (larger than its manifest size)' : ''}`);
    }

    const sink = opts.openEntry ? await opts.openEntry(entry) : undefined;
    const hash = createHash('sha256');
    try {
      for await (const chunk of tar.body(h.size)) {
        hash.update(chunk);
        if (sink) await sink.write(chunk);
        done += chunk.length;
        if (total >= PROGRESS_MIN_BYTES) opts.log?.progress('verify', done, total, 'bytes');
      }
      const got = hash.digest('hex');
      if (got !== entry.sha256) throw new IntegrityError(`${where} has sha256 ${got}, the manifest says ${entry.sha256}: the bundle was changed or corrupted`);
      await sink?.commit();
    } catch (err) {
      await sink?.abort();
      throw err;
    }
  }

  const missing = manifest.entries.filter((e) => !seen.has(e.path) && !omitted.has(e.path)).map((e) => e.path);
  if (missing.length > 0) {
    throw new BundleFormatError(`${label}: ${missing.length} listed entr${missing.length === 1 ? 'y is' : 'ies are'} missing: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`);
  }
  return { ...head, complete: true, bytes: tar.offset };
}

async function readHeadEntry(tar: TarReader, path: string, max: number, label: string, ordinal: string): Promise<Buffer> {
  let h;
  try {
    h = await tar.next();
  } catch (err) {
    if (err instanceof BundleFormatError && tar.offset === 0) {
      throw new BundleFormatError(`${label}: not a ferry bundle (empty or not a tar archive)`);
    }
    throw err;
  }
  if (h === null || h.path !== path) {
    if (path === SIGNATURE_PATH) throw new BundleFormatError(`${label}: unsigned: the second entry must be ${SIGNATURE_PATH}, found ${h ? JSON.stringify(h.path) : 'the end of the archive'}`);
    throw new BundleFormatError(`${label}: not a ferry bundle: the ${ordinal} entry must be ${path}, found ${h ? JSON.stringify(h.path) : 'the end of the archive'}`);
  }
  if (h.type !== 'File') throw new BundleFormatError(`${label}: ${path} is a ${describeType(h.type)}, not a regular file`);
  if (h.size > max) throw new BundleFormatError(`${label}: ${path} is ${h.size} bytes, over the limit of ${max}`);
  return tar.readBody(h.size);
}

function describeType(t: string): string {
  switch (t) {
    case 'SymbolicLink':
      return 'symbolic link';
    case 'Link':
      return 'hard link';
    case 'CharacterDevice':
    case 'BlockDevice':
      return 'device';
    case 'Directory':
      return 'directory';
    case 'FIFO':
      return 'FIFO';
    default:
      return `${t} entry`;
  }
}
