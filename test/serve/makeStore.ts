import { createHash } from 'node:crypto';
import { chmod, link, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { FORMAT, serializeManifest, type EntryKind, type Manifest } from '../../src/bundle/manifest.js';

export interface StoredFile {
  path: string;
  content: Buffer;
  sha256: string;
}

export interface StoredBundle {
  digest: string;
  files: Map<string, StoredFile>;
}

export interface TestStore {
  store: string;
  /** Write a bundle the way ferry import leaves it (blobs + hard links + manifest), and point refs/NAME/VERSION at it. */
  addBundle(name: string, version: string, files: Record<string, string | Buffer>): Promise<StoredBundle>;
  /** Point refs/NAME/VERSION at a digest (atomic rename, as an import does). */
  setRef(name: string, version: string, digest: string): Promise<void>;
  cleanup(): Promise<void>;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function kindOf(path: string): EntryKind {
  if (path.startsWith('apt/dists/')) return 'apt-index';
  if (path.startsWith('apt/')) return 'apt';
  if (path.startsWith('python/simple/')) return 'python-index';
  if (path.startsWith('python/')) return 'python';
  if (path.startsWith('rootfs/')) return 'rootfs';
  if (path.startsWith('git/')) return 'git';
  if (path.startsWith('keys/')) return 'key';
  return 'file';
}

/** A store tree in a temporary folder, laid out as STORE/{blobs,bundles,refs,.tmp} (see docs/serve.md). */
export async function makeStore(): Promise<TestStore> {
  const store = await mkdtemp(join(tmpdir(), 'ferry-serve-store-'));
  // nginx workers run as an unprivileged user: let them walk in
  await chmod(store, 0o755);
  await mkdir(join(store, '.tmp'), { recursive: true });
  await writeFile(join(store, '.tmp', 'secret-in-progress'), 'importer scratch\n');

  const setRef = async (name: string, version: string, digest: string) => {
    const file = join(store, 'refs', name, version);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(`${file}.tmp`, `${digest}\n`);
    await rename(`${file}.tmp`, file);
  };

  const writeStored = async (bundleDir: string, path: string, content: Buffer) => {
    const hex = sha256(content);
    const blob = join(store, 'blobs', 'sha256', hex);
    await mkdir(dirname(blob), { recursive: true });
    await writeFile(blob, content, { mode: 0o444 }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EACCES' && err.code !== 'EEXIST') throw err;
    });
    await chmod(blob, 0o444);
    const dest = join(bundleDir, path);
    await mkdir(dirname(dest), { recursive: true });
    await link(blob, dest);
    return hex;
  };

  return {
    store,
    setRef,
    async addBundle(name, version, input) {
      const files = new Map<string, StoredFile>();
      for (const [path, c] of Object.entries(input)) {
        const content = Buffer.isBuffer(c) ? c : Buffer.from(c);
        files.set(path, { path, content, sha256: sha256(content) });
      }
      const paths = [...files.keys()].filter((p) => p !== 'manifest.json.asc').sort();
      const manifest: Manifest = {
        format: FORMAT,
        name,
        version,
        epoch: '2026-11-25T00:00:00Z',
        created_by: 'ferry test',
        targets: {},
        services: {},
        artifacts: {},
        entries: paths.map((p) => ({ path: p, size: files.get(p)!.content.length, sha256: files.get(p)!.sha256, kind: kindOf(p), services: [] })),
      };
      const manifestBytes = serializeManifest(manifest);
      const digest = sha256(manifestBytes);
      files.set('manifest.json', { path: 'manifest.json', content: manifestBytes, sha256: digest });
      const staging = join(store, '.tmp', digest);
      for (const f of files.values()) await writeStored(staging, f.path, f.content);
      await mkdir(join(store, 'bundles'), { recursive: true });
      await rename(staging, join(store, 'bundles', digest));
      await setRef(name, version, digest);
      return { digest, files };
    },
    async cleanup() {
      await rm(store, { recursive: true, force: true });
    },
  };
}

/** A small but realistic bundle: apt indexes and a .deb, a PEP 503 index and a wheel, a key, a rootfs. */
export function sampleBundleFiles(extra: Record<string, string | Buffer> = {}): Record<string, string | Buffer> {
  const deb = Buffer.alloc(70_000, 7);
  deb.write('!<arch>\n');
  return {
    'manifest.json.asc': '-----BEGIN PGP SIGNATURE-----\n\nnot a real signature\n-----END PGP SIGNATURE-----\n',
    'keys/bundle.asc': '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot a real key\n-----END PGP PUBLIC KEY BLOCK-----\n',
    'apt/dists/bookworm/InRelease': '-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nOrigin: ferry\nSuite: bookworm\n',
    'apt/dists/bookworm/Release': 'Origin: ferry\nSuite: bookworm\nArchitectures: amd64\n',
    'apt/dists/bookworm/Release.gpg': '-----BEGIN PGP SIGNATURE-----\n\nxx\n-----END PGP SIGNATURE-----\n',
    'apt/dists/bookworm/main/binary-amd64/Packages': 'Package: hello\nVersion: 2.10-3\nFilename: pool/main/h/hello/hello_2.10-3_amd64.deb\n',
    'apt/dists/bookworm/main/binary-amd64/Packages.gz': Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    'apt/pool/main/h/hello/hello_2.10-3_amd64.deb': deb,
    'python/simple/index.html': '<!DOCTYPE html><html><body><a href="demo/">demo</a></body></html>\n',
    'python/simple/demo/index.html': '<!DOCTYPE html><html><body><a href="../../files/demo-1.0-py3-none-any.whl#sha256=00">demo-1.0-py3-none-any.whl</a></body></html>\n',
    'python/files/demo-1.0-py3-none-any.whl': Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(3000, 1)]),
    'rootfs/base.tar.gz': Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.alloc(5000, 2)]),
    'files/web/app.conf.j2': 'listen {{ port }}\n',
    'git/app.bundle': '# v2 git bundle\n',
    ...extra,
  };
}
