import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
export const desc = (mediaType: string, b: Buffer) => ({ mediaType, digest: `sha256:${sha(b)}`, size: b.length });
export const json = (v: unknown) => Buffer.from(JSON.stringify(v));

/**
 * An anonymous registry of repository team/app on loopback answering from `tags` (tag -> document) and
 * `blobs` (manifests, configs and layers, by digest), each manifest as an OCI index when its own
 * `mediaType` field says so, else as an OCI manifest (or as `contentTypes` gives for a tag or digest); it
 * counts the requests for each path.
 */
export async function fakeRegistry(tags: Record<string, Buffer>, blobs: Buffer[], contentTypes: Record<string, string> = {}): Promise<{ url: string; requests: Map<string, number>; close(): Promise<void> }> {
  const requests = new Map<string, number>();
  const byDigest = new Map(blobs.map((b) => [`sha256:${sha(b)}`, b]));
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '';
    requests.set(path, (requests.get(path) ?? 0) + 1);
    if (path === '/v2/') return res.writeHead(200).end('{}');
    const m = /^\/v2\/team\/app\/(manifests|blobs)\/(.+)$/.exec(path);
    const body = m && (m[1] === 'manifests' && tags[m[2]!] ? tags[m[2]!] : byDigest.get(m[2]!));
    if (!body) return res.writeHead(404).end();
    let type = 'application/octet-stream';
    if (m![1] === 'manifests') type = contentTypes[m![2]!] ?? ((JSON.parse(body.toString('utf8')) as { mediaType?: string }).mediaType === OCI_INDEX ? OCI_INDEX : OCI_MANIFEST);
    res.writeHead(200, { 'content-type': type, 'content-length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, requests, close: () => new Promise((r) => server.close(() => r())) };
}

/** A spec carrying registry.example/team/app:TAG for linux/amd64, read from `url`. */
export async function writeRegistrySpec(dir: string, url: string, tag = '1'): Promise<string> {
  const file = join(dir, `spec-${tag}.yaml`);
  await writeFile(
    file,
    `name: img\nversion: 1.0.0\nepoch: 2026-01-01T00:00:00Z\nupstreams:\n  images:\n    registries:\n      registry.example: { url: "${url}" }\nservices:\n  app:\n    version: "1"\n    groups: [app]\n    artifacts:\n      images: [{ ref: "registry.example/team/app:${tag}", platforms: [linux/amd64] }]\n`,
  );
  return file;
}
