import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, posix, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ReadEntry } from 'tar/read-entry';
import { ResolveError } from '../../errors.js';
import type { FetchedManifest } from './createRegistryClient.js';
import { MANIFEST_MAX_BYTES, OCI_MANIFEST } from './imageDocument.js';
import type { ImageSource } from './openImageSource.js';
import type { ImageRef } from './parseImageRef.js';
import { parseErrorReason, quoteInput } from '../../util/oneLine.js';
import { openRegularFile } from '../../util/readRegularFile.js';

/** docker save's manifest.json: one record per image. */
interface ArchiveImage {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

const CONFIG_MAX_BYTES = 4 << 20;
/** The shortest a layer's descriptor in the manifest ferry makes can be: media type, sha256 digest, size. */
const MIN_DESCRIPTOR_BYTES = JSON.stringify({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${'0'.repeat(64)}`, size: 0 }).length + 1;

/**
 * `docker-archive:PATH` (what `docker save` and `podman save` write): the archive holds an image's
 * config and layers by file name, no registry manifest. ferry makes the OCI manifest for them: the
 * config (application/vnd.oci.image.config.v1+json) and the layers in order, each by its sha256 and size
 * (media type from its compression), so the same archive always gives the same manifest digest. The
 * config and layers are copied out of the archive into the build's scratch folder on the first use
 * (two reads of the archive: docker writes manifest.json last); the downloader then checks and caches
 * them like any blob.
 */
export function dockerArchiveSource(ref: ImageRef, from: string, baseDir: string, scratchDir: string): ImageSource {
  const archive = resolve(baseDir, from.slice('docker-archive:'.length));
  const dir = join(scratchDir, `docker-archive-${createHash('sha256').update(archive + '\0' + ref.name).digest('hex').slice(0, 16)}`);
  let done: Promise<FetchedManifest> | undefined;
  const file = (digest: string) => join(dir, digest.slice('sha256:'.length));

  async function unpack(): Promise<FetchedManifest> {
    await mkdir(dir, { recursive: true });
    const links = new Map<string, string>();
    /** how often each path occurs: a second entry of a path the image uses makes it ambiguous */
    const count = new Map<string, number>();
    let listed: unknown;
    await scan(archive, from, async (entry) => {
      const path = normalize(entry.path);
      count.set(path, (count.get(path) ?? 0) + 1);
      if (entry.type === 'SymbolicLink' || entry.type === 'Link') links.set(path, entry.type === 'Link' ? normalize(entry.linkpath ?? '') : normalize(posix.join(posix.dirname(path), entry.linkpath ?? '')));
      if (path === 'manifest.json' && entry.type === 'File') {
        if ((entry.size ?? 0) > CONFIG_MAX_BYTES) throw new ResolveError(`${from}: manifest.json is larger than ${CONFIG_MAX_BYTES} bytes`);
        const text = (await collect(entry)).toString('utf8');
        try {
          listed = JSON.parse(text);
        } catch (err) {
          throw new ResolveError(`${from}: manifest.json is not JSON (${parseErrorReason(err)}): not a docker save archive`);
        }
      } else entry.resume();
    });
    // tar extracts the last copy of a path, a reader may take the first: the image would depend on the tool
    const once = (path: string) => {
      const n = count.get(path) ?? 0;
      if (n > 1) throw new ResolveError(`${from}: the archive holds ${path} ${n} times; which copy is the image's is not clear, so none is used`);
      return path;
    };
    once('manifest.json');
    const images = Array.isArray(listed) ? (listed as unknown[]) : [];
    // made by someone else: an image is a record, its tags a list of strings, compared whole
    const tagged = (i: unknown) => typeof i === 'object' && i !== null && Array.isArray((i as ArchiveImage).RepoTags) && (i as ArchiveImage).RepoTags!.some((t) => t === ref.name);
    const picked = images.length === 1 ? images[0] : images.find(tagged);
    const image = typeof picked === 'object' && picked !== null ? (picked as ArchiveImage) : undefined;
    if (!image || typeof image.Config !== 'string' || !Array.isArray(image.Layers) || !image.Layers.every((l) => typeof l === 'string')) {
      throw new ResolveError(`${from}: ${images.length === 0 ? 'not a docker save archive (no manifest.json listing images)' : `no image tagged ${ref.name} among its ${images.length} images`}`);
    }
    // every layer is a descriptor of the manifest ferry makes: far more than 4 MiB of them can hold is
    // refused before the archive is read again (and before a list that long is searched for each member)
    if (image.Layers.length > MANIFEST_MAX_BYTES / MIN_DESCRIPTOR_BYTES) {
      throw new ResolveError(`${from}: ${ref.name} lists ${image.Layers.length} layers, more than an image manifest of ${MANIFEST_MAX_BYTES} bytes can name`);
    }
    const follow = (p: string) => {
      let at = once(normalize(p));
      for (let hops = 0; links.has(at) && hops < 16; hops++) at = once(links.get(at)!);
      return at;
    };
    const wanted = [image.Config, ...image.Layers].map(follow);
    const wantedSet = new Set(wanted);
    const found = new Map<string, { digest: string; size: number; head: Buffer }>();
    let partials = 0;
    await scan(archive, from, async (entry) => {
      const path = normalize(entry.path);
      if (entry.type !== 'File' || !wantedSet.has(path) || found.has(path)) return entry.resume();
      const tmp = join(dir, `partial-${partials++}`);
      const hash = createHash('sha256');
      let size = 0;
      let head = Buffer.alloc(0);
      await pipeline(
        entry,
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const c of chunks) {
            hash.update(c);
            size += c.length;
            if (head.length < 4) head = Buffer.concat([head, c.subarray(0, 4)]);
            yield c;
          }
        },
        createWriteStream(tmp),
      );
      const digest = `sha256:${hash.digest('hex')}`;
      await rename(tmp, file(digest));
      found.set(path, { digest, size, head });
    });
    const missing = [...new Set(wanted.filter((p) => !found.has(p)))];
    if (missing.length) {
      // the archive's own names: the first, cut short, and how many more
      const more = missing.length > 1 ? ` (and ${missing.length - 1} more)` : '';
      throw new ResolveError(`${from}: the archive lists ${quoteInput(missing[0]!, 100)}${more} for ${ref.name} but does not hold ${missing.length > 1 ? 'them' : 'it'}`);
    }
    const config = found.get(wanted[0]!)!;
    if (config.size > CONFIG_MAX_BYTES) throw new ResolveError(`${from}: the config of ${ref.name} is larger than ${CONFIG_MAX_BYTES} bytes`);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
        layers: wanted.slice(1).map((p) => {
          const l = found.get(p)!;
          return { mediaType: layerType(l.head), digest: l.digest, size: l.size };
        }),
      }),
    );
    // the manifest ferry makes is held to the limit every manifest is read under (ferry build refuses a
    // lock that pins a larger one): a manifest.json listing a layer a hundred thousand times is refused here
    if (manifest.length > MANIFEST_MAX_BYTES) {
      throw new ResolveError(`${from}: ${ref.name} lists ${wanted.length - 1} layers, an image manifest of ${manifest.length} bytes, more than the ${MANIFEST_MAX_BYTES} bytes registries and ferry take`);
    }
    const digest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
    await writeFile(file(digest), manifest);
    return { bytes: manifest, digest, contentType: OCI_MANIFEST };
  }

  const resolveOnce = () => (done ??= unpack());
  return {
    id: from,
    resolve: resolveOnce,
    async manifest(digest) {
      const top = await resolveOnce();
      if (digest !== top.digest) throw new ResolveError(`${from}: a docker archive holds one manifest (${top.digest}), not ${digest}`);
      return { bytes: await readFile(file(digest)), digest };
    },
    prepare: async () => void (await resolveOnce()),
    request: (d) => ({ url: file(d.digest), sha256: d.digest.slice(7), size: d.size, label: `${ref.name} ${d.digest.slice(7, 19)}` }),
    dispatcher: async () => undefined,
  };
}

function normalize(p: string): string {
  return posix.normalize(p).replace(/^(\.\/)+/, '').replace(/^\/+/, '');
}

/** Layers in docker archives are usually plain tar; newer ones may keep them compressed. */
function layerType(head: Buffer): string {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'application/vnd.oci.image.layer.v1.tar+gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'application/vnd.oci.image.layer.v1.tar+zstd';
  return 'application/vnd.oci.image.layer.v1.tar';
}

async function collect(entry: ReadEntry): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of entry) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Read a tar once, handing each entry to `onEntry`, which reads or resumes it; errors of either end the scan. */
async function scan(archive: string, from: string, onEntry: (entry: ReadEntry) => Promise<void> | void): Promise<void> {
  // the tar reader loads here: only a build that reads a docker archive needs it
  const { Parser } = await import('tar/parse');
  const pending: Array<Promise<void>> = [];
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry) => {
      const p = Promise.resolve().then(() => onEntry(entry));
      // handled here at once: an entry that fails while the archive is still being read would otherwise
      // be an unhandled rejection (an internal error) before Promise.all below is reached
      p.catch(() => entry.resume());
      pending.push(p);
    },
  });
  try {
    // made by someone else: a FIFO would be waited on forever, a link to /dev/zero read without end
    const opened = await openRegularFile(archive);
    if ('refused' in opened) throw new ResolveError(`${from}: the archive ${opened.refused}`);
    await pipeline(opened.fh.createReadStream(), parser);
    await Promise.all(pending);
  } catch (err) {
    if (err instanceof ResolveError) throw err;
    throw new ResolveError(`${from}: cannot read the archive (${(err as Error).message.split('\n')[0]})`);
  }
}
