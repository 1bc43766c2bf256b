import { isAbsolute, resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import type { ArtifactKind, BuildContext, BundleInput } from '../kind.js';
import { fileArtifactName } from '../../specfile/schema.js';
import { IntegrityError, SpecError } from '../../errors.js';
import { sha256File } from '../../util/sha256.js';
import { lockEntries, lockMatchesSpec, withoutPins } from '../../specfile/lockMatchesSpec.js';
import { fetchToCache, type FetchResult } from '../../fetch/fetchToCache.js';

/** One plain file of one service, pinned by sha256. */
export interface LockedFile {
  service: string;
  /** path inside the bundle */
  path: string;
  /** local path (relative to the spec) or URL */
  src: string;
  sha256: string;
  size: number;
}

const isUrl = (s: string) => /^https?:\/\//.test(s);

/**
 * Plain files and templates of each service: local paths (relative to the spec) or http(s) URLs with a
 * required sha256. Local files are hashed at lock time; `build --locked` refuses a file that changed since.
 */
export const filesKind: ArtifactKind<LockedFile[]> = {
  name: 'files',

  async lock(ctx) {
    const out: LockedFile[] = [];
    for (const [service, svc] of Object.entries(ctx.spec.services)) {
      for (const f of svc.artifacts.files) {
        const name = fileArtifactName(f);
        const path = `files/${service}/${name}`;
        if (isUrl(f.src)) {
          const got = await fetchFile(f.src, f.sha256!, undefined, ctx);
          out.push({ service, path, src: f.src, sha256: got.sha256, size: got.size });
        } else {
          const file = localPath(f.src, ctx);
          const h = await hashLocal(file, `services.${service}.artifacts.files: ${f.src}`);
          if (f.sha256 && f.sha256 !== h.sha256) {
            throw new IntegrityError(`${f.src} has sha256 ${h.sha256}, the spec pins ${f.sha256}`);
          }
          out.push({ service, path, src: f.src, sha256: h.sha256, size: h.size });
        }
      }
    }
    return out.length > 0 ? out : undefined;
  },

  async collect(section, ctx) {
    // the lock pins each file's sha256 and size; which file, from where and to which path is the spec's
    // (a hand-edited path like files/../../x, or a src naming another file or host, is refused)
    const lock = lockEntries('files', section) as unknown as LockedFile[];
    const planned = Object.entries(ctx.spec.services).flatMap(([service, svc]) =>
      svc.artifacts.files.map((f) => ({ path: `files/${service}/${fileArtifactName(f)}`, service, src: f.src, ...(f.sha256 && { sha256: f.sha256 }) })),
    );
    lockMatchesSpec(
      'files',
      planned,
      lock.map((f, i) => withoutPins(f as unknown as Record<string, unknown>, planned[i]?.sha256 ? ['size'] : ['sha256', 'size'])),
    );
    for (const f of lock) {
      if (typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256) || !Number.isSafeInteger(f.size) || f.size < 0) {
        throw new SpecError(`lock: files ${f.path}: sha256 and size must be 64 lowercase hex digits and a byte count; run ferry lock again`);
      }
    }
    const entries: BundleInput[] = [];
    for (const f of lock) {
      let file: string;
      let known: { sha256: string; size: number };
      // downloaded now: hashed as it arrived; a cache entry or a local file (which may still change) is
      // hashed again as it is packed
      let verified = false;
      if (isUrl(f.src)) {
        const got = await fetchFile(f.src, f.sha256, f.size, ctx);
        file = got.path;
        known = { sha256: got.sha256, size: got.size };
        verified = !got.fromCache;
      } else {
        file = localPath(f.src, ctx);
        known = await hashLocal(file, f.src);
        if (known.sha256 !== f.sha256 || known.size !== f.size) {
          throw new IntegrityError(`${f.src} changed since it was locked: sha256 ${known.sha256} size ${known.size}, the lock says sha256 ${f.sha256} size ${f.size} (run ferry lock again and review the diff)`);
        }
      }
      entries.push({ path: f.path, file, kind: 'file', services: [f.service], known, verified });
    }
    return {
      entries,
      artifacts: Object.fromEntries(lock.map((f) => [f.path, { src: f.src, service: f.service }])),
      components: lock.map((f) => ({ ref: f.path, type: 'file' as const, name: f.path, sha256: f.sha256, path: f.path, services: [f.service], properties: [{ name: 'ferry:file:src', value: f.src }] })),
    };
  },
};

function localPath(src: string, ctx: BuildContext): string {
  return isAbsolute(src) ? src : resolve(ctx.baseDir, src);
}

async function hashLocal(file: string, what: string): Promise<{ sha256: string; size: number }> {
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new SpecError(`${what}: ${file} is not a regular file`);
  } catch (err) {
    if (err instanceof SpecError) throw err;
    throw new SpecError(`${what}: cannot read ${file} (${(err as NodeJS.ErrnoException).code})`);
  }
  return sha256File(file);
}

async function fetchFile(url: string, sha256: string, size: number | undefined, ctx: BuildContext): Promise<FetchResult> {
  return fetchToCache({ url, sha256, size, label: url }, { cacheDir: ctx.cacheDir, log: ctx.log, stats: ctx.fetchStats });
}
