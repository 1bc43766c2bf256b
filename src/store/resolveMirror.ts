import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { SHA256_RE } from '../util/sha256.js';
import { REF_SEGMENT_RE, storeLayout } from './storeLayout.js';
import { readLinkIn } from './syncMirrorLinks.js';

/**
 * The snapshot a mirror URL names: /mirrors/NAME/ the one STORE/mirrors/NAME points at,
 * /mirrors/NAME@VERSION/ that version. Undefined when there is none. The links are read, never
 * followed, and only targets of the form ferry writes are taken.
 */
export async function resolveMirror(store: string, mirror: string, version?: string, opts: { changed?: boolean } = {}): Promise<{ version: string; digest: string; changed?: Date } | undefined> {
  const dir = storeLayout(store).mirrors;
  // when the links read last changed (each is replaced by a rename, which sets its change time): the served
  // snapshot's Last-Modified never goes back when /mirrors/NAME/ moves to an older one. Each link's time is read
  // before the link: a link replaced between the two gives an earlier time (one more full answer), never a later
  // time with the content of before (which a client's If-Modified-Since would then keep)
  let changed: Date | undefined;
  const noteChange = async (name: string) => {
    const t = await lstat(join(dir, name)).then((s) => s.ctime, () => undefined);
    if (t && (!changed || t > changed)) changed = t;
  };
  if (version === undefined) {
    if (opts.changed) await noteChange(mirror);
    const current = await readLinkIn(dir, mirror);
    if (current === undefined || !current.startsWith(`${mirror}@`)) return undefined;
    version = current.slice(mirror.length + 1);
    if (!REF_SEGMENT_RE.test(version)) return undefined;
  }
  if (opts.changed) await noteChange(`${mirror}@${version}`);
  const target = await readLinkIn(dir, `${mirror}@${version}`);
  const m = /^\.\.\/bundles\/([0-9a-f]{64})\/mirrors\/(.+)$/.exec(target ?? '');
  if (!m || m[2] !== mirror || !SHA256_RE.test(m[1]!)) return undefined;
  return opts.changed ? { version, digest: m[1]!, changed } : { version, digest: m[1]! };
}
