import { createHash } from 'node:crypto';
import { realpath } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Dispatcher } from 'undici';
import { IntegrityError, ResolveError, SpecError } from '../../errors.js';
import type { FetchRequest } from '../../fetch/fetchToCache.js';
import type { FetchStats } from '../../fetch/createFetchStats.js';
import type { Logger } from '../../ui/log.js';
import { createRegistryClient, type FetchedManifest } from './createRegistryClient.js';
import { dockerArchiveSource } from './dockerArchiveSource.js';
import { MANIFEST_MAX_BYTES } from './imageDocument.js';
import type { ImageRef } from './parseImageRef.js';
import { readRegularFile } from '../../util/readRegularFile.js';
import { parseErrorReason } from '../../util/oneLine.js';
import { isInside } from '../../util/isInside.js';

/** Where one image's manifests and blobs are read from. */
export interface ImageSource {
  /** as the lock records it: the registry's base URL, or `oci:PATH[:TAG]` as the spec wrote it */
  id: string;
  /** the image's top manifest or index: by the reference's digest when it pins one, else by its tag */
  resolve(): Promise<FetchedManifest>;
  /** a manifest (an index's entry) by digest, checked against it */
  manifest(digest: string): Promise<FetchedManifest>;
  /** how the downloader fetches a blob or manifest by digest into the cache */
  request(d: { digest: string; size: number }, what: 'manifest' | 'blob'): FetchRequest;
  /** the client for those requests (a registry's login); undefined: the default */
  dispatcher(): Promise<Dispatcher | undefined>;
  /** make `request`'s files available (a docker archive is unpacked into the scratch folder first) */
  prepare(): Promise<void>;
}

export interface SourceOptions {
  baseDir: string;
  /** the build's scratch folder */
  scratchDir: string;
  /** upstreams.images.registries: REGISTRY -> base URL */
  registries: Record<string, { url: string }>;
  env: NodeJS.ProcessEnv;
  log: Logger;
  stats?: FetchStats;
}

/**
 * The source of an image: `from` as the spec or lock names it (`oci:PATH[:TAG]`, TAG defaulting to the
 * reference's tag, or `docker-archive:PATH`; PATH relative to the spec), else its registry (upstreams.images.registries, else
 * https://REGISTRY). One client per registry name and URL, so a login is asked for once per repository.
 */
export function createSourceOpener(opts: SourceOptions): (ref: ImageRef, from: string | undefined) => ImageSource {
  const clients = new Map<string, ReturnType<typeof createRegistryClient>>();
  return (ref, from) => {
    if (from === undefined || /^https?:\/\//.test(from)) {
      const base = imageSourceId(ref, from, opts.registries);
      // per registry name and URL: two names the spec points at one URL each pull with their own login
      // (the first name's client used the first name's login for the other's images)
      const id = `${ref.registry} ${base}`;
      let client = clients.get(id);
      if (!client) {
        client = createRegistryClient({ base, registry: ref.registry, env: opts.env, log: opts.log, stats: opts.stats });
        clients.set(id, client);
      }
      const c = client;
      return {
        id: c.base,
        resolve: () => c.getManifest(ref.repository, ref.digest ?? ref.tag),
        manifest: (digest) => c.getManifest(ref.repository, digest),
        request: (d, what) => ({ url: `${c.base}/v2/${ref.repository}/${what === 'manifest' ? 'manifests' : 'blobs'}/${d.digest}`, sha256: d.digest.slice(7), size: d.size, label: `${ref.name} ${d.digest.slice(7, 19)}` }),
        dispatcher: () => c.dispatcherFor(ref.repository),
        prepare: async () => undefined,
      };
    }
    if (from.startsWith('oci:')) return ociLayoutSource(ref, from, opts.baseDir);
    if (from.startsWith('docker-archive:')) return dockerArchiveSource(ref, from, opts.baseDir, opts.scratchDir);
    throw new SpecError(`${ref.name}: unknown image source ${JSON.stringify(from)}; use oci:PATH[:TAG] or docker-archive:PATH, or leave from: out to read the registry`);
  };
}

/** Where the spec says an image is read, as the lock records it (`source`). */
export function imageSourceId(ref: ImageRef, from: string | undefined, registries: Record<string, { url: string }>): string {
  if (from !== undefined && !/^https?:\/\//.test(from)) return from;
  return (from ?? registries[ref.registry]?.url ?? `https://${ref.registry}`).replace(/\/+$/, '');
}

/** `oci:PATH[:TAG]`: the tag is what follows the last colon after the last slash. */
function splitOciFrom(from: string): { path: string; tag?: string } {
  const rest = from.slice('oci:'.length);
  const colon = rest.lastIndexOf(':');
  return colon > rest.lastIndexOf('/') ? { path: rest.slice(0, colon), tag: rest.slice(colon + 1) } : { path: rest };
}

function ociLayoutSource(ref: ImageRef, from: string, baseDir: string): ImageSource {
  const { path, tag = ref.tag } = splitOciFrom(from);
  const dir = resolve(baseDir, path);
  const blob = (digest: string) => join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
  const read = async (digest: string): Promise<FetchedManifest> => {
    let got;
    try {
      got = await readRegularFile(blob(digest), MANIFEST_MAX_BYTES);
    } catch (err) {
      throw new ResolveError(`${from}: cannot read ${digest} (${(err as NodeJS.ErrnoException).code}): the layout does not hold the blob its index names`);
    }
    // a FIFO, a device or a file of gigabytes: refused by what it is, before anything is read
    if (got.refused !== undefined) throw new ResolveError(`${from}: manifest ${digest} ${got.refused}`);
    const bytes = got.bytes;
    const found = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (found !== digest) throw new IntegrityError(`${from}: blob ${digest} holds bytes whose sha256 is ${found}: the layout is damaged or was changed; nothing was used`);
    return { bytes, digest };
  };
  return {
    id: from,
    async resolve() {
      if (ref.digest) return read(ref.digest);
      let index: { manifests?: Array<{ digest?: unknown; annotations?: Record<string, unknown> }> };
      let got;
      try {
        // read before any digest can vouch for it: a link to a file of the build machine (a token, a key)
        // would be parsed, and a parse error quotes the text it stopped at
        if (await leadsOutside(dir, join(dir, 'index.json'))) {
          throw new ResolveError(`${from}: ${dir}/index.json leads outside the layout folder; ferry reads a layout's index only inside it`);
        }
        got = await readRegularFile(join(dir, 'index.json'), MANIFEST_MAX_BYTES);
      } catch (err) {
        if (err instanceof ResolveError) throw err;
        throw new ResolveError(`${from}: ${dir}/index.json is not readable as an OCI image layout index (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
      if (got.refused !== undefined) throw new ResolveError(`${from}: ${dir}/index.json ${got.refused}`);
      try {
        index = JSON.parse(got.bytes.toString('utf8'));
      } catch (err) {
        throw new ResolveError(`${from}: ${dir}/index.json is not readable as an OCI image layout index (${parseErrorReason(err)})`);
      }
      // made by someone else: an object whose manifests (if any) are a list; entries that are no object name no tag
      const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
      if (!isObject(index) || (index.manifests !== undefined && !Array.isArray(index.manifests))) {
        throw new ResolveError(`${from}: ${dir}/index.json is not an OCI image layout index (an object whose "manifests" is a list)`);
      }
      const matches = (index.manifests ?? []).filter((m) => isObject(m) && isObject(m.annotations) && m.annotations['org.opencontainers.image.ref.name'] === tag);
      if (matches.length !== 1 || typeof matches[0]!.digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(matches[0]!.digest)) {
        throw new ResolveError(`${from}: the layout has ${matches.length === 0 ? 'no' : matches.length === 1 ? 'no valid' : 'more than one'} image tagged ${JSON.stringify(tag)} (org.opencontainers.image.ref.name)`);
      }
      return read(matches[0]!.digest);
    },
    manifest: read,
    request: (d) => ({ url: blob(d.digest), sha256: d.digest.slice(7), size: d.size, label: `${ref.name} ${d.digest.slice(7, 19)}` }),
    dispatcher: async () => undefined,
    prepare: async () => undefined,
  };
}

/** Whether `file`, links resolved, is outside the folder `dir` (links resolved too); a file that is not there is not. */
async function leadsOutside(dir: string, file: string): Promise<boolean> {
  const real = await realpath(file).catch(() => undefined);
  if (real === undefined) return false;
  return !isInside(await realpath(dir).catch(() => dir), real);
}
