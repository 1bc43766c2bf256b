/** A small file's bytes, verified against its sha256 when they were read, with its validators formatted once. */
export interface CachedFile {
  data: Buffer;
  mtime: Date;
  /** the header values every answer of this file carries: `"SHA256"` and the HTTP date of `mtime` */
  etag: string;
  lastModified: string;
}

/** The cache entry of verified bytes; the header values are formatted here, not per request. */
export function cachedFile(sha256: string, data: Buffer, mtime: Date): CachedFile {
  return { data, mtime, etag: `"${sha256}"`, lastModified: mtime.toUTCString() };
}

/**
 * Bytes of small files (indexes, Release files, PEP 503 pages: what every host asks for, over and
 * over) kept in memory under their sha256, least recently used first out, within `budget` bytes.
 * Content-addressed, so a hit is right for every bundle and path that names that digest, and never
 * stale. Only files up to `maxFileSize` enter; large files are always streamed from disk.
 */
export class SmallFileCache {
  private readonly entries = new Map<string, CachedFile>();
  private used = 0;

  constructor(
    readonly budget: number,
    readonly maxFileSize = 64 * 1024,
  ) {}

  get(sha256: string): CachedFile | undefined {
    const hit = this.entries.get(sha256);
    if (hit) {
      this.entries.delete(sha256);
      this.entries.set(sha256, hit);
    }
    return hit;
  }

  set(sha256: string, file: CachedFile): void {
    if (file.data.length > this.maxFileSize || file.data.length > this.budget || this.entries.has(sha256)) return;
    this.entries.set(sha256, file);
    this.used += file.data.length;
    for (const [key, old] of this.entries) {
      if (this.used <= this.budget) break;
      this.entries.delete(key);
      this.used -= old.data.length;
    }
  }
}
