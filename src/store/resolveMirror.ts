import { SHA256_RE } from '../util/sha256.js';
import { REF_SEGMENT_RE, storeLayout } from './storeLayout.js';
import { readLinkIn } from './syncMirrorLinks.js';

/**
 * The snapshot a mirror URL names: /mirrors/NAME/ the one STORE/mirrors/NAME points at,
 * /mirrors/NAME@VERSION/ that version. Undefined when there is none. The links are read, never
 * followed, and only targets of the form ferry writes are taken.
 */
export async function resolveMirror(store: string, mirror: string, version?: string): Promise<{ version: string; digest: string } | undefined> {
  const dir = storeLayout(store).mirrors;
  if (version === undefined) {
    const current = await readLinkIn(dir, mirror);
    if (current === undefined || !current.startsWith(`${mirror}@`)) return undefined;
    version = current.slice(mirror.length + 1);
    if (!REF_SEGMENT_RE.test(version)) return undefined;
  }
  const target = await readLinkIn(dir, `${mirror}@${version}`);
  const m = /^\.\.\/bundles\/([0-9a-f]{64})\/mirrors\/(.+)$/.exec(target ?? '');
  if (!m || m[2] !== mirror || !SHA256_RE.test(m[1]!)) return undefined;
  return { version, digest: m[1]! };
}
