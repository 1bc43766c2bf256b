import { Header } from 'tar';
import * as openpgp from 'openpgp';
import { canonicalJson } from '../../src/util/canonicalJson.js';
import { sha256Hex } from '../../src/util/sha256.js';
import { signDetached } from '../../src/pgp/sign.js';
import { FORMAT, type Manifest } from '../../src/bundle/manifest.js';

export interface CraftEntry {
  path: string;
  type?: 'File' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'Directory';
  data?: Buffer;
  /** size written into the header (defaults to data length) */
  size?: number;
  linkpath?: string;
}

/**
 * Write a tar by hand, so tests can make archives that ferry itself never would. Every header carries
 * `mtime`; by default the epoch of a first entry manifest.json (what ferry's writer gives every entry of a
 * bundle, and its readers insist on), else 1970.
 */
export function craftTar(entries: CraftEntry[], { end = true, mtime = epochOf(entries[0]) }: { end?: boolean; mtime?: Date } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    const block = Buffer.alloc(512);
    new Header({ path: e.path, mode: 0o644, uid: 0, gid: 0, size: e.type && e.type !== 'File' ? 0 : e.size ?? data.length, mtime, type: e.type ?? 'File', linkpath: e.linkpath ?? '', uname: '', gname: '' }).encode(block);
    parts.push(block);
    if (!e.type || e.type === 'File') {
      parts.push(data);
      const pad = (512 - (data.length % 512)) % 512;
      parts.push(Buffer.alloc(pad));
    }
  }
  if (end) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** the epoch of a manifest.json entry, when it holds JSON with one */
function epochOf(e: CraftEntry | undefined): Date {
  if (e?.path !== 'manifest.json' || !e.data) return new Date(0);
  try {
    const epoch = (JSON.parse(e.data.toString('utf8')) as { epoch?: unknown }).epoch;
    const date = typeof epoch === 'string' ? new Date(epoch) : undefined;
    return date && !Number.isNaN(date.getTime()) ? date : new Date(0);
  } catch {
    return new Date(0);
  }
}

export function manifestFor(files: Array<{ path: string; data: Buffer }>, extra: Partial<Manifest> = {}): Manifest {
  return {
    format: FORMAT,
    name: 'crafted',
    version: '1.0.0',
    epoch: '2026-11-25T00:00:00.000Z',
    created_by: 'test',
    targets: {},
    services: {},
    artifacts: {},
    entries: files
      .map((f) => ({ path: f.path, size: f.data.length, sha256: sha256Hex(f.data), kind: 'file' as const, services: [] }))
      .sort((a, b) => (a.path < b.path ? -1 : 1)),
    ...extra,
  };
}

/** A signed bundle as bytes: manifest (canonical), signature by `key`, then the given entries. */
export async function craftBundle(manifest: Manifest, key: openpgp.PrivateKey, entries: CraftEntry[], opts: { end?: boolean; signature?: string } = {}): Promise<Buffer> {
  const bytes = Buffer.from(canonicalJson(manifest));
  const sig = opts.signature ?? (await signDetached(bytes, [key], key.getCreationTime()));
  return craftTar(
    [
      { path: 'manifest.json', data: bytes },
      { path: 'manifest.json.asc', data: Buffer.from(sig) },
      ...entries,
    ],
    { end: opts.end ?? true },
  );
}
