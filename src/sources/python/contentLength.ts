import { stat } from 'node:fs/promises';
import { fetchBytes } from '../../fetch/fetchBytes.js';
import { localSourcePath } from '../../fetch/localSourcePath.js';

/** A file's size from a HEAD request (or the file system, for a local mirror), when there is one. */
export async function contentLength(url: string): Promise<number | undefined> {
  const local = localSourcePath(url);
  if (local !== undefined) return (await stat(local).catch(() => undefined))?.size;
  const res = await fetchBytes(url, { method: 'HEAD', anyStatus: true });
  const n = Number(res.headers['content-length']);
  return res.status === 200 && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}
